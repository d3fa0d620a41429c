//! An in-memory [`TaskRuntime`] for unit tests: no shim, no runtime, no mount. It keeps
//! the calls it got (in order, each with what the test's probe saw then), the tasks it
//! "runs", their runtime state and their mounts, and can fail a create or a start, or
//! ignore a signal (a container that does not stop on SIGTERM).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{EngineError, Result};
use crate::remap::IdMapping;
use crate::shim::{ExitRecord, ShimArgs};

use super::task::{Live, Spawned};
use super::tasks::{BoxFuture, OnExit, Started, TaskRuntime};

/// What a test's probe sees at each call (the network fakes' links, say).
pub type Probe = Box<dyn Fn() -> String + Send + Sync>;

#[derive(Default)]
struct Task {
    started: Option<Started>,
    on_exit: Option<OnExit>,
    pid: i64,
}

#[derive(Default)]
struct State {
    calls: Vec<String>,
    /// Created tasks whose shim is alive, by id.
    tasks: HashMap<String, Task>,
    /// Ids with runtime state.
    runtime_state: BTreeSet<String>,
    /// Mounted root filesystems.
    mounted: HashSet<PathBuf>,
    fail_create: Option<String>,
    fail_start: Option<String>,
    /// A failed start's task is not ended until the test calls [`FakeTasks::exit`].
    hold_failed_exit: bool,
    ignored: HashSet<i32>,
    next_pid: i64,
}

/// The fake.
#[derive(Default)]
pub struct FakeTasks {
    state: Mutex<State>,
    probe: Mutex<Option<Probe>>,
}

impl std::fmt::Debug for FakeTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTasks").finish_non_exhaustive()
    }
}

impl FakeTasks {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn log(&self, call: String) {
        let seen = self
            .probe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|p| p())
            .filter(|s| !s.is_empty());
        let call = match seen {
            Some(s) => format!("{call} [{s}]"),
            None => call,
        };
        self.with(|s| s.calls.push(call));
    }

    /// Adds what `probe` returns to each call logged from now on.
    pub fn set_probe(&self, probe: Probe) {
        *self.probe.lock().unwrap_or_else(|e| e.into_inner()) = Some(probe);
    }

    /// The calls so far (ids shortened to 12 digits), and forgets them.
    pub fn take_calls(&self) -> Vec<String> {
        self.with(|s| std::mem::take(&mut s.calls))
    }

    /// The next create fails with the runtime's `msg`.
    pub fn fail_create(&self, msg: &str) {
        self.with(|s| s.fail_create = Some(msg.into()));
    }

    /// The next start fails with the runtime's `msg` (the task then ends, as a shim's does).
    pub fn fail_start(&self, msg: &str) {
        self.with(|s| s.fail_start = Some(msg.into()));
    }

    /// The next failed start leaves its task to the test: its shim reports the exit when
    /// the test calls [`exit`](Self::exit) (after the start's answer, say).
    pub fn hold_failed_start_exit(&self) {
        self.with(|s| s.hold_failed_exit = true);
    }

    /// Tasks do not end on `signal`.
    pub fn ignore_signal(&self, signal: i32) {
        self.with(|s| s.ignored.insert(signal));
    }

    /// A task of `id` whose shim outlived a daemon (live restore finds it).
    pub fn add_running(&self, id: &str) {
        self.with(|s| {
            s.next_pid += 1;
            let pid = 1000 + s.next_pid;
            s.tasks.insert(
                id.to_string(),
                Task {
                    pid,
                    ..Task::default()
                },
            );
            s.runtime_state.insert(id.to_string());
        });
    }

    /// Runtime state of `id` without a shim (a shim killed before it deleted it).
    pub fn add_runtime_state(&self, id: &str) {
        self.with(|s| s.runtime_state.insert(id.to_string()));
    }

    /// Ids whose shim is alive.
    pub fn running(&self) -> BTreeSet<String> {
        self.with(|s| s.tasks.keys().cloned().collect())
    }

    /// Ids with runtime state.
    pub fn runtime_state(&self) -> BTreeSet<String> {
        self.with(|s| s.runtime_state.clone())
    }

    /// Mounted root filesystems.
    pub fn mounted(&self) -> usize {
        self.with(|s| s.mounted.len())
    }

    /// Ends the task of `id` by itself with `code` (its shim reports the exit and ends).
    pub fn exit(&self, id: &str, code: i64) {
        // The shim reports the exit, then deletes the runtime state.
        let task = self.with(|s| {
            s.runtime_state.remove(id);
            s.tasks.remove(id)
        });
        if let Some(on_exit) = task.and_then(|t| t.on_exit) {
            tokio::spawn(async move {
                on_exit(ExitRecord {
                    exit_code: code,
                    finished_at: crate::logfile::now(),
                    oom_killed: false,
                })
            });
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

impl TaskRuntime for FakeTasks {
    fn mount_rootfs(
        &self,
        _m: &berth_snapshot::Mount,
        target: &Path,
        _remap: Option<&IdMapping>,
    ) -> Result<()> {
        self.log("mount".into());
        self.with(|s| s.mounted.insert(target.to_path_buf()));
        Ok(())
    }

    fn is_mounted(&self, target: &Path) -> bool {
        self.with(|s| s.mounted.contains(target))
    }

    fn unmount_rootfs(&self, target: &Path) {
        if self.with(|s| s.mounted.remove(target)) {
            self.log("unmount".into());
        }
    }

    fn create<'a>(&'a self, args: &'a ShimArgs) -> BoxFuture<'a, std::io::Result<Spawned>> {
        self.log(format!("create {}", short(&args.id)));
        let spawned = self.with(|s| {
            if let Some(msg) = s.fail_create.take() {
                return Spawned::Failed(msg);
            }
            s.next_pid += 1;
            let pid = 1000 + s.next_pid;
            s.tasks.insert(
                args.id.clone(),
                Task {
                    pid,
                    ..Task::default()
                },
            );
            s.runtime_state.insert(args.id.clone());
            Spawned::Created(pid)
        });
        Box::pin(async move { Ok(spawned) })
    }

    fn connect<'a>(
        &'a self,
        id: &'a str,
        live: Arc<Live>,
        started: Option<Started>,
        on_exit: OnExit,
    ) -> BoxFuture<'a, std::io::Result<()>> {
        let found = self.with(|s| {
            s.tasks.get_mut(id).map(|t| {
                t.started = started;
                t.on_exit = Some(on_exit);
            })
        });
        Box::pin(async move {
            if found.is_none() {
                return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no shim"));
            }
            self.log(format!("connect {}", short(id)));
            // Frames to the "shim" (stdin, resize) are accepted and dropped.
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            *live.ctl.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
            tokio::spawn(async move { while rx.recv().await.is_some() {} });
            Ok(())
        })
    }

    fn start(&self, id: &str, _live: &Live) -> bool {
        self.log(format!("start {}", short(id)));
        let (answer, failed) = self.with(|s| {
            let fail = s.fail_start.take();
            let end = fail.is_some() && !std::mem::take(&mut s.hold_failed_exit);
            let Some(t) = s.tasks.get_mut(id) else {
                return (None, end);
            };
            let pid = t.pid;
            let answer = t.started.take().map(|tx| (tx, fail.clone().ok_or(pid)));
            (answer, end)
        });
        let Some((tx, outcome)) = answer else {
            return false;
        };
        let _ = tx.send(match outcome {
            Err(pid) => Ok(pid),
            Ok(msg) => Err(msg),
        });
        if failed {
            // The runtime's start failed: the init is gone and the shim reports it.
            self.exit(id, 255);
        }
        true
    }

    fn kill<'a>(&'a self, id: &'a str, _live: &'a Live, signal: i32) -> BoxFuture<'a, Result<()>> {
        self.log(format!("kill {} {signal}", short(id)));
        let (known, ignored) =
            self.with(|s| (s.tasks.contains_key(id), s.ignored.contains(&signal)));
        Box::pin(async move {
            if !known {
                return Err(EngineError::internal(format!("container {id} not running")));
            }
            if !ignored {
                self.exit(id, 128 + i64::from(signal));
            }
            Ok(())
        })
    }

    fn pause<'a>(&'a self, id: &'a str, pause: bool) -> BoxFuture<'a, Result<()>> {
        self.log(format!(
            "{} {}",
            if pause { "pause" } else { "resume" },
            short(id)
        ));
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
        self.log(format!("delete {}", short(id)));
        self.with(|s| s.runtime_state.remove(id));
        Box::pin(async { Ok(()) })
    }

    fn has_state(&self, id: &str) -> bool {
        self.with(|s| s.runtime_state.contains(id))
    }

    fn state_ids(&self) -> Vec<String> {
        self.with(|s| s.runtime_state.iter().cloned().collect())
    }

    fn shim_alive(&self, id: &str) -> bool {
        self.with(|s| s.tasks.contains_key(id))
    }

    fn wait_shim_gone<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}
