//! The [`Engine`] trait: one async method per API action the server routes.
//!
//! The daemon implements it; the server maps HTTP to these calls and their results back to
//! HTTP (status codes, JSON, streams, hijacked connections). Every method receives the
//! [`RequestContext`] (negotiated API version, credentials header) first.
//!
//! Conventions:
//! - Object references (`id`) are what the client sent: a full id, a unique id prefix or a
//!   name (containers), or a reference/id (images). The engine resolves them and answers
//!   with Docker's 404 wording ([`ApiError::no_such_container`]).
//! - "Already started/stopped" is [`ApiError::not_modified`] (HTTP 304).
//! - Streaming methods return channel receivers; the server stops reading (and the engine's
//!   sends fail) when the client goes away.
//! - Methods whose HTTP response must be committed before the result exists
//!   ([`Engine::container_wait`], [`Engine::events`], attach/exec start) must register
//!   what they need (waiter, subscription) *before* returning, because clients such as
//!   `docker run` only proceed once they have the response headers.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use berth_api_types::*;

pub use berth_api_types::query::{
    ArchivePutOptions, AttachOptions, BuildOptions, BuildPruneOptions, CommitOptions,
    ContainerCreateOptions, ContainerDeleteOptions, ContainerListOptions, EventsOptions,
    ImageCreateOptions, ImageDeleteOptions, ImageListOptions, ImageSearchOptions, LogsOptions,
    StatsOptions, StopOptions, WaitCondition,
};

use crate::body::RequestBody;
use crate::error::{ApiError, ApiResult};
use crate::hijack::Hijack;
use crate::stream::{ByteStream, JsonStream, LogStream};
use crate::version::ApiVersion;

/// Per-request information passed to every engine call.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Negotiated API version (the prefix the client used, or the newest).
    pub api_version: ApiVersion,
    /// Decoded `X-Registry-Auth` header (pull, push, search), when sent.
    pub registry_auth: Option<AuthConfig>,
}

impl Default for RequestContext {
    fn default() -> Self {
        RequestContext {
            api_version: ApiVersion::MAX,
            registry_auth: None,
        }
    }
}

/// The future resolved when a waited-for container reaches the condition.
pub type WaitFuture = Pin<Box<dyn Future<Output = ContainerWaitResponse> + Send>>;

/// The engine behind the API. Object-safe (`Arc<dyn Engine>`), async via `async_trait`.
///
/// Volume and network methods have defaults (empty lists, 404s) until those subsystems exist.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    // ---- system ----
    /// `GET /version`. The server fills `ApiVersion`/`MinAPIVersion` when left empty.
    async fn version(&self, ctx: &RequestContext) -> ApiResult<SystemVersion>;
    /// `GET /info`.
    async fn info(&self, ctx: &RequestContext) -> ApiResult<SystemInfo>;
    /// `GET /system/df` (`types`: container, image, volume, build-cache; empty = all).
    async fn system_df(&self, ctx: &RequestContext, types: Vec<String>) -> ApiResult<SystemDf>;
    /// `GET /events`: subscribe before returning.
    async fn events(
        &self,
        ctx: &RequestContext,
        opts: EventsOptions,
    ) -> ApiResult<JsonStream<EventMessage>>;
    /// `POST /auth`: check credentials against a registry.
    async fn auth(&self, ctx: &RequestContext, auth: AuthConfig) -> ApiResult<AuthResponse>;

    // ---- containers ----
    /// `GET /containers/json`.
    async fn container_list(
        &self,
        ctx: &RequestContext,
        opts: ContainerListOptions,
    ) -> ApiResult<Vec<ContainerSummary>>;
    /// `POST /containers/create`.
    async fn container_create(
        &self,
        ctx: &RequestContext,
        opts: ContainerCreateOptions,
        body: ContainerCreateRequest,
    ) -> ApiResult<ContainerCreateResponse>;
    /// `GET /containers/{id}/json`.
    async fn container_inspect(
        &self,
        ctx: &RequestContext,
        id: &str,
        size: bool,
    ) -> ApiResult<ContainerInspect>;
    /// `GET /containers/{id}/top`.
    async fn container_top(
        &self,
        ctx: &RequestContext,
        id: &str,
        ps_args: Option<String>,
    ) -> ApiResult<ContainerTopResponse>;
    /// `GET /containers/{id}/stats`: one sample (`stream=false`), or one per second until
    /// the client goes away.
    async fn container_stats(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _opts: StatsOptions,
    ) -> ApiResult<JsonStream<ContainerStats>> {
        Err(ApiError::no_such_container(id))
    }
    /// `GET /containers/{id}/logs`.
    async fn container_logs(
        &self,
        ctx: &RequestContext,
        id: &str,
        opts: LogsOptions,
    ) -> ApiResult<LogStream>;
    /// `GET /containers/{id}/changes`.
    async fn container_changes(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> ApiResult<Vec<FilesystemChange>>;
    /// `GET /containers/{id}/export`: a tar of the root filesystem.
    async fn container_export(&self, ctx: &RequestContext, id: &str) -> ApiResult<ByteStream>;
    /// `POST /containers/{id}/resize`.
    async fn container_resize(
        &self,
        ctx: &RequestContext,
        id: &str,
        height: u16,
        width: u16,
    ) -> ApiResult<()>;
    /// `POST /containers/{id}/start`.
    async fn container_start(
        &self,
        ctx: &RequestContext,
        id: &str,
        detach_keys: Option<String>,
    ) -> ApiResult<()>;
    /// `POST /containers/{id}/stop`.
    async fn container_stop(
        &self,
        ctx: &RequestContext,
        id: &str,
        opts: StopOptions,
    ) -> ApiResult<()>;
    /// `POST /containers/{id}/restart`.
    async fn container_restart(
        &self,
        ctx: &RequestContext,
        id: &str,
        opts: StopOptions,
    ) -> ApiResult<()>;
    /// `POST /containers/{id}/kill` (signal default SIGKILL).
    async fn container_kill(
        &self,
        ctx: &RequestContext,
        id: &str,
        signal: Option<String>,
    ) -> ApiResult<()>;
    /// `POST /containers/{id}/update`.
    async fn container_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        update: UpdateConfig,
    ) -> ApiResult<UpdateResponse>;
    /// `POST /containers/{id}/rename`.
    async fn container_rename(
        &self,
        ctx: &RequestContext,
        id: &str,
        new_name: &str,
    ) -> ApiResult<()>;
    /// `POST /containers/{id}/pause`.
    async fn container_pause(&self, ctx: &RequestContext, id: &str) -> ApiResult<()>;
    /// `POST /containers/{id}/unpause`.
    async fn container_unpause(&self, ctx: &RequestContext, id: &str) -> ApiResult<()>;
    /// `POST /containers/{id}/attach`: subscribe before returning.
    async fn container_attach(
        &self,
        ctx: &RequestContext,
        id: &str,
        opts: AttachOptions,
    ) -> ApiResult<Hijack>;
    /// `POST /containers/{id}/wait`: register the waiter before returning.
    async fn container_wait(
        &self,
        ctx: &RequestContext,
        id: &str,
        condition: WaitCondition,
    ) -> ApiResult<WaitFuture>;
    /// `DELETE /containers/{id}`.
    async fn container_delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        opts: ContainerDeleteOptions,
    ) -> ApiResult<()>;
    /// `HEAD /containers/{id}/archive`.
    async fn container_archive_stat(
        &self,
        ctx: &RequestContext,
        id: &str,
        path: &str,
    ) -> ApiResult<ContainerPathStat>;
    /// `GET /containers/{id}/archive`: stat of the path and a tar of it.
    async fn container_archive_get(
        &self,
        ctx: &RequestContext,
        id: &str,
        path: &str,
    ) -> ApiResult<(ContainerPathStat, ByteStream)>;
    /// `PUT /containers/{id}/archive`: extract the tar body into `opts.path`.
    async fn container_archive_put(
        &self,
        ctx: &RequestContext,
        id: &str,
        opts: ArchivePutOptions,
        body: RequestBody,
    ) -> ApiResult<()>;
    /// `POST /containers/prune`.
    async fn container_prune(
        &self,
        ctx: &RequestContext,
        filters: Filters,
    ) -> ApiResult<ContainerPruneResponse>;

    // ---- exec ----
    /// `POST /containers/{id}/exec`.
    async fn exec_create(
        &self,
        ctx: &RequestContext,
        container: &str,
        config: ExecConfig,
    ) -> ApiResult<IdResponse>;
    /// `POST /exec/{id}/start`: `None` when detached (responds 200 at once), else a session.
    async fn exec_start(
        &self,
        ctx: &RequestContext,
        id: &str,
        config: ExecStartConfig,
    ) -> ApiResult<Option<Hijack>>;
    /// `POST /exec/{id}/resize`.
    async fn exec_resize(
        &self,
        ctx: &RequestContext,
        id: &str,
        height: u16,
        width: u16,
    ) -> ApiResult<()>;
    /// `GET /exec/{id}/json`.
    async fn exec_inspect(&self, ctx: &RequestContext, id: &str) -> ApiResult<ExecInspect>;

    // ---- images ----
    /// `GET /images/json`.
    async fn image_list(
        &self,
        ctx: &RequestContext,
        opts: ImageListOptions,
    ) -> ApiResult<Vec<ImageSummary>>;
    /// `POST /images/create`: pull (`from_image`) or import (`from_src`, body when "-").
    /// Errors before the first message are HTTP errors; later ones are a final
    /// [`JsonMessage::error`] line.
    async fn image_create(
        &self,
        ctx: &RequestContext,
        opts: ImageCreateOptions,
        body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>>;
    /// `GET /images/{name}/json`.
    async fn image_inspect(&self, ctx: &RequestContext, name: &str) -> ApiResult<ImageInspect>;
    /// `GET /images/{name}/history`.
    async fn image_history(&self, ctx: &RequestContext, name: &str) -> ApiResult<Vec<HistoryItem>>;
    /// `POST /images/{name}/push`.
    async fn image_push(
        &self,
        ctx: &RequestContext,
        name: &str,
        tag: Option<String>,
    ) -> ApiResult<JsonStream<JsonMessage>>;
    /// `POST /images/{name}/tag`.
    async fn image_tag(
        &self,
        ctx: &RequestContext,
        name: &str,
        repo: &str,
        tag: Option<String>,
    ) -> ApiResult<()>;
    /// `DELETE /images/{name}`.
    async fn image_delete(
        &self,
        ctx: &RequestContext,
        name: &str,
        opts: ImageDeleteOptions,
    ) -> ApiResult<Vec<ImageDeleteResponseItem>>;
    /// `GET /images/search`.
    async fn image_search(
        &self,
        ctx: &RequestContext,
        opts: ImageSearchOptions,
    ) -> ApiResult<Vec<ImageSearchResult>>;
    /// `POST /images/prune`.
    async fn image_prune(
        &self,
        ctx: &RequestContext,
        filters: Filters,
    ) -> ApiResult<ImagePruneResponse>;
    /// `POST /commit` (the body, when present, is a config overriding the container's).
    async fn image_commit(
        &self,
        ctx: &RequestContext,
        opts: CommitOptions,
        config: Option<ContainerConfig>,
    ) -> ApiResult<IdResponse>;
    /// `GET /images/get`, `GET /images/{name}/get`: a `docker save` tar.
    async fn image_save(&self, ctx: &RequestContext, names: Vec<String>) -> ApiResult<ByteStream>;
    /// `POST /images/load`: read a `docker save` tar from the body.
    async fn image_load(
        &self,
        ctx: &RequestContext,
        quiet: bool,
        body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>>;

    // ---- builds (issue 13) ----
    /// `POST /build`: the body is the context tar (unless `remote`). Errors known before
    /// any step (a Dockerfile that does not parse, a bad option) are HTTP errors; a failed
    /// step is a final [`JsonMessage`] with `errorDetail` (code = the step's exit code).
    async fn build(
        &self,
        _ctx: &RequestContext,
        _opts: BuildOptions,
        _body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        Err(ApiError::not_found("page not found"))
    }
    /// `POST /build/prune`.
    async fn build_prune(
        &self,
        _ctx: &RequestContext,
        _opts: BuildPruneOptions,
    ) -> ApiResult<BuildCachePruneResponse> {
        Err(ApiError::not_found("page not found"))
    }

    // ---- volumes (issue 5) ----
    /// `GET /volumes`.
    async fn volume_list(
        &self,
        _ctx: &RequestContext,
        _filters: Filters,
    ) -> ApiResult<VolumeListResponse> {
        Ok(VolumeListResponse::default())
    }
    /// `POST /volumes/create`.
    async fn volume_create(
        &self,
        _ctx: &RequestContext,
        _opts: VolumeCreateOptions,
    ) -> ApiResult<Volume> {
        Err(ApiError::not_implemented("volumes are not implemented yet"))
    }
    /// `GET /volumes/{name}`.
    async fn volume_inspect(&self, _ctx: &RequestContext, name: &str) -> ApiResult<Volume> {
        Err(ApiError::not_found(format!("get {name}: no such volume")))
    }
    /// `DELETE /volumes/{name}`.
    async fn volume_delete(
        &self,
        _ctx: &RequestContext,
        name: &str,
        _force: bool,
    ) -> ApiResult<()> {
        Err(ApiError::not_found(format!("get {name}: no such volume")))
    }
    /// `POST /volumes/prune`.
    async fn volume_prune(
        &self,
        _ctx: &RequestContext,
        _filters: Filters,
    ) -> ApiResult<VolumePruneResponse> {
        Ok(VolumePruneResponse::default())
    }

    // ---- networks (issue 5) ----
    /// `GET /networks`.
    async fn network_list(
        &self,
        _ctx: &RequestContext,
        _filters: Filters,
    ) -> ApiResult<Vec<Network>> {
        Ok(Vec::new())
    }
    /// `POST /networks/create`.
    async fn network_create(
        &self,
        _ctx: &RequestContext,
        _req: NetworkCreateRequest,
    ) -> ApiResult<NetworkCreateResponse> {
        Err(ApiError::not_implemented(
            "networks are not implemented yet",
        ))
    }
    /// `GET /networks/{id}`.
    async fn network_inspect(&self, _ctx: &RequestContext, id: &str) -> ApiResult<Network> {
        Err(ApiError::not_found(format!("network {id} not found")))
    }
    /// `DELETE /networks/{id}`.
    async fn network_delete(&self, _ctx: &RequestContext, id: &str) -> ApiResult<()> {
        Err(ApiError::not_found(format!("network {id} not found")))
    }
    /// `POST /networks/{id}/connect`.
    async fn network_connect(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _req: NetworkConnectRequest,
    ) -> ApiResult<()> {
        Err(ApiError::not_found(format!("network {id} not found")))
    }
    /// `POST /networks/{id}/disconnect`.
    async fn network_disconnect(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _req: NetworkDisconnectRequest,
    ) -> ApiResult<()> {
        Err(ApiError::not_found(format!("network {id} not found")))
    }
    /// `POST /networks/prune`.
    async fn network_prune(
        &self,
        _ctx: &RequestContext,
        _filters: Filters,
    ) -> ApiResult<NetworkPruneResponse> {
        Ok(NetworkPruneResponse::default())
    }
}
