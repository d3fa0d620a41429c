//! `POST /exec/{id}/start`: the runtime's `exec`, with pipes or a pty, and the session
//! over the hijacked connection.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{EngineError, Result};
use crate::session::Session;
use crate::stream::StdStream;
use berth_api_types::detach_keys;
use berth_api_types::*;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use super::pty::{pty_halves, pump_pty, receive_fd, set_size, SocketFile};
use super::Execs;
use crate::spec;

impl Execs {
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
        let rec = self.records.get(&e.container)?;
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "container {} is not running",
                rec.id
            )));
        }
        self.set_exec(id, |x| x.started = true);
        let tty = e.config.tty;
        let mut cmd = self.runtime_cmd();
        cmd.arg("exec");
        let user = if e.config.user.is_empty() {
            rec.config.user.clone()
        } else {
            e.config.user.clone()
        };
        let rootfs = self.records.rootfs(&rec.id);
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
        let process = super::process::ExecProcess {
            args: e.config.cmd.clone().map(|c| c.0).unwrap_or_default(),
            env,
            cwd: (!cwd.is_empty()).then_some(cwd),
            user: exec_user,
            tty,
            privileged: e.config.privileged,
        };
        let process_file = super::process::write(&self.records.state_dir(&rec.id), id, &process)
            .map_err(|err| {
                self.set_exec(id, |x| x.exit_code = Some(126));
                EngineError::internal(err)
            })?;
        cmd.arg("--process").arg(&process_file.0);
        let console = if tty {
            let dir = self.records.exec_root().join("s");
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
        let pid_dir = self.records.exec_root().join("s");
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
            x.pid = i64::from(child.id().unwrap_or(0));
            x.pty = pty2;
        });
        self.events.for_container(
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
                let code = i64::from(
                    child
                        .wait()
                        .await
                        .ok()
                        .and_then(|s| s.code())
                        .unwrap_or(126),
                );
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
                    if let Ok(rec) = this.records.get(&rec.id) {
                        this.events
                            .for_container("exec_detach", &rec, &[("execID", eid)]);
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
}
