//! The pty of a tty exec (the process runtime hands its master over): sized, and pumped to
//! and from the client (detach keys included).

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use crate::session::SessionStreams;
use crate::stream::StdStream;
use berth_api_types::detach_keys::{EscapeScanner, Scan};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Non-blocking halves over duplicates of a pty master (epoll readiness works on a pty as
/// on a pipe). A read error is the end: a pty master reads EIO once every slave is closed.
pub(super) fn pty_halves(
    fd: &OwnedFd,
) -> std::io::Result<(
    tokio::net::unix::pipe::Receiver,
    tokio::net::unix::pipe::Sender,
)> {
    use tokio::net::unix::pipe;
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)?;
    Ok((
        pipe::Receiver::from_owned_fd_unchecked(fd.try_clone()?)?,
        pipe::Sender::from_owned_fd_unchecked(fd.try_clone()?)?,
    ))
}

/// Sets a pty's window size.
pub(super) fn set_size(fd: &OwnedFd, height: u32, width: u32) -> std::io::Result<()> {
    let ws = rustix::termios::Winsize {
        ws_row: u16::try_from(height).unwrap_or(u16::MAX),
        ws_col: u16::try_from(width).unwrap_or(u16::MAX),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(fd, ws).map_err(std::io::Error::from)
}

/// Drives a tty exec session; true when the client typed the detach keys.
pub(super) async fn pump_pty(
    pty: Arc<OwnedFd>,
    mut s: SessionStreams,
    runtime_stderr: Option<crate::processes::ProcessOutput>,
    with_stdin: bool,
    keys: Vec<u8>,
    mut exit_rx: tokio::sync::watch::Receiver<Option<i64>>,
) -> bool {
    let (mut rx, mut tx) = match pty_halves(&pty) {
        Ok(h) => h,
        Err(_) => return false,
    };
    // true: the detach keys; false: the client's input ended.
    let (detach_tx, mut detach_rx) = tokio::sync::oneshot::channel::<bool>();
    if with_stdin {
        let mut input = s.stdin;
        tokio::spawn(async move {
            let mut scanner = EscapeScanner::new(keys);
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match input.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let (pass, detach) = match scanner.feed(&buf[..n]) {
                    Scan::Pass(p) => (p, false),
                    Scan::Detach(p) => (p, true),
                };
                if !pass.is_empty() && tx.write_all(&pass).await.is_err() {
                    break;
                }
                if detach {
                    let _ = detach_tx.send(true);
                    return;
                }
            }
            // Docker: with a tty, the end of the client's input ends the session's output.
            let _ = detach_tx.send(false);
        });
    }
    let mut buf = vec![0u8; 32 * 1024];
    let mut detached = false;
    let mut exited = false;
    let mut input_done = false;
    loop {
        tokio::select! {
            r = rx.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => if s.output.write(StdStream::Stdout, &buf[..n]).await.is_err() { break; },
            },
            d = &mut detach_rx, if with_stdin && !input_done => {
                input_done = true;
                if let Ok(keys) = d {
                    detached = keys && exit_rx.borrow().is_none();
                    break;
                }
            }
            _ = exit_rx.changed(), if !exited => {
                exited = true;
            }
            // Once the process is gone, output still buffered drains; a background process
            // that kept the pty open does not hold the session.
            _ = tokio::time::sleep(Duration::from_millis(500)), if exited => break,
        }
    }
    if let Some(mut err) = runtime_stderr {
        let mut msg = Vec::new();
        if exit_rx.borrow().is_some() {
            let _ = err.read_to_end(&mut msg).await;
            if !msg.is_empty() {
                let _ = s.output.write(StdStream::Stdout, &msg).await;
            }
        }
    }
    if !detached {
        let _ = exit_rx.wait_for(|c| c.is_some()).await;
    }
    let _ = s.output.shutdown().await;
    detached
}
