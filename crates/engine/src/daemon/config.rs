//! `berth daemon` flags and `/etc/berth/daemon.json` (Docker's key names).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;

/// dockerd-compatible flags.
#[derive(Debug, Clone, Parser, Default)]
#[command(
    name = "berth daemon",
    about = "berth's container engine (Docker Engine API)"
)]
pub struct Flags {
    /// Daemon socket(s) to listen on (unix:///path).
    #[arg(short = 'H', long = "host")]
    pub hosts: Vec<String>,
    /// Root of persistent state.
    #[arg(long = "data-root")]
    pub data_root: Option<PathBuf>,
    /// Root of runtime state.
    #[arg(long = "exec-root")]
    pub exec_root: Option<PathBuf>,
    /// daemon.json location.
    #[arg(long = "config-file", default_value = "/etc/berth/daemon.json")]
    pub config_file: PathBuf,
    /// Debug logging.
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Pid file.
    #[arg(short = 'p', long = "pidfile")]
    pub pidfile: Option<PathBuf>,
    /// Registry mirrors.
    #[arg(long = "registry-mirror")]
    pub registry_mirrors: Vec<String>,
    /// Insecure registries.
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Attach containers to a network bridge (default berth0; "none" disables it).
    #[arg(short = 'b', long = "bridge")]
    pub bridge: Option<String>,
    /// Network bridge IP (gateway/prefix, e.g. 172.17.0.1/16).
    #[arg(long = "bip")]
    pub bip: Option<String>,
    /// MTU of container networks.
    #[arg(long = "mtu")]
    pub mtu: Option<u32>,
    /// Default address pool for networks ("base=10.10.0.0/16,size=24").
    #[arg(long = "default-address-pool")]
    pub default_address_pools: Vec<String>,
    /// The nftables table berth owns (default "berth").
    #[arg(long = "nft-table")]
    pub nft_table: Option<String>,
    /// Enable IPv6 on the default bridge.
    #[arg(long = "ipv6", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub ipv6: Option<bool>,
    /// IPv6 subnet of the default bridge (e.g. fd00:1::/64).
    #[arg(long = "fixed-cidr-v6")]
    pub fixed_cidr_v6: Option<String>,
    /// Allow communication between containers on the default bridge (default true).
    #[arg(long = "icc", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub icc: Option<bool>,
    /// Use TLS; implied by --tlsverify (berth needs --tlsverify for any tcp:// host).
    #[arg(long = "tls", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub tls: Option<bool>,
    /// Use TLS and require clients to present a certificate signed by --tlscacert.
    #[arg(long = "tlsverify", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub tlsverify: Option<bool>,
    /// Trust certs signed only by this CA (default $DOCKER_CERT_PATH/ca.pem or ~/.docker/ca.pem).
    #[arg(long = "tlscacert")]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file (default …/cert.pem).
    #[arg(long = "tlscert")]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file (default …/key.pem).
    #[arg(long = "tlskey")]
    pub tlskey: Option<PathBuf>,
    /// Set no-new-privileges by default for new containers.
    #[arg(long = "no-new-privileges", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub no_new_privileges: Option<bool>,
    /// Path to the default seccomp profile ("unconfined", "builtin" or a file).
    #[arg(long = "seccomp-profile")]
    pub seccomp_profile: Option<String>,
    /// User/group setting for user namespaces ("default", user, user:group, uid, uid:gid).
    #[arg(long = "userns-remap")]
    pub userns_remap: Option<String>,
    /// Default driver for container logs (default "json-file").
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Default log driver options for containers (key=value, repeatable).
    #[arg(long = "log-opt")]
    pub log_opts: Vec<String>,
    /// Runtime execution options (`native.cgroupdriver=cgroupfs|systemd`).
    #[arg(long = "exec-opt")]
    pub exec_opts: Vec<String>,
    /// Keep containers running while the daemon is down (stop and restart of the daemon).
    #[arg(long = "live-restore", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub live_restore: Option<bool>,
}

/// daemon.json.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct FileConfig {
    /// data-root.
    pub data_root: Option<PathBuf>,
    /// exec-root.
    pub exec_root: Option<PathBuf>,
    /// hosts.
    pub hosts: Vec<String>,
    /// registry-mirrors.
    pub registry_mirrors: Vec<String>,
    /// insecure-registries.
    pub insecure_registries: Vec<String>,
    /// log-driver.
    pub log_driver: Option<String>,
    /// log-opts.
    pub log_opts: Option<BTreeMap<String, String>>,
    /// default-runtime.
    pub default_runtime: Option<String>,
    /// runtimes.
    pub runtimes: BTreeMap<String, serde_json::Value>,
    /// live-restore.
    pub live_restore: Option<bool>,
    /// exec-opts.
    pub exec_opts: Option<Vec<String>>,
    /// debug.
    pub debug: Option<bool>,
    /// pidfile.
    pub pidfile: Option<PathBuf>,
    /// bridge.
    pub bridge: Option<String>,
    /// bip.
    pub bip: Option<String>,
    /// mtu.
    pub mtu: Option<u32>,
    /// default-address-pools.
    pub default_address_pools: Vec<crate::networks::config::PoolEntry>,
    /// nft-table (berth's own key).
    pub nft_table: Option<String>,
    /// ipv6.
    pub ipv6: Option<bool>,
    /// fixed-cidr-v6.
    pub fixed_cidr_v6: Option<String>,
    /// icc.
    pub icc: Option<bool>,
    /// tls.
    pub tls: Option<bool>,
    /// tlsverify.
    pub tlsverify: Option<bool>,
    /// tlscacert.
    pub tlscacert: Option<PathBuf>,
    /// tlscert.
    pub tlscert: Option<PathBuf>,
    /// tlskey.
    pub tlskey: Option<PathBuf>,
    /// no-new-privileges.
    pub no_new_privileges: Option<bool>,
    /// seccomp-profile.
    pub seccomp_profile: Option<String>,
    /// userns-remap.
    pub userns_remap: Option<String>,
    /// Keys that match none of the above (refused, as dockerd does).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Unix socket paths.
    pub sockets: Vec<PathBuf>,
    /// `fd://` hosts: sockets passed by systemd (socket activation).
    pub fd_hosts: Vec<super::activation::FdHost>,
    /// TCP addresses (`host:port`), served only with mutual TLS.
    pub tcp: Vec<String>,
    /// The certificates of `--tlsverify` (set whenever it is on).
    pub tls: Option<super::tls::TlsFiles>,
    /// Data root.
    pub data_root: PathBuf,
    /// Exec root.
    pub exec_root: PathBuf,
    /// Pid file.
    pub pidfile: Option<PathBuf>,
    /// Debug.
    pub debug: bool,
    /// Mirrors.
    pub registry_mirrors: Vec<String>,
    /// Insecure registries.
    pub insecure_registries: Vec<String>,
    /// The default log driver and its options (checked).
    pub log: crate::containers::LogDefaults,
    /// daemon.json path.
    pub config_file: PathBuf,
    /// Network settings.
    pub network: crate::networks::NetConfig,
    /// `no-new-privileges` and `seccomp-profile` for every container.
    pub security_defaults: crate::spec::security::DaemonDefaults,
    /// `userns-remap` as given (read and set up by the daemon at start: [`crate::remap`]).
    pub userns_remap: Option<String>,
    /// The remapping set up from `userns_remap` (the daemon's start fills it in; the data
    /// root is then `<data-root>/<uid>.<gid>`, as dockerd's).
    pub remap: Option<std::sync::Arc<crate::remap::IdMapping>>,
    /// `live-restore`: containers keep running across a stop of the daemon. Off (Docker's
    /// default): a stop stops them, the next start starts them again by restart policy.
    pub live_restore: bool,
    /// The cgroup driver (`exec-opts` `native.cgroupdriver`): `cgroupfs` (berth's own
    /// cgroups) or `systemd` (a transient scope unit per container; where systemd does not
    /// run, containers fail to start as with runc).
    pub cgroup_driver: String,
    /// The command-line flags this was resolved from (SIGHUP resolves them again with the
    /// re-read daemon.json).
    pub flags: Flags,
}

/// Reads daemon.json (a missing file is an empty config). Keys berth does not know are
/// refused with dockerd's message, so a typo or a setting berth would not honour never
/// goes unnoticed.
pub fn read_file(path: &Path) -> Result<FileConfig, String> {
    let file: FileConfig = match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if !file.unknown.is_empty() {
        let keys: Vec<&str> = file.unknown.keys().map(String::as_str).collect();
        return Err(format!(
            "unable to configure the daemon with file {}: the following directives don't match any configuration option: {}",
            path.display(),
            keys.join(", ")
        ));
    }
    Ok(file)
}

/// Flags override the file; defaults are dockerd's with berth paths.
pub fn resolve(flags: &Flags) -> Result<DaemonConfig, String> {
    let file = read_file(&flags.config_file)?;
    let hosts = if !flags.hosts.is_empty() {
        flags.hosts.clone()
    } else {
        file.hosts.clone()
    };
    let mut sockets = Vec::new();
    let mut tcp = Vec::new();
    let mut fd_hosts = Vec::new();
    for h in &hosts {
        if let Some(rest) = h.strip_prefix("fd://") {
            fd_hosts.push(super::activation::FdHost::parse(rest)?);
        } else if let Some(p) = h.strip_prefix("unix://") {
            sockets.push(PathBuf::from(if p.is_empty() { DEFAULT_SOCKET } else { p }));
        } else if h.starts_with('/') {
            sockets.push(PathBuf::from(h));
        } else if let Some(rest) = h.strip_prefix("tcp://") {
            tcp.push(tcp_address(rest).ok_or_else(|| format!("invalid host {h:?}"))?);
        } else {
            return Err(format!(
                "invalid host {h:?}: berth listens on unix:///path, tcp://host:port and fd://"
            ));
        }
    }
    if sockets.is_empty() && tcp.is_empty() && fd_hosts.is_empty() {
        sockets.push(PathBuf::from(DEFAULT_SOCKET));
    }
    let tlsverify = flags.tlsverify.or(file.tlsverify).unwrap_or(false);
    if !tcp.is_empty() && !tlsverify {
        return Err(format!(
            "refusing to listen on tcp://{}: berth serves the API over TCP only with mutual TLS; add --tlsverify with --tlscacert, --tlscert and --tlskey",
            tcp[0]
        ));
    }
    let tls = tlsverify.then(|| {
        let dir = cert_dir();
        super::tls::TlsFiles {
            ca: flags
                .tlscacert
                .clone()
                .or(file.tlscacert.clone())
                .unwrap_or_else(|| dir.join("ca.pem")),
            cert: flags
                .tlscert
                .clone()
                .or(file.tlscert.clone())
                .unwrap_or_else(|| dir.join("cert.pem")),
            key: flags
                .tlskey
                .clone()
                .or(file.tlskey.clone())
                .unwrap_or_else(|| dir.join("key.pem")),
        }
    });
    let mut mirrors = file.registry_mirrors.clone();
    mirrors.extend(flags.registry_mirrors.iter().cloned());
    let mut insecure = file.insecure_registries.clone();
    insecure.extend(flags.insecure_registries.iter().cloned());
    conflicts(flags, &file)?;
    let cgroup_driver = cgroup_driver(if flags.exec_opts.is_empty() {
        file.exec_opts.as_deref().unwrap_or_default()
    } else {
        &flags.exec_opts
    })?;
    let network = network_config(flags, &file)?;
    let security_defaults = security_defaults(flags, &file)?;
    let userns_remap = flags
        .userns_remap
        .clone()
        .or(file.userns_remap.clone())
        .filter(|r| !r.is_empty());
    Ok(DaemonConfig {
        userns_remap,
        remap: None,
        cgroup_driver,
        live_restore: flags.live_restore.or(file.live_restore).unwrap_or(false),
        security_defaults,
        network,
        sockets,
        tcp,
        fd_hosts,
        tls,
        data_root: flags
            .data_root
            .clone()
            .or(file.data_root)
            .unwrap_or_else(|| "/var/lib/berth".into()),
        exec_root: flags
            .exec_root
            .clone()
            .or(file.exec_root)
            .unwrap_or_else(|| "/run/berth".into()),
        pidfile: flags.pidfile.clone().or(file.pidfile),
        debug: flags.debug || file.debug.unwrap_or(false),
        registry_mirrors: mirrors,
        insecure_registries: insecure,
        log: crate::containers::LogDefaults::new(
            flags
                .log_driver
                .as_deref()
                .or(file.log_driver.as_deref())
                .unwrap_or("json-file"),
            if flags.log_opts.is_empty() {
                file.log_opts.unwrap_or_default()
            } else {
                flag_log_opts(&flags.log_opts)
            },
        )?,
        config_file: flags.config_file.clone(),
        flags: flags.clone(),
    })
}

/// dockerd's rule for the directives berth takes both as a flag and in daemon.json without
/// merging them: set in both places is an error, whatever the values.
fn conflicts(flags: &Flags, file: &FileConfig) -> Result<(), String> {
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
fn cgroup_driver(opts: &[String]) -> Result<String, String> {
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
fn flag_log_opts(opts: &[String]) -> BTreeMap<String, String> {
    opts.iter()
        .map(|o| match o.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (o.clone(), String::new()),
        })
        .collect()
}

/// A map as Go's `%v` prints it: `map[k1:v1 k2:v2]`, keys sorted.
fn go_map(m: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", pairs.join(" "))
}

/// `no-new-privileges` and `seccomp-profile`.
fn security_defaults(
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

/// The default API socket.
pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";

/// `host:port` of a `tcp://` host: an empty host is every interface, the port defaults to
/// 2376 (Docker's TLS port).
fn tcp_address(rest: &str) -> Option<String> {
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
fn cert_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CERT_PATH").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".docker")
}

fn network_config(flags: &Flags, file: &FileConfig) -> Result<crate::networks::NetConfig, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_hosts_are_socket_activation() {
        use crate::daemon::activation::FdHost;
        let parse = |h: &str| {
            let f =
                Flags::try_parse_from(["berth daemon", "-H", h, "--config-file", "/nonexistent"])
                    .unwrap();
            resolve(&f)
        };
        let c = parse("fd://").unwrap();
        assert_eq!((c.fd_hosts, c.sockets.len()), (vec![FdHost::All], 0));
        assert_eq!(parse("fd://4").unwrap().fd_hosts, vec![FdHost::Fd(4)]);
        assert!(parse("fd://x").is_err());
    }

    #[test]
    fn flags_override_file() {
        let f = Flags::try_parse_from([
            "berth daemon",
            "-H",
            "unix:///tmp/x.sock",
            "--data-root",
            "/d",
            "--config-file",
            "/nonexistent/daemon.json",
        ])
        .unwrap();
        let c = resolve(&f).unwrap();
        assert_eq!(c.sockets, vec![PathBuf::from("/tmp/x.sock")]);
        assert_eq!(c.data_root, PathBuf::from("/d"));
        assert_eq!(c.exec_root, PathBuf::from("/run/berth"));
        let f = Flags::try_parse_from([
            "berth daemon",
            "-H",
            "tcp://0.0.0.0:2375",
            "--config-file",
            "/nonexistent",
        ])
        .unwrap();
        assert!(resolve(&f).unwrap_err().contains("only with mutual TLS"));
    }

    #[test]
    fn tcp_needs_tlsverify_and_takes_the_files() {
        let f = Flags::try_parse_from([
            "berth daemon",
            "-H",
            "tcp://127.0.0.1:2399",
            "-H",
            "unix:///tmp/y.sock",
            "--tlsverify",
            "--tlscacert",
            "/c/ca.pem",
            "--tlscert",
            "/c/cert.pem",
            "--tlskey",
            "/c/key.pem",
            "--config-file",
            "/nonexistent",
        ])
        .unwrap();
        let c = resolve(&f).unwrap();
        assert_eq!(c.tcp, vec!["127.0.0.1:2399".to_string()]);
        assert_eq!(c.sockets, vec![PathBuf::from("/tmp/y.sock")]);
        let tls = c.tls.unwrap();
        assert_eq!(tls.ca, PathBuf::from("/c/ca.pem"));
        assert_eq!(tls.key, PathBuf::from("/c/key.pem"));
        // --tls alone (no client verification) is not enough.
        let f = Flags::try_parse_from([
            "berth daemon",
            "-H",
            "tcp://127.0.0.1:2399",
            "--tls",
            "--config-file",
            "/nonexistent",
        ])
        .unwrap();
        assert!(resolve(&f).is_err());
        let f = Flags::try_parse_from([
            "berth daemon",
            "-H",
            "tcp://127.0.0.1:2399",
            "--tlsverify=false",
            "--config-file",
            "/nonexistent",
        ])
        .unwrap();
        assert!(resolve(&f).is_err());
        assert_eq!(tcp_address(":2376").as_deref(), Some("0.0.0.0:2376"));
        assert_eq!(tcp_address("10.0.0.1").as_deref(), Some("10.0.0.1:2376"));
        assert_eq!(tcp_address("[::1]:99").as_deref(), Some("[::1]:99"));
        assert_eq!(tcp_address("h:x"), None);
    }

    #[test]
    fn unknown_daemon_json_keys_are_refused_with_dockers_message() {
        let dir = berth_testkit::TempDir::new("berth-daemon-json-");
        let path = dir.path().join("daemon.json");
        std::fs::write(
            &path,
            r#"{"debug": true, "mtu": 1400, "log-opts": {"max-size": "1m"}, "bogus-key": 1, "debugg": true}"#,
        )
        .unwrap();
        let e = read_file(&path).unwrap_err();
        assert!(
            e.ends_with(
                "the following directives don't match any configuration option: bogus-key, debugg"
            ),
            "{e}"
        );
        assert!(e.contains(&path.display().to_string()), "{e}");
        std::fs::write(
            &path,
            r#"{"debug": true, "mtu": 1400, "log-opts": {"max-size": "1m"}}"#,
        )
        .unwrap();
        let c = read_file(&path).unwrap();
        assert_eq!((c.debug, c.mtu), (Some(true), Some(1400)));
        assert_eq!(c.log_opts.unwrap()["max-size"], "1m");
    }

    #[test]
    fn live_restore_from_flag_or_file_not_both() {
        let dir = berth_testkit::TempDir::new("berth-daemon-json-");
        let path = dir.path().join("daemon.json");
        let parse = |json: &str, args: &[&str]| {
            std::fs::write(&path, json).unwrap();
            let mut argv = vec!["berth daemon", "--config-file", path.to_str().unwrap()];
            argv.extend_from_slice(args);
            resolve(&Flags::try_parse_from(argv).unwrap())
        };
        assert!(!parse("{}", &[]).unwrap().live_restore);
        assert!(parse("{}", &["--live-restore"]).unwrap().live_restore);
        assert!(!parse("{}", &["--live-restore=false"]).unwrap().live_restore);
        assert!(
            parse(r#"{"live-restore": true}"#, &[])
                .unwrap()
                .live_restore
        );
        let e = parse(r#"{"live-restore": false}"#, &["--live-restore"]).unwrap_err();
        assert!(
            e.ends_with("the following directives are specified both as a flag and in the configuration file: live-restore: (from flag: true, from file: false)"),
            "{e}"
        );
    }

    #[test]
    fn log_driver_and_opts_from_flags_or_file_not_both() {
        let dir = berth_testkit::TempDir::new("berth-daemon-json-");
        let path = dir.path().join("daemon.json");
        let parse = |json: &str, args: &[&str]| {
            std::fs::write(&path, json).unwrap();
            let mut argv = vec!["berth daemon", "--config-file", path.to_str().unwrap()];
            argv.extend_from_slice(args);
            resolve(&Flags::try_parse_from(argv).unwrap())
        };
        let c = parse(
            r#"{"debug": true}"#,
            &[
                "--log-driver",
                "local",
                "--log-opt",
                "max-size=1m",
                "--log-opt",
                "max-file=2",
            ],
        )
        .unwrap();
        assert_eq!(c.log.driver, "local");
        assert_eq!(c.log.opts["max-size"], "1m");
        assert_eq!(c.log.opts["max-file"], "2");
        let c = parse(r#"{"log-driver": "none"}"#, &[]).unwrap();
        assert_eq!(c.log.driver, "none");
        let e = parse(r#"{"log-driver": "json-file"}"#, &["--log-driver", "local"]).unwrap_err();
        assert!(
            e.ends_with("the following directives are specified both as a flag and in the configuration file: log-driver: (from flag: local, from file: json-file)"),
            "{e}"
        );
        let e = parse(
            r#"{"log-opts": {"max-size": "2m", "max-file": "3"}}"#,
            &["--log-opt", "max-size=1m"],
        )
        .unwrap_err();
        assert!(
            e.ends_with(
                "log-opts: (from flag: map[max-size:1m], from file: map[max-file:3 max-size:2m])"
            ),
            "{e}"
        );
        // All of them, in dockerd's order and words.
        let e = parse(
            r#"{"log-driver":"json-file","log-opts":{"max-size":"2m","max-file":"3"},"live-restore":false}"#,
            &["--log-driver", "local", "--log-opt", "max-size=1m", "--live-restore"],
        )
        .unwrap_err();
        assert!(
            e.ends_with("the following directives are specified both as a flag and in the configuration file: live-restore: (from flag: true, from file: false), log-driver: (from flag: local, from file: json-file), log-opts: (from flag: map[max-size:1m], from file: map[max-file:3 max-size:2m])"),
            "{e}"
        );
        // A bad option from the flag is refused as one from the file.
        assert!(parse("{}", &["--log-opt", "max-size=lots"]).is_err());
    }

    #[test]
    fn exec_opts_cgroup_driver_as_dockerd() {
        assert_eq!(cgroup_driver(&[]).unwrap(), "cgroupfs");
        let one = |o: &str| cgroup_driver(&[o.to_string()]);
        assert_eq!(one("native.cgroupdriver=cgroupfs").unwrap(), "cgroupfs");
        assert_eq!(
            one("native.cgroupdriver=bogus").unwrap_err(),
            "native.cgroupdriver option bogus not supported"
        );
        assert!(one("native.cgroupdriver=none")
            .unwrap_err()
            .contains("internally used"));
        assert!(one("nonsense").unwrap_err().contains("unable to parse"));
        assert_eq!(one("Native.CgroupDriver=systemd").unwrap(), "systemd");
        let dir = berth_testkit::TempDir::new("berth-daemon-json-");
        let path = dir.path().join("daemon.json");
        std::fs::write(&path, r#"{"exec-opts": ["native.cgroupdriver=cgroupfs"]}"#).unwrap();
        let f = Flags::try_parse_from([
            "berth daemon",
            "--config-file",
            path.to_str().unwrap(),
            "--exec-opt",
            "native.cgroupdriver=systemd",
        ])
        .unwrap();
        assert!(resolve(&f).unwrap_err().ends_with(
            "exec-opts: (from flag: [native.cgroupdriver=systemd], from file: [native.cgroupdriver=cgroupfs])"
        ));
    }

    #[test]
    fn daemon_json_tls_keys() {
        let c: FileConfig = serde_json::from_str(
            r#"{"hosts":["tcp://127.0.0.1:2400"],"tls":true,"tlsverify":true,"tlscacert":"/a","tlscert":"/b","tlskey":"/k"}"#,
        )
        .unwrap();
        assert_eq!(c.tlsverify, Some(true));
        assert_eq!(c.tlscacert, Some(PathBuf::from("/a")));
        assert_eq!(c.tlskey, Some(PathBuf::from("/k")));
    }

    #[test]
    fn security_keys_of_daemon_json_are_read() {
        use crate::spec::seccomp::Seccomp;
        let dir = std::env::temp_dir().join(format!("berth-cfg-sec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("daemon.json");
        let profile = dir.join("p.json");
        std::fs::write(&profile, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
        let parse = |json: String| {
            std::fs::write(&file, json).unwrap();
            let f =
                Flags::try_parse_from(["berth daemon", "--config-file", file.to_str().unwrap()])
                    .unwrap();
            resolve(&f)
        };
        let c = parse(format!(
            r#"{{"no-new-privileges": true, "seccomp-profile": "{}"}}"#,
            profile.display()
        ))
        .unwrap();
        assert!(c.security_defaults.no_new_privileges);
        assert!(matches!(
            c.security_defaults.seccomp,
            Some(Seccomp::Profile(_))
        ));
        let c = parse(r#"{"seccomp-profile": "unconfined"}"#.into()).unwrap();
        assert_eq!(c.security_defaults.seccomp, Some(Seccomp::Unconfined));
        let e = parse(r#"{"seccomp-profile": "/nonexistent/p.json"}"#.into()).unwrap_err();
        assert!(
            e.starts_with("opening seccomp profile (/nonexistent/p.json) failed"),
            "{e}"
        );
        std::fs::write(&profile, "{").unwrap();
        let e = parse(format!(r#"{{"seccomp-profile": "{}"}}"#, profile.display())).unwrap_err();
        assert!(e.starts_with("Decoding seccomp profile failed"), "{e}");
        let c = parse(r#"{"userns-remap": "default"}"#.into()).unwrap();
        assert_eq!(c.userns_remap.as_deref(), Some("default"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
