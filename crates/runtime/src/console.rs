//! Terminals: the container's pty is created inside the container (from its own devpts), its
//! master end is sent to the caller's `--console-socket` with SCM_RIGHTS (as runc does), and
//! the slave becomes the process's controlling terminal and stdio.

use std::io::IoSlice;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

use crate::error::{Context, Result};

/// Opens a new pty, sends its master over `socket`, and makes the slave our controlling
/// terminal and stdin/stdout/stderr. Also binds it onto /dev/console when that exists.
pub fn setup(socket: &OwnedFd) -> Result<()> {
    let master = rustix::pty::openpt(
        rustix::pty::OpenptFlags::RDWR
            | rustix::pty::OpenptFlags::NOCTTY
            | rustix::pty::OpenptFlags::CLOEXEC,
    )
    .sys(|| "open /dev/ptmx".into())?;
    rustix::pty::grantpt(&master).sys(|| "grantpt".into())?;
    rustix::pty::unlockpt(&master).sys(|| "unlockpt".into())?;
    let name = rustix::pty::ptsname(&master, Vec::new()).sys(|| "ptsname".into())?;
    let name = name.to_string_lossy().into_owned();
    let slave = rustix::fs::open(
        name.as_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .sys(|| format!("open {name}"))?;
    send_fd(socket, &master, &name)?;
    drop(master);
    // /dev/console, when the spec's /dev has one, shows the same terminal.
    if let Ok(console) = rustix::fs::open(
        "/dev/console",
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        let _ = rustix::mount::mount(
            name.as_str(),
            berth_inroot::proc_fd_path(&console).as_str(),
            "",
            rustix::mount::MountFlags::BIND,
            None,
        );
    }
    let _ = rustix::process::setsid();
    rustix::process::ioctl_tiocsctty(&slave).sys(|| "TIOCSCTTY".into())?;
    rustix::stdio::dup2_stdin(&slave).sys(|| "dup2 pty to stdin".into())?;
    rustix::stdio::dup2_stdout(&slave).sys(|| "dup2 pty to stdout".into())?;
    rustix::stdio::dup2_stderr(&slave).sys(|| "dup2 pty to stderr".into())?;
    Ok(())
}

/// Sends `fd` with SCM_RIGHTS over the connected unix socket `socket` (`name` as payload).
pub fn send_fd(socket: &OwnedFd, fd: &OwnedFd, name: &str) -> Result<()> {
    let fds = [fd.as_fd()];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut buf = SendAncillaryBuffer::new(&mut space);
    buf.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        socket,
        &[IoSlice::new(name.as_bytes())],
        &mut buf,
        SendFlags::empty(),
    )
    .sys(|| "send pty master over the console socket".into())?;
    Ok(())
}
