//! The `HostConfig` settings that reach a container's spec besides its resources (security
//! options, `--ulimit`, `--sysctl`, `--device`, `--device-cgroup-rule`): what Docker would
//! refuse is refused at create (400), with Docker's (or runc's) message, so a container
//! that could never start is never made. The spec parts themselves are built in
//! [`crate::spec`].

use berth_api_types::HostConfig;

use crate::spec::{devices, rlimits, sysctls};

/// Everything [`crate::spec::build`] would refuse, checked at create.
pub fn check(host: &HostConfig) -> Result<(), String> {
    for u in host.resources.ulimits.iter().flatten() {
        rlimits::check_ulimit(u)?;
    }
    for key in host.sysctls.iter().flat_map(|s| s.keys()) {
        sysctls::check_sysctl(key, host.network_mode == "host")?;
    }
    for rule in host.resources.device_cgroup_rules.iter().flatten() {
        devices::device_cgroup_rule(rule)?;
    }
    for d in host.resources.devices.iter().flatten() {
        devices::devices_from_path(d)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api_types::Ulimit;

    #[test]
    fn create_refuses_what_start_would() {
        assert!(check(&HostConfig::default()).is_ok());
        let mut host = HostConfig::default();
        host.resources.ulimits = Some(vec![Ulimit {
            name: "bogus".into(),
            soft: 1,
            hard: 1,
        }]);
        assert_eq!(check(&host).unwrap_err(), "invalid ulimit type: bogus");
        let mut host = HostConfig::default();
        host.resources.device_cgroup_rules = Some(vec!["x".into()]);
        assert!(check(&host)
            .unwrap_err()
            .contains("invalid device cgroup rule"));
        let host = HostConfig {
            network_mode: "host".into(),
            sysctls: Some([("net.core.somaxconn".to_string(), "1".to_string())].into()),
            ..Default::default()
        };
        assert!(check(&host)
            .unwrap_err()
            .contains("hosts network namespace"));
    }
}
