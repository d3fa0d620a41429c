//! `POST /containers/{id}/start`: shim, runtime create, networking between `Created` and `START`, rollback of a failed start.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{EngineError, Result};
use berth_api_types::*;
use tokio::sync::oneshot;

use super::task::{self, Output, Spawned};
use super::Containers;
use crate::logfile;
use crate::networks::links;
use crate::record::ContainerRecord;
use crate::shim::ShimArgs;
use crate::spec;

use super::ops::*;

/// How long a failed start waits for its killed task's exit handler.
const EXIT_CLEANUP_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

impl Containers {
    /// `POST /containers/{id}/start`.
    pub async fn start(self: &Arc<Self>, reference: &str) -> Result<()> {
        let id = self.resolve(reference)?;
        let live = self.live(&id);
        let _op = live.lock_op().await;
        let rec = self.get(&id)?;
        if rec.state.status == "paused" {
            return Err(EngineError::conflict(
                "cannot start a paused container, try unpause instead",
            ));
        }
        if rec.state.running {
            return Err(EngineError::not_modified());
        }
        self.start_locked(reset_restart_policy(rec, &live), &live)
            .await
    }

    pub(super) fn start_locked<'a>(
        self: &'a Arc<Self>,
        rec: ContainerRecord,
        live: &'a Arc<task::Live>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
            // A kill that arrives meanwhile waits for the start to finish (Docker holds the
            // container's lock across start), then finds the container running.
            let _starting = live.starting.lock().await;
            let id = rec.id.clone();
            let auto_remove = rec.host_config.auto_remove;
            let started = self.start_inner(rec, live).await;
            if started.is_err() {
                // End the attach sessions waiting for this start (docker run attaches before
                // it starts), whatever step failed.
                let _ = live.output.send(Output::Exit(-1));
                if auto_remove {
                    // Docker removes an AutoRemove container whose start failed (`run --rm`
                    // waits for the removal before it reports the error).
                    let this = self.clone();
                    tokio::spawn(async move {
                        if let Ok(rec) = this.get(&id) {
                            let _ = this.remove_now(rec, true).await;
                        }
                    });
                }
            }
            started
        })
    }

    pub(super) async fn start_inner(
        self: &Arc<Self>,
        mut rec: ContainerRecord,
        live: &Arc<task::Live>,
    ) -> Result<()> {
        let id = rec.id.clone();
        let state_dir = self.state_dir(&id);
        self.layout
            .traversable_dir(&state_dir)
            .map_err(EngineError::internal)?;
        // Open the driver once here (files made, syslog connected, journald there) so a
        // driver that cannot start fails the start as Docker's does, before any task exists.
        let log_config = self.log_config(&rec)?;
        let log_config_path = state_dir.join("log-config.json");
        if let Err(e) = berth_logdriver::open(&log_config) {
            return Err(EngineError::internal(format!(
                "failed to create task for container: failed to initialize logging driver: {e}"
            )));
        }
        // Private: the `env` option copies environment values into it.
        crate::layout::write_private(
            &log_config_path,
            &serde_json::to_vec(&log_config).unwrap_or_default(),
        )
        .map_err(EngineError::internal)?;
        let remap = self.remap_for(&rec.host_config);
        let rootfs = self.mount_rootfs(&id, remap.as_deref())?;
        let fail = |this: &Self, msg: String| {
            this.unmount_rootfs(&id);
            msg
        };
        let workdir = rec.config.working_dir.clone();
        if workdir.starts_with('/') {
            // Docker creates a missing working directory in the container's layer.
            let made = berth_inroot::Root::open(&rootfs).and_then(|root| {
                let owner = remap.as_ref().map(|m| (m.root_uid(), m.root_gid()));
                root.mkdir_all(&workdir, 0o755, owner)
            });
            if let Err(e) = made {
                fail(self, String::new());
                return Err(EngineError::internal(format!(
                    "setting up the working directory {workdir}: {e}"
                )));
            }
        }
        let etc = match self.networks.write_network_files(&rec).await {
            Ok(e) => e,
            Err(e) => {
                fail(self, String::new());
                return Err(e);
            }
        };
        // Legacy links: their variables come before the container's own (which win).
        let mut config = rec.config.clone();
        match self.networks.legacy_link_env(&rec).await {
            Ok(env) if env.is_empty() => {}
            Ok(mut env) => {
                links::replace_or_append(&mut env, config.env.take().unwrap_or_default());
                config.env = Some(env);
            }
            Err(e) => {
                fail(self, String::new());
                return Err(e);
            }
        }
        let mut argv = vec![rec.path.clone()];
        argv.extend(rec.args.clone());
        let spec = spec::build(&spec::SpecInput {
            id: &id,
            config: &config,
            host: &rec.host_config,
            args: &argv,
            rootfs: &rootfs,
            etc_files: &etc,
        });
        let mut spec = match spec {
            Ok(s) => s,
            Err(m) => {
                let m = fail(self, m);
                return Err(EngineError::invalid(m));
            }
        };
        if self.cgroup_driver == "systemd" {
            // The runtime makes the scope unit (`--systemd-cgroup`, below), as runc for dockerd.
            let path = super::resources::driver_cgroups_path(
                &self.cgroup_driver,
                &rec.host_config.resources.cgroup_parent,
                &id,
            );
            crate::spec::linux_mut(&mut spec).set_cgroups_path(Some(path.into()));
        }
        if let Err(e) = self.networks.adjust_network_spec(&rec, &mut spec) {
            fail(self, String::new());
            return Err(e);
        }
        if let Err(m) = self.security_defaults.apply(&rec.host_config, &mut spec) {
            let m = fail(self, m);
            return Err(EngineError::invalid(m));
        }
        if let Err(e) = self.apply_namespace_modes(&id, &rec.host_config, &mut spec) {
            fail(self, String::new());
            return Err(e);
        }
        if let Err(e) = self.apply_userns(&rec.host_config, &mut spec) {
            fail(self, String::new());
            return Err(e);
        }
        match self.volumes.oci_mounts(&rec, &rootfs) {
            Ok(user) => crate::spec::mounts::add_user_mounts(
                spec.mounts_mut().get_or_insert_with(Vec::new),
                user,
            ),
            Err(e) => {
                self.unmount_rootfs(&id);
                return Err(e);
            }
        }
        crate::layout::write_private(
            &state_dir.join("config.json"),
            &serde_json::to_vec_pretty(&spec).unwrap_or_default(),
        )
        .map_err(EngineError::internal)?;
        let args = ShimArgs {
            id: id.clone(),
            bundle: state_dir.clone(),
            runtime: self.helpers.runtime.program.clone(),
            runtime_args: {
                let mut a = self.helpers.runtime.args.clone();
                if self.cgroup_driver == "systemd" {
                    a.push("--systemd-cgroup".into());
                }
                a
            },
            runtime_root: self.exec_root.join("runtime"),
            state_dir: state_dir.clone(),
            log: rec.log_path.clone().into(),
            log_config: Some(log_config_path),
            tty: rec.config.tty,
            stdin: rec.config.open_stdin,
            merge_output: false,
            max_size: 0,
            max_file: 1,
        };
        let _ = std::fs::remove_file(crate::shim::exit_path(&state_dir));
        // Clear a stale runtime state of a previous run with the same id (a shim normally
        // deletes it; only a shim killed before the container ended leaves it behind).
        self.tasks.wait_shim_gone(&id).await;
        if self.tasks.has_state(&id) {
            let _ = self.tasks.delete(&id).await;
        }
        let created = self
            .tasks
            .create(&args)
            .await
            .map_err(EngineError::internal)?;
        let pid = match created {
            Spawned::Created(pid) => pid,
            Spawned::Failed(msg) => {
                let msg = fail(self, msg);
                return Err(self.start_failed(rec, msg).await);
            }
        };
        let (tx, rx) = oneshot::channel();
        let this = self.clone();
        let cid = id.clone();
        // Set (under the cleanup lock) when the runtime's start fails: the exit the shim
        // reports next, of an init that never ran, then leaves the failed start's record.
        let start_failed = Arc::new(AtomicBool::new(false));
        let failed = start_failed.clone();
        let on_exit = Box::new(move |exit| {
            tokio::spawn(async move { this.on_task_exit(&cid, exit, Some(&failed)).await });
        });
        self.tasks
            .connect(&id, live.clone(), Some(tx), on_exit)
            .await
            .map_err(EngineError::internal)?;
        if let Err(e) = self.networks.network_up(&rec, pid).await {
            // Nothing of the network is left; end the created task and, as Docker's failed
            // start does, return once it is cleaned up (on_exit: mounts, record): a `rm`
            // right after the error must not race the exit handler, which would write the
            // removed record back.
            rec.state.error = e.to_string();
            let _ = self.save(&rec).await;
            let mut exited = live.signals.subscribe();
            let _ = runtime_kill(self, &id, "SIGKILL").await;
            if self.wait_exit(&mut exited, Some(EXIT_CLEANUP_WAIT)).await {
                live.wait_cleanup().await;
            }
            return Err(e);
        }
        // Held until the running state is saved and `start` sent: the exit handler of a task
        // that ends at once takes it first, so it records the exit after them.
        let exit_after_start = live.cleanup.lock().await;
        self.tasks.start(&id, live);
        match rx.await {
            Ok(Ok(_)) => {}
            Ok(Err(msg)) => {
                // Recorded before the exit handler may look (Docker ignores the exit event
                // of a container its failed start left exited).
                start_failed.store(true, Ordering::SeqCst);
                let err = self.start_failed(rec, msg).await;
                drop(exit_after_start);
                return Err(err);
            }
            Err(_) => return Err(EngineError::internal("shim went away")),
        }
        crate::crash::hold("start-before-save").await;
        crate::crash::point("start-before-save");
        rec.state = ContainerState {
            status: "running".into(),
            running: true,
            pid,
            started_at: logfile::now(),
            finished_at: rec.state.finished_at.clone(),
            ..Default::default()
        };
        rec.manually_stopped = false;
        self.save(&rec).await?;
        self.event("start", &rec, &[]);
        self.health.container_started(&rec);
        drop(exit_after_start);
        Ok(())
    }

    pub(super) async fn start_failed(
        self: &Arc<Self>,
        mut rec: ContainerRecord,
        msg: String,
    ) -> EngineError {
        let not_found = msg.contains("executable file not found") || msg.contains("no such file");
        let code = if not_found { 127 } else { 126 };
        let full = format!(
            "failed to create task for container: OCI runtime create failed: {msg}: unknown"
        );
        rec.state.exit_code = code;
        rec.state.error = full.clone();
        rec.state.running = false;
        let _ = self.save(&rec).await;
        self.networks.network_down(&rec.id).await;
        self.unmount_rootfs(&rec.id);
        let live = self.live(&rec.id);
        let _ = live.output.send(Output::Exit(code));
        if not_found || msg.contains("permission denied") {
            EngineError::invalid(full)
        } else {
            EngineError::internal(full)
        }
    }
}

/// A start by the user (or by the daemon at its start) begins the restart policy afresh,
/// as Docker's `ResetRestartManager(true)`: no restarts counted, the back-off from 100 ms.
pub(super) fn reset_restart_policy(mut rec: ContainerRecord, live: &task::Live) -> ContainerRecord {
    rec.restart_count = 0;
    *live.restart_delay.lock().unwrap_or_else(|e| e.into_inner()) = None;
    rec
}
