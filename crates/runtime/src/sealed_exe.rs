//! A read-only copy of the runtime binary to execute the container's init from
//! (CVE-2019-5736): a container that reaches `/proc/<init>/exe` must not be able to open the
//! host's binary for writing.
//!
//! First choice: a detached overlayfs mount (no upper layer, so read-only) whose lower layer
//! is the binary's directory, opened `O_PATH`. It costs one mount syscall set and no copy, and
//! disappears when the descriptor is closed. Fallback (no overlayfs, or it refuses the lower
//! directory): a sealed memfd copy of the binary.

use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use rustix::fs::{MemfdFlags, Mode, OFlags, SealFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

use crate::error::{Context, Result};

/// The overlay's empty lower layer, under the state root.
pub const EMPTY_DIR: &str = ".empty";

/// An `O_PATH` (overlay) or memfd descriptor of a read-only copy of the running binary.
/// `state_root` is the runtime's `--root`, where the overlay's empty layer is kept.
pub fn sealed_self(state_root: &Path) -> Result<OwnedFd> {
    let exe = std::fs::read_link("/proc/self/exe").sys(|| "readlink /proc/self/exe".into())?;
    match overlay_copy(&exe, state_root) {
        Ok(fd) => Ok(fd),
        Err(_) => memfd_copy(&exe),
    }
}

fn overlay_copy(exe: &Path, state_root: &Path) -> std::io::Result<OwnedFd> {
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let name = exe.file_name().unwrap_or_default();
    let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    // Two lower layers and no upper: overlayfs then refuses every write.
    rustix::mount::fsconfig_set_string(&fs, "lowerdir", lowerdirs(dir, state_root)?)?;
    // Keep overlayfs from creating index/xino state or following redirects in our layers.
    for (key, value) in [("index", "off"), ("xino", "off"), ("redirect_dir", "off")] {
        let _ = rustix::mount::fsconfig_set_string(&fs, key, value);
    }
    rustix::mount::fsconfig_create(&fs)?;
    let mnt = rustix::mount::fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_RDONLY,
    )?;
    let fd = rustix::fs::openat(
        &mnt,
        name,
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )?;
    Ok(fd)
}

/// overlayfs needs two lower layers when there is no upper one: the binary's directory on
/// top of an empty directory, `<state root>/.empty` (created once, 0700; not a container
/// id, so `list` skips it). Nothing is created outside the runtime's own root.
fn lowerdirs(dir: &Path, state_root: &Path) -> std::io::Result<String> {
    let empty = state_root.join(EMPTY_DIR);
    if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&empty) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            std::fs::create_dir_all(state_root)?;
            std::fs::DirBuilder::new().mode(0o700).create(&empty)?;
        }
    }
    let esc = |p: &Path| {
        p.to_string_lossy()
            .replace('\\', "\\\\")
            .replace(':', "\\:")
            .replace(',', "\\,")
    };
    Ok(format!("{}:{}", esc(dir), esc(&empty)))
}

fn memfd_copy(exe: &Path) -> Result<OwnedFd> {
    let fd = rustix::fs::memfd_create(
        "berth-runtime",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .sys(|| "memfd_create".into())?;
    let mut src = std::fs::File::open(exe).sys(|| format!("open {}", exe.display()))?;
    let mut dst = std::fs::File::from(fd);
    std::io::copy(&mut src, &mut dst).sys(|| "copy runtime binary to memfd".into())?;
    let fd = OwnedFd::from(dst);
    rustix::fs::fcntl_add_seals(
        &fd,
        SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )
    .sys(|| "seal memfd".into())?;
    Ok(fd)
}
