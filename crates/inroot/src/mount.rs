//! Mount operations on a descriptor found inside a root (the mount point is never named by a
//! host path).

use std::io;
use std::os::fd::AsFd;

use rustix::fs::StatVfsMountFlags;
use rustix::mount::MountFlags;

use crate::root::proc_fd_path;

/// Bind-remounts the mount whose root `fd` is (a bind mount made on a target opened inside
/// the root) with `flags`, keeping the flags the kernel will not let a remount drop
/// (nosuid, nodev, noexec and the atime ones the mount already has).
pub fn remount_bind(fd: impl AsFd, flags: MountFlags) -> io::Result<()> {
    let fd = fd.as_fd();
    let mut keep = MountFlags::empty();
    if let Ok(st) = rustix::fs::fstatvfs(fd) {
        for (sv, mf) in [
            (StatVfsMountFlags::NOSUID, MountFlags::NOSUID),
            (StatVfsMountFlags::NODEV, MountFlags::NODEV),
            (StatVfsMountFlags::NOEXEC, MountFlags::NOEXEC),
            (StatVfsMountFlags::NOATIME, MountFlags::NOATIME),
            (StatVfsMountFlags::NODIRATIME, MountFlags::NODIRATIME),
            (StatVfsMountFlags::RELATIME, MountFlags::RELATIME),
        ] {
            if st.f_flag.contains(sv) {
                keep |= mf;
            }
        }
    }
    Ok(rustix::mount::mount_remount(
        proc_fd_path(&fd).as_str(),
        MountFlags::BIND | flags | keep,
        "",
    )?)
}
