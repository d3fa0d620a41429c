//! `userns-remap` for one container: whether it runs in the remapped user namespace
//! (`--userns=host` opts out), dockerd's create-time conflicts, and the OCI spec's user
//! namespace and id mappings.
//!
//! A remapped container's root filesystem is its image's layers seen through an idmapped
//! mount of each layer (the layers stay as pulled, shared with every container; see
//! `berth_snapshot::mount_idmapped`) over an upper dir owned, and written, in the remapped
//! ids. What leaves or enters the container as a tar (`docker cp`, `export`, `commit`) has
//! its ownership shifted back and forth ([`crate::remap::IdMapping`]).

use std::sync::Arc;

use berth_api_types::HostConfig;
use oci_spec::runtime::{LinuxIdMapping, Spec};

use crate::spec::namespaces;

use super::Containers;
use crate::error::{EngineError, Result};
use crate::remap::{IdMapping, IdRange};

/// dockerd's conflicts between `userns-remap` and a container that does not opt out with
/// `--userns=host` (400 at create).
pub fn check(host: &HostConfig, remapped: bool) -> std::result::Result<(), String> {
    if !remapped || host.userns_mode == "host" {
        return Ok(());
    }
    if host.privileged {
        return Err("privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode".into());
    }
    if host.network_mode == "host" {
        return Err(
            "cannot share the host's network namespace when user namespaces are enabled".into(),
        );
    }
    if host.pid_mode == "host" {
        return Err("cannot share the host PID namespace when user namespaces are enabled".into());
    }
    Ok(())
}

impl Containers {
    /// The daemon's mapping when the container runs remapped (not `--userns=host`).
    pub(crate) fn remap_for(&self, host: &HostConfig) -> Option<Arc<IdMapping>> {
        self.records
            .remap()
            .filter(|_| host.userns_mode != "host")
            .cloned()
    }

    /// The container's user namespace: a new one with the daemon's mappings, or, when it
    /// joins another container's network, PID or IPC namespace, that container's user
    /// namespace (as dockerd: namespaces can only be shared within one user namespace).
    pub(super) fn apply_userns(&self, host: &HostConfig, spec: &mut Spec) -> Result<()> {
        let Some(map) = self.remap_for(host) else {
            return Ok(());
        };
        let own = std::fs::read_link("/proc/self/ns/user").map_err(EngineError::internal)?;
        let other = namespaces::joined_pid(spec).filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/user"))
                .ok()
                .as_ref()
                != Some(&own)
        });
        match other {
            Some(pid) => namespaces::set_user(
                spec,
                Some(namespaces::proc_path(pid, "user")),
                vec![],
                vec![],
            ),
            None => namespaces::set_user(spec, None, mappings(&map.uids), mappings(&map.gids)),
        }
        Ok(())
    }
}

fn mappings(ranges: &[IdRange]) -> Vec<LinuxIdMapping> {
    ranges
        .iter()
        .map(|r| namespaces::id_mapping(r.container, r.host, r.size))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerd_refuses_host_namespaces_and_privileged_unless_userns_host() {
        let host = |privileged: bool, net: &str, pid: &str, userns: &str| HostConfig {
            privileged,
            network_mode: net.into(),
            pid_mode: pid.into(),
            userns_mode: userns.into(),
            ..Default::default()
        };
        assert!(check(&host(true, "", "", ""), true)
            .unwrap_err()
            .starts_with("privileged mode is incompatible with user namespaces."));
        assert_eq!(
            check(&host(false, "host", "", ""), true).unwrap_err(),
            "cannot share the host's network namespace when user namespaces are enabled"
        );
        assert_eq!(
            check(&host(false, "", "host", ""), true).unwrap_err(),
            "cannot share the host PID namespace when user namespaces are enabled"
        );
        assert!(check(&host(true, "host", "host", "host"), true).is_ok());
        assert!(check(&host(true, "host", "host", ""), false).is_ok());
    }
}
