//! `linux.sysctl` (`--sysctl`), with runc's check that each is isolated by the container's
//! own namespaces.

use std::collections::HashMap;

use berth_api_types::HostConfig;

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

/// `linux.sysctl` of `host` (none when it sets none), each checked.
pub fn sysctls(host: &HostConfig) -> Result<Option<HashMap<String, String>>, String> {
    let Some(sysctls) = host.sysctls.as_ref().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    for key in sysctls.keys() {
        check_sysctl(key, host.network_mode == "host")?;
    }
    Ok(Some(
        sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctls_as_runc_checks_them() {
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
        assert!(check_sysctl("kernel.hostname", false)
            .unwrap_err()
            .contains("conflicts with the OCI \"hostname\" field"));
    }

    #[test]
    fn none_unless_set() {
        assert_eq!(sysctls(&HostConfig::default()), Ok(None));
        let host = HostConfig {
            sysctls: Some([("kernel.shmmax".to_string(), "1".to_string())].into()),
            ..Default::default()
        };
        assert_eq!(sysctls(&host).unwrap().unwrap()["kernel.shmmax"], "1");
        let host = HostConfig {
            sysctls: Some([("kernel.panic".to_string(), "1".to_string())].into()),
            ..Default::default()
        };
        assert!(sysctls(&host).is_err());
    }
}
