//! The real [`ProcessRuntime`]: `berth-runtime exec` as a child of the daemon.
//!
//! The process goes to the runtime as a 0600 `<state>/exec-<id>.json` (`--process`): never
//! its environment on a command line, where any host user reads it in `/proc/<pid>/cmdline`.
//! With a tty the runtime hands the pty master over a console socket
//! (`<exec-root>/s/<id12>.exec`), as to a shim. The runtime writes `--pid-file
//! <exec-root>/s/<id12>.pid` once the program runs: without it the program could not be
//! started (the exit says `ran: false`), and it names the process to kill inside the
//! container (killing only `runtime exec` would leave it running).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::{BoxFuture, Launch, Launched, ProcessExit, ProcessRuntime, Stdio};
use crate::error::{EngineError, Result};
use crate::helpers::Helpers;

/// `berth-runtime exec` under `<exec-root>`.
#[derive(Debug, Clone)]
pub struct RuntimeExec {
    helpers: Helpers,
    exec_root: PathBuf,
}

impl RuntimeExec {
    /// Processes of the containers under `<exec-root>` (the runtime's `--root` is
    /// `<exec-root>/runtime`, a container's bundle `<exec-root>/containers/<id>`).
    pub fn new(helpers: Helpers, exec_root: PathBuf) -> RuntimeExec {
        RuntimeExec { helpers, exec_root }
    }

    async fn start(&self, l: Launch<'_>) -> Result<Launched> {
        let state_dir = self.exec_root.join("containers").join(l.container);
        let process_file = state_dir.join(format!("exec-{}.json", l.id));
        crate::layout::write_private(
            &process_file,
            &serde_json::to_vec(l.process).unwrap_or_default(),
        )
        .map_err(EngineError::internal)?;
        let process_file = RemoveOnDrop(process_file);
        let dir = self.exec_root.join("s");
        std::fs::create_dir_all(&dir).map_err(EngineError::internal)?;
        let short = &l.id[..12.min(l.id.len())];
        let mut cmd = self.helpers.runtime.command();
        cmd.arg("--root")
            .arg(self.exec_root.join("runtime"))
            .arg("exec");
        cmd.arg("--process").arg(&process_file.0);
        let console = if l.stdio == Stdio::Tty {
            let path = dir.join(format!("{short}.exec"));
            let _ = std::fs::remove_file(&path);
            let listener = tokio::net::UnixListener::bind(&path).map_err(EngineError::internal)?;
            cmd.arg("--tty").arg("--console-socket").arg(&path);
            Some((listener, RemoveOnDrop(path)))
        } else {
            None
        };
        let pid_file = dir.join(format!("{short}.pid"));
        let _ = std::fs::remove_file(&pid_file);
        cmd.arg("--pid-file").arg(&pid_file);
        cmd.arg(l.container);
        let piped = || std::process::Stdio::piped();
        let null = || std::process::Stdio::null();
        match l.stdio {
            Stdio::Tty => {
                cmd.stdin(null()).stdout(null());
            }
            Stdio::Pipes { stdin } => {
                cmd.stdin(if stdin { piped() } else { null() })
                    .stdout(piped());
            }
        }
        // Without a tty this is the process's stderr; with one, only the runtime's errors.
        cmd.stderr(piped()).kill_on_drop(l.kill_on_drop);
        let mut child = cmd.spawn().map_err(EngineError::internal)?;
        let mut pty = None;
        if let Some((listener, _socket_file)) = console {
            let got = tokio::select! {
                a = listener.accept() => Some(a),
                _ = child.wait() => None,
                _ = tokio::time::sleep(Duration::from_secs(60)) => None,
            };
            let fd = match got {
                Some(Ok((conn, _))) => match conn.into_std() {
                    Ok(std_conn) => tokio::task::spawn_blocking(move || receive_fd(std_conn))
                        .await
                        .map_err(EngineError::internal)
                        .and_then(|r| r.map_err(EngineError::internal)),
                    Err(err) => Err(EngineError::internal(err)),
                },
                Some(Err(err)) => Err(EngineError::internal(err)),
                None => Err(EngineError::internal("the runtime sent no console")),
            };
            match fd {
                Ok(fd) => pty = Some(fd),
                Err(err) => {
                    let _ = child.start_kill();
                    let mut msg = String::new();
                    if let Some(mut s) = child.stderr.take() {
                        let _ = s.read_to_string(&mut msg).await;
                    }
                    let _ = child.wait().await;
                    let msg = msg.trim();
                    return Err(if msg.is_empty() {
                        err
                    } else {
                        EngineError::internal(msg.to_string())
                    });
                }
            }
        }
        let pid = i64::from(child.id().unwrap_or(0));
        let stdin = child
            .stdin
            .take()
            .map(|p| Box::new(p) as super::ProcessInput);
        let stdout = child
            .stdout
            .take()
            .map(|p| Box::new(p) as super::ProcessOutput);
        let stderr = child
            .stderr
            .take()
            .map(|p| Box::new(p) as super::ProcessOutput);
        // Removed once both the wait and the kill are gone (a probe given up is killed
        // after its wait was dropped).
        let pid_file = Arc::new(RemoveOnDrop(pid_file));
        let kill_file = pid_file.clone();
        let exit = Box::pin(async move {
            let code = child
                .wait()
                .await
                .ok()
                .and_then(|s| s.code())
                .map(i64::from);
            drop(process_file);
            ProcessExit {
                code,
                ran: pid_file.0.exists(),
            }
        });
        Ok(Launched {
            pid,
            stdin,
            stdout,
            stderr,
            pty,
            exit,
            kill: Box::new(move || kill_by_pid_file(&kill_file.0)),
        })
    }
}

impl ProcessRuntime for RuntimeExec {
    fn launch<'a>(&'a self, launch: Launch<'a>) -> BoxFuture<'a, Result<Launched>> {
        Box::pin(self.start(launch))
    }
}

/// SIGKILLs the process the runtime wrote to `pid_file` (nothing when it wrote none).
fn kill_by_pid_file(pid_file: &Path) {
    if let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// A file removed when the launch is over, however it ends (the process file, the pid
/// file, the console socket).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Receives the pty master the runtime sends on the console socket.
fn receive_fd(conn: std::os::unix::net::UnixStream) -> std::io::Result<OwnedFd> {
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    use std::mem::MaybeUninit;
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let mut data = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    recvmsg(conn.as_fd(), &mut iov, &mut cmsg, RecvFlags::CMSG_CLOEXEC)?;
    for msg in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
            if let Some(fd) = fds.next() {
                return Ok(fd);
            }
        }
    }
    Err(std::io::Error::other(
        "no pty received on the console socket",
    ))
}
