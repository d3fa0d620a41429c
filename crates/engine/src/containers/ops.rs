//! What the container operations share: the runtime's command line (exec), the root
//! filesystem mount, signal names. Each operation has its own file (`create.rs`, `start.rs`, `exit.rs`, `stop.rs`, …).

use std::sync::Arc;

use crate::error::{EngineError, Result};

use super::Containers;

pub(super) fn runtime_root(c: &Containers) -> std::path::PathBuf {
    c.exec_root.join("runtime")
}

pub(super) fn runtime_cmd(c: &Containers) -> tokio::process::Command {
    let mut cmd = c.helpers.runtime.command();
    cmd.arg("--root").arg(runtime_root(c));
    cmd
}

/// Sends `signal` (a name or number) to the container's init.
pub(super) async fn runtime_kill(c: &Containers, id: &str, signal: &str) -> Result<()> {
    let Some(num) = parse_signal(signal) else {
        return Err(EngineError::internal(format!(
            "berth-runtime: unknown signal {signal:?}"
        )));
    };
    c.tasks.kill(id, num).await
}

impl Containers {
    /// Mounts the container's snapshot on its rootfs directory (once): with `remap`, its
    /// layers through the remapped ids (`berth_snapshot::mount_idmapped`).
    pub(super) fn mount_rootfs(
        &self,
        id: &str,
        remap: Option<&crate::remap::IdMapping>,
    ) -> Result<std::path::PathBuf> {
        let target = self.rootfs(id);
        std::fs::create_dir_all(&target).map_err(EngineError::internal)?;
        if self.tasks.is_mounted(&target) {
            return Ok(target);
        }
        let m = self
            .images
            .images()
            .snapshots
            .mounts(id)
            .map_err(EngineError::internal)?;
        self.tasks.mount_rootfs(&m, &target, remap)?;
        Ok(target)
    }

    /// What a task held once it has ended: its network attachments and its mounts, both
    /// at once (the unmount syncs the upper filesystem, the veths wait for the kernel), the
    /// unmount off the async workers.
    pub(super) async fn release_task_resources(self: &Arc<Self>, id: &str) {
        let this = self.clone();
        let owned = id.to_string();
        let unmount = tokio::task::spawn_blocking(move || this.unmount_rootfs(&owned));
        self.networks.network_down(id).await;
        let _ = unmount.await;
    }

    pub(super) fn unmount_rootfs(&self, id: &str) {
        self.volumes.store.unmount_container(id);
        self.unmount_shareable_shm(id);
        self.tasks.unmount_rootfs(&self.rootfs(id));
    }
}

/// Mounts a container's snapshot `m` on `target`, idmapped when the container is remapped.
pub(super) fn mount_snapshot(
    m: &berth_snapshot::Mount,
    target: &std::path::Path,
    remap: Option<&crate::remap::IdMapping>,
) -> Result<()> {
    match remap {
        Some(map) => {
            let userns = map.userns().map_err(|e| {
                EngineError::internal(format!("user namespace for idmapped layers: {e}"))
            })?;
            berth_snapshot::mount_idmapped(m, target, userns)
        }
        None => berth_snapshot::mount(m, target),
    }
    .map_err(EngineError::internal)
}

/// Signal name or number → number.
pub fn parse_signal(s: &str) -> Option<i32> {
    berth_units::signal::parse(s)
}

/// True when `path` is a mount point (its device differs from its parent's, or it is listed
/// in /proc/self/mountinfo).
pub fn is_mountpoint(path: &std::path::Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let p = path.display().to_string();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(p.as_str()))
}
