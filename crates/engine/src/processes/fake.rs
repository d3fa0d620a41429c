//! An in-memory [`ProcessRuntime`] for unit tests: no runtime, no process. It keeps what it
//! was asked to start, answers each launch as the test's script says (exit at once with a
//! code and output, run until the test ends it or it is killed, never start, fail to
//! launch), and hands a real pty master to a tty launch (so resizes have something to size).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use oci_spec::runtime::Process;
use tokio::sync::oneshot;

use super::{BoxFuture, Launch, Launched, ProcessExit, ProcessRuntime, Stdio};
use crate::error::{EngineError, Result};

/// What a launched process does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exits at once with `code`, having written `stdout` and `stderr`.
    Exit {
        /// Exit code.
        code: i64,
        /// Its stdout.
        stdout: Vec<u8>,
        /// Its stderr.
        stderr: Vec<u8>,
    },
    /// Runs until [`FakeProcesses::finish`] ends it, or it is killed (exit 137).
    Run,
    /// The runtime started, but the program could not (missing, not executable).
    NotStarted,
    /// The launch fails with the runtime's message.
    Fail(String),
}

impl Outcome {
    /// Exits at once with `code` and `output` on stdout.
    pub fn exit(code: i64, output: &str) -> Outcome {
        Outcome::Exit {
            code,
            stdout: output.as_bytes().to_vec(),
            stderr: Vec::new(),
        }
    }
}

/// Decides each launch's outcome from its process.
pub type Script = Box<dyn Fn(&Process) -> Outcome + Send + Sync>;

/// A launch the fake got.
#[derive(Debug, Clone)]
pub struct LaunchRecord {
    /// Container id.
    pub container: String,
    /// The process's id (the exec's).
    pub id: String,
    /// The process.
    pub process: Process,
    /// Its stdio.
    pub stdio: Stdio,
    /// The pid it was given.
    pub pid: i64,
}

#[derive(Default)]
struct State {
    launches: Vec<LaunchRecord>,
    running: HashMap<i64, oneshot::Sender<i64>>,
    kills: usize,
    next_pid: i64,
}

/// The fake.
#[derive(Default)]
pub struct FakeProcesses {
    state: Arc<Mutex<State>>,
    script: Mutex<Option<Script>>,
}

impl std::fmt::Debug for FakeProcesses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProcesses").finish_non_exhaustive()
    }
}

impl FakeProcesses {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Launches from now on do what `script` says (by default: exit 0 without output).
    pub fn script(&self, script: impl Fn(&Process) -> Outcome + Send + Sync + 'static) {
        *self.script.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(script));
    }

    /// Every launch so far, in order.
    pub fn launches(&self) -> Vec<LaunchRecord> {
        self.with(|s| s.launches.clone())
    }

    /// How many launches so far.
    pub fn launch_count(&self) -> usize {
        self.with(|s| s.launches.len())
    }

    /// How many processes were killed.
    pub fn kills(&self) -> usize {
        self.with(|s| s.kills)
    }

    /// Ends the running process `pid` with `code`; false when none runs with that pid.
    pub fn finish(&self, pid: i64, code: i64) -> bool {
        match self.with(|s| s.running.remove(&pid)) {
            Some(tx) => tx.send(code).is_ok(),
            None => false,
        }
    }
}

fn reader(bytes: Vec<u8>) -> super::ProcessOutput {
    Box::new(std::io::Cursor::new(bytes))
}

impl ProcessRuntime for FakeProcesses {
    fn launch<'a>(&'a self, l: Launch<'a>) -> BoxFuture<'a, Result<Launched>> {
        let outcome = self
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or_else(|| Outcome::exit(0, ""), |script| script(l.process));
        Box::pin(async move {
            if let Outcome::Fail(msg) = outcome {
                return Err(EngineError::internal(msg));
            }
            let (tx, rx) = oneshot::channel();
            let pid = self.with(|s| {
                s.next_pid += 1;
                let pid = 2000 + s.next_pid;
                s.launches.push(LaunchRecord {
                    container: l.container.to_string(),
                    id: l.id.to_string(),
                    process: l.process.clone(),
                    stdio: l.stdio,
                    pid,
                });
                if outcome == Outcome::Run {
                    s.running.insert(pid, tx);
                }
                pid
            });
            let pty = match l.stdio {
                Stdio::Tty => Some(
                    rustix::pty::openpt(
                        rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY,
                    )
                    .map_err(EngineError::internal)?,
                ),
                Stdio::Pipes { .. } => None,
            };
            let (stdout, stderr, exit): (_, _, BoxFuture<'static, ProcessExit>) = match outcome {
                Outcome::Exit {
                    code,
                    stdout,
                    stderr,
                } => (
                    stdout,
                    stderr,
                    Box::pin(async move {
                        ProcessExit {
                            code: Some(code),
                            ran: true,
                        }
                    }),
                ),
                Outcome::NotStarted => (
                    Vec::new(),
                    b"exec: \"x\": executable file not found in $PATH".to_vec(),
                    Box::pin(async {
                        ProcessExit {
                            code: Some(1),
                            ran: false,
                        }
                    }),
                ),
                _ => (
                    Vec::new(),
                    Vec::new(),
                    Box::pin(async move {
                        ProcessExit {
                            code: rx.await.ok(),
                            ran: true,
                        }
                    }),
                ),
            };
            let state = self.state.clone();
            let kill = Box::new(move || {
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                s.kills += 1;
                if let Some(tx) = s.running.remove(&pid) {
                    let _ = tx.send(137);
                }
            });
            let piped = matches!(l.stdio, Stdio::Pipes { .. });
            Ok(Launched {
                pid,
                stdin: matches!(l.stdio, Stdio::Pipes { stdin: true })
                    .then(|| Box::new(tokio::io::sink()) as super::ProcessInput),
                stdout: piped.then(|| reader(stdout)),
                stderr: Some(reader(if piped { stderr } else { Vec::new() })),
                pty,
                exit,
                kill,
            })
        })
    }
}
