//! Checks of a create request that Docker makes (or makes at start, where berth checks at
//! create so that a bad value leaves nothing behind), with Docker's messages: each returns
//! the message of a 400.

use berth_api_types::{ContainerConfig, HostConfig};

/// Everything [`create`] checks, in Docker's order.
pub fn create(config: &ContainerConfig, host: &HostConfig) -> Result<(), String> {
    working_dir(&config.working_dir)?;
    shm_size(host.shm_size)?;
    oom_score_adj(host.oom_score_adj)?;
    capabilities("CapAdd", host.cap_add.iter().flat_map(|s| s.0.iter()))?;
    capabilities("CapDrop", host.cap_drop.iter().flat_map(|s| s.0.iter()))?;
    for opt in host.security_opt.iter().flatten() {
        security_opt(opt)?;
    }
    super::namespaces::check(host)?;
    super::namespaces::check_hostname(host, &config.hostname)?;
    super::host_settings::check(host)
}

/// `the working directory 'x' is invalid, it needs to be an absolute path`.
pub fn working_dir(dir: &str) -> Result<(), String> {
    if dir.is_empty() || dir.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "the working directory '{dir}' is invalid, it needs to be an absolute path"
        ))
    }
}

/// `SHM size can not be less than 0`.
pub fn shm_size(size: i64) -> Result<(), String> {
    if size < 0 {
        Err("SHM size can not be less than 0".into())
    } else {
        Ok(())
    }
}

/// `Invalid value 1001, range for oom score adj is [-1000, 1000]`.
pub fn oom_score_adj(adj: i64) -> Result<(), String> {
    if (-1000..=1000).contains(&adj) {
        Ok(())
    } else {
        Err(format!(
            "Invalid value {adj}, range for oom score adj is [-1000, 1000]"
        ))
    }
}

/// Docker's `NormalizeLegacyCapabilities`: `ALL`, or a capability the kernel knows, with or
/// without `CAP_`, any case. `invalid CapAdd: unknown capability: "CAP_FOO"`.
pub fn capabilities<'a>(field: &str, caps: impl Iterator<Item = &'a String>) -> Result<(), String> {
    let known = crate::spec::all_caps();
    for c in caps {
        let c = c.to_ascii_uppercase();
        if c == "ALL" {
            continue;
        }
        let c = if c.starts_with("CAP_") {
            c
        } else {
            format!("CAP_{c}")
        };
        if !known.contains(&c) {
            return Err(format!("invalid {field}: unknown capability: {c:?}"));
        }
    }
    Ok(())
}

pub use crate::spec::security::{go_bool, security_opt, SecurityOpt};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_messages_for_bad_values() {
        assert!(working_dir("/srv").is_ok() && working_dir("").is_ok());
        assert_eq!(
            working_dir("rel/dir").unwrap_err(),
            "the working directory 'rel/dir' is invalid, it needs to be an absolute path"
        );
        assert_eq!(shm_size(-1).unwrap_err(), "SHM size can not be less than 0");
        assert!(shm_size(0).is_ok());
        assert_eq!(
            oom_score_adj(1001).unwrap_err(),
            "Invalid value 1001, range for oom score adj is [-1000, 1000]"
        );
        assert!(oom_score_adj(-1000).is_ok() && oom_score_adj(1000).is_ok());
        let caps = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(capabilities("CapAdd", caps(&["ALL", "net_admin", "CAP_SYS_TIME"]).iter()).is_ok());
        assert_eq!(
            capabilities("CapAdd", caps(&["foo"]).iter()).unwrap_err(),
            r#"invalid CapAdd: unknown capability: "CAP_FOO""#
        );
        assert_eq!(
            capabilities("CapDrop", caps(&["CAP_BAR"]).iter()).unwrap_err(),
            r#"invalid CapDrop: unknown capability: "CAP_BAR""#
        );
    }
}
