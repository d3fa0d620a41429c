//! What `resolve` checks and merges: a key given as a flag and in daemon.json, the
//! cgroup driver of `exec-opts`, log options, security defaults, TCP hosts and their
//! certificates, the network settings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

/// dockerd's rule for the directives berth takes both as a flag and in daemon.json without
/// merging them: set in both places is an error, whatever the values.
pub(super) fn conflicts(flags: &Flags, file: &FileConfig) -> Result<(), String> {
    // In dockerd's order: the flags' names sorted.
    let mut both = Vec::new();
    if let (false, Some(in_file)) = (flags.exec_opts.is_empty(), &file.exec_opts) {
        both.push(format!(
            "exec-opts: (from flag: [{}], from file: [{}])",
            flags.exec_opts.join(" "),
            in_file.join(" ")
        ));
    }
    if let (Some(flag), Some(in_file)) = (flags.live_restore, file.live_restore) {
        both.push(format!(
            "live-restore: (from flag: {flag}, from file: {in_file})"
        ));
    }
    if let (Some(flag), Some(in_file)) = (&flags.log_driver, &file.log_driver) {
        both.push(format!(
            "log-driver: (from flag: {flag}, from file: {in_file})"
        ));
    }
    // dockerd sees the key in the file, whatever its value (`{}` included).
    if let (false, Some(in_file)) = (flags.log_opts.is_empty(), &file.log_opts) {
        both.push(format!(
            "log-opts: (from flag: {}, from file: {})",
            go_map(&flag_log_opts(&flags.log_opts)),
            go_map(in_file)
        ));
    }
    if let (Some(flag), Some(in_file)) = (&flags.userns_remap, &file.userns_remap) {
        both.push(format!(
            "userns-remap: (from flag: {flag}, from file: {in_file})"
        ));
    }
    if both.is_empty() {
        return Ok(());
    }
    Err(format!(
        "unable to configure the daemon with file {}: the following directives are specified both as a flag and in the configuration file: {}",
        flags.config_file.display(),
        both.join(", ")
    ))
}

/// The cgroup driver `exec-opts` ask for, with dockerd's checks: `native.cgroupdriver` is
/// `cgroupfs` (the default) or `systemd` (containers in transient scope units, made by the
/// runtime with `--systemd-cgroup`). Where systemd does not run it is accepted, as dockerd
/// accepts it, and containers fail to start with runc's error.
pub(super) fn cgroup_driver(opts: &[String]) -> Result<String, String> {
    let mut driver = "cgroupfs".to_string();
    for opt in opts {
        let Some((key, value)) = opt.split_once('=') else {
            return Err(format!("unable to parse key/value option: {opt}"));
        };
        let (key, value) = (key.trim(), value.trim());
        if !key.eq_ignore_ascii_case("native.cgroupdriver") {
            return Err(format!(
                "exec-opt {key:?} is not supported by berth (it takes native.cgroupdriver)"
            ));
        }
        driver = match value {
            "cgroupfs" | "systemd" => value.to_string(),
            "none" => {
                return Err(
                    "native.cgroupdriver option none is internally used and cannot be specified manually".into(),
                )
            }
            other => return Err(format!("native.cgroupdriver option {other} not supported")),
        };
    }
    Ok(driver)
}

/// `--log-opt key=value` flags as dockerd's map option: a later key wins, `key` alone is an
/// empty value.
pub(super) fn flag_log_opts(opts: &[String]) -> BTreeMap<String, String> {
    opts.iter()
        .map(|o| match o.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (o.clone(), String::new()),
        })
        .collect()
}

/// A map as Go's `%v` prints it: `map[k1:v1 k2:v2]`, keys sorted.
pub(super) fn go_map(m: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", pairs.join(" "))
}

/// `no-new-privileges` and `seccomp-profile`.
pub(super) fn security_defaults(
    flags: &Flags,
    file: &FileConfig,
) -> Result<crate::spec::security::DaemonDefaults, String> {
    use crate::spec::security::DaemonDefaults;
    let seccomp = match flags
        .seccomp_profile
        .as_ref()
        .or(file.seccomp_profile.as_ref())
    {
        Some(p) => DaemonDefaults::seccomp_profile(p)?,
        None => None,
    };
    Ok(DaemonDefaults {
        no_new_privileges: flags
            .no_new_privileges
            .or(file.no_new_privileges)
            .unwrap_or(false),
        seccomp,
    })
}

/// `host:port` of a `tcp://` host: an empty host is every interface, the port defaults to
/// 2376 (Docker's TLS port).
pub(super) fn tcp_address(rest: &str) -> Option<String> {
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && !h.ends_with(':') => (h, p.parse::<u16>().ok()?),
        Some((h, "")) => (h, 2376),
        _ => (rest, 2376),
    };
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Some(format!("{host}:{port}"))
}

/// Where the TLS files are by default: `$DOCKER_CERT_PATH`, else `~/.docker` (as dockerd).
pub(super) fn cert_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CERT_PATH").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".docker")
}

pub(super) fn network_config(
    flags: &Flags,
    file: &FileConfig,
) -> Result<crate::networks::NetConfig, String> {
    let pools = if flags.default_address_pools.is_empty() {
        file.default_address_pools.clone()
    } else {
        let mut v = Vec::new();
        for p in &flags.default_address_pools {
            let (mut base, mut size) = (None, None);
            for kv in p.split(',') {
                match kv.split_once('=') {
                    Some(("base", b)) => base = Some(b.to_string()),
                    Some(("size", s)) => size = s.parse().ok(),
                    _ => return Err(format!("invalid default-address-pool {p:?}")),
                }
            }
            match (base, size) {
                (Some(base), Some(size)) => {
                    v.push(crate::networks::config::PoolEntry { base, size })
                }
                _ => return Err(format!("invalid default-address-pool {p:?}")),
            }
        }
        v
    };
    crate::networks::config::build(crate::networks::config::RawNetConfig {
        bridge: flags.bridge.clone().or(file.bridge.clone()),
        bip: flags.bip.clone().or(file.bip.clone()),
        mtu: flags.mtu.or(file.mtu),
        pools,
        nft_table: flags.nft_table.clone().or(file.nft_table.clone()),
        ipv6: flags.ipv6.or(file.ipv6),
        fixed_cidr_v6: flags.fixed_cidr_v6.clone().or(file.fixed_cidr_v6.clone()),
        icc: flags.icc.or(file.icc),
    })
}
