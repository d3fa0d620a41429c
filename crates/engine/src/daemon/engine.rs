//! The [`Engine`] implementation: one line per endpoint over the services; the system
//! endpoints in `engine/system.rs`, SIGHUP's reload in `engine/reload.rs`.

mod reload;
mod system;

use std::sync::Arc;

use async_trait::async_trait;
use berth_api_server::*;
use berth_api_types::*;

use super::adapt;
use super::config::DaemonConfig;
use super::services::Services;
use crate::containers::Containers;
use crate::error::EngineError;
use crate::events::EventBus;
use crate::execs::Execs;
use crate::images::ImageService;

/// The daemon's engine.
pub struct Berth {
    cfg: std::sync::RwLock<DaemonConfig>,
    /// Containers.
    pub containers: Arc<Containers>,
    /// Exec instances.
    pub execs: Arc<Execs>,
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
            execs: services.execs,
            images: services.images,
            events: services.events,
            builds: services.builds,
        }
    }
}

/// The one place where an engine failure becomes the API's error: its kind decides the
/// status code, its text is the `{"message": …}` clients print.
impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        ApiError::new(e.kind(), e.to_string())
    }
}

#[async_trait]
impl Engine for Berth {
    async fn version(&self, _ctx: &RequestContext) -> ApiResult<SystemVersion> {
        self.version_info()
    }

    async fn info(&self, _ctx: &RequestContext) -> ApiResult<SystemInfo> {
        self.system_info()
    }

    async fn system_df(&self, _ctx: &RequestContext, _types: Vec<String>) -> ApiResult<SystemDf> {
        self.disk_usage().await
    }

    async fn events(
        &self,
        _ctx: &RequestContext,
        opts: EventsOptions,
    ) -> ApiResult<JsonStream<EventMessage>> {
        self.event_stream(opts)
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
        Ok(self.execs.exec_create(container, config).await?)
    }
    async fn exec_start(
        &self,
        _ctx: &RequestContext,
        id: &str,
        config: ExecStartConfig,
    ) -> ApiResult<Option<Hijack>> {
        Ok(self.execs.exec_start(id, config).await?.map(adapt::hijack))
    }
    async fn exec_resize(&self, _ctx: &RequestContext, id: &str, h: u16, w: u16) -> ApiResult<()> {
        Ok(self.execs.exec_resize(id, h.into(), w.into()).await?)
    }
    async fn exec_inspect(&self, _ctx: &RequestContext, id: &str) -> ApiResult<ExecInspect> {
        Ok(self.execs.exec_inspect(id)?)
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
