//! A running container's link to its shim: spawning the shim, the control connection, and
//! the fan-out of its output to attached clients.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;

use crate::stream::StdStream;
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::helpers::HelperCommand;
use crate::shim::{protocol, ExitRecord, ShimArgs};

/// Output of a container as seen by attach sessions.
#[derive(Debug, Clone)]
pub enum Output {
    /// Bytes from stdout/stderr.
    Data(StdStream, Bytes),
    /// The container exited with this code.
    Exit(i64),
}

/// Lifecycle signals for `wait`.
#[derive(Debug, Clone, Copy)]
pub enum Signal {
    /// Exited with this code.
    Exited(i64),
    /// Removed (last exit code).
    Removed(i64),
}

/// Per-container in-memory state (exists for every known container).
#[derive(Debug)]
pub struct Live {
    /// Output fan-out.
    pub output: broadcast::Sender<Output>,
    /// Exit / removal notifications.
    pub signals: broadcast::Sender<Signal>,
    /// Frames to the shim, while connected.
    pub ctl: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    /// Serialises lifecycle operations (start/stop/rm) on this container.
    pub op: tokio::sync::Mutex<()>,
    /// Held across a start: a kill waits on it (a stop holds `op` for its whole timeout,
    /// which a kill must not wait for).
    pub starting: tokio::sync::Mutex<()>,
    /// Held by the exit handler from before the exit is visible until the task's resources
    /// (mounts, endpoints) are released and the record is durable: `stop` returns at the
    /// `die`, what comes next waits here ([`lock_op`](Live::lock_op)).
    pub cleanup: tokio::sync::Mutex<()>,
    /// The delay of the last restart by policy (Docker's restart manager keeps it in
    /// memory too); cleared when the user or the daemon starts the container.
    pub restart_delay: Mutex<Option<std::time::Duration>>,
    /// Kills sent to the shim and not answered yet, oldest first (the shim answers in
    /// order).
    kills: Mutex<VecDeque<oneshot::Sender<Result<(), String>>>>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            output: broadcast::channel(1024).0,
            signals: broadcast::channel(16).0,
            ctl: Mutex::new(None),
            op: tokio::sync::Mutex::new(()),
            starting: tokio::sync::Mutex::new(()),
            cleanup: tokio::sync::Mutex::new(()),
            restart_delay: Mutex::new(None),
            kills: Mutex::new(VecDeque::new()),
        }
    }
}

impl Live {
    /// Takes the lifecycle lock once the last exit's cleanup is over (start, rm, cp,
    /// network connect and every other operation on the container's state).
    pub async fn lock_op(&self) -> tokio::sync::MutexGuard<'_, ()> {
        let op = self.op.lock().await;
        self.wait_cleanup().await;
        op
    }

    /// Waits until the last exit's cleanup is over.
    pub async fn wait_cleanup(&self) {
        drop(self.cleanup.lock().await);
    }
}

impl Live {
    /// Sends a frame to the shim (ignored when not connected, refused over the frame limit).
    pub fn send(&self, kind: u8, payload: &[u8]) -> bool {
        let guard = self.ctl.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().is_some_and(|tx| {
            protocol::encode(kind, payload).is_ok_and(|frame| tx.send(frame).is_ok())
        })
    }
}

/// How long a kill waits for the shim's answer (a shim from before `KILL` never answers).
pub const KILL_ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why a kill through the shim did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillError {
    /// No shim is connected, or it did not answer: the signal may not have been sent.
    NoAnswer(String),
    /// The shim answered: the signal could not be sent (the init is gone, say).
    Refused(String),
}

impl Live {
    /// Has the shim signal the container's init (its pidfd of it) and waits for the answer,
    /// `patience` at most ([`KILL_ANSWER_WAIT`] in the daemon).
    pub async fn kill(&self, signal: i32, patience: std::time::Duration) -> Result<(), KillError> {
        let (tx, rx) = oneshot::channel();
        {
            let ctl = self.ctl.lock().unwrap_or_else(|e| e.into_inner());
            let Some(ctl) = ctl.as_ref() else {
                return Err(KillError::NoAnswer("the shim is not connected".into()));
            };
            let frame = protocol::encode(protocol::KILL, signal.to_string().as_bytes())
                .map_err(|e| KillError::NoAnswer(e.to_string()))?;
            let mut kills = self.kills.lock().unwrap_or_else(|e| e.into_inner());
            if ctl.send(frame).is_err() {
                return Err(KillError::NoAnswer("the shim is not connected".into()));
            }
            kills.push_back(tx);
        }
        match tokio::time::timeout(patience, rx).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(msg))) => Err(KillError::Refused(msg)),
            Ok(Err(_)) => Err(KillError::NoAnswer("the shim went away".into())),
            Err(_) => Err(KillError::NoAnswer("the shim did not answer".into())),
        }
    }

    /// The shim answered the oldest kill.
    fn kill_answered(&self, answer: &[u8]) {
        let waiter = self
            .kills
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        if let Some(tx) = waiter {
            let _ = tx.send(if answer.is_empty() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(answer).into_owned())
            });
        }
    }

    /// The connection is gone: kills not answered never will be.
    fn kills_dropped(&self) {
        self.kills.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Live {
    /// Sends a frame once the shim is connected (attach may begin before start), giving up
    /// after `patience`.
    pub async fn send_when_connected(
        &self,
        kind: u8,
        payload: &[u8],
        patience: std::time::Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if self.send(kind, payload) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// What the shim reported after `runtime create`.
#[derive(Debug)]
pub enum Spawned {
    /// Created; the container init has this pid and waits for `START`.
    Created(i64),
    /// Creation failed with the runtime's message.
    Failed(String),
}

/// Starts the shim (`berth-shim`, or `berth shim`) for a container and reads its first line.
pub async fn spawn_shim(shim: &HelperCommand, args: &ShimArgs) -> std::io::Result<Spawned> {
    let mut child = shim
        .command()
        .args(args.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(false)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no shim stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).await?;
    // Reap the shim whenever it ends (it lives as long as the container).
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    let line = line.trim_end();
    if let Some(pid) = line.strip_prefix("ok ") {
        Ok(Spawned::Created(pid.trim().parse().unwrap_or(0)))
    } else if let Some(msg) = line.strip_prefix("err ") {
        Ok(Spawned::Failed(msg.to_string()))
    } else {
        Ok(Spawned::Failed(format!("shim failed to start: {line:?}")))
    }
}

/// Events from the reader task to the engine.
#[derive(Debug)]
pub enum ShimEvent {
    /// The shim's `START` answer.
    Started(Result<i64, String>),
    /// The container exited (from the shim or its exit record).
    Exited(ExitRecord),
}

/// Connects to the shim socket, installs the control sender in `live`, and spawns the reader
/// that forwards output to `live.output` and hands the exit to `on_exit`.
pub async fn connect(
    state_dir: &Path,
    live: std::sync::Arc<Live>,
    started: Option<oneshot::Sender<Result<i64, String>>>,
    on_exit: impl FnOnce(ExitRecord) + Send + 'static,
) -> std::io::Result<()> {
    let sock = crate::shim::socket_path(state_dir);
    let stream = UnixStream::connect(&sock).await?;
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    *live.ctl.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let state_dir: PathBuf = state_dir.to_path_buf();
    tokio::spawn(async move {
        let mut started = started;
        let mut decoder = protocol::Decoder::default();
        let mut buf = vec![0u8; 32 * 1024];
        let mut exit = None;
        'read: loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            decoder.push(&buf[..n]);
            while let Some((kind, payload)) = decoder.next_frame() {
                match kind {
                    protocol::STDOUT | protocol::STDERR => {
                        let s = if kind == protocol::STDOUT {
                            StdStream::Stdout
                        } else {
                            StdStream::Stderr
                        };
                        let _ = live.output.send(Output::Data(s, Bytes::from(payload)));
                    }
                    protocol::STARTED => {
                        let pid = String::from_utf8_lossy(&payload)
                            .trim()
                            .parse()
                            .unwrap_or(0);
                        if let Some(tx) = started.take() {
                            let _ = tx.send(Ok(pid));
                        }
                    }
                    protocol::START_FAILED => {
                        if let Some(tx) = started.take() {
                            let _ = tx.send(Err(String::from_utf8_lossy(&payload).into_owned()));
                        }
                    }
                    protocol::KILLED => live.kill_answered(&payload),
                    protocol::EXITED => {
                        exit = serde_json::from_slice::<ExitRecord>(&payload).ok();
                        break 'read;
                    }
                    _ => {}
                }
            }
        }
        *live.ctl.lock().unwrap_or_else(|e| e.into_inner()) = None;
        live.kills_dropped();
        if let Some(tx) = started.take() {
            let _ = tx.send(Err("shim exited before starting the container".into()));
        }
        let exit = match exit {
            Some(e) => e,
            None => wait_exit_record(&state_dir).await,
        };
        // `on_exit` ends the attach sessions (Output::Exit) once the exit is recorded, so a
        // client that inspects the container when its attach stream ends sees it exited.
        on_exit(exit);
    });
    Ok(())
}

/// True while the shim of `state_dir` is alive: its socket exists and accepts connections.
pub fn shim_alive(state_dir: &Path) -> bool {
    let sock = crate::shim::socket_path(state_dir);
    sock.exists() && std::os::unix::net::UnixStream::connect(&sock).is_ok()
}

/// Waits (up to 20 s) for the shim of a previous run to finish: after reporting the exit it
/// still deletes the runtime state, which must not overlap a new `create` of the same id.
pub async fn wait_shim_gone(state_dir: &Path) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while shim_alive(state_dir) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Reads the exit record, waiting briefly for the shim to write it; a shim that died
/// without one yields 255.
pub async fn wait_exit_record(state_dir: &Path) -> ExitRecord {
    for _ in 0..50 {
        if let Some(e) = read_exit_record(state_dir) {
            return e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    ExitRecord {
        exit_code: 255,
        finished_at: crate::logfile::now(),
        oom_killed: false,
    }
}

/// The exit record, when the shim wrote one.
pub fn read_exit_record(state_dir: &Path) -> Option<ExitRecord> {
    let bytes = std::fs::read(crate::shim::exit_path(state_dir)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn decode(frame: &[u8]) -> (u8, String) {
        let mut d = protocol::Decoder::default();
        d.push(frame);
        let (kind, payload) = d.next_frame().expect("one frame");
        (kind, String::from_utf8(payload).expect("text"))
    }

    #[tokio::test]
    async fn kills_go_to_the_shim_and_are_answered_in_order() {
        let live = Arc::new(Live::default());
        assert!(matches!(
            live.kill(9, KILL_ANSWER_WAIT).await,
            Err(KillError::NoAnswer(_))
        ));
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        *live.ctl.lock().unwrap() = Some(tx);
        let shim_side = live.clone();
        let shim = tokio::spawn(async move {
            let mut seen = Vec::new();
            for answer in [&b""[..], b"kill 42: No such process"] {
                seen.push(decode(&rx.recv().await.expect("frame")));
                shim_side.kill_answered(answer);
            }
            // The connection drops with a kill in flight.
            seen.push(decode(&rx.recv().await.expect("frame")));
            shim_side.kills_dropped();
            seen
        });
        assert_eq!(live.kill(15, KILL_ANSWER_WAIT).await, Ok(()));
        assert_eq!(
            live.kill(9, KILL_ANSWER_WAIT).await,
            Err(KillError::Refused("kill 42: No such process".into()))
        );
        assert!(matches!(
            live.kill(2, KILL_ANSWER_WAIT).await,
            Err(KillError::NoAnswer(_))
        ));
        let seen = shim.await.unwrap();
        let kill = |s: &str| (protocol::KILL, s.to_string());
        assert_eq!(seen, [kill("15"), kill("9"), kill("2")]);
    }
}
