//! The seam between the container lifecycle and what runs a container: [`TaskRuntime`],
//! the task's root filesystem mount, its shim (which runs the OCI runtime's `create` and
//! `start`) and the runtime's other verbs. [`ShimRuntime`] is the real one, exactly the
//! calls the lifecycle made before the seam; unit tests drive `Containers` over the
//! in-memory fake of `containers/fake_tasks.rs` (no root, no processes).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::{EngineError, Result};
use crate::helpers::Helpers;
use crate::remap::IdMapping;
use crate::shim::{protocol, ExitRecord, ShimArgs};

use super::task::{self, KillError, Live, Spawned};

/// A boxed, `Send` future (the trait is used as `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Called once with a task's exit.
pub type OnExit = Box<dyn FnOnce(ExitRecord) + Send + 'static>;

/// The answer to `START`: the container's pid, or the runtime's message.
pub type Started = oneshot::Sender<std::result::Result<i64, String>>;

/// What the lifecycle asks of whatever runs a container's task.
pub trait TaskRuntime: Send + Sync + std::fmt::Debug {
    /// Mounts the container's snapshot `m` on `target`, idmapped with `remap`.
    fn mount_rootfs(
        &self,
        m: &berth_snapshot::Mount,
        target: &Path,
        remap: Option<&IdMapping>,
    ) -> Result<()>;
    /// True while something is mounted on `target`.
    fn is_mounted(&self, target: &Path) -> bool;
    /// Unmounts everything stacked on `target`.
    fn unmount_rootfs(&self, target: &Path);
    /// Creates the task: its shim runs `runtime create` with `args`.
    fn create<'a>(&'a self, args: &'a ShimArgs) -> BoxFuture<'a, std::io::Result<Spawned>>;
    /// Connects to the shim of `id`: output and the `START` answer (`started`) go to
    /// `live`, the exit to `on_exit` (once).
    fn connect<'a>(
        &'a self,
        id: &'a str,
        live: Arc<Live>,
        started: Option<Started>,
        on_exit: OnExit,
    ) -> BoxFuture<'a, std::io::Result<()>>;
    /// Starts the created task of `id` (the answer comes through `connect`'s `started`);
    /// false when its shim is not connected.
    fn start(&self, id: &str, live: &Live) -> bool;
    /// Sends `signal` to the task's init (`live`: its shim's connection).
    fn kill<'a>(&'a self, id: &'a str, live: &'a Live, signal: i32) -> BoxFuture<'a, Result<()>>;
    /// Freezes (`true`) or thaws the task.
    fn pause<'a>(&'a self, id: &'a str, pause: bool) -> BoxFuture<'a, Result<()>>;
    /// Deletes the runtime's state of `id`, killing what is left of the task.
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>>;
    /// True when the runtime holds state for `id`.
    fn has_state(&self, id: &str) -> bool;
    /// The ids the runtime holds state for (any name in its root).
    fn state_ids(&self) -> Vec<String>;
    /// True while the shim of `id` is alive (it serves its socket).
    fn shim_alive(&self, id: &str) -> bool;
    /// Waits (bounded) for the shim of a previous run of `id` to be gone.
    fn wait_shim_gone<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()>;
}

/// The real tasks: `berth-shim` per container, `berth-runtime` for the other verbs, the
/// snapshot mounted on the host.
#[derive(Debug, Clone)]
pub struct ShimRuntime {
    helpers: Helpers,
    exec_root: PathBuf,
    /// How long a kill waits for the shim's answer before it runs `berth-runtime kill`.
    kill_answer_wait: Duration,
}

impl ShimRuntime {
    /// Tasks under `<exec-root>` (state dirs in `containers/`, the runtime's in `runtime/`).
    pub fn new(helpers: Helpers, exec_root: PathBuf) -> ShimRuntime {
        ShimRuntime {
            helpers,
            exec_root,
            kill_answer_wait: task::KILL_ANSWER_WAIT,
        }
    }

    /// The same, with kills waiting `wait` for the shim's answer (tests of the fallback).
    pub fn with_kill_answer_wait(self, wait: Duration) -> ShimRuntime {
        ShimRuntime {
            kill_answer_wait: wait,
            ..self
        }
    }

    /// `<exec-root>/runtime`, the runtime's `--root`.
    pub fn runtime_root(&self) -> PathBuf {
        self.exec_root.join("runtime")
    }

    fn state_dir(&self, id: &str) -> PathBuf {
        self.exec_root.join("containers").join(id)
    }

    async fn runtime(&self, args: &[&str]) -> Result<()> {
        let out = self
            .helpers
            .runtime
            .command()
            .arg("--root")
            .arg(self.runtime_root())
            .args(args)
            .output()
            .await
            .map_err(EngineError::internal)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(EngineError::internal(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    }
}

impl TaskRuntime for ShimRuntime {
    fn mount_rootfs(
        &self,
        m: &berth_snapshot::Mount,
        target: &Path,
        remap: Option<&IdMapping>,
    ) -> Result<()> {
        super::ops::mount_snapshot(m, target, remap)
    }

    fn is_mounted(&self, target: &Path) -> bool {
        super::ops::is_mountpoint(target)
    }

    fn unmount_rootfs(&self, target: &Path) {
        while super::ops::is_mountpoint(target) {
            if berth_snapshot::unmount(target).is_err() {
                break;
            }
        }
    }

    fn create<'a>(&'a self, args: &'a ShimArgs) -> BoxFuture<'a, std::io::Result<Spawned>> {
        Box::pin(task::spawn_shim(&self.helpers.shim, args))
    }

    fn connect<'a>(
        &'a self,
        id: &'a str,
        live: Arc<Live>,
        started: Option<Started>,
        on_exit: OnExit,
    ) -> BoxFuture<'a, std::io::Result<()>> {
        let state_dir = self.state_dir(id);
        Box::pin(async move { task::connect(&state_dir, live, started, on_exit).await })
    }

    fn start(&self, _id: &str, live: &Live) -> bool {
        live.send(protocol::START, b"")
    }

    /// Through the shim, which holds a pidfd of the init (no process per signal, and never
    /// a process that reused the pid). A shim that is not connected, or does not answer (one
    /// started by a berth from before `KILL`), leaves it to `berth-runtime kill`.
    fn kill<'a>(&'a self, id: &'a str, live: &'a Live, signal: i32) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match live.kill(signal, self.kill_answer_wait).await {
                Ok(()) => Ok(()),
                Err(KillError::Refused(msg)) => {
                    Err(EngineError::internal(format!("berth-shim: {msg}")))
                }
                Err(KillError::NoAnswer(_)) => {
                    self.runtime(&["kill", id, &signal.to_string()]).await
                }
            }
        })
    }

    fn pause<'a>(&'a self, id: &'a str, pause: bool) -> BoxFuture<'a, Result<()>> {
        let verb = if pause { "pause" } else { "resume" };
        Box::pin(async move { self.runtime(&[verb, id]).await })
    }

    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.runtime(&["delete", "--force", id]).await })
    }

    fn has_state(&self, id: &str) -> bool {
        self.runtime_root().join(id).exists()
    }

    fn state_ids(&self) -> Vec<String> {
        std::fs::read_dir(self.runtime_root())
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn shim_alive(&self, id: &str) -> bool {
        task::shim_alive(&self.state_dir(id))
    }

    fn wait_shim_gone<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()> {
        let state_dir = self.state_dir(id);
        Box::pin(async move { task::wait_shim_gone(&state_dir).await })
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use berth_testkit::TempDir;
    use tokio::io::AsyncReadExt;
    use tokio::net::UnixListener;

    use super::*;
    use crate::helpers::HelperCommand;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// A shim runtime under `dir` whose `berth-runtime` is a script that writes its
    /// arguments to `<dir>/runtime-args`, and whose kills wait briefly for the shim.
    fn runtime(dir: &Path) -> ShimRuntime {
        let record = format!("echo \"$@\" > {}/runtime-args", dir.display());
        let sh = |args: Vec<OsString>| HelperCommand {
            program: "/bin/sh".into(),
            args,
        };
        let helpers = Helpers {
            shim: sh(vec!["-c".into(), "exit 1".into()]),
            runtime: sh(vec!["-c".into(), record.into(), "sh".into()]),
        };
        ShimRuntime::new(helpers, dir.join("exec")).with_kill_answer_wait(Duration::from_millis(50))
    }

    /// A shim on the container's socket that reads frames, hands each to `seen`, and
    /// answers a `KILL` with `answer` (`None`: never answers, as a shim from before `KILL`).
    async fn fake_shim(
        rt: &ShimRuntime,
        answer: Option<&'static [u8]>,
    ) -> tokio::sync::mpsc::UnboundedReceiver<(u8, String)> {
        let state_dir = rt.state_dir(ID);
        std::fs::create_dir_all(&state_dir).unwrap();
        let listener = UnixListener::bind(crate::shim::socket_path(&state_dir)).unwrap();
        let (seen, frames) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut decoder = protocol::Decoder::default();
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = conn.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                decoder.push(&buf[..n]);
                while let Some((kind, payload)) = decoder.next_frame() {
                    let _ = seen.send((kind, String::from_utf8_lossy(&payload).into_owned()));
                    if let (protocol::KILL, Some(a)) = (kind, answer) {
                        let frame = protocol::encode(protocol::KILLED, a).unwrap();
                        use tokio::io::AsyncWriteExt;
                        conn.write_all(&frame).await.unwrap();
                    }
                }
            }
        });
        frames
    }

    async fn connected(rt: &ShimRuntime) -> Arc<Live> {
        let live = Arc::new(Live::default());
        rt.connect(ID, live.clone(), None, Box::new(|_: ExitRecord| {}))
            .await
            .unwrap();
        live
    }

    #[tokio::test]
    async fn a_kill_the_shim_does_not_answer_falls_back_to_the_runtime() {
        let dir = TempDir::new("berth-kill-fallback-");
        let rt = runtime(dir.path());
        let mut frames = fake_shim(&rt, None).await;
        let live = connected(&rt).await;
        rt.kill(ID, &live, 15).await.unwrap();
        // The shim was asked first, then `berth-runtime --root <root> kill <id> 15` ran.
        assert_eq!(frames.recv().await, Some((protocol::KILL, "15".into())));
        let args = std::fs::read_to_string(dir.path().join("runtime-args")).unwrap();
        let root = rt.runtime_root();
        assert_eq!(
            args.trim(),
            format!("--root {} kill {ID} 15", root.display())
        );
    }

    #[tokio::test]
    async fn a_kill_the_shim_refuses_is_an_error_and_runs_no_runtime() {
        let dir = TempDir::new("berth-kill-refused-");
        let rt = runtime(dir.path());
        let mut frames = fake_shim(&rt, Some(b"kill 42: No such process")).await;
        let live = connected(&rt).await;
        let err = rt.kill(ID, &live, 9).await.unwrap_err();
        assert_eq!(err.to_string(), "berth-shim: kill 42: No such process");
        assert_eq!(frames.recv().await, Some((protocol::KILL, "9".into())));
        assert!(!dir.path().join("runtime-args").exists());
    }

    #[tokio::test]
    async fn a_kill_without_a_connected_shim_goes_to_the_runtime() {
        let dir = TempDir::new("berth-kill-unconnected-");
        let rt = runtime(dir.path());
        rt.kill(ID, &Live::default(), 9).await.unwrap();
        let args = std::fs::read_to_string(dir.path().join("runtime-args")).unwrap();
        assert!(args.trim().ends_with(&format!("kill {ID} 9")), "{args}");
    }
}
