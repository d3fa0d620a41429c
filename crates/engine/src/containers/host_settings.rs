//! The `HostConfig` settings that reach a container's spec besides its resources, as moby's
//! `createSpec` applies them: security options (seccomp profile, no-new-privileges),
//! `--ulimit`, `--sysctl`, `--device`, `--device-cgroup-rule` and `--privileged`'s devices.
//! What Docker would refuse is refused at create (400), with Docker's (or runc's) message,
//! so a container that could never start is never made.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_api_types::{DeviceMapping, HostConfig, Ulimit};
use serde_json::{json, Value};

use super::validate::SecurityOpt;

/// The seccomp filter a container asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seccomp {
    /// Docker's default profile.
    Default,
    /// `seccomp=unconfined`.
    Unconfined,
    /// `seccomp=<profile JSON>` (the docker CLI sends the file's content).
    Profile(String),
}

/// The security options of a container (later entries win, as in Docker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    /// `no-new-privileges[=bool]`.
    pub no_new_privileges: bool,
    /// `seccomp=…`.
    pub seccomp: Seccomp,
}

/// Reads `SecurityOpt` (already checked at create; what does not parse is skipped).
pub fn security(host: &HostConfig) -> Security {
    let mut out = Security {
        no_new_privileges: false,
        seccomp: Seccomp::Default,
    };
    for opt in host.security_opt.iter().flatten() {
        match super::validate::security_opt(opt) {
            Ok(SecurityOpt::NoNewPrivileges(b)) => out.no_new_privileges = b,
            Ok(SecurityOpt::Seccomp(p)) if p == "unconfined" => out.seccomp = Seccomp::Unconfined,
            Ok(SecurityOpt::Seccomp(p)) => out.seccomp = Seccomp::Profile(p),
            _ => {}
        }
    }
    out
}

/// The daemon's defaults for every container (daemon.json / dockerd flags
/// `no-new-privileges` and `seccomp-profile`); a container's own `SecurityOpt` wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonDefaults {
    /// `no-new-privileges: true`.
    pub no_new_privileges: bool,
    /// `seccomp-profile`: `None` is Docker's default profile.
    pub seccomp: Option<Seccomp>,
}

impl DaemonDefaults {
    /// `seccomp-profile` as dockerd reads it: `unconfined`, `builtin` (Docker's default) or
    /// the path of a profile, read and checked now, with dockerd's messages.
    pub fn seccomp_profile(value: &str) -> Result<Option<Seccomp>, String> {
        match value {
            "" | "builtin" => Ok(None),
            "unconfined" => Ok(Some(Seccomp::Unconfined)),
            path => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("opening seccomp profile ({path}) failed: {e}"))?;
                super::seccomp::check_profile(&text)?;
                Ok(Some(Seccomp::Profile(text)))
            }
        }
    }

    /// Applies the defaults to a container's spec where its `SecurityOpt` says nothing.
    pub fn apply(&self, host: &HostConfig, spec: &mut Value) -> Result<(), String> {
        let (mut own_nnp, mut own_seccomp) = (false, false);
        for opt in host.security_opt.iter().flatten() {
            match super::validate::security_opt(opt) {
                Ok(SecurityOpt::NoNewPrivileges(_)) => own_nnp = true,
                Ok(SecurityOpt::Seccomp(_)) => own_seccomp = true,
                _ => {}
            }
        }
        if self.no_new_privileges && !own_nnp {
            spec["process"]["noNewPrivileges"] = Value::Bool(true);
        }
        if let (Some(seccomp), false) = (&self.seccomp, own_seccomp) {
            let caps: Vec<String> = spec["process"]["capabilities"]["bounding"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let section = seccomp_section(seccomp, host.privileged, &caps)?;
            if let Some(linux) = spec["linux"].as_object_mut() {
                match section {
                    Some(filter) => linux.insert("seccomp".into(), filter),
                    None => linux.remove("seccomp"),
                };
            }
        }
        Ok(())
    }
}

/// `linux.seccomp` for a container with `caps` (moby's `WithSeccomp`): none when
/// unconfined or privileged, the given profile, else Docker's default.
pub fn seccomp_section(
    seccomp: &Seccomp,
    privileged: bool,
    caps: &[String],
) -> Result<Option<Value>, String> {
    if privileged {
        return Ok(None);
    }
    match seccomp {
        Seccomp::Unconfined => Ok(None),
        Seccomp::Default => Ok(Some(super::seccomp::default_for(caps))),
        Seccomp::Profile(text) => {
            let profile = super::seccomp::check_profile(text)?;
            Ok(Some(super::seccomp::to_oci(&profile, caps)))
        }
    }
}

/// The limit names Docker knows (go-units' `ulimitNameMapping`).
const ULIMITS: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// go-units' checks of a ulimit: `invalid ulimit type: foo`,
/// `ulimit soft limit must be less than or equal to hard limit: 2 > 1`.
pub fn check_ulimit(u: &Ulimit) -> Result<(), String> {
    if !ULIMITS.contains(&u.name.as_str()) {
        return Err(format!("invalid ulimit type: {}", u.name));
    }
    // -1 is "unlimited" (RLIM_INFINITY).
    let value = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
    if value(u.soft) > value(u.hard) {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {} > {}",
            u.soft, u.hard
        ));
    }
    Ok(())
}

/// `process.rlimits` (moby's `WithRlimits`): `RLIMIT_<NAME>`, -1 = unlimited.
pub fn rlimits(host: &HostConfig) -> Vec<Value> {
    let value = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
    host.resources
        .ulimits
        .iter()
        .flatten()
        .map(|u| {
            json!({
                "type": format!("RLIMIT_{}", u.name.to_ascii_uppercase()),
                "hard": value(u.hard),
                "soft": value(u.soft),
            })
        })
        .collect()
}

/// The sysctls of the IPC namespace runc accepts (plus `fs.mqueue.*`).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// runc's check of a sysctl (only what a container's own namespaces isolate), with its
/// message: `sysctl "kernel.foo" is not in a separate kernel namespace`.
pub fn check_sysctl(key: &str, host_network: bool) -> Result<(), String> {
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        return Ok(());
    }
    if key.starts_with("net.") {
        if host_network {
            return Err(format!(
                "sysctl {key:?} is not allowed in the hosts network namespace"
            ));
        }
        return Ok(());
    }
    match key {
        "kernel.domainname" => Ok(()),
        "kernel.hostname" => Err(format!(
            "sysctl {key:?} is not allowed as it conflicts with the OCI \"hostname\" field"
        )),
        _ => Err(format!(
            "sysctl {key:?} is not in a separate kernel namespace"
        )),
    }
}

/// moby's `deviceCgroupRuleRegex`: `c 1:3 rwm`, `a *:* m`, … as an OCI device rule.
pub fn device_cgroup_rule(rule: &str) -> Result<Value, String> {
    let bad = || format!("invalid device cgroup rule format: '{rule}'");
    let parts: Vec<&str> = rule.split(' ').collect();
    let [typ, numbers, access] = parts[..] else {
        return Err(bad());
    };
    if !matches!(typ, "a" | "b" | "c") {
        return Err(bad());
    }
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<Option<i64>, String> {
        if n == "*" {
            Ok(None)
        } else if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            n.parse().map(Some).map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (major, minor) = (number(major)?, number(minor)?);
    if access.is_empty() || access.len() > 3 || !access.bytes().all(|b| b"rwm".contains(&b)) {
        return Err(bad());
    }
    let mut out = json!({"allow": true, "type": typ, "access": access});
    if let Some(m) = major {
        out["major"] = m.into();
    }
    if let Some(m) = minor {
        out["minor"] = m.into();
    }
    Ok(out)
}

/// Everything [`build`] would refuse, checked at create.
pub fn check(host: &HostConfig) -> Result<(), String> {
    for u in host.resources.ulimits.iter().flatten() {
        check_ulimit(u)?;
    }
    for key in host.sysctls.iter().flat_map(|s| s.keys()) {
        check_sysctl(key, host.network_mode == "host")?;
    }
    for rule in host.resources.device_cgroup_rules.iter().flatten() {
        device_cgroup_rule(rule)?;
    }
    for d in host.resources.devices.iter().flatten() {
        devices_from_path(d)?;
    }
    Ok(())
}

/// `linux.devices` and the allow rules under `linux.resources.devices`.
#[derive(Debug, Default)]
pub struct Devices {
    /// Device nodes made in the container's /dev.
    pub nodes: Vec<Value>,
    /// Device cgroup rules after the deny-all.
    pub rules: Vec<Value>,
}

/// The devices of `host` (moby's `WithDevices`): every host device, all allowed, when
/// privileged; else the `--device` mappings and `--device-cgroup-rule`s.
pub fn devices(host: &HostConfig) -> Result<Devices, String> {
    let mut out = Devices::default();
    if host.privileged {
        host_devices(Path::new("/dev"), &mut out.nodes);
        out.rules.push(json!({"allow": true, "access": "rwm"}));
        return Ok(out);
    }
    for d in host.resources.devices.iter().flatten() {
        let (nodes, rules) = devices_from_path(d)?;
        out.nodes.extend(nodes);
        out.rules.extend(rules);
    }
    for rule in host.resources.device_cgroup_rules.iter().flatten() {
        out.rules.push(device_cgroup_rule(rule)?);
    }
    Ok(out)
}

/// One host device as libcontainer's `DeviceFromPath` reads it, placed at `path`.
fn device_node(host_path: &Path, path: &Path) -> Result<Value, String> {
    let meta = std::fs::symlink_metadata(host_path).map_err(|e| errno_text(&e))?;
    let ft = meta.file_type();
    let typ = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return Err("not a device node".into());
    };
    let rdev = meta.rdev();
    Ok(json!({
        "path": path,
        "type": typ,
        "major": rustix::fs::major(rdev),
        "minor": rustix::fs::minor(rdev),
        "fileMode": meta.mode() & 0o7777,
        "uid": meta.uid(),
        "gid": meta.gid(),
    }))
}

/// Go's text of an errno (`no such file or directory`).
fn errno_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    text.to_lowercase()
}

/// moby's `DevicesFromPath`: the device at `PathOnHost` (through a symlink), or every
/// device under it when it is a directory.
fn devices_from_path(d: &DeviceMapping) -> Result<(Vec<Value>, Vec<Value>), String> {
    let on_host = PathBuf::from(&d.path_on_host);
    let resolved = match std::fs::symlink_metadata(&on_host) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(&on_host).unwrap_or(on_host.clone())
        }
        _ => on_host.clone(),
    };
    let in_container = if d.path_in_container.is_empty() {
        on_host.clone()
    } else {
        PathBuf::from(&d.path_in_container)
    };
    let access = if d.cgroup_permissions.is_empty() {
        "rwm"
    } else {
        d.cgroup_permissions.as_str()
    };
    let rule = |node: &Value| json!({"allow": true, "type": node["type"], "major": node["major"], "minor": node["minor"], "access": access});
    let err = |e: String| {
        format!(
            "error gathering device information while adding custom device {:?}: {e}",
            d.path_on_host
        )
    };
    match device_node(&resolved, &in_container) {
        Ok(node) => {
            let r = rule(&node);
            Ok((vec![node], vec![r]))
        }
        Err(e) if e == "not a device node" && resolved.is_dir() => {
            let mut nodes = Vec::new();
            for entry in walk(&resolved) {
                let Ok(rel) = entry.strip_prefix(&resolved) else {
                    continue;
                };
                if let Ok(node) = device_node(&entry, &in_container.join(rel)) {
                    nodes.push(node);
                }
            }
            if nodes.is_empty() {
                return Err(err(e));
            }
            let rules = nodes.iter().map(rule).collect();
            Ok((nodes, rules))
        }
        Err(e) => Err(err(e)),
    }
}

/// Every path under `dir`, depth first, symlinks not followed.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(_) => out.push(p),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

/// libcontainer's `HostDevices`: the devices under /dev, except /dev/pts, /dev/shm,
/// /dev/fd, /dev/mqueue, /dev/.lxc, /dev/.udev and /dev/console.
fn host_devices(dev: &Path, nodes: &mut Vec<Value>) {
    const SKIPPED_DIRS: &[&str] = &["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
    let mut stack = vec![dev.to_path_buf()];
    let mut found = Vec::new();
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            let name = entry.file_name();
            match entry.file_type() {
                Ok(t) if t.is_dir() && !SKIPPED_DIRS.iter().any(|s| name == *s) => stack.push(p),
                Ok(t) if (t.is_char_device() || t.is_block_device()) && name != "console" => {
                    found.push(p)
                }
                _ => {}
            }
        }
    }
    found.sort();
    for p in found {
        if let Ok(node) = device_node(&p, &p) {
            nodes.push(node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_sysctls_and_rules_as_docker_checks_them() {
        let u = |name: &str, soft, hard| Ulimit {
            name: name.into(),
            soft,
            hard,
        };
        assert!(check_ulimit(&u("nofile", 100, 200)).is_ok());
        assert!(check_ulimit(&u("core", -1, -1)).is_ok());
        assert_eq!(
            check_ulimit(&u("bogus", 1, 1)).unwrap_err(),
            "invalid ulimit type: bogus"
        );
        assert_eq!(
            check_ulimit(&u("nproc", 3, 2)).unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: 3 > 2"
        );
        assert!(check_sysctl("net.ipv4.ip_forward", false).is_ok());
        assert!(check_sysctl("kernel.shmmax", true).is_ok());
        assert!(check_sysctl("fs.mqueue.msg_max", false).is_ok());
        assert!(check_sysctl("kernel.domainname", false).is_ok());
        assert_eq!(
            check_sysctl("net.ipv4.ip_forward", true).unwrap_err(),
            r#"sysctl "net.ipv4.ip_forward" is not allowed in the hosts network namespace"#
        );
        assert_eq!(
            check_sysctl("kernel.panic", false).unwrap_err(),
            r#"sysctl "kernel.panic" is not in a separate kernel namespace"#
        );
        assert_eq!(
            device_cgroup_rule("c 42:* rm").unwrap(),
            json!({"allow": true, "type": "c", "major": 42, "access": "rm"})
        );
        assert_eq!(
            device_cgroup_rule("a *:* rwm").unwrap(),
            json!({"allow": true, "type": "a", "access": "rwm"})
        );
        for bad in [
            "c 1:3",
            "x 1:3 r",
            "c 1:3 rx",
            "c a:3 r",
            "c 1:3 rwmr",
            "c 1:3  r",
        ] {
            assert_eq!(
                device_cgroup_rule(bad).unwrap_err(),
                format!("invalid device cgroup rule format: '{bad}'")
            );
        }
    }

    #[test]
    fn devices_come_from_the_host_path() {
        let d = |host: &str, ctr: &str| DeviceMapping {
            path_on_host: host.into(),
            path_in_container: ctr.into(),
            cgroup_permissions: "rw".into(),
        };
        let (nodes, rules) = devices_from_path(&d("/dev/null", "/dev/mynull")).unwrap();
        assert_eq!(nodes[0]["path"], "/dev/mynull");
        assert_eq!(nodes[0]["type"], "c");
        assert_eq!(
            (nodes[0]["major"].as_u64(), nodes[0]["minor"].as_u64()),
            (Some(1), Some(3))
        );
        assert_eq!(rules[0]["access"], "rw");
        assert_eq!(
            devices_from_path(&d("/dev/berth-no-such-device", "")).unwrap_err(),
            "error gathering device information while adding custom device \"/dev/berth-no-such-device\": no such file or directory"
        );
        assert_eq!(
            devices_from_path(&d("/etc/hostname", "")).unwrap_err(),
            "error gathering device information while adding custom device \"/etc/hostname\": not a device node"
        );
    }
}
