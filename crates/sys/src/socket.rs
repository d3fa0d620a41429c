//! Socket queries the safe wrappers do not cover.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Bytes written to a connected socket that are still queued (`SIOCOUTQ`). On a unix
/// stream socket these are the bytes the peer has not read yet (the kernel charges them to
/// the sender until the reader consumes them); on TCP, the bytes not yet acknowledged.
pub fn unread_output(socket: BorrowedFd<'_>) -> io::Result<usize> {
    let mut queued: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (= TIOCOUTQ) writes one c_int through the pointer, which points at
    // `queued`, alive for the call; `socket` is borrowed, so the descriptor stays open.
    let r = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(queued).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn counts_what_the_peer_has_not_read() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        assert_eq!(unread_output(a.as_fd()).unwrap(), 0);
        a.write_all(b"hello").unwrap();
        assert!(unread_output(a.as_fd()).unwrap() >= 5);
        let mut buf = [0u8; 5];
        b.read_exact(&mut buf).unwrap();
        assert_eq!(unread_output(a.as_fd()).unwrap(), 0);
    }
}
