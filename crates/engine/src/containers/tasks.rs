//! The seam between the container lifecycle and what runs a container: [`TaskRuntime`],
//! the task's root filesystem mount, its shim (which runs the OCI runtime's `create` and
//! `start`) and the runtime's other verbs. [`ShimRuntime`] is the real one, exactly the
//! calls the lifecycle made before the seam; unit tests drive `Containers` over the
//! in-memory fake of `containers/fake_tasks.rs` (no root, no processes).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::error::{EngineError, Result};
use crate::helpers::Helpers;
use crate::remap::IdMapping;
use crate::shim::{protocol, ExitRecord, ShimArgs};

use super::task::{self, Live, Spawned};

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
    /// Sends `signal` to the task's init.
    fn kill<'a>(&'a self, id: &'a str, signal: i32) -> BoxFuture<'a, Result<()>>;
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
}

impl ShimRuntime {
    /// Tasks under `<exec-root>` (state dirs in `containers/`, the runtime's in `runtime/`).
    pub fn new(helpers: Helpers, exec_root: PathBuf) -> ShimRuntime {
        ShimRuntime { helpers, exec_root }
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

    /// As `berth-runtime kill <id> <signal>` does (the runtime's state: its pid, still the
    /// process that started with it), through the runtime library on a blocking thread
    /// instead of a process of its own: a stop is one exec shorter (2–30 ms on a loaded
    /// host).
    fn kill<'a>(&'a self, id: &'a str, signal: i32) -> BoxFuture<'a, Result<()>> {
        let root = self.runtime_root();
        let id = id.to_string();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                berth_runtime::Runtime::new(root).kill(&id, signal, false)
            })
            .await
            .map_err(EngineError::internal)?
            .map_err(|e| EngineError::internal(format!("berth-runtime: {e}")))
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
