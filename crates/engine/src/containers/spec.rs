//! The OCI runtime spec (`config.json`) of a container, the way Docker builds it: default
//! mounts, capabilities, masked/read-only paths, seccomp profile, user and environment.

use std::path::Path;

use berth_api_types::{ContainerConfig, HostConfig};
use serde_json::{json, Value};

use super::host_settings;

/// Docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Docker's default PATH.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// uid, gid and additional gids of `user` (`name`, `uid`, `name:group`, `uid:gid`) looked up
/// in the container's `/etc/passwd` and `/etc/group`.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), String> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    parse_user(&passwd, &group, user)
}

/// [`resolve_user`] over the texts of `/etc/passwd` and `/etc/group`.
pub fn parse_user(passwd: &str, group: &str, user: &str) -> Result<(u32, u32, Vec<u32>), String> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let entries = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(':').map(str::to_string).collect())
            .collect()
    };
    let users = entries(passwd);
    let groups = entries(group);
    let (uid, mut gid, name) = if u.is_empty() {
        (0, 0, "root".to_string())
    } else if let Some(e) = users
        .iter()
        .find(|e| e.len() > 3 && (e[0] == u || e[2] == u))
    {
        let uid = e[2].parse().map_err(|_| format!("bad uid for {u}"))?;
        (uid, e[3].parse().unwrap_or(0), e[0].clone())
    } else if let Ok(n) = u.parse::<u32>() {
        (n, 0, String::new())
    } else {
        return Err(format!(
            "unable to find user {u}: no matching entries in passwd file"
        ));
    };
    if let Some(g) = g {
        gid = if let Some(e) = groups
            .iter()
            .find(|e| e.len() > 2 && (e[0] == g || e[2] == g))
        {
            e[2].parse().unwrap_or(0)
        } else if let Ok(n) = g.parse::<u32>() {
            n
        } else {
            return Err(format!(
                "unable to find group {g}: no matching entries in group file"
            ));
        };
    }
    let extra = groups
        .iter()
        .filter(|e| e.len() > 3 && !name.is_empty())
        .filter(|e| e[3].split(',').any(|m| m == name))
        .filter_map(|e| e[2].parse().ok())
        .filter(|g: &u32| *g != gid)
        .collect();
    Ok((uid, gid, extra))
}

/// A `GroupAdd` entry as a gid: a number, or a name looked up in the container's
/// `/etc/group` text (Docker's error when there is none).
pub fn group_id(group: &str, g: &str) -> Result<u32, String> {
    if let Ok(n) = g.parse::<u32>() {
        return Ok(n);
    }
    group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|e| e.len() > 2 && e[0] == g)
        .and_then(|e| e[2].parse().ok())
        .ok_or_else(|| format!("Unable to find group {g}: no matching entries in group file"))
}

/// Inputs of [`build`].
pub struct SpecInput<'a> {
    /// Container id (hostname = first 12 characters).
    pub id: &'a str,
    /// Merged config.
    pub config: &'a ContainerConfig,
    /// Host config.
    pub host: &'a HostConfig,
    /// Process args (entrypoint + cmd).
    pub args: &'a [String],
    /// The mounted root filesystem.
    pub rootfs: &'a Path,
    /// Files to bind into /etc (hostname, hosts, resolv.conf).
    pub etc_files: &'a [(String, String)],
}

/// Builds `config.json`.
pub fn build(input: &SpecInput<'_>) -> Result<Value, String> {
    let cfg = input.config;
    let (uid, gid, mut extra) = resolve_user(input.rootfs, &cfg.user)?;
    let group = std::fs::read_to_string(input.rootfs.join("etc/group")).unwrap_or_default();
    for g in input.host.group_add.iter().flatten() {
        let g = group_id(&group, g)?;
        if !extra.contains(&g) {
            extra.push(g);
        }
    }
    let mut env: Vec<String> = cfg.env.clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.insert(1.min(env.len()), format!("HOSTNAME={}", hostname(input)));
    }
    if cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let mut caps: Vec<String> = DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
    let privileged = input.host.privileged;
    for c in input.host.cap_add.iter().flat_map(|s| s.0.iter()) {
        let c = normalize_cap(c);
        if c == "CAP_ALL" {
            caps = all_caps();
        } else if !caps.contains(&c) {
            caps.push(c);
        }
    }
    for c in input.host.cap_drop.iter().flat_map(|s| s.0.iter()) {
        let c = normalize_cap(c);
        if c == "CAP_ALL" {
            caps.clear();
        } else {
            caps.retain(|x| *x != c);
        }
    }
    if privileged {
        caps = all_caps();
    }
    let cwd = if cfg.working_dir.is_empty() {
        "/".to_string()
    } else {
        cfg.working_dir.clone()
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid","noexec","nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","strictatime","mode=755","size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid","noexec","nodev","ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro","nosuid","noexec","nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid","noexec","nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid","noexec","nodev","mode=1777","size=67108864"]}),
    ];
    // With --read-only, /etc/hosts, /etc/hostname and /etc/resolv.conf are read-only too
    // (moby's NetworkMounts: Writable = !ReadonlyRootfs).
    let etc_options: &[&str] = if input.host.readonly_rootfs {
        &["rbind", "rprivate", "ro"]
    } else {
        &["rbind", "rprivate"]
    };
    for (dest, src) in input.etc_files {
        mounts.push(
            json!({"destination": dest, "type": "bind", "source": src, "options": etc_options}),
        );
    }
    // Binds, volumes and tmpfs mounts are added by `crate::volumes::mounts::apply`.
    let args = if input.host.init == Some(true) {
        super::init::apply(input.args, &mut mounts)?
    } else {
        input.args.to_vec()
    };
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if input.host.network_mode != "host" {
        namespaces.push(json!({"type": "network"}));
    }
    // Docker's default cgroupns mode: private on a cgroup v2 host (the container sees its own
    // cgroup as the root of /sys/fs/cgroup), host on v1 (the runtime binds the container's
    // own cgroups there).
    if crate::hostinfo::cgroup_v2() {
        namespaces.push(json!({"type": "cgroup"}));
    }
    let mut resources = super::resources::oci(&input.host.resources);
    let devices = host_settings::devices(input.host)?;
    // Docker's defaults: nothing, but mknod of any device (opening one needs a rule).
    let mut device_rules = vec![
        json!({"allow": false, "access": "rwm"}),
        json!({"allow": true, "type": "c", "access": "m"}),
        json!({"allow": true, "type": "b", "access": "m"}),
    ];
    device_rules.extend(devices.rules);
    resources.insert("devices".into(), device_rules.into());
    let mut linux = json!({
        "namespaces": namespaces,
        "maskedPaths": if privileged { vec![] } else { MASKED.to_vec() },
        "readonlyPaths": if privileged { vec![] } else { READONLY.to_vec() },
        "resources": resources,
        "cgroupsPath": super::resources::cgroups_path(&input.host.resources.cgroup_parent, input.id),
    });
    if !devices.nodes.is_empty() {
        linux["devices"] = devices.nodes.into();
    }
    if let Some(sysctls) = input.host.sysctls.as_ref().filter(|s| !s.is_empty()) {
        for key in sysctls.keys() {
            host_settings::check_sysctl(key, input.host.network_mode == "host")?;
        }
        linux["sysctl"] = json!(sysctls);
    }
    let security = host_settings::security(input.host);
    if let Some(filter) = host_settings::seccomp_section(&security.seccomp, privileged, &caps)? {
        linux["seccomp"] = filter;
    }
    let mut process = json!({
        "terminal": cfg.tty,
        "user": {"uid": uid, "gid": gid, "additionalGids": extra},
        "args": args,
        "env": env,
        "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": security.no_new_privileges,
        "oomScoreAdj": input.host.oom_score_adj,
    });
    let rlimits = host_settings::rlimits(input.host);
    if !rlimits.is_empty() {
        process["rlimits"] = rlimits.into();
    }
    if extra_empty(&process) {
        process["user"]
            .as_object_mut()
            .map(|o| o.remove("additionalGids"));
    }
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": input.rootfs, "readonly": input.host.readonly_rootfs},
        "hostname": hostname(input),
        "mounts": mounts,
        "linux": linux,
    }))
}

fn extra_empty(p: &Value) -> bool {
    p["user"]["additionalGids"]
        .as_array()
        .is_none_or(|a| a.is_empty())
}

fn hostname(input: &SpecInput<'_>) -> String {
    if input.config.hostname.is_empty() {
        input.id.chars().take(12).collect()
    } else {
        input.config.hostname.clone()
    }
}

fn normalize_cap(c: &str) -> String {
    let c = c.to_ascii_uppercase();
    if c.starts_with("CAP_") {
        c
    } else {
        format!("CAP_{c}")
    }
}

/// Every capability of the kernels berth supports (Docker's `GetAllCapabilities`).
pub fn all_caps() -> Vec<String> {
    [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ]
    .iter()
    .map(|c| format!("CAP_{c}"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seccomp_follows_caps() {
        let base: Vec<String> = DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
        let p = super::super::seccomp::default_for(&base);
        assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
        let names = |p: &Value| -> Vec<String> {
            p["syscalls"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| {
                    s["names"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|n| n.as_str().unwrap().to_string())
                })
                .collect()
        };
        assert!(names(&p).contains(&"read".to_string()));
        assert!(!names(&p).contains(&"mount".to_string()));
        let mut admin = base.clone();
        admin.push("CAP_SYS_ADMIN".into());
        assert!(names(&super::super::seccomp::default_for(&admin)).contains(&"mount".to_string()));
    }

    #[test]
    fn users_resolve_from_passwd() {
        let dir = std::env::temp_dir().join(format!("berth-spec-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("etc/group"),
            "root:x:0:\nwww:x:33:\nextra:x:50:www\n",
        )
        .unwrap();
        assert_eq!(resolve_user(&dir, "www").unwrap(), (33, 33, vec![50]));
        assert_eq!(resolve_user(&dir, "").unwrap().0, 0);
        assert_eq!(resolve_user(&dir, "1000:50").unwrap(), (1000, 50, vec![]));
        assert!(resolve_user(&dir, "nobody").is_err());
        let group = "root:x:0:\nwww:x:33:\n";
        assert_eq!(group_id(group, "www"), Ok(33));
        assert_eq!(group_id(group, "1234"), Ok(1234));
        assert!(group_id(group, "nope")
            .unwrap_err()
            .contains("Unable to find group nope"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
