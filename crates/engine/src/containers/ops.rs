//! Lifecycle actions: create, start, exit handling, stop, kill, pause, remove, wait, attach,
//! logs, exec, rename, and live restore.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{EngineError, Result};
use berth_api_server::{
    AttachOptions, ContainerCreateOptions, Hijack, LogChunk, LogStream, LogsOptions, StdStream,
    WaitCondition, WaitFuture,
};
use berth_api_types::detach_keys::{self, EscapeScanner, Scan};
use berth_api_types::*;
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::spec;
use super::task::{self, Output, Signal, Spawned};
use super::{meta_err, Containers};
use crate::logfile;
use crate::record::{self, ContainerRecord, KIND, ZERO_TIME};
use crate::shim::{protocol, ExitRecord, ShimArgs};

fn runtime_root(c: &Containers) -> std::path::PathBuf {
    c.exec_root.join("runtime")
}

pub(super) fn runtime_cmd(c: &Containers) -> tokio::process::Command {
    let mut cmd = c.helpers.runtime.command();
    cmd.arg("--root").arg(runtime_root(c));
    cmd
}

async fn runtime(c: &Containers, args: &[&str]) -> Result<()> {
    let out = runtime_cmd(c)
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

/// Merges the image config into the request as Docker does.
fn merge_config(req: &mut ContainerConfig, img: &berth_image::ContainerConfig) {
    let mut env: Vec<String> = img.env.clone().unwrap_or_default();
    for e in req.env.clone().unwrap_or_default() {
        let key = e.split('=').next().unwrap_or("").to_string();
        env.retain(|x| x.split('=').next() != Some(key.as_str()));
        env.push(e);
    }
    req.env = Some(env);
    let req_has_entry = req.entrypoint.as_ref().is_some_and(|e| !e.0.is_empty());
    let req_has_cmd = req.cmd.as_ref().is_some_and(|c| !c.0.is_empty());
    if !req_has_entry {
        if let Some(ep) = &img.entrypoint {
            req.entrypoint = Some(StrSlice(ep.clone()));
        }
        if !req_has_cmd {
            req.cmd = img.cmd.clone().map(StrSlice);
        }
    }
    if req.working_dir.is_empty() {
        req.working_dir = img.working_dir.clone().unwrap_or_default();
    }
    if req.user.is_empty() {
        req.user = img.user.clone().unwrap_or_default();
    }
    let mut labels = img.labels.clone().unwrap_or_default();
    labels.extend(req.labels.clone().unwrap_or_default());
    req.labels = Some(labels);
    // Docker: an empty StopSignal is unset, so the image's applies (and SIGTERM after that).
    if req.stop_signal.as_deref().is_none_or(str::is_empty) {
        req.stop_signal = img.stop_signal.clone().filter(|s| !s.is_empty());
    }
    if req.exposed_ports.is_none() {
        req.exposed_ports = img
            .exposed_ports
            .as_ref()
            .map(|m| m.keys().map(|k| (k.clone(), EmptyObject {})).collect());
    }
    if req.volumes.is_none() {
        req.volumes = img
            .volumes
            .as_ref()
            .map(|m| m.keys().map(|k| (k.clone(), EmptyObject {})).collect());
    }
    if req.healthcheck.is_none() {
        if let Some(h) = &img.healthcheck {
            req.healthcheck = serde_json::to_value(h)
                .ok()
                .and_then(|v| serde_json::from_value(v).ok());
        }
    }
}

impl Containers {
    /// `POST /containers/create`.
    pub async fn create(
        self: &Arc<Self>,
        opts: ContainerCreateOptions,
        body: ContainerCreateRequest,
    ) -> Result<ContainerCreateResponse> {
        let mut config = body.config;
        let mut host = body.host_config.unwrap_or_default();
        if let Some(n) = &opts.name {
            if !record::valid_name(n) {
                return Err(EngineError::invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
        }
        if config.image.is_empty() {
            return Err(EngineError::invalid("No image specified"));
        }
        super::validate::create(&config, &host).map_err(EngineError::invalid)?;
        let rp = &host.restart_policy;
        if !matches!(
            rp.name.as_str(),
            "" | "no" | "always" | "unless-stopped" | "on-failure"
        ) {
            return Err(EngineError::invalid(format!(
                "invalid restart policy '{}'",
                rp.name
            )));
        }
        if host.auto_remove && !matches!(rp.name.as_str(), "" | "no") {
            return Err(EngineError::invalid(
                "can't create 'AutoRemove' container with restart policy",
            ));
        }
        let warnings = super::resources::validate(&host.resources, false)?;
        super::resources::adapt_on_create(&mut host);
        let image = self.images.resolve(&config.image)?;
        merge_config(
            &mut config,
            &image.config.config.clone().unwrap_or_default(),
        );
        let mut argv: Vec<String> = config.entrypoint.clone().map(|e| e.0).unwrap_or_default();
        argv.extend(config.cmd.clone().map(|c| c.0).unwrap_or_default());
        if argv.is_empty() {
            return Err(EngineError::invalid("no command specified"));
        }
        if host.network_mode.is_empty() || host.network_mode == "default" {
            host.network_mode = "bridge".into();
        }
        if !config.mac_address.is_empty() {
            berth_network::link::parse_mac(&config.mac_address)
                .map_err(crate::error::EngineError::from)?;
        }
        let endpoints_config = self
            .networks
            .prepare_network_create(&mut host, body.networking_config)?;
        super::options::check_create_options(&mut host)?;
        let plan = crate::volumes::mounts::plan(&self.records, &config, &host)?;
        let id = record::new_id();
        let name = match &opts.name {
            Some(n) => format!("/{}", n.trim_start_matches('/')),
            None => {
                let mut attempt = 0;
                loop {
                    let n = record::random_name(attempt);
                    if self.store.name_owner(KIND, &n).is_none() {
                        break format!("/{n}");
                    }
                    attempt += 1;
                }
            }
        };
        if let Some(owner) = self.store.name_owner(KIND, &name) {
            return Err(EngineError::conflict(format!(
                "Conflict. The container name \"{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        let data_dir = self.data_dir(&id);
        let rec = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            created: logfile::now(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config,
            host_config: host,
            image: image.id.as_str().to_string(),
            state: ContainerState {
                status: "created".into(),
                started_at: ZERO_TIME.into(),
                finished_at: ZERO_TIME.into(),
                ..Default::default()
            },
            restart_count: 0,
            log_path: data_dir
                .join(format!("{id}-json.log"))
                .display()
                .to_string(),
            manually_stopped: false,
            endpoints_config,
            mounts: plan.mounts.clone(),
            removing: None,
        };
        let parent = image.top_chain_id().map(|d| d.as_str().to_string());
        let this = self.clone();
        let rec2 = rec.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            this.layout
                .traversable_dir(&data_dir)
                .map_err(EngineError::internal)?;
            let vols = this.volumes.commit(&plan, &rec2.id).inspect_err(|_| {
                let _ = std::fs::remove_dir_all(&data_dir);
            })?;
            let snaps = &this.images.images().snapshots;
            if let Err(e) = snaps.prepare(&rec2.id, parent.as_deref()) {
                this.volumes.rollback(&plan, &rec2.id, &vols);
                let _ = std::fs::remove_dir_all(&data_dir);
                return Err(EngineError::internal(e));
            }
            crate::crash::point("create-before-commit");
            let mut tx = this.store.transaction();
            let res = tx
                .put(KIND, &rec2.id, &rec2)
                .and_then(|t| t.claim_name(KIND, &rec2.name, &rec2.id))
                .map(|_| ())
                .and_then(|_| tx.commit().map(|_| ()));
            if let Err(e) = res {
                this.volumes.rollback(&plan, &rec2.id, &vols);
                let _ = snaps.remove(&rec2.id);
                let _ = std::fs::remove_dir_all(&data_dir);
                return Err(meta_err(e));
            }
            Ok(())
        })
        .await
        .map_err(EngineError::internal)??;
        self.event("create", &rec, &[]);
        Ok(ContainerCreateResponse { id, warnings })
    }

    fn mount_rootfs(&self, id: &str) -> Result<std::path::PathBuf> {
        let target = self.rootfs(id);
        std::fs::create_dir_all(&target).map_err(EngineError::internal)?;
        if is_mountpoint(&target) {
            return Ok(target);
        }
        let m = self
            .images
            .images()
            .snapshots
            .mounts(id)
            .map_err(EngineError::internal)?;
        berth_snapshot::mount(&m, &target).map_err(EngineError::internal)?;
        Ok(target)
    }

    fn unmount_rootfs(&self, id: &str) {
        self.volumes.store.unmount_container(id);
        let target = self.rootfs(id);
        while is_mountpoint(&target) {
            if berth_snapshot::unmount(&target).is_err() {
                break;
            }
        }
    }

    /// `POST /containers/{id}/start`.
    pub async fn start(self: &Arc<Self>, reference: &str) -> Result<()> {
        let id = self.resolve(reference)?;
        let live = self.live(&id);
        let _op = live.op.lock().await;
        let rec = self.get(&id)?;
        if rec.state.status == "paused" {
            return Err(EngineError::conflict(
                "cannot start a paused container, try unpause instead",
            ));
        }
        if rec.state.running {
            return Err(EngineError::not_modified());
        }
        self.start_locked(rec, &live).await
    }

    fn start_locked<'a>(
        self: &'a Arc<Self>,
        rec: ContainerRecord,
        live: &'a Arc<task::Live>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
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

    async fn start_inner(
        self: &Arc<Self>,
        mut rec: ContainerRecord,
        live: &Arc<task::Live>,
    ) -> Result<()> {
        let id = rec.id.clone();
        let state_dir = self.state_dir(&id);
        self.layout
            .traversable_dir(&state_dir)
            .map_err(EngineError::internal)?;
        let rootfs = self.mount_rootfs(&id)?;
        let fail = |this: &Self, msg: String| {
            this.unmount_rootfs(&id);
            msg
        };
        let workdir = rec.config.working_dir.clone();
        if workdir.starts_with('/') {
            // Docker creates a missing working directory in the container's layer.
            let made = berth_inroot::Root::open(&rootfs)
                .and_then(|root| root.mkdir_all(&workdir, 0o755, None));
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
        let mut argv = vec![rec.path.clone()];
        argv.extend(rec.args.clone());
        let spec = spec::build(&spec::SpecInput {
            id: &id,
            config: &rec.config,
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
        if let Err(e) = self.networks.adjust_network_spec(&rec, &mut spec) {
            fail(self, String::new());
            return Err(e);
        }
        match self.volumes.oci_mounts(&rec, &rootfs) {
            Ok(user) => crate::volumes::mounts::apply(&mut spec, user),
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
        let opts = &rec.host_config.log_config.config;
        let size = opts
            .get("max-size")
            .or(self.log_opts.get("max-size"))
            .and_then(|s| super::validate::log_size(s).ok())
            .unwrap_or(0);
        let files = opts
            .get("max-file")
            .or(self.log_opts.get("max-file"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        let args = ShimArgs {
            id: id.clone(),
            bundle: state_dir.clone(),
            runtime: self.helpers.runtime.program.clone(),
            runtime_args: self.helpers.runtime.args.clone(),
            runtime_root: self.exec_root.join("runtime"),
            state_dir: state_dir.clone(),
            log: rec.log_path.clone().into(),
            tty: rec.config.tty,
            stdin: rec.config.open_stdin,
            max_size: size,
            max_file: files,
        };
        let _ = std::fs::remove_file(crate::shim::exit_path(&state_dir));
        // Clear a stale runtime state of a previous run with the same id (a shim normally
        // deletes it; only a shim killed before the container ended leaves it behind).
        task::wait_shim_gone(&state_dir).await;
        if runtime_root(self).join(&id).exists() {
            let _ = runtime(self, &["delete", "--force", &id]).await;
        }
        let created = task::spawn_shim(&self.helpers.shim, &args)
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
        task::connect(&state_dir, live.clone(), Some(tx), move |exit| {
            tokio::spawn(async move { this.on_exit(&cid, exit).await });
        })
        .await
        .map_err(EngineError::internal)?;
        if let Err(e) = self.networks.network_up(&rec, pid).await {
            // Nothing of the network is left; end the created task (on_exit cleans up).
            rec.state.error = e.to_string();
            let _ = self.save(&rec).await;
            let _ = runtime(self, &["kill", &id, "SIGKILL"]).await;
            return Err(e);
        }
        live.send(protocol::START, b"");
        match rx.await {
            Ok(Ok(_)) => {}
            Ok(Err(msg)) => return Err(self.start_failed(rec, msg).await),
            Err(_) => return Err(EngineError::internal("shim went away")),
        }
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
        self.health_start(&rec);
        Ok(())
    }

    async fn start_failed(self: &Arc<Self>, mut rec: ContainerRecord, msg: String) -> EngineError {
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

    /// The shim reported an exit: record it, clean up, notify, auto-remove or restart.
    pub async fn on_exit(self: &Arc<Self>, id: &str, exit: ExitRecord) {
        let live = self.live(id);
        let Ok(mut rec) = self.get(id) else {
            let _ = live.output.send(Output::Exit(exit.exit_code));
            return;
        };
        rec.state.status = "exited".into();
        rec.state.running = false;
        rec.state.paused = false;
        rec.state.pid = 0;
        rec.state.exit_code = exit.exit_code;
        rec.state.finished_at = exit.finished_at.clone();
        self.networks.network_down(id).await;
        self.unmount_rootfs(id);
        let _ = self.save(&rec).await;
        let _ = live.output.send(Output::Exit(exit.exit_code));
        self.event("die", &rec, &[("exitCode", exit.exit_code.to_string())]);
        let _ = live.signals.send(Signal::Exited(exit.exit_code));
        if rec.host_config.auto_remove {
            let _ = self.remove_now(rec, true).await;
            return;
        }
        let policy = rec.host_config.restart_policy.name.clone();
        let restart = !rec.manually_stopped
            && match policy.as_str() {
                "always" | "unless-stopped" => true,
                "on-failure" => {
                    exit.exit_code != 0
                        && (rec.host_config.restart_policy.maximum_retry_count == 0
                            || rec.restart_count
                                < rec.host_config.restart_policy.maximum_retry_count)
                }
                _ => false,
            };
        if restart {
            let this = self.clone();
            let id = id.to_string();
            let delay = 100u64 << rec.restart_count.clamp(0, 10);
            rec.restart_count += 1;
            rec.state.status = "restarting".into();
            rec.state.restarting = true;
            let _ = self.save(&rec).await;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay.min(60_000))).await;
                let live = this.live(&id);
                let _op = live.op.lock().await;
                let Ok(mut rec) = this.get(&id) else { return };
                if rec.manually_stopped || !rec.state.restarting {
                    return;
                }
                rec.state.restarting = false;
                let _ = this.start_locked(rec, &live).await;
            });
        }
    }

    /// Live restore at daemon start: reconnect running containers to their shims; mark those
    /// whose shim is gone as exited with the recorded code.
    pub async fn restore(self: &Arc<Self>) {
        let Ok(all) = self.store.list::<ContainerRecord>(KIND) else {
            return;
        };
        let known: std::collections::HashSet<String> =
            all.iter().map(|(_, r)| r.id.clone()).collect();
        self.delete_orphaned_runtime_state(&known).await;
        for (_, rec) in all {
            if !(rec.state.running || rec.state.restarting) {
                continue;
            }
            let id = rec.id.clone();
            let state_dir = self.state_dir(&id);
            let live = self.live(&id);
            let this = self.clone();
            let cid = id.clone();
            let connected = task::connect(&state_dir, live, None, move |exit| {
                tokio::spawn(async move { this.on_exit(&cid, exit).await });
            })
            .await;
            if connected.is_err() {
                let exit = task::read_exit_record(&state_dir).unwrap_or(ExitRecord {
                    exit_code: 255,
                    finished_at: logfile::now(),
                });
                let mut r = rec.clone();
                r.host_config.restart_policy.name = if matches!(
                    rec.host_config.restart_policy.name.as_str(),
                    "always" | "unless-stopped"
                ) {
                    rec.host_config.restart_policy.name.clone()
                } else {
                    "no".into()
                };
                let _ = self.save(&r).await;
                self.on_exit(&id, exit).await;
            } else {
                self.health_start(&rec);
            }
        }
    }

    /// Runtime state of containers that no longer exist, left by a shim that died between
    /// reporting the exit and deleting it: deleted at daemon start.
    async fn delete_orphaned_runtime_state(&self, known: &std::collections::HashSet<String>) {
        let Ok(entries) = std::fs::read_dir(runtime_root(self)) else {
            return;
        };
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let is_container_id = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
            if !is_container_id || known.contains(&id) || task::shim_alive(&self.state_dir(&id)) {
                continue;
            }
            let _ = runtime(self, &["delete", "--force", &id]).await;
        }
    }

    async fn wait_exit(
        &self,
        rx: &mut broadcast::Receiver<Signal>,
        timeout: Option<Duration>,
    ) -> bool {
        let fut = async {
            loop {
                match rx.recv().await {
                    Ok(Signal::Exited(_)) | Ok(Signal::Removed(_)) => return true,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return false,
                }
            }
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, fut).await.unwrap_or(false),
            None => fut.await,
        }
    }

    /// `POST /containers/{id}/stop`.
    pub async fn stop(
        self: &Arc<Self>,
        reference: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<()> {
        let id = self.resolve(reference)?;
        let live = self.live(&id);
        let _op = live.op.lock().await;
        let mut rec = self.get(&id)?;
        rec.manually_stopped = true;
        if rec.state.restarting {
            rec.state.restarting = false;
            rec.state.status = "exited".into();
            self.save(&rec).await?;
            return Ok(());
        }
        if !rec.state.running {
            self.save(&rec).await?;
            return Err(EngineError::not_modified());
        }
        self.save(&rec).await?;
        let mut rx = live.signals.subscribe();
        if rec.state.paused {
            let _ = runtime(self, &["resume", &id]).await;
        }
        // An empty signal (query or config) means "not set", as in Docker.
        let sig = signal
            .filter(|s| !s.is_empty())
            .or(rec.config.stop_signal.clone().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "SIGTERM".into());
        let secs = timeout.or(rec.config.stop_timeout).unwrap_or(10);
        let _ = runtime(self, &["kill", &id, &sig]).await;
        let t = if secs < 0 {
            None
        } else {
            Some(Duration::from_secs(secs as u64))
        };
        if !self.wait_exit(&mut rx, t).await {
            let _ = runtime(self, &["kill", &id, "SIGKILL"]).await;
            self.wait_exit(&mut rx, Some(Duration::from_secs(30))).await;
        }
        self.event("stop", &rec, &[]);
        Ok(())
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill(self: &Arc<Self>, reference: &str, signal: Option<String>) -> Result<()> {
        let rec = self.lookup(reference)?;
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "cannot kill container: {reference}: container {} is not running",
                rec.id
            )));
        }
        let sig = signal
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "SIGKILL".into());
        if parse_signal(&sig).is_none() {
            return Err(EngineError::invalid(format!("Invalid signal: {sig}")));
        }
        let live = self.live(&rec.id);
        let mut rx = live.signals.subscribe();
        runtime(self, &["kill", &rec.id, &sig]).await?;
        self.event(
            "kill",
            &rec,
            &[("signal", parse_signal(&sig).unwrap_or(9).to_string())],
        );
        if parse_signal(&sig) == Some(9) {
            self.wait_exit(&mut rx, Some(Duration::from_secs(10))).await;
        }
        Ok(())
    }

    /// `POST /containers/{id}/restart`.
    pub async fn restart(
        self: &Arc<Self>,
        reference: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<()> {
        match self.stop(reference, signal, timeout).await {
            Ok(()) => {}
            Err(e) if e.kind() == crate::error::ErrorKind::NotModified => {}
            Err(e) => return Err(e),
        }
        self.start(reference).await.or_else(|e| {
            if e.kind() == crate::error::ErrorKind::NotModified {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        let rec = self.lookup(reference)?;
        self.event("restart", &rec, &[]);
        Ok(())
    }

    /// `POST /containers/{id}/pause` and `unpause`.
    pub async fn pause(self: &Arc<Self>, reference: &str, pause: bool) -> Result<()> {
        let id = self.resolve(reference)?;
        let live = self.live(&id);
        let _op = live.op.lock().await;
        let mut rec = self.get(&id)?;
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "Container {id} is not running"
            )));
        }
        if pause && rec.state.paused {
            return Err(EngineError::conflict(format!(
                "Container {id} is already paused"
            )));
        }
        if !pause && !rec.state.paused {
            return Err(EngineError::conflict(format!(
                "Container {id} is not paused"
            )));
        }
        runtime(self, &[if pause { "pause" } else { "resume" }, &id]).await?;
        rec.state.paused = pause;
        rec.state.status = if pause { "paused" } else { "running" }.into();
        self.save(&rec).await?;
        self.event(if pause { "pause" } else { "unpause" }, &rec, &[]);
        Ok(())
    }

    /// `DELETE /containers/{id}` (`volumes`: also its anonymous volumes, `rm -v`).
    pub async fn remove(
        self: &Arc<Self>,
        reference: &str,
        force: bool,
        volumes: bool,
    ) -> Result<()> {
        let id = self.resolve(reference)?;
        let live = self.live(&id);
        let rec = match self.store.get::<ContainerRecord>(KIND, &id) {
            Ok(Some(rec)) => rec,
            Ok(None) => return Err(EngineError::no_such_container(reference)),
            // A record this berth cannot read (another version's, damaged): `rm -f` still
            // removes it and whatever its id names.
            Err(_) if force => return self.remove_unreadable(&id).await,
            Err(e) => return Err(meta_err(e)),
        };
        if rec.state.restarting && !rec.state.running && !force {
            return Err(EngineError::conflict(format!(
                "cannot remove container \"{}\": container is restarting: stop the container before removing or force remove",
                rec.name
            )));
        }
        if rec.state.running {
            if !force {
                let what = if rec.state.paused {
                    "paused"
                } else if rec.state.restarting {
                    "restarting"
                } else {
                    "running"
                };
                return Err(EngineError::conflict(format!(
                    "cannot remove container \"{}\": container is {what}: stop the container before removing or force remove",
                    rec.name
                )));
            }
            let mut rx = live.signals.subscribe();
            {
                let _op = live.op.lock().await;
                let mut r = self.get(&id)?;
                r.manually_stopped = true;
                self.save(&r).await?;
            }
            if rec.state.paused {
                let _ = runtime(self, &["resume", &id]).await;
            }
            let _ = runtime(self, &["kill", &id, "SIGKILL"]).await;
            self.wait_exit(&mut rx, Some(Duration::from_secs(15))).await;
            // The exit handler may have auto-removed it already.
            if self.get(&id).is_err() {
                return Ok(());
            }
        }
        let _op = live.op.lock().await;
        let rec = self.get(&id)?;
        self.remove_now(rec, volumes).await
    }

    /// Removes the record and what belongs to it; `volumes` also drops its anonymous
    /// volumes (`rm -v`, and `--rm` containers as Docker does).
    ///
    /// The record is marked `removing` first and deleted last: a crash in between leaves a
    /// record the next daemon start finishes removing (`containers/reconcile.rs`).
    pub(super) async fn remove_now(
        self: &Arc<Self>,
        mut rec: ContainerRecord,
        volumes: bool,
    ) -> Result<()> {
        let id = rec.id.clone();
        rec.removing = Some(record::Removal { volumes });
        rec.state.status = "removing".into();
        self.save(&rec).await?;
        crate::crash::point("rm-after-mark");
        self.networks.network_down(&id).await;
        self.unmount_rootfs(&id);
        // A shim that reported the exit deletes the runtime state itself, right after; only
        // state without such a shim (never started, or its shim died) is ours to delete.
        let state_dir = self.state_dir(&id);
        let shim_finishing =
            task::read_exit_record(&state_dir).is_some() && task::shim_alive(&state_dir);
        if runtime_root(self).join(&id).exists() && !shim_finishing {
            let _ = runtime(self, &["delete", "--force", &id]).await;
        }
        let this = self.clone();
        let rec2 = rec.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            this.volumes.container_removed(&rec2, volumes);
            let _ = this.images.images().snapshots.remove(&rec2.id);
            let _ = std::fs::remove_dir_all(this.state_dir(&rec2.id));
            let _ = std::fs::remove_dir_all(this.data_dir(&rec2.id));
            crate::crash::point("rm-after-snapshot");
            this.delete_record(&rec2.id)
        })
        .await
        .map_err(EngineError::internal)??;
        self.event("destroy", &rec, &[]);
        let live = self.live(&id);
        let _ = live.signals.send(Signal::Removed(rec.state.exit_code));
        self.forget(&id);
        Ok(())
    }

    /// Deletes the record of `id` and every name the index gives it, in one transaction; a
    /// name another container owns stays that container's.
    fn delete_record(&self, id: &str) -> Result<()> {
        let mut tx = self.store.transaction();
        tx.delete(KIND, id).map_err(meta_err)?;
        for (name, owner) in self.store.names(KIND) {
            if owner == id {
                tx.release_name(KIND, &name).map_err(meta_err)?;
            }
        }
        tx.commit().map_err(meta_err)?;
        Ok(())
    }

    /// `rm -f` of a record that does not decode: ends its task, removes its mounts,
    /// snapshot and directories by id, then the record and its names.
    async fn remove_unreadable(self: &Arc<Self>, id: &str) -> Result<()> {
        let live = self.live(id);
        let _op = live.op.lock().await;
        self.networks.network_down(id).await;
        if runtime_root(self).join(id).exists() {
            let _ = runtime(self, &["delete", "--force", id]).await;
        }
        self.unmount_rootfs(id);
        let this = self.clone();
        let id2 = id.to_string();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let _ = this.images.images().snapshots.remove(&id2);
            let _ = std::fs::remove_dir_all(this.state_dir(&id2));
            let _ = std::fs::remove_dir_all(this.data_dir(&id2));
            this.delete_record(&id2)
        })
        .await
        .map_err(EngineError::internal)??;
        self.forget(id);
        Ok(())
    }

    /// `POST /containers/{id}/wait` (registers before returning).
    pub async fn wait(
        self: &Arc<Self>,
        reference: &str,
        cond: WaitCondition,
    ) -> Result<WaitFuture> {
        let rec = self.lookup(reference)?;
        let live = self.live(&rec.id);
        let mut rx = live.signals.subscribe();
        let running = rec.state.running || rec.state.restarting;
        if cond == WaitCondition::NotRunning && !running {
            let code = rec.state.exit_code;
            return Ok(Box::pin(async move {
                ContainerWaitResponse {
                    status_code: code,
                    error: None,
                }
            }));
        }
        Ok(Box::pin(async move {
            loop {
                match rx.recv().await {
                    Ok(Signal::Exited(code)) if cond != WaitCondition::Removed => {
                        return ContainerWaitResponse {
                            status_code: code,
                            error: None,
                        }
                    }
                    Ok(Signal::Removed(code)) => {
                        return ContainerWaitResponse {
                            status_code: code,
                            error: None,
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => {
                        return ContainerWaitResponse {
                            status_code: -1,
                            error: Some(ContainerWaitExitError {
                                message: "daemon is shutting down".into(),
                            }),
                        }
                    }
                }
            }
        }))
    }

    /// `POST /containers/{id}/attach` (subscribes before returning).
    pub async fn attach(self: &Arc<Self>, reference: &str, opts: AttachOptions) -> Result<Hijack> {
        let rec = self.lookup(reference)?;
        let keys = match opts.detach_keys.as_deref() {
            Some(k) if !k.is_empty() => detach_keys::parse(k)
                .map_err(|_| EngineError::invalid(format!("Invalid detach keys ({k}) provided")))?,
            _ => detach_keys::DEFAULT.to_vec(),
        };
        let live = self.live(&rec.id);
        let mut out = live.output.subscribe();
        let mut sig = live.signals.subscribe();
        let tty = rec.config.tty;
        let replay = if opts.logs {
            logfile::read_all(std::path::Path::new(&rec.log_path)).unwrap_or_default()
        } else {
            Vec::new()
        };
        let stdin_once = rec.config.stdin_once;
        let live2 = live.clone();
        let want_stdin = opts.stdin && rec.config.open_stdin;
        let (want_out, want_err) = (opts.stdout, opts.stderr);
        let stream = opts.stream;
        let this = self.clone();
        let cid = rec.id.clone();
        Ok(Hijack::new(tty, move |mut s| async move {
            for e in replay {
                let st = if e.stream == "stderr" {
                    StdStream::Stderr
                } else {
                    StdStream::Stdout
                };
                if (st == StdStream::Stdout && want_out) || (st == StdStream::Stderr && want_err) {
                    let _ = s.output.write(st, e.log.as_bytes()).await;
                }
            }
            if !stream {
                return;
            }
            // With a tty (Docker's `copyEscapable`) the detach keys, or the end of the
            // client's input, end the session; the container keeps running.
            let (end_tx, mut end_rx) = oneshot::channel::<bool>();
            if want_stdin {
                let mut stdin = s.stdin;
                let live3 = live2.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut scanner = EscapeScanner::new(if tty { keys } else { Vec::new() });
                    loop {
                        match stdin.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                let (pass, detach) = match scanner.feed(&buf[..n]) {
                                    Scan::Pass(p) => (p, false),
                                    Scan::Detach(p) => (p, true),
                                };
                                let patience = Duration::from_secs(60);
                                if !pass.is_empty()
                                    && !live3
                                        .send_when_connected(protocol::STDIN, &pass, patience)
                                        .await
                                {
                                    break;
                                }
                                if detach {
                                    let _ = end_tx.send(true);
                                    return;
                                }
                            }
                        }
                    }
                    if tty {
                        let _ = end_tx.send(false);
                        return;
                    }
                    if stdin_once {
                        live3
                            .send_when_connected(
                                protocol::CLOSE_STDIN,
                                b"",
                                Duration::from_secs(60),
                            )
                            .await;
                    }
                });
            }
            let mut input_done = false;
            loop {
                tokio::select! {
                    m = out.recv() => match m {
                        Ok(Output::Data(st, data)) => {
                            let wanted = (st == StdStream::Stdout && want_out) || (st == StdStream::Stderr && want_err) || tty;
                            if wanted && s.output.write(st, &data).await.is_err() { break; }
                        }
                        Ok(Output::Exit(_)) => break,
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    },
                    g = sig.recv() => match g {
                        Ok(Signal::Removed(_)) | Err(broadcast::error::RecvError::Closed) => break,
                        _ => {}
                    },
                    e = &mut end_rx, if want_stdin && !input_done => {
                        input_done = true;
                        // The keys, or the client leaving (Docker logs both as a detach).
                        if e.is_ok() {
                            if let Ok(rec) = this.get(&cid) {
                                this.event("detach", &rec, &[]);
                            }
                            break;
                        }
                    }
                }
            }
            let _ = s.output.shutdown().await;
        }))
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize(&self, reference: &str, h: u16, w: u16) -> Result<()> {
        let rec = self.lookup(reference)?;
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        self.live(&rec.id)
            .send(protocol::RESIZE, format!("{h} {w}").as_bytes());
        Ok(())
    }

    /// `GET /containers/{id}/logs`.
    pub async fn logs(self: &Arc<Self>, reference: &str, opts: LogsOptions) -> Result<LogStream> {
        let rec = self.lookup(reference)?;
        if rec.host_config.log_config.kind == "none" {
            return Err(EngineError::invalid(
                "configured logging driver does not support reading",
            ));
        }
        let (tx, rx) = mpsc::channel(256);
        let path = std::path::PathBuf::from(&rec.log_path);
        let since = opts
            .since
            .as_deref()
            .and_then(logfile::parse_time)
            .filter(|t| *t > 0);
        let until = opts
            .until
            .as_deref()
            .and_then(logfile::parse_time)
            .filter(|t| *t > 0);
        let tail: Option<usize> = opts.tail.as_deref().and_then(|t| t.parse().ok());
        let this = self.clone();
        let id = rec.id.clone();
        // Held open so a follower still gets the tail when the container is removed meanwhile
        // (docker-py's `run(remove=True)` reads the log stream after removing the container).
        let held = std::fs::File::open(&path).ok();
        tokio::spawn(async move {
            let entries = logfile::read_all(&path).unwrap_or_default();
            let mut seen = entries.len();
            let mut list: Vec<_> = entries
                .into_iter()
                .filter(|e| keep(e, since, until))
                .collect();
            if let Some(n) = tail {
                let skip = list.len().saturating_sub(n);
                list.drain(..skip);
            }
            for e in list {
                if send_entry(&tx, &e, &opts).await.is_err() {
                    return;
                }
            }
            if !opts.follow {
                return;
            }
            loop {
                let running = this
                    .get(&id)
                    .map(|r| r.state.running || r.state.restarting)
                    .unwrap_or(false);
                let mut entries = logfile::read_all(&path).unwrap_or_default();
                if let (true, Some(f)) = (!path.exists(), &held) {
                    entries = logfile::read_open(f);
                }
                if entries.len() < seen {
                    seen = 0; // rotated
                }
                for e in entries.iter().skip(seen) {
                    if keep(e, since, until) && send_entry(&tx, e, &opts).await.is_err() {
                        return;
                    }
                }
                seen = entries.len();
                if !running || tx.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Ok(LogStream {
            tty: rec.config.tty,
            chunks: rx,
        })
    }

    /// `POST /containers/{id}/rename`.
    pub async fn rename(self: &Arc<Self>, reference: &str, new_name: &str) -> Result<()> {
        if !record::valid_name(new_name) {
            return Err(EngineError::invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let mut rec = self.lookup(reference)?;
        let old = rec.name.clone();
        let new = format!("/{}", new_name.trim_start_matches('/'));
        if old == new {
            return Err(EngineError::conflict(
                "Renaming a container with the same name as its current name",
            ));
        }
        rec.name = new.clone();
        let this = self.clone();
        let rec2 = rec.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mut tx = this.store.transaction();
            tx.release_name(KIND, &old).map_err(meta_err)?;
            tx.claim_name(KIND, &new, &rec2.id).map_err(meta_err)?;
            tx.put(KIND, &rec2.id, &rec2).map_err(meta_err)?;
            tx.commit().map_err(meta_err)?;
            Ok(())
        })
        .await
        .map_err(EngineError::internal)??;
        self.event("rename", &rec, &[]);
        Ok(())
    }
}

fn keep(e: &logfile::LogEntry, since: Option<i128>, until: Option<i128>) -> bool {
    let t = logfile::rfc3339_nanos(&e.time).unwrap_or(0);
    since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
}

async fn send_entry(
    tx: &mpsc::Sender<LogChunk>,
    e: &logfile::LogEntry,
    opts: &LogsOptions,
) -> Result<(), ()> {
    let stream = if e.stream == "stderr" {
        StdStream::Stderr
    } else {
        StdStream::Stdout
    };
    if (stream == StdStream::Stdout && !opts.stdout)
        || (stream == StdStream::Stderr && !opts.stderr)
    {
        return Ok(());
    }
    let data = if opts.timestamps {
        format!("{} {}", e.time, e.log)
    } else {
        e.log.clone()
    };
    tx.send(LogChunk {
        stream,
        data: Bytes::from(data),
    })
    .await
    .map_err(|_| ())
}

/// Signal name or number → number.
pub fn parse_signal(s: &str) -> Option<i32> {
    berth_units::signal::parse(s)
}

/// True when `path` is a mount point (its device differs from its parent's, or it is listed
/// in /proc/self/mountinfo).
pub fn is_mountpoint(path: &std::path::Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let p = path.display().to_string();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(p.as_str()))
}
