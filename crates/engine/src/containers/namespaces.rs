//! `--pid`, `--ipc` and `--uts` (HostConfig `PidMode`, `IpcMode`, `UTSMode`), applied as
//! Docker applies them: `host` leaves the container in the host's namespace,
//! `container:<name|id>` joins a running container's, and the IPC modes `private`,
//! `shareable` and `none` get a namespace of their own (`none` without `/dev/shm`).
//! Values Docker refuses get Docker's messages.

use berth_api_types::HostConfig;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::spec::mounts::set_shm;
use crate::spec::namespaces::{join, proc_path, use_host as drop_namespace};

use super::Containers;
use crate::error::{EngineError, Result};

/// Docker's default IPC mode (`default-ipc-mode`), what inspect shows for an empty one.
pub const DEFAULT_IPC_MODE: &str = "private";

/// Create-time checks, with moby's messages (400).
pub fn check(host: &HostConfig) -> std::result::Result<(), String> {
    let ipc_ok = match host.ipc_mode.as_str() {
        "" | "host" | "private" | "none" | "shareable" => true,
        m => m.strip_prefix("container:").is_some_and(|c| !c.is_empty()),
    };
    if !ipc_ok {
        return Err(format!("invalid IPC mode: {}", host.ipc_mode));
    }
    let pid_ok = match host.pid_mode.as_str() {
        "" | "host" => true,
        m => m.strip_prefix("container:").is_some_and(|c| !c.is_empty()),
    };
    if !pid_ok {
        return Err(format!("invalid PID mode: {}", host.pid_mode));
    }
    if !matches!(host.uts_mode.as_str(), "" | "host") {
        return Err(format!("invalid UTS mode: {}", host.uts_mode));
    }
    Ok(())
}

/// Conflicts Docker reports between the modes and the container's config (400).
pub fn check_hostname(host: &HostConfig, hostname: &str) -> std::result::Result<(), String> {
    if host.uts_mode == "host" && !hostname.is_empty() {
        return Err("conflicting options: hostname and the UTS mode".into());
    }
    Ok(())
}

impl Containers {
    /// Adjusts the OCI spec for the PID, IPC and UTS modes (at start: a container to join
    /// must be running then).
    pub(super) fn apply_namespace_modes(
        &self,
        id: &str,
        host: &HostConfig,
        spec: &mut Spec,
    ) -> Result<()> {
        match host.pid_mode.as_str() {
            "host" => drop_namespace(spec, LinuxNamespaceType::Pid),
            m => {
                if let Some(other) = m.strip_prefix("container:") {
                    let pid = self.running_pid(other, "PID")?;
                    join(spec, LinuxNamespaceType::Pid, &proc_path(pid, "pid"));
                }
            }
        }
        match host.ipc_mode.as_str() {
            "host" => {
                drop_namespace(spec, LinuxNamespaceType::Ipc);
                set_shm(mounts(spec), Some("/dev/shm"));
            }
            "none" => set_shm(mounts(spec), None),
            "shareable" => {
                let shm = self.mount_shareable_shm(id, host.shm_size)?;
                set_shm(mounts(spec), Some(&shm.display().to_string()));
            }
            m => {
                if let Some(other) = m.strip_prefix("container:") {
                    let donor = self.lookup(other)?;
                    let pid = self.running_pid(other, "IPC")?;
                    match donor.host_config.ipc_mode.as_str() {
                        "host" => {
                            drop_namespace(spec, LinuxNamespaceType::Ipc);
                            set_shm(mounts(spec), Some("/dev/shm"));
                        }
                        "shareable" => {
                            join(spec, LinuxNamespaceType::Ipc, &proc_path(pid, "ipc"));
                            let shm = self.shm_dir(&donor.id);
                            set_shm(mounts(spec), Some(&shm.display().to_string()));
                        }
                        _ => {
                            return Err(EngineError::invalid(
                                "non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
                            ))
                        }
                    }
                }
            }
        }
        if host.uts_mode == "host" {
            drop_namespace(spec, LinuxNamespaceType::Uts);
            // The host's own name: the runtime must not set one without a UTS namespace.
            spec.set_hostname(None);
        }
        Ok(())
    }

    /// `<data-dir>/shm`: the `/dev/shm` of a `shareable` container, a tmpfs on the host side
    /// (as Docker's `mounts/shm`) so that the containers joining its IPC namespace bind the
    /// same one.
    fn shm_dir(&self, id: &str) -> std::path::PathBuf {
        self.data_dir(id).join("shm")
    }

    /// Mounts the tmpfs of a `shareable` container's `/dev/shm` (once; unmounted with its
    /// rootfs).
    fn mount_shareable_shm(&self, id: &str, shm_size: i64) -> Result<std::path::PathBuf> {
        use rustix::mount::MountFlags;
        let dir = self.shm_dir(id);
        std::fs::create_dir_all(&dir).map_err(EngineError::internal)?;
        if !super::ops::is_mountpoint(&dir) {
            let size = if shm_size > 0 { shm_size } else { 64 << 20 };
            let data = std::ffi::CString::new(format!("mode=1777,size={size}"))
                .map_err(EngineError::internal)?;
            rustix::mount::mount(
                "shm",
                &dir,
                "tmpfs",
                MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
                Some(data.as_c_str()),
            )
            .map_err(|e| EngineError::internal(format!("mount {}: {e}", dir.display())))?;
        }
        Ok(dir)
    }

    /// Unmounts a `shareable` container's `/dev/shm` (nothing for other modes).
    pub(super) fn unmount_shareable_shm(&self, id: &str) {
        let dir = self.shm_dir(id);
        while super::ops::is_mountpoint(&dir) {
            if rustix::mount::unmount(&dir, rustix::mount::UnmountFlags::DETACH).is_err() {
                break;
            }
        }
    }

    /// The pid of a running container to join (`what`: Docker's word in the error).
    fn running_pid(&self, reference: &str, what: &str) -> Result<i32> {
        let target = self.lookup(reference)?;
        match i32::try_from(target.state.pid) {
            Ok(pid) if target.state.running && pid > 0 => Ok(pid),
            _ => Err(EngineError::conflict(format!(
                "cannot join {what} of a non running container: {}",
                target.id
            ))),
        }
    }
}

fn mounts(spec: &mut Spec) -> &mut Vec<oci_spec::runtime::Mount> {
    spec.mounts_mut().get_or_insert_with(Vec::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(ipc: &str, pid: &str, uts: &str) -> HostConfig {
        HostConfig {
            ipc_mode: ipc.into(),
            pid_mode: pid.into(),
            uts_mode: uts.into(),
            ..Default::default()
        }
    }

    #[test]
    fn modes_docker_refuses_get_its_messages() {
        assert_eq!(
            check(&host("bogus", "", "")).unwrap_err(),
            "invalid IPC mode: bogus"
        );
        assert_eq!(
            check(&host("", "private", "")).unwrap_err(),
            "invalid PID mode: private"
        );
        assert_eq!(
            check(&host("", "", "container:x")).unwrap_err(),
            "invalid UTS mode: container:x"
        );
        assert_eq!(
            check(&host("container:", "", "")).unwrap_err(),
            "invalid IPC mode: container:"
        );
        for ok in ["", "host", "private", "none", "shareable", "container:abc"] {
            assert!(check(&host(ok, "", "")).is_ok(), "{ok}");
        }
        assert!(check(&host("", "container:abc", "host")).is_ok());
        assert!(check_hostname(&host("", "", "host"), "x").is_err());
    }
}
