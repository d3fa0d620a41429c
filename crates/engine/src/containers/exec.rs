//! Exec instances: `POST /containers/{id}/exec`, `/exec/{id}/start|resize|json`.
//!
//! An exec runs `berth runtime exec` as a child of the daemon. Without a tty its stdio are
//! pipes, multiplexed onto the hijacked connection. With a tty the runtime hands the pty
//! master over a console socket (as to a shim); the daemon keeps it for `/exec/{id}/resize`,
//! streams it raw, and watches the client's input for the detach keys (Docker's
//! `copyEscapable`): on the sequence the session ends and the process keeps running.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{EngineError, Result};
use crate::session::{Session, SessionStreams};
use crate::stream::StdStream;
use berth_api_types::detach_keys::{self, EscapeScanner, Scan};
use berth_api_types::*;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::ops::runtime_cmd;
use super::Containers;
use crate::record;
use crate::spec;

/// An exec instance (kept in memory).
#[derive(Debug, Clone)]
pub struct ExecRecord {
    /// Exec id.
    pub id: String,
    /// Container id.
    pub container: String,
    /// Config.
    pub config: ExecConfig,
    /// Running now.
    pub running: bool,
    /// Exit code when done.
    pub exit_code: Option<i64>,
    /// Host pid.
    pub pid: i64,
    /// The pty master of a tty exec, once the runtime sent it.
    pub pty: Option<Arc<OwnedFd>>,
    /// Start was called (the resize of a tty exec waits for its pty until then).
    pub started: bool,
}

/// Non-blocking halves over duplicates of a pty master (epoll readiness works on a pty as
/// on a pipe). A read error is the end: a pty master reads EIO once every slave is closed.
fn pty_halves(
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
fn set_size(fd: &OwnedFd, height: u32, width: u32) -> std::io::Result<()> {
    let ws = rustix::termios::Winsize {
        ws_row: height.min(u16::MAX as u32) as u16,
        ws_col: width.min(u16::MAX as u32) as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(fd, ws).map_err(std::io::Error::from)
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

/// Removes the console socket when the start is over, however it ends.
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Containers {
    /// `POST /containers/{id}/exec`.
    pub async fn exec_create(&self, reference: &str, config: ExecConfig) -> Result<IdResponse> {
        let rec = self.lookup(reference)?;
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "container {} is not running",
                rec.id
            )));
        }
        if rec.state.paused {
            return Err(EngineError::conflict(format!(
                "container {} is paused, unpause the container before exec",
                rec.id
            )));
        }
        if config.cmd.as_ref().is_none_or(|c| c.0.is_empty()) {
            return Err(EngineError::invalid("No exec command specified"));
        }
        if detach_keys::parse(&config.detach_keys).is_err() {
            return Err(EngineError::invalid(format!(
                "Invalid escape keys ({}) provided",
                config.detach_keys
            )));
        }
        let id = record::new_id();
        self.execs.lock().unwrap_or_else(|e| e.into_inner()).insert(
            id.clone(),
            ExecRecord {
                id: id.clone(),
                container: rec.id.clone(),
                config,
                running: false,
                exit_code: None,
                pid: 0,
                pty: None,
                started: false,
            },
        );
        Ok(IdResponse { id })
    }

    fn exec_record(&self, id: &str) -> Result<ExecRecord> {
        self.execs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::no_such_exec(id))
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, id: &str) -> Result<ExecInspect> {
        let e = self.exec_record(id)?;
        let cmd = e.config.cmd.clone().map(|c| c.0).unwrap_or_default();
        Ok(ExecInspect {
            id: e.id,
            running: e.running,
            exit_code: e.exit_code,
            process_config: ProcessConfig {
                privileged: e.config.privileged,
                user: e.config.user.clone(),
                tty: e.config.tty,
                entrypoint: cmd.first().cloned().unwrap_or_default(),
                arguments: cmd.iter().skip(1).cloned().collect(),
            },
            open_stdin: e.config.attach_stdin,
            open_stderr: e.config.attach_stderr,
            open_stdout: e.config.attach_stdout,
            can_remove: false,
            container_id: e.container,
            detach_keys: e.config.detach_keys,
            pid: e.pid,
        })
    }

    /// `POST /exec/{id}/resize`: sizes the exec's pty; waits (10 s, as Docker) for a tty
    /// exec that is starting to have one.
    pub async fn exec_resize(&self, id: &str, height: u32, width: u32) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let e = self.exec_record(id)?;
            if let Some(pty) = &e.pty {
                return set_size(pty, height, width).map_err(EngineError::internal);
            }
            if e.started && !e.config.tty {
                // Docker resizes the process's console; a process without one has none.
                return Ok(());
            }
            if e.exit_code.is_some() {
                return Err(EngineError::invalid("exec process is not started"));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::internal(
                    "timeout waiting for exec session ready",
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `POST /exec/{id}/start`: runs `berth runtime exec`, with pipes or a pty.
    pub async fn exec_start(
        self: &Arc<Self>,
        id: &str,
        start: ExecStartConfig,
    ) -> Result<Option<Session>> {
        let e = self.exec_record(id)?;
        if e.running || e.exit_code.is_some() || e.started {
            return Err(EngineError::conflict(format!(
                "Error: Exec command {id} has already run"
            )));
        }
        let rec = self.get(&e.container)?;
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "container {} is not running",
                rec.id
            )));
        }
        self.set_exec(id, |x| x.started = true);
        let tty = e.config.tty;
        let mut cmd = runtime_cmd(self);
        cmd.arg("exec");
        let user = if e.config.user.is_empty() {
            rec.config.user.clone()
        } else {
            e.config.user.clone()
        };
        let rootfs = self.rootfs(&rec.id);
        let exec_user = spec::resolve_user(&rootfs, &user)
            .ok()
            .map(|(uid, gid, mut extra)| {
                // The container's GroupAdd applies to its execs too, as in Docker.
                let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
                for g in rec.host_config.group_add.iter().flatten() {
                    if let Ok(g) = spec::group_id(&group, g) {
                        extra.push(g);
                    }
                }
                (uid, gid, extra)
            });
        let cwd = if e.config.working_dir.is_empty() {
            rec.config.working_dir.clone()
        } else {
            e.config.working_dir.clone()
        };
        // As Docker, an exec sees the container's legacy link variables too.
        let mut env = self
            .networks
            .legacy_link_env(&rec)
            .await
            .unwrap_or_default();
        crate::networks::links::replace_or_append(
            &mut env,
            rec.config.env.clone().unwrap_or_default(),
        );
        if tty && !env.iter().any(|v| v.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        env.extend(e.config.env.clone().unwrap_or_default());
        if !env.iter().any(|v| v.starts_with("PATH=")) {
            env.push(format!("PATH={}", spec::DEFAULT_PATH));
        }
        let process = super::exec_process::ExecProcess {
            args: e.config.cmd.clone().map(|c| c.0).unwrap_or_default(),
            env,
            cwd: (!cwd.is_empty()).then_some(cwd),
            user: exec_user,
            tty,
            privileged: e.config.privileged,
        };
        let process_file = super::exec_process::write(&self.state_dir(&rec.id), id, &process)
            .map_err(|err| {
                self.set_exec(id, |x| x.exit_code = Some(126));
                EngineError::internal(err)
            })?;
        cmd.arg("--process").arg(&process_file.0);
        let console = if tty {
            let dir = self.exec_root.join("s");
            std::fs::create_dir_all(&dir).map_err(EngineError::internal)?;
            let path = dir.join(format!("{}.exec", &id[..12.min(id.len())]));
            let _ = std::fs::remove_file(&path);
            let listener = tokio::net::UnixListener::bind(&path).map_err(EngineError::internal)?;
            cmd.arg("--tty").arg("--console-socket").arg(&path);
            Some((listener, SocketFile(path)))
        } else {
            None
        };
        // The runtime writes the pid file once the program runs: without it, the program
        // could not be started and the exec exits 126, as Docker's.
        let pid_dir = self.exec_root.join("s");
        std::fs::create_dir_all(&pid_dir).map_err(EngineError::internal)?;
        let pid_file = pid_dir.join(format!("{}.pid", &id[..12.min(id.len())]));
        let _ = std::fs::remove_file(&pid_file);
        cmd.arg("--pid-file").arg(&pid_file);
        cmd.arg(&rec.id);
        if tty {
            cmd.stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null());
        } else {
            cmd.stdin(if e.config.attach_stdin {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            });
            cmd.stdout(std::process::Stdio::piped());
        }
        // Without a tty this is the process's stderr; with one, only the runtime's errors.
        cmd.stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().map_err(|err| {
            self.set_exec(id, |x| x.exit_code = Some(126));
            EngineError::internal(err)
        })?;
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
                Ok(fd) => {
                    let fd = Arc::new(fd);
                    if let Some([h, w]) = start.console_size.or(e.config.console_size) {
                        if h > 0 && w > 0 {
                            let _ = set_size(&fd, h, w);
                        }
                    }
                    pty = Some(fd);
                }
                Err(err) => {
                    let _ = child.start_kill();
                    let mut msg = String::new();
                    if let Some(mut s) = child.stderr.take() {
                        let _ = s.read_to_string(&mut msg).await;
                    }
                    let _ = child.wait().await;
                    self.set_exec(id, |x| x.exit_code = Some(126));
                    let msg = msg.trim();
                    return Err(if msg.is_empty() {
                        err
                    } else {
                        EngineError::internal(msg.to_string())
                    });
                }
            }
        }
        let eid = id.to_string();
        let pty2 = pty.clone();
        self.set_exec(&eid, |x| {
            x.running = true;
            x.pid = child.id().unwrap_or(0) as i64;
            x.pty = pty2;
        });
        self.event(
            &format!(
                "exec_start: {}",
                e.config
                    .cmd
                    .clone()
                    .map(|c| c.0.join(" "))
                    .unwrap_or_default()
            ),
            &rec,
            &[("execID", eid.clone())],
        );
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let stdin = child.stdin.take();
        // The process is waited for apart from any session, so a detached or abandoned
        // session still records the exit code.
        let (exit_tx, exit_rx) = tokio::sync::watch::channel(None::<i64>);
        {
            let this = self.clone();
            let eid = eid.clone();
            tokio::spawn(async move {
                let code = child
                    .wait()
                    .await
                    .ok()
                    .and_then(|s| s.code())
                    .unwrap_or(126) as i64;
                drop(process_file);
                let code = if pid_file.exists() { code } else { 126 };
                let _ = std::fs::remove_file(&pid_file);
                this.set_exec(&eid, |x| {
                    x.running = false;
                    x.exit_code = Some(code);
                });
                let _ = exit_tx.send(Some(code));
            });
        }
        if start.detach {
            // Nobody reads the output: keep draining it so the process never blocks on it.
            if let Some(p) = pty {
                if let Ok((mut rx, _)) = pty_halves(&p) {
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut rx, &mut tokio::io::sink()).await;
                    });
                }
            }
            for mut pipe in [
                stdout.map(|p| Box::new(p) as Box<dyn AsyncRead + Send + Unpin>),
                stderr.map(|p| Box::new(p) as Box<dyn AsyncRead + Send + Unpin>),
            ]
            .into_iter()
            .flatten()
            {
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut pipe, &mut tokio::io::sink()).await;
                });
            }
            drop(stdin);
            return Ok(None);
        }
        if let Some(pty) = pty {
            let keys = detach_keys::sequence_or_default(Some(&e.config.detach_keys))
                .unwrap_or_else(|_| detach_keys::DEFAULT.to_vec());
            let with_stdin = e.config.attach_stdin;
            let this = self.clone();
            // The start's Tty decides the framing (Docker: multiplexed whenever the start
            // says Tty:false, whatever the create said).
            return Ok(Some(Session::new(start.tty, move |s| async move {
                let detached = pump_pty(pty, s, stderr, with_stdin, keys, exit_rx).await;
                if detached {
                    if let Ok(rec) = this.get(&rec.id) {
                        this.event("exec_detach", &rec, &[("execID", eid)]);
                    }
                }
            })));
        }
        Ok(Some(Session::new(start.tty, move |mut s| async move {
            if let Some(mut w) = stdin {
                let mut r = s.stdin;
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
            let (tx, mut rx) = mpsc::channel::<(StdStream, Bytes)>(64);
            for (pipe, st) in [
                (
                    stdout.map(|p| Box::new(p) as Box<dyn AsyncRead + Send + Unpin>),
                    StdStream::Stdout,
                ),
                (
                    stderr.map(|p| Box::new(p) as Box<dyn AsyncRead + Send + Unpin>),
                    StdStream::Stderr,
                ),
            ] {
                if let Some(mut p) = pipe {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n) = p.read(&mut buf).await {
                            if n == 0
                                || tx
                                    .send((st, Bytes::copy_from_slice(&buf[..n])))
                                    .await
                                    .is_err()
                            {
                                break;
                            }
                        }
                    });
                }
            }
            drop(tx);
            while let Some((st, data)) = rx.recv().await {
                if s.output.write(st, &data).await.is_err() {
                    break;
                }
            }
            let mut exit_rx = exit_rx;
            let _ = exit_rx.wait_for(|c| c.is_some()).await;
            let _ = s.output.shutdown().await;
        })))
    }

    fn set_exec(&self, id: &str, f: impl FnOnce(&mut ExecRecord)) {
        if let Some(x) = self
            .execs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(id)
        {
            f(x);
        }
    }
}

/// Drives a tty exec session; true when the client typed the detach keys.
async fn pump_pty(
    pty: Arc<OwnedFd>,
    mut s: SessionStreams,
    runtime_stderr: Option<tokio::process::ChildStderr>,
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
