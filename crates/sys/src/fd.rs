//! Taking ownership of file descriptors inherited across exec.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Takes ownership of descriptor `fd`, which a parent process passed to us across execve
/// (its number arrives in an environment variable). Fails if `fd` is not open.
///
/// Call it at most once per descriptor number: the returned `OwnedFd` closes it on drop.
pub fn take_inherited(fd: i32) -> io::Result<OwnedFd> {
    if fd < 3 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: F_GETFD only reads the descriptor flags; it fails with EBADF if fd is not open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open (checked above) and, by this function's contract, owned
    // by nobody else in this process: it was inherited and is taken exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
