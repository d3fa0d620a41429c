//! Idmapped mounts (`userns-remap`): a user namespace that only carries an id mapping, and
//! `mount_setattr(MOUNT_ATTR_IDMAP)` on a detached mount (rustix wraps neither).
//!
//! The namespace is made by a child cloned straight into it (`clone(CLONE_NEWUSER)`, no
//! `unshare`, so a multi-threaded caller such as the engine may call it): the child only
//! blocks in `read` on a pipe and exits when the parent closes it, i.e. it runs nothing but
//! async-signal-safe syscalls after the clone. The parent writes the maps, opens
//! `/proc/<child>/ns/user` and lets the child go; the namespace lives on through the fd.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A user namespace with `uid_map` and `gid_map` (each in `/proc/<pid>/uid_map` form: lines
/// of `<inside> <outside> <count>`), held by the returned descriptor.
pub fn userns_with_maps(uid_map: &str, gid_map: &str) -> io::Result<OwnedFd> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given, which has room for two.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created by pipe2 and are owned by nobody else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let flags = (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: clone without CLONE_VM and without a new stack is a fork into a new user
    // namespace. The child touches no memory another thread could hold locked: it calls only
    // close, read and _exit (async-signal-safe raw syscalls) on descriptors it owns.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if pid == -1 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let mut byte = 0u8;
        // SAFETY: see the clone above; `byte` is a live one-byte buffer on this stack.
        unsafe {
            libc::close(write_end.as_raw_fd());
            libc::read(read_end.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop(read_end);
    let pid =
        i32::try_from(pid).map_err(|_| io::Error::other(format!("fork returned pid {pid}")))?;
    let result = (|| {
        std::fs::write(format!("/proc/{pid}/uid_map"), uid_map)?;
        std::fs::write(format!("/proc/{pid}/gid_map"), gid_map)?;
        std::fs::File::open(format!("/proc/{pid}/ns/user")).map(OwnedFd::from)
    })();
    drop(write_end);
    let mut status = 0;
    // SAFETY: waits for our own child (pid from the clone above); `status` is a live i32.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    result
}

/// Applies the id mapping of user namespace `userns` to the detached mount `tree` (from
/// `open_tree(OPEN_TREE_CLONE)`): files owned by id N on disk appear owned by the id N maps
/// to, and the reverse on writes.
pub fn set_idmap(tree: BorrowedFd<'_>, userns: BorrowedFd<'_>) -> io::Result<()> {
    /// `struct mount_attr` of <linux/mount.h> (MOUNT_ATTR_SIZE_VER0).
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: u64::try_from(userns.as_raw_fd())
            .map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?,
    };
    // SAFETY: mount_setattr reads `size_of::<MountAttr>()` bytes from `attr`, which is a live
    // struct of the kernel's layout; the path is an empty C string used with AT_EMPTY_PATH.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
