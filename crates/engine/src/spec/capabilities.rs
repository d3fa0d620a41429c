//! `process.capabilities`: Docker's default set, changed by `--cap-add` / `--cap-drop`
//! (`ALL` included), every capability with `--privileged` (moby's `WithCapabilities`).

use berth_api_types::HostConfig;
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

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

/// `net_admin` / `CAP_NET_ADMIN` → `CAP_NET_ADMIN`.
pub fn normalize(c: &str) -> String {
    let c = c.to_ascii_uppercase();
    if c.starts_with("CAP_") {
        c
    } else {
        format!("CAP_{c}")
    }
}

/// The capabilities of a container with `host` (in Docker's order: defaults, then added).
pub fn effective(host: &HostConfig) -> Vec<String> {
    if host.privileged {
        return all_caps();
    }
    let mut caps: Vec<String> = DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
    for c in host.cap_add.iter().flat_map(|s| s.0.iter()) {
        let c = normalize(c);
        if c == "CAP_ALL" {
            caps = all_caps();
        } else if !caps.contains(&c) {
            caps.push(c);
        }
    }
    for c in host.cap_drop.iter().flat_map(|s| s.0.iter()) {
        let c = normalize(c);
        if c == "CAP_ALL" {
            caps.clear();
        } else {
            caps.retain(|x| *x != c);
        }
    }
    caps
}

/// `process.capabilities`: `caps` as the bounding, effective and permitted sets.
pub fn to_oci(caps: &[String]) -> Result<LinuxCapabilities, String> {
    let set: Capabilities = caps
        .iter()
        .map(|c| super::parse_name::<Capability>(c))
        .collect::<Result<_, _>>()?;
    let mut out = LinuxCapabilities::default();
    out.set_bounding(Some(set.clone()))
        .set_effective(Some(set.clone()))
        .set_permitted(Some(set))
        .set_inheritable(None)
        .set_ambient(None);
    Ok(out)
}

/// The `CAP_*` names of `set`, sorted.
pub fn names(set: &Capabilities) -> Vec<String> {
    let mut out: Vec<String> = set
        .iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api_types::StrSlice;

    fn host(add: &[&str], drop: &[&str], privileged: bool) -> HostConfig {
        let slice = |v: &[&str]| Some(StrSlice(v.iter().map(|s| s.to_string()).collect()));
        HostConfig {
            cap_add: slice(add),
            cap_drop: slice(drop),
            privileged,
            ..Default::default()
        }
    }

    #[test]
    fn add_and_drop_change_dockers_defaults() {
        let caps = effective(&host(&["net_admin", "CAP_CHOWN"], &["mknod"], false));
        assert_eq!(caps.len(), DEFAULT_CAPS.len());
        assert!(caps.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!caps.contains(&"CAP_MKNOD".to_string()));
        assert_eq!(effective(&host(&["ALL"], &[], false)), all_caps());
        assert_eq!(effective(&host(&[], &["all"], false)), Vec::<String>::new());
        assert_eq!(effective(&host(&[], &["ALL"], true)), all_caps());
    }

    #[test]
    fn every_known_capability_is_an_oci_one() {
        let oci = to_oci(&all_caps()).unwrap();
        let bounding = oci.bounding().clone().unwrap();
        assert_eq!(bounding.len(), all_caps().len());
        let mut sorted = all_caps();
        sorted.sort();
        assert_eq!(names(&bounding), sorted);
        assert_eq!(oci.bounding(), oci.effective());
        assert_eq!(oci.bounding(), oci.permitted());
        assert!(oci.inheritable().is_none() && oci.ambient().is_none());
        assert!(to_oci(&["CAP_BOGUS".to_string()]).is_err());
    }
}
