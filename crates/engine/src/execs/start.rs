//! `POST /exec/{id}/start`: the exec's process, started by the process runtime with pipes or
//! a pty, and the session over the hijacked connection.

use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::session::Session;
use crate::stream::StdStream;
use berth_api_types::detach_keys;
use berth_api_types::*;
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::process::ExecProcess;
use super::pty::{pty_halves, pump_pty, set_size};
use super::Execs;
use crate::processes::{self, Launch, Launched, Stdio};
use crate::spec;

impl Execs {
    /// `POST /exec/{id}/start`: starts the exec's process, with pipes or a pty.
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
        let changes = super::process::ExecProcess {
            args: e.config.cmd.clone().map(|c| c.0).unwrap_or_default(),
            env,
            cwd: (!cwd.is_empty()).then_some(cwd),
            user: exec_user,
            tty,
            privileged: e.config.privileged,
        };
        let stdio = if tty {
            Stdio::Tty
        } else {
            Stdio::Pipes {
                stdin: e.config.attach_stdin,
            }
        };
        let launched = match self.launch(&rec.id, id, &changes, stdio).await {
            Ok(l) => l,
            Err(err) => {
                // The program never ran: the exec exits 126, as Docker's.
                self.set_exec(id, |x| x.exit_code = Some(126));
                return Err(err);
            }
        };
        let pty = launched.pty.map(Arc::new);
        if let Some(fd) = &pty {
            if let Some([h, w]) = start.console_size.or(e.config.console_size) {
                if h > 0 && w > 0 {
                    let _ = set_size(fd, h, w);
                }
            }
        }
        let eid = id.to_string();
        let pty2 = pty.clone();
        self.set_exec(&eid, |x| {
            x.running = true;
            x.pid = launched.pid;
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
        let (stdout, stderr, stdin) = (launched.stdout, launched.stderr, launched.stdin);
        let exit = launched.exit;
        // The process is waited for apart from any session, so a detached or abandoned
        // session still records the exit code.
        let (exit_tx, exit_rx) = tokio::sync::watch::channel(None::<i64>);
        {
            let this = self.clone();
            let eid = eid.clone();
            let container = rec.id.clone();
            tokio::spawn(async move {
                let exit = exit.await;
                // Without the runtime's pid file the program never ran: 126, as Docker's.
                let code = match exit.code {
                    Some(code) if exit.ran => code,
                    _ => 126,
                };
                this.set_exec(&eid, |x| {
                    x.running = false;
                    x.exit_code = Some(code);
                });
                // Docker's `exec_die`, with the exec's id and exit code.
                if let Ok(rec) = this.records.get(&container) {
                    this.events.for_container(
                        "exec_die",
                        &rec,
                        &[("execID", eid.clone()), ("exitCode", code.to_string())],
                    );
                }
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
            for mut pipe in [stdout, stderr].into_iter().flatten() {
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
            for (pipe, st) in [(stdout, StdStream::Stdout), (stderr, StdStream::Stderr)] {
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

    /// Starts the exec `id` of `container`: the container's process with `changes`.
    async fn launch(
        &self,
        container: &str,
        id: &str,
        changes: &ExecProcess,
        stdio: Stdio,
    ) -> Result<Launched> {
        let base = processes::bundle_process(&self.records.state_dir(container))?;
        let process = super::process::build(&base, changes).map_err(EngineError::internal)?;
        self.processes
            .launch(Launch {
                container,
                id,
                process: &process,
                stdio,
                kill_on_drop: false,
            })
            .await
    }
}
