//! Process primitives the runtime needs and safe crates do not offer: fork, clone with
//! `CLONE_PARENT`, clone3 into a cgroup, unshare, `close_range` and `_exit`.
//!
//! The fork family (`fork`, `fork_as_sibling`, `fork_into`) lets the child go on running
//! ordinary Rust code, which is sound only when the caller is single-threaded (no other
//! thread can hold a lock the child would then wait on forever). Each of them checks that
//! with one syscall (`unshare(CLONE_VM)`, which the kernel refuses in a process with more
//! than one thread) and fails with [`multi_threaded_error`] instead of forking.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The result of a fork: which side of it we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// In the parent; the child's pid (as seen from the parent's pid namespace).
    Parent(i32),
    /// In the child.
    Child,
}

fn forked(ret: libc::c_long) -> io::Result<Forked> {
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => i32::try_from(pid)
            .map(Forked::Parent)
            .map_err(|_| io::Error::other(format!("clone returned pid {pid}"))),
    }
}

/// True when the calling process has exactly one thread (and shares its memory with no
/// other process). `unshare(CLONE_VM)` changes nothing; the kernel only checks that the
/// address space is not shared and fails with EINVAL when it is.
pub fn is_single_threaded() -> bool {
    // SAFETY: unshare(CLONE_VM) takes no pointers and, when it succeeds, changes nothing (a
    // single-threaded process already owns its address space); otherwise it fails.
    unsafe { libc::unshare(libc::CLONE_VM) == 0 }
}

/// The error the fork family returns when called from a multi-threaded process.
pub fn multi_threaded_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "fork refused: the calling process has more than one thread",
    )
}

fn require_single_thread() -> io::Result<()> {
    if is_single_threaded() {
        Ok(())
    } else {
        Err(multi_threaded_error())
    }
}

/// fork(2). Fails with [`multi_threaded_error`] in a multi-threaded process.
pub fn fork() -> io::Result<Forked> {
    require_single_thread()?;
    // SAFETY: the process is single-threaded (checked above), so the child continues with a
    // consistent copy of our address space and no lock held by another thread.
    let ret = unsafe { libc::fork() };
    forked(libc::c_long::from(ret))
}

/// clone(2) with `CLONE_PARENT | SIGCHLD` and no new stack: like fork, but the child becomes
/// a child of our parent. Used so that the container's pid 1 (forked after `unshare(CLONE_NEWPID)`)
/// is a direct child of the `create`/`run` process that can wait for it. Fails with
/// [`multi_threaded_error`] in a multi-threaded process.
pub fn fork_as_sibling() -> io::Result<Forked> {
    require_single_thread()?;
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: with a null stack pointer clone behaves like fork (copy-on-write address space,
    // the child resumes here on its own copy of the stack); the caller is single-threaded
    // (checked above).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    forked(ret)
}

/// `clone_args` of clone3(2) up to and including `cgroup` (CLONE_ARGS_SIZE_VER2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3's flag that starts the child in the cgroup2 directory `cgroup` names (Linux 5.7).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// fork(2) through clone3: the child starts directly in the cgroup2 directory open as
/// `cgroup_dir` (`CLONE_INTO_CGROUP`), if given, and in new namespaces (`CLONE_NEW*` flags in
/// `new_namespaces`). Unlike a later write to `cgroup.procs`, joining the cgroup this way does
/// not take the global threadgroup lock for writing, so it never waits for an RCU grace
/// period. Errors (old kernel: ENOSYS/E2BIG; not a cgroup2 directory: EBADF/EINVAL/
/// EOPNOTSUPP) leave no child behind; the caller may fall back to [`fork`], `unshare` and a
/// `cgroup.procs` write. Fails with [`multi_threaded_error`] in a multi-threaded process.
pub fn fork_into(cgroup_dir: Option<BorrowedFd<'_>>, new_namespaces: i32) -> io::Result<Forked> {
    require_single_thread()?;
    let mut args = CloneArgs {
        // The CLONE_NEW* bits as the kernel's unsigned flags (same bits, no sign).
        flags: u64::from(u32::from_ne_bytes(new_namespaces.to_ne_bytes())),
        exit_signal: libc::SIGCHLD.unsigned_abs().into(),
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup_dir {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup =
            u64::try_from(fd.as_raw_fd()).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    }
    // SAFETY: with no stack given, clone3 behaves like fork (the child resumes here on a
    // copy-on-write copy of our address space and stack); `args` is a valid, initialised
    // clone_args of the size passed, living across the call; the caller is single-threaded
    // (checked above).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    forked(ret)
}

/// unshare(2) with `CLONE_NEW*` flags.
pub fn unshare(flags: i32) -> io::Result<()> {
    // SAFETY: unshare only changes kernel-side namespace membership of this thread; it takes
    // no pointers. (rustix marks it unsafe for CLONE_FILES/CLONE_FS sharing, which we don't use
    // with threads.)
    let ret = unsafe { libc::unshare(flags) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Marks every file descriptor `>= first` close-on-exec: `close_range` with
/// `CLOSE_RANGE_CLOEXEC` (Linux 5.11), or, where that is refused (older kernels: ENOSYS or
/// EINVAL; a seccomp profile that does not list it: EPERM or whatever errno it chose), one
/// `fcntl(F_SETFD)` per descriptor listed in /proc/self/fd, as runc does.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC closes nothing now; it only sets a flag on
    // descriptors, so no Rust object can observe a closed fd.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    if ret == 0 {
        return Ok(());
    }
    cloexec_from_proc(first)
}

/// The fallback of [`cloexec_from`]: sets `FD_CLOEXEC` on each descriptor `>= first` that
/// /proc/self/fd lists (the directory's own descriptor is closed by then, harmlessly).
pub fn cloexec_from_proc(first: u32) -> io::Result<()> {
    let fds: Vec<libc::c_int> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd: &libc::c_int| u32::try_from(*fd).is_ok_and(|fd| fd >= first))
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD/F_SETFD only read and set the descriptor flags; a number that is
        // not open (the read_dir descriptor, closed since) fails with EBADF, ignored.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

/// _exit(2): leaves at once, without running atexit handlers or flushing stdio buffers (what a
/// forked child must do so it never duplicates its parent's buffered output).
pub fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_into_refuses_a_directory_outside_cgroup2() {
        let dir = std::fs::File::open("/").unwrap();
        let err = fork_into(Some(std::os::fd::AsFd::as_fd(&dir)), 0).unwrap_err();
        // EBADF (not a cgroup2 directory), ENOSYS (no clone3) or, since the test harness
        // runs tests on threads, the multi-threaded refusal: never a child.
        assert!(
            matches!(err.raw_os_error(), Some(libc::EBADF | libc::ENOSYS))
                || err.kind() == io::ErrorKind::InvalidInput,
            "{err}"
        );
    }

    #[test]
    fn the_fork_family_refuses_a_multi_threaded_caller() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || rx.recv());
        assert!(!is_single_threaded());
        for res in [fork(), fork_as_sibling(), fork_into(None, 0)] {
            let err = res.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        }
        tx.send(()).unwrap();
        other.join().unwrap().unwrap();
    }

    #[test]
    fn cloexec_fallback_marks_every_descriptor_from_first() {
        let a = std::fs::File::open("/").unwrap();
        let b = std::fs::File::open("/").unwrap();
        let (fa, fb) = (a.as_raw_fd(), b.as_raw_fd());
        let (low, high) = (fa.min(fb), fa.max(fb));
        for fd in [low, high] {
            // SAFETY: clearing FD_CLOEXEC on a descriptor this test owns.
            unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        }
        cloexec_from_proc(u32::try_from(high).unwrap()).unwrap();
        // SAFETY: reading the flags of descriptors this test owns.
        let flags = |fd| unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert_eq!(flags(low) & libc::FD_CLOEXEC, 0);
        assert_eq!(flags(high) & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }
}
