//! Mount descriptions and a helper that mounts them.

use std::path::{Path, PathBuf};

use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::CWD;
use rustix::mount::{
    fsconfig_create, fsconfig_set_fd, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen,
    move_mount, open_tree, FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MoveMountFlags,
    OpenTreeFlags, UnmountFlags,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

/// What to mount for a snapshot, in the form of an OCI runtime-spec mount entry.
///
/// `kind` is `"overlay"` (options `lowerdir=a:b`, `upperdir=`, `workdir=`, ...) or `"bind"`
/// (options `rbind` and `ro`/`rw`). Lower dirs are listed top-most first and use the short
/// `l/<id>` links so that deep images fit in one page of mount options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Filesystem type: `overlay` or `bind`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Mount source (`overlay`, or the bind source dir).
    pub source: String,
    /// Mount options.
    pub options: Vec<String>,
}

impl Mount {
    /// The `lowerdir=` paths, top-most first (empty for bind mounts).
    pub fn lowerdirs(&self) -> Vec<&str> {
        self.option("lowerdir")
            .map(|l| l.split(':').collect())
            .unwrap_or_default()
    }

    /// The value of a `key=value` option.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find_map(|o| o.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }

    /// True when the mount is read-only.
    pub fn is_readonly(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }

    /// Mounts this description on `target` and returns a guard that unmounts it on drop.
    pub fn mount_at(&self, target: &Path) -> Result<MountGuard> {
        mount(self, target)?;
        Ok(MountGuard {
            target: target.to_path_buf(),
        })
    }
}

/// Unmounts (lazily, detaching) its target when dropped.
#[derive(Debug)]
pub struct MountGuard {
    target: PathBuf,
}

impl MountGuard {
    /// The mount point.
    pub fn target(&self) -> &Path {
        &self.target
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = unmount(&self.target);
    }
}

/// Mounts `m` on `target` (needs CAP_SYS_ADMIN).
///
/// Overlay mounts use the new mount API and pass each lower dir with `lowerdir+` (Linux 6.8+),
/// which has no page-size limit on the number of layers; older kernels fall back to one
/// `lowerdir=` string.
pub fn mount(m: &Mount, target: &Path) -> Result<()> {
    mount_with_idmap(m, target, None)
}

/// Mounts `m` on `target` like [`mount`], with every lower layer seen through the id mapping
/// of user namespace `userns` (`userns-remap`): an idmapped detached mount of each layer
/// (`open_tree` + `mount_setattr(MOUNT_ATTR_IDMAP)`) handed to overlayfs by descriptor
/// (`lowerdir+` with `FSCONFIG_SET_FD`, Linux 6.13+). The layers stay as they are on disk,
/// shared with every other container; the upper dir is not idmapped (overlayfs writes it
/// with the mounter's credentials), so the caller gives it the remapped root's ownership and
/// what a container writes there is stored in the remapped ids. A `bind` mount (a snapshot
/// with no parent: only the upper) is mounted as is.
pub fn mount_idmapped(m: &Mount, target: &Path, userns: BorrowedFd<'_>) -> Result<()> {
    mount_with_idmap(m, target, Some(userns))
}

fn mount_with_idmap(m: &Mount, target: &Path, userns: Option<BorrowedFd<'_>>) -> Result<()> {
    let fail = |reason: String| Error::Mount {
        kind: m.kind.clone(),
        target: target.to_path_buf(),
        reason,
    };
    match m.kind.as_str() {
        "overlay" => mount_overlay(m, target, userns).map_err(|e| fail(e.to_string())),
        "bind" => {
            rustix::mount::mount_bind_recursive(m.source.as_str(), target)
                .ctx("bind mount", target)?;
            if m.is_readonly() {
                let flags = MountFlags::BIND | MountFlags::RDONLY;
                if let Err(e) = rustix::mount::mount_remount(target, flags, "") {
                    let _ = unmount(target);
                    return Err(fail(format!("remount read-only: {e}")));
                }
            }
            Ok(())
        }
        other => Err(fail(format!("unsupported mount type {other}"))),
    }
}

fn mount_overlay(m: &Mount, target: &Path, userns: Option<BorrowedFd<'_>>) -> std::io::Result<()> {
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    let lowers = m.lowerdirs();
    let mut per_layer = true;
    // The idmapped layers are detached mounts that live as long as their descriptors: they
    // must stay open until the overlay is made.
    let mut trees = Vec::new();
    for (i, lower) in lowers.iter().enumerate() {
        // `lowerdir+` does not follow symlinks (ELOOP), so resolve the short `l/` links here;
        // with one key per layer their length no longer matters.
        let resolved = std::fs::canonicalize(lower)?;
        if let Some(userns) = userns {
            let tree = open_tree(
                CWD,
                resolved.as_path(),
                OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
            )?;
            berth_sys::idmap::set_idmap(tree.as_fd(), userns)?;
            fsconfig_set_fd(&fs, "lowerdir+", &tree).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    format!("overlayfs refused an idmapped layer by descriptor ({e}): userns-remap needs Linux 6.13 or later"),
                )
            })?;
            trees.push(tree);
            continue;
        }
        match fsconfig_set_string(&fs, "lowerdir+", resolved.as_path()) {
            Ok(()) => {}
            Err(rustix::io::Errno::INVAL) if i == 0 => {
                per_layer = false;
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !per_layer {
        fsconfig_set_string(&fs, "lowerdir", lowers.join(":"))?;
    }
    let mut attrs = MountAttrFlags::empty();
    for opt in &m.options {
        match opt.split_once('=') {
            Some(("lowerdir", _)) => {}
            Some((k, v)) => fsconfig_set_string(&fs, k, v)?,
            None if opt == "ro" => attrs |= MountAttrFlags::MOUNT_ATTR_RDONLY,
            None if opt == "rw" => {}
            None => fsconfig_set_flag(&fs, opt.as_str())?,
        }
    }
    fsconfig_create(&fs)?;
    drop(trees);
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)?;
    move_mount(
        &mnt,
        "",
        CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )?;
    Ok(())
}

/// Detaches the mount on `target` (MNT_DETACH).
pub fn unmount(target: &Path) -> Result<()> {
    rustix::mount::unmount(target, UnmountFlags::DETACH).ctx("unmount", target)
}
