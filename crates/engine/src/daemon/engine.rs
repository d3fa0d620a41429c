//! The [`Engine`] implementation: system endpoints here, containers in
//! [`crate::containers`], images delegated to [`ImageService`].

use std::sync::Arc;

use async_trait::async_trait;
use berth_api_server::*;
use berth_api_types::*;
use tokio::sync::broadcast;

use super::adapt;
use super::config::DaemonConfig;
use super::services::Services;
use crate::containers::Containers;
use crate::error::EngineError;
use crate::events::{self, EventBus};
use crate::images::ImageService;

/// The daemon's engine.
pub struct Berth {
    cfg: std::sync::RwLock<DaemonConfig>,
    /// Containers.
    pub containers: Arc<Containers>,
    /// Images.
    pub images: Arc<ImageService>,
    /// Events.
    pub events: Arc<EventBus>,
    /// Image builds.
    pub builds: Arc<crate::build::BuildService>,
}

impl Berth {
    /// The engine over the services built by [`Services::build`].
    pub fn new(cfg: DaemonConfig, services: Services) -> Self {
        Berth {
            cfg: std::sync::RwLock::new(cfg),
            containers: services.containers,
            images: services.images,
            events: services.events,
            builds: services.builds,
        }
    }

    /// SIGHUP: re-reads daemon.json and applies its reloadable keys (`debug`,
    /// `insecure-registries`, `registry-mirrors`; flags still win as at start). A file that
    /// does not parse changes nothing. Publishes a `daemon reload` event on success.
    pub fn reload(&self) {
        let mut cfg = self.cfg.write().unwrap_or_else(|e| e.into_inner());
        let fresh = match super::config::resolve(&cfg.flags) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("berth daemon: Error reloading configuration: {e}");
                return;
            }
        };
        cfg.debug = fresh.debug;
        cfg.registry_mirrors = fresh.registry_mirrors;
        cfg.insecure_registries = fresh.insecure_registries;
        self.images.set_registries(
            cfg.insecure_registries.clone(),
            cfg.registry_mirrors.clone(),
        );
        let reloaded = serde_json::json!({
            "debug": cfg.debug,
            "insecure-registries": cfg.insecure_registries,
            "registry-mirrors": cfg.registry_mirrors,
        });
        eprintln!("berth daemon: Reloaded configuration: {reloaded}");
        let mut attributes = std::collections::BTreeMap::new();
        attributes.insert("debug".to_string(), cfg.debug.to_string());
        attributes.insert(
            "insecure-registries".to_string(),
            serde_json::to_string(&cfg.insecure_registries).unwrap_or_default(),
        );
        attributes.insert(
            "registry-mirrors".to_string(),
            serde_json::to_string(&cfg.registry_mirrors).unwrap_or_default(),
        );
        // Published under the lock: whoever sees the new settings can see the event.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        self.events.publish(EventMessage {
            kind: "daemon".into(),
            action: "reload".into(),
            actor: EventActor {
                id: "berth".into(),
                attributes,
            },
            scope: "local".into(),
            time: now.as_secs() as i64,
            time_nano: now.as_nanos() as i64,
            ..Default::default()
        });
    }
}

/// The one place where an engine failure becomes the API's error: its kind decides the
/// status code, its text is the `{"message": …}` clients print.
impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        ApiError::new(e.kind(), e.to_string())
    }
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[async_trait]
impl Engine for Berth {
    async fn version(&self, _ctx: &RequestContext) -> ApiResult<SystemVersion> {
        let v = env!("CARGO_PKG_VERSION").to_string();
        Ok(SystemVersion {
            platform: PlatformName {
                name: "berth".into(),
            },
            components: vec![ComponentVersion {
                name: "Engine".into(),
                version: v.clone(),
                ..Default::default()
            }],
            version: v,
            go_version: "rust".into(),
            os: "linux".into(),
            arch: match std::env::consts::ARCH {
                "x86_64" => "amd64",
                "aarch64" => "arm64",
                a => a,
            }
            .into(),
            kernel_version: kernel(),
            ..Default::default()
        })
    }

    async fn info(&self, _ctx: &RequestContext) -> ApiResult<SystemInfo> {
        let all = self.containers.list(&ContainerListOptions {
            all: true,
            ..Default::default()
        })?;
        let count = |s: &str| all.iter().filter(|c| c.state == s).count() as i64;
        let cfg = self.cfg.read().unwrap_or_else(|e| e.into_inner()).clone();
        let images = self
            .images
            .images()
            .store
            .list()
            .map(|l| l.len())
            .unwrap_or(0);
        let info = SystemInfo {
            id: "berth".into(),
            containers: all.len() as i64,
            containers_running: count("running"),
            containers_paused: count("paused"),
            containers_stopped: all.len() as i64 - count("running") - count("paused"),
            images: images as i64,
            driver: "overlay2".into(),
            debug: cfg.debug,
            logging_driver: cfg.log.driver.clone(),
            cgroup_driver: cfg.cgroup_driver.clone(),
            cgroup_version: if crate::hostinfo::cgroup_v2() {
                "2"
            } else {
                "1"
            }
            .into(),
            kernel_version: kernel(),
            operating_system: crate::hostinfo::os_release("PRETTY_NAME")
                .unwrap_or_else(|| "Linux".into()),
            os_version: crate::hostinfo::os_release("VERSION_ID").unwrap_or_default(),
            os_type: "linux".into(),
            architecture: std::env::consts::ARCH.into(),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get() as i64)
                .unwrap_or(1),
            name: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
                .to_string(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            default_runtime: "berth".into(),
            live_restore_enabled: cfg.live_restore,
            index_server_address: "https://index.docker.io/v1/".into(),
            mem_total: crate::hostinfo::mem_total() as i64,
            docker_root_dir: cfg.data_root.display().to_string(),
            plugins: PluginsInfo {
                volume: Some(vec!["local".into()]),
                network: Some(vec!["bridge".into(), "host".into(), "null".into()]),
                authorization: None,
                log: Some(
                    ["journald", "json-file", "local", "syslog"]
                        .map(String::from)
                        .to_vec(),
                ),
            },
            swarm: SwarmInfo {
                local_node_state: "inactive".into(),
                ..Default::default()
            },
            runtimes: [(
                "berth".to_string(),
                RuntimeInfo {
                    path: "berth-runtime".into(),
                    runtime_args: None,
                },
            )]
            .into(),
            init_binary: "docker-init".into(),
            registry_config: Some(registry_config(&cfg)),
            security_options: security_options(&cfg),
            memory_limit: true,
            swap_limit: true,
            cpu_cfs_period: true,
            cpu_cfs_quota: true,
            cpu_shares: true,
            cpu_set: true,
            pids_limit: true,
            oom_kill_disable: true,
            system_time: crate::logfile::now(),
            nfd: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as i64),
            ..Default::default()
        };
        Ok(info)
    }

    async fn system_df(&self, _ctx: &RequestContext, _types: Vec<String>) -> ApiResult<SystemDf> {
        let images = self
            .images
            .image_list(ImageListOptions {
                all: true,
                shared_size: true,
                ..Default::default()
            })
            .await?;
        let containers = self.containers.list(&ContainerListOptions {
            all: true,
            size: true,
            ..Default::default()
        })?;
        let images = images
            .into_iter()
            .map(|mut i| {
                i.containers = containers.iter().filter(|c| c.image_id == i.id).count() as i64;
                i
            })
            .collect::<Vec<_>>();
        Ok(SystemDf {
            layers_size: images.iter().map(|i| i.size).sum(),
            images,
            containers,
            volumes: self.containers.volumes.usage().await?,
            build_cache: self.builds.df(),
        })
    }

    async fn events(
        &self,
        _ctx: &RequestContext,
        opts: EventsOptions,
    ) -> ApiResult<JsonStream<EventMessage>> {
        let since = opts.since.as_deref().and_then(crate::logfile::parse_time);
        let until = opts.until.as_deref().and_then(crate::logfile::parse_time);
        let (replay, mut rx) = self.events.subscribe(since);
        let (tx, out) = tokio::sync::mpsc::channel(256);
        let filters = opts.filters.clone();
        tokio::spawn(async move {
            let past_until = |e: &EventMessage| until.is_some_and(|u| e.time_nano as i128 > u);
            for e in replay {
                if past_until(&e) {
                    return;
                }
                if events::matches(&filters, &e) && tx.send(e).await.is_err() {
                    return;
                }
            }
            let deadline = until.map(|u| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos() as i128;
                std::time::Duration::from_nanos((u - now).max(0) as u64)
            });
            let sleep = tokio::time::sleep(
                deadline.unwrap_or(std::time::Duration::from_secs(u32::MAX as u64)),
            );
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => return,
                    _ = tx.closed() => return,
                    m = rx.recv() => match m {
                        Ok(e) => {
                            if events::matches(&filters, &e) && tx.send(e).await.is_err() { return; }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => return,
                    }
                }
            }
        });
        Ok(out)
    }

    async fn auth(&self, _ctx: &RequestContext, auth: AuthConfig) -> ApiResult<AuthResponse> {
        Ok(self.images.auth(auth).await?)
    }

    async fn container_list(
        &self,
        _ctx: &RequestContext,
        opts: ContainerListOptions,
    ) -> ApiResult<Vec<ContainerSummary>> {
        Ok(self.containers.list(&opts)?)
    }
    async fn container_create(
        &self,
        _ctx: &RequestContext,
        opts: ContainerCreateOptions,
        body: ContainerCreateRequest,
    ) -> ApiResult<ContainerCreateResponse> {
        Ok(self.containers.create(opts, body).await?)
    }
    async fn container_inspect(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _size: bool,
    ) -> ApiResult<ContainerInspect> {
        Ok(self.containers.inspect(id)?)
    }
    async fn container_top(
        &self,
        _ctx: &RequestContext,
        id: &str,
        ps_args: Option<String>,
    ) -> ApiResult<ContainerTopResponse> {
        Ok(self.containers.top(id, ps_args).await?)
    }
    async fn container_stats(
        &self,
        _ctx: &RequestContext,
        id: &str,
        opts: StatsOptions,
    ) -> ApiResult<JsonStream<ContainerStats>> {
        Ok(self.containers.stats(id, opts).await?)
    }
    async fn container_logs(
        &self,
        _ctx: &RequestContext,
        id: &str,
        opts: LogsOptions,
    ) -> ApiResult<LogStream> {
        Ok(adapt::log_stream(self.containers.logs(id, opts).await?))
    }
    async fn container_changes(
        &self,
        _ctx: &RequestContext,
        id: &str,
    ) -> ApiResult<Vec<FilesystemChange>> {
        Ok(self.containers.changes(id)?)
    }
    async fn container_export(&self, _ctx: &RequestContext, id: &str) -> ApiResult<ByteStream> {
        Ok(self.containers.export(id).await?)
    }
    async fn container_resize(
        &self,
        _ctx: &RequestContext,
        id: &str,
        h: u16,
        w: u16,
    ) -> ApiResult<()> {
        Ok(self.containers.resize(id, h, w).await?)
    }
    async fn container_start(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _detach_keys: Option<String>,
    ) -> ApiResult<()> {
        Ok(self.containers.start(id).await?)
    }
    async fn container_stop(
        &self,
        _ctx: &RequestContext,
        id: &str,
        opts: StopOptions,
    ) -> ApiResult<()> {
        Ok(self.containers.stop(id, opts.signal, opts.timeout).await?)
    }
    async fn container_restart(
        &self,
        _ctx: &RequestContext,
        id: &str,
        opts: StopOptions,
    ) -> ApiResult<()> {
        Ok(self
            .containers
            .restart(id, opts.signal, opts.timeout)
            .await?)
    }
    async fn container_kill(
        &self,
        _ctx: &RequestContext,
        id: &str,
        signal: Option<String>,
    ) -> ApiResult<()> {
        Ok(self.containers.kill(id, signal).await?)
    }
    async fn container_update(
        &self,
        _ctx: &RequestContext,
        id: &str,
        update: UpdateConfig,
    ) -> ApiResult<UpdateResponse> {
        Ok(self.containers.update(id, update).await?)
    }
    async fn container_rename(
        &self,
        _ctx: &RequestContext,
        id: &str,
        new_name: &str,
    ) -> ApiResult<()> {
        Ok(self.containers.rename(id, new_name).await?)
    }
    async fn container_pause(&self, _ctx: &RequestContext, id: &str) -> ApiResult<()> {
        Ok(self.containers.pause(id, true).await?)
    }
    async fn container_unpause(&self, _ctx: &RequestContext, id: &str) -> ApiResult<()> {
        Ok(self.containers.pause(id, false).await?)
    }
    async fn container_attach(
        &self,
        _ctx: &RequestContext,
        id: &str,
        opts: AttachOptions,
    ) -> ApiResult<Hijack> {
        Ok(adapt::hijack(self.containers.attach(id, opts).await?))
    }
    async fn container_wait(
        &self,
        _ctx: &RequestContext,
        id: &str,
        condition: WaitCondition,
    ) -> ApiResult<WaitFuture> {
        Ok(self.containers.wait(id, condition).await?)
    }
    async fn container_delete(
        &self,
        _ctx: &RequestContext,
        id: &str,
        opts: ContainerDeleteOptions,
    ) -> ApiResult<()> {
        if opts.link {
            return Ok(self.containers.remove_link(id).await?);
        }
        Ok(self.containers.remove(id, opts.force, opts.volumes).await?)
    }
    async fn container_archive_stat(
        &self,
        _ctx: &RequestContext,
        id: &str,
        path: &str,
    ) -> ApiResult<ContainerPathStat> {
        Ok(self.containers.archive_stat(id, path).await?)
    }
    async fn container_archive_get(
        &self,
        _ctx: &RequestContext,
        id: &str,
        path: &str,
    ) -> ApiResult<(ContainerPathStat, ByteStream)> {
        Ok(self.containers.archive_get(id, path).await?)
    }
    async fn container_archive_put(
        &self,
        _ctx: &RequestContext,
        id: &str,
        opts: ArchivePutOptions,
        body: RequestBody,
    ) -> ApiResult<()> {
        Ok(self
            .containers
            .archive_put(id, opts, adapt::body(body))
            .await?)
    }
    async fn container_prune(
        &self,
        _ctx: &RequestContext,
        filters: Filters,
    ) -> ApiResult<ContainerPruneResponse> {
        Ok(self.containers.prune(&filters).await?)
    }
    async fn exec_create(
        &self,
        _ctx: &RequestContext,
        container: &str,
        config: ExecConfig,
    ) -> ApiResult<IdResponse> {
        Ok(self.containers.exec_create(container, config).await?)
    }
    async fn exec_start(
        &self,
        _ctx: &RequestContext,
        id: &str,
        config: ExecStartConfig,
    ) -> ApiResult<Option<Hijack>> {
        Ok(self
            .containers
            .exec_start(id, config)
            .await?
            .map(adapt::hijack))
    }
    async fn exec_resize(&self, _ctx: &RequestContext, id: &str, h: u16, w: u16) -> ApiResult<()> {
        Ok(self.containers.exec_resize(id, h.into(), w.into()).await?)
    }
    async fn exec_inspect(&self, _ctx: &RequestContext, id: &str) -> ApiResult<ExecInspect> {
        Ok(self.containers.exec_inspect(id)?)
    }

    async fn network_list(
        &self,
        _ctx: &RequestContext,
        filters: Filters,
    ) -> ApiResult<Vec<Network>> {
        Ok(self.containers.networks.network_list(&filters).await?)
    }
    async fn network_create(
        &self,
        _ctx: &RequestContext,
        req: NetworkCreateRequest,
    ) -> ApiResult<NetworkCreateResponse> {
        Ok(self.containers.networks.create(req).await?)
    }
    async fn network_inspect(&self, _ctx: &RequestContext, id: &str) -> ApiResult<Network> {
        Ok(self.containers.networks.network_inspect(id).await?)
    }
    async fn network_delete(&self, _ctx: &RequestContext, id: &str) -> ApiResult<()> {
        Ok(self.containers.networks.network_remove(id).await?)
    }
    async fn network_connect(
        &self,
        _ctx: &RequestContext,
        id: &str,
        req: NetworkConnectRequest,
    ) -> ApiResult<()> {
        Ok(self.containers.network_connect(id, req).await?)
    }
    async fn network_disconnect(
        &self,
        _ctx: &RequestContext,
        id: &str,
        req: NetworkDisconnectRequest,
    ) -> ApiResult<()> {
        Ok(self.containers.network_disconnect(id, req).await?)
    }
    async fn network_prune(
        &self,
        _ctx: &RequestContext,
        filters: Filters,
    ) -> ApiResult<NetworkPruneResponse> {
        Ok(self.containers.networks.prune(&filters).await?)
    }
    async fn volume_list(
        &self,
        _ctx: &RequestContext,
        f: Filters,
    ) -> ApiResult<VolumeListResponse> {
        Ok(self.containers.volumes.list(&f)?)
    }
    async fn volume_create(
        &self,
        _ctx: &RequestContext,
        opts: VolumeCreateOptions,
    ) -> ApiResult<Volume> {
        Ok(self.containers.volumes.create(opts)?)
    }
    async fn volume_inspect(&self, _ctx: &RequestContext, name: &str) -> ApiResult<Volume> {
        Ok(self.containers.volumes.inspect(name)?)
    }
    async fn volume_delete(&self, _ctx: &RequestContext, name: &str, force: bool) -> ApiResult<()> {
        Ok(self.containers.volumes.remove(name, force).await?)
    }
    async fn volume_prune(
        &self,
        _ctx: &RequestContext,
        f: Filters,
    ) -> ApiResult<VolumePruneResponse> {
        Ok(self.containers.volumes.prune(f).await?)
    }

    async fn image_list(
        &self,
        _ctx: &RequestContext,
        opts: ImageListOptions,
    ) -> ApiResult<Vec<ImageSummary>> {
        Ok(self.images.image_list(opts).await?)
    }
    async fn image_create(
        &self,
        ctx: &RequestContext,
        opts: ImageCreateOptions,
        body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        Ok(self
            .images
            .image_create(ctx.registry_auth.as_ref(), opts, adapt::body(body))
            .await?)
    }
    async fn image_inspect(&self, _ctx: &RequestContext, name: &str) -> ApiResult<ImageInspect> {
        Ok(self.images.image_inspect(name).await?)
    }
    async fn image_history(
        &self,
        _ctx: &RequestContext,
        name: &str,
    ) -> ApiResult<Vec<HistoryItem>> {
        Ok(self.images.image_history(name).await?)
    }
    async fn image_push(
        &self,
        ctx: &RequestContext,
        name: &str,
        tag: Option<String>,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        Ok(self
            .images
            .image_push(ctx.registry_auth.as_ref(), name, tag)
            .await?)
    }
    async fn image_tag(
        &self,
        _ctx: &RequestContext,
        name: &str,
        repo: &str,
        tag: Option<String>,
    ) -> ApiResult<()> {
        Ok(self.images.image_tag(name, repo, tag).await?)
    }
    async fn image_delete(
        &self,
        _ctx: &RequestContext,
        name: &str,
        opts: ImageDeleteOptions,
    ) -> ApiResult<Vec<ImageDeleteResponseItem>> {
        Ok(self.images.image_delete(name, opts).await?)
    }
    async fn image_search(
        &self,
        ctx: &RequestContext,
        opts: ImageSearchOptions,
    ) -> ApiResult<Vec<ImageSearchResult>> {
        Ok(self
            .images
            .image_search(ctx.registry_auth.as_ref(), opts)
            .await?)
    }
    async fn image_prune(
        &self,
        _ctx: &RequestContext,
        filters: Filters,
    ) -> ApiResult<ImagePruneResponse> {
        Ok(self.images.image_prune(filters).await?)
    }
    async fn image_commit(
        &self,
        _ctx: &RequestContext,
        opts: CommitOptions,
        config: Option<ContainerConfig>,
    ) -> ApiResult<IdResponse> {
        Ok(self.containers.commit(&self.images, opts, config).await?)
    }
    async fn image_save(&self, _ctx: &RequestContext, names: Vec<String>) -> ApiResult<ByteStream> {
        Ok(self.images.image_save(names).await?)
    }
    async fn image_load(
        &self,
        _ctx: &RequestContext,
        quiet: bool,
        body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        Ok(self.images.image_load(quiet, adapt::body(body)).await?)
    }

    async fn build(
        &self,
        _ctx: &RequestContext,
        opts: BuildOptions,
        body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        Ok(self.builds.build(opts, adapt::body(body)).await?)
    }

    async fn build_prune(
        &self,
        _ctx: &RequestContext,
        opts: BuildPruneOptions,
    ) -> ApiResult<BuildCachePruneResponse> {
        Ok(self.builds.prune(opts).await?)
    }
}

/// `RegistryConfig` of /info: the insecure registries (CIDRs apart, as Docker lists them),
/// the mirrors, and docker.io as the official index.
fn registry_config(cfg: &DaemonConfig) -> RegistryServiceConfig {
    let mut cidrs = vec!["127.0.0.0/8".to_string(), "::1/128".to_string()];
    let mut index_configs = std::collections::BTreeMap::new();
    index_configs.insert(
        "docker.io".to_string(),
        IndexInfo {
            name: "docker.io".into(),
            mirrors: cfg.registry_mirrors.clone(),
            secure: true,
            official: true,
        },
    );
    for r in &cfg.insecure_registries {
        if r.contains('/') {
            cidrs.push(r.clone());
        } else {
            index_configs.insert(
                r.clone(),
                IndexInfo {
                    name: r.clone(),
                    mirrors: Vec::new(),
                    secure: false,
                    official: false,
                },
            );
        }
    }
    RegistryServiceConfig {
        insecure_registry_cidrs: cidrs,
        index_configs,
        mirrors: cfg.registry_mirrors.clone(),
        ..Default::default()
    }
}

/// `SecurityOptions` of `docker info`: seccomp, and `name=userns` with `userns-remap` (as
/// dockerd).
fn security_options(cfg: &super::config::DaemonConfig) -> Vec<String> {
    let mut opts = vec!["name=seccomp,profile=builtin".to_string()];
    if cfg.remap.is_some() {
        opts.push("name=userns".into());
    }
    opts
}
