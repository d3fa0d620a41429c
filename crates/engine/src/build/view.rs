//! A read-only view of a layer stack (`COPY --from`, `RUN --mount=type=bind,from=`), mounted
//! for as long as the value lives.

use std::path::{Path, PathBuf};

use berth_build::Layer;

use super::root::is_mountpoint;
use super::BuildEnv;

/// A mounted view; unmounted and removed on drop.
pub(super) struct View {
    key: Option<String>,
    target: PathBuf,
    env_snapshots: berth_snapshot::Snapshotter,
}

impl View {
    /// Mounts a view of `layers` (base first) on `target` (created). No layers: an empty
    /// directory.
    pub(super) fn mount(env: &BuildEnv, layers: &[Layer], target: &Path) -> Result<View, String> {
        let snapshots = env.images.images().snapshots.clone();
        std::fs::create_dir_all(target).map_err(|e| format!("create {}: {e}", target.display()))?;
        let mut view = View {
            key: None,
            target: target.to_path_buf(),
            env_snapshots: snapshots.clone(),
        };
        if let Some(top) = layers.last() {
            let key = format!("buildview-{}", super::random_hex());
            let m = snapshots
                .view(&key, Some(&top.chain_id))
                .map_err(|e| format!("view of {}: {e}", top.chain_id))?;
            view.key = Some(key);
            berth_snapshot::mount(&m, target).map_err(|e| e.to_string())?;
        }
        Ok(view)
    }

    /// Bind-mounts `path` of the view (symlinks resolved inside it) on `target`, which is
    /// created as a directory or a file to match. The mount source is the object the
    /// in-root lookup found (`/proc/self/fd/N`), never a host path built from the view's
    /// names, so a symlink in the image cannot point the bind at the host.
    pub(super) fn bind_to(&self, path: &str, target: &Path) -> Result<(), String> {
        let root = berth_inroot::Root::open(&self.target).map_err(|e| e.to_string())?;
        let fd = root.open_path(path).map_err(|e| format!("{path}: {e}"))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| e.to_string())?;
        let is_dir =
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory;
        if is_dir {
            std::fs::create_dir_all(target)
        } else {
            std::fs::write(target, b"")
        }
        .map_err(|e| format!("create {}: {e}", target.display()))?;
        let source = berth_inroot::proc_fd_path(&fd);
        rustix::mount::mount_bind_recursive(source.as_str(), target)
            .map_err(|e| format!("bind {path}: {e}"))
    }

    /// The mount point.
    pub(super) fn path(&self) -> &Path {
        &self.target
    }
}

impl Drop for View {
    fn drop(&mut self) {
        while is_mountpoint(&self.target) {
            if berth_snapshot::unmount(&self.target).is_err() {
                break;
            }
        }
        if let Some(k) = &self.key {
            let _ = self.env_snapshots.remove(k);
        }
        if !is_mountpoint(&self.target) {
            let _ = std::fs::remove_dir(&self.target);
        }
    }
}
