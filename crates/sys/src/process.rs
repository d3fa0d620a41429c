//! Process primitives the runtime needs and safe crates do not offer: fork, clone with
//! `CLONE_PARENT`, unshare, `close_range` and `_exit`.
//!
//! All of these are meant for a single-threaded caller (the runtime never starts threads),
//! where a forked child may keep running ordinary Rust code.

use std::io;

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
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// fork(2). The caller must be single-threaded: the child gets a copy of this thread only.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: fork has no memory-safety preconditions for a single-threaded process (the
    // runtime's invariant); the child continues with a consistent copy of our address space.
    let ret = unsafe { libc::fork() };
    forked(ret as libc::c_long)
}

/// clone(2) with `CLONE_PARENT | SIGCHLD` and no new stack: like fork, but the child becomes
/// a child of our parent. Used so that the container's pid 1 (forked after `unshare(CLONE_NEWPID)`)
/// is a direct child of the `create`/`run` process that can wait for it.
pub fn fork_as_sibling() -> io::Result<Forked> {
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: with a null stack pointer clone behaves like fork (copy-on-write address space,
    // the child resumes here on its own copy of the stack); the caller is single-threaded.
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

/// Marks every file descriptor `>= first` close-on-exec (close_range with CLOSE_RANGE_CLOEXEC).
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
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// _exit(2): leaves at once, without running atexit handlers or flushing stdio buffers (what a
/// forked child must do so it never duplicates its parent's buffered output).
pub fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}
