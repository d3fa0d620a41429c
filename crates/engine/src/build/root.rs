//! A build step's writable root: an active snapshot over the step's parent layers, mounted
//! on `<exec-root>/build/<key>/rootfs`. The same directory is the RUN container's bundle
//! (its state dir, so the shim's socket lands in `<exec-root>/s/`).
//!
//! Dropping a root that was neither committed nor released unmounts it and removes its
//! snapshot, so a cancelled build (the client went away) leaves nothing behind.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use berth_snapshot::Snapshotter;

use crate::containers::tasks::TaskRuntime;

/// True when `path` is a mount point: `statx`'s mount-root attribute (Linux 5.8+), else
/// its listing in /proc/self/mountinfo (which costs a read of the whole table).
pub(super) fn is_mountpoint(path: &Path) -> bool {
    use rustix::fs::{AtFlags, StatxAttributes, StatxFlags, CWD};
    match rustix::fs::statx(
        CWD,
        path,
        AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::BASIC_STATS,
    ) {
        Ok(st) if st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) => {
            return st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT);
        }
        Err(rustix::io::Errno::NOENT) => return false,
        _ => {}
    }
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let p = path.display().to_string();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(p.as_str()))
}

/// Mount points the runtime creates when the image lacks them (in-root paths, no leading
/// `/`). Docker keeps them in the container's init layer, so they never reach a commit.
pub(super) const RUNTIME_TARGETS: &[&str] = &[
    "proc",
    "dev",
    "sys",
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
];

/// A writable root prepared for one step.
pub struct Root {
    /// Snapshot key, runtime id and directory name (64 hex).
    pub(super) key: String,
    /// `<exec-root>/build/<key>`: bundle and state dir.
    pub(super) dir: PathBuf,
    /// In-root paths that did not exist before a RUN and that the runtime made as mount
    /// points: removed from the upper dir before the commit.
    pub(super) created: Mutex<Vec<String>>,
    snapshots: Snapshotter,
    /// Mounts and unmounts the root (the RUN steps' task runtime).
    tasks: Arc<dyn TaskRuntime>,
    finished: AtomicBool,
}

impl Root {
    /// Prepares the snapshot over `parent` (a chain id) and mounts it.
    pub(super) fn prepare(
        snapshots: &Snapshotter,
        tasks: &Arc<dyn TaskRuntime>,
        build_dir: &Path,
        parent: Option<&str>,
    ) -> Result<Root, String> {
        let key = super::random_hex();
        let dir = build_dir.join(&key);
        let root = Root {
            key: key.clone(),
            dir: dir.clone(),
            created: Mutex::new(Vec::new()),
            snapshots: snapshots.clone(),
            tasks: tasks.clone(),
            finished: AtomicBool::new(false),
        };
        std::fs::create_dir_all(root.rootfs())
            .map_err(|e| format!("create {}: {e}", dir.display()))?;
        let mount = snapshots
            .prepare(&key, parent)
            .map_err(|e| format!("prepare a root for the step: {e}"))?;
        root.tasks
            .mount_rootfs(&mount, &root.rootfs(), None)
            .map_err(|e| format!("mount the step's root: {e}"))?;
        Ok(root)
    }

    /// Where the root is mounted.
    pub(super) fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The snapshot's upper directory (valid once unmounted).
    pub(super) fn upper(&self) -> Result<PathBuf, String> {
        self.snapshots
            .active(&self.key)
            .map(|a| a.upper)
            .map_err(|e| e.to_string())
    }

    pub(super) fn unmount(&self) {
        self.tasks.unmount_rootfs(&self.rootfs());
    }

    /// Removes from the (unmounted) upper dir the mount points the runtime made, and the
    /// directories copied up only to hold them, so a RUN that changed nothing commits
    /// nothing (Docker's init layer has the same effect).
    pub(super) fn drop_runtime_mountpoints(&self) -> Result<(), String> {
        let upper = self.upper()?;
        let created = std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()));
        for rel in created {
            let path = upper.join(&rel);
            if let Ok(md) = std::fs::symlink_metadata(&path) {
                let empty_dir =
                    md.is_dir() && std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
                if empty_dir {
                    let _ = std::fs::remove_dir(&path);
                } else if md.is_file() && md.size() == 0 {
                    let _ = std::fs::remove_file(&path);
                }
            }
            // Parents copied up (or made) for the mount point and otherwise untouched.
            let mut parent = Path::new(&rel).parent();
            while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
                let dir = upper.join(p);
                let empty = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_none());
                let opaque =
                    rustix::fs::lgetxattr(&dir, berth_snapshot::OPAQUE_XATTR, &mut [0u8; 4])
                        .is_ok();
                if !empty || opaque || std::fs::remove_dir(&dir).is_err() {
                    break;
                }
                parent = p.parent();
            }
        }
        Ok(())
    }

    /// True when the (unmounted) upper dir holds nothing: the step changed no file.
    pub(super) fn unchanged(&self) -> Result<bool, String> {
        let upper = self.upper()?;
        std::fs::read_dir(&upper)
            .map(|mut d| d.next().is_none())
            .map_err(|e| format!("read {}: {e}", upper.display()))
    }

    /// Marks the root as handed over (committed): nothing to clean up on drop but its dir.
    pub(super) fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Unmounts, removes the snapshot and the directory.
    pub(super) fn discard(&self) {
        if self.finished.swap(true, Ordering::SeqCst) {
            return;
        }
        self.unmount();
        let _ = self.snapshots.remove(&self.key);
        if !self.tasks.is_mounted(&self.rootfs()) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        self.discard();
    }
}
