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

use crate::body::RequestBody;
use crate::build::{BuildOptions, BuildPruneOptions};
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

/// `condition` of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitCondition {
    /// "not-running" (default): returns at once when not running.
    #[default]
    NotRunning,
    /// "next-exit": the next exit, even when not running now.
    NextExit,
    /// "removed": when the container is removed.
    Removed,
}

/// Query of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerListOptions {
    /// Include stopped containers.
    pub all: bool,
    /// Only the N most recent (implies all).
    pub limit: Option<i64>,
    /// Compute SizeRw/SizeRootFs.
    pub size: bool,
    /// Filters (status, name, id, label, ancestor, exited, before, since, ...).
    pub filters: Filters,
}

/// Query of `POST /containers/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerCreateOptions {
    /// Requested name (without checking; the engine validates `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
    pub name: Option<String>,
    /// Platform ("linux/amd64").
    pub platform: Option<String>,
}

/// Query of `GET /containers/{id}/logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsOptions {
    /// Keep streaming new output.
    pub follow: bool,
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Only since this time (unix seconds with fraction, or RFC 3339, as sent).
    pub since: Option<String>,
    /// Only until this time.
    pub until: Option<String>,
    /// Prefix each line with its RFC 3339 nano timestamp.
    pub timestamps: bool,
    /// "all" or a number of lines from the end.
    pub tail: Option<String>,
}

/// Query of stop and restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopOptions {
    /// Signal instead of the container's stop signal.
    pub signal: Option<String>,
    /// Seconds before SIGKILL (None = the container's StopTimeout or 10; -1 = forever).
    pub timeout: Option<i64>,
}

/// Query of `POST /containers/{id}/attach`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachOptions {
    /// Stream live output (else only replay logs).
    pub stream: bool,
    /// Replay the log first.
    pub logs: bool,
    /// Attach stdin.
    pub stdin: bool,
    /// Attach stdout.
    pub stdout: bool,
    /// Attach stderr.
    pub stderr: bool,
    /// Detach key sequence override ("ctrl-p,ctrl-q").
    pub detach_keys: Option<String>,
}

/// Options of `GET /containers/{id}/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsOptions {
    /// Keep sending a sample every second (default true).
    pub stream: bool,
    /// With `stream=false`: answer at once, without waiting for a second sample to fill
    /// `precpu_stats`.
    pub one_shot: bool,
}

/// Query of `DELETE /containers/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerDeleteOptions {
    /// Kill a running container first.
    pub force: bool,
    /// Remove anonymous volumes.
    pub volumes: bool,
    /// Remove a legacy link instead.
    pub link: bool,
}

/// Query of `PUT /containers/{id}/archive`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchivePutOptions {
    /// Directory in the container to extract into.
    pub path: String,
    /// Refuse to replace a directory with a non-directory and vice versa.
    pub no_overwrite_dir_non_dir: bool,
    /// Keep the archive's uid/gid.
    pub copy_uid_gid: bool,
}

/// Query of `GET /images/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageListOptions {
    /// Include intermediate images.
    pub all: bool,
    /// Filters (dangling, label, before, since, reference, until).
    pub filters: Filters,
    /// Compute SharedSize.
    pub shared_size: bool,
    /// Include digests.
    pub digests: bool,
}

/// Query of `POST /images/create` (pull when `from_image`, import when `from_src`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageCreateOptions {
    /// Image to pull.
    pub from_image: Option<String>,
    /// Source to import ("-" = the request body, or a URL).
    pub from_src: Option<String>,
    /// Repository for an import.
    pub repo: Option<String>,
    /// Tag or digest.
    pub tag: Option<String>,
    /// Commit message of an import.
    pub message: Option<String>,
    /// Dockerfile instructions applied to an import.
    pub changes: Vec<String>,
    /// Platform.
    pub platform: Option<String>,
}

/// Query of `DELETE /images/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageDeleteOptions {
    /// Remove even if used by stopped containers / has several tags.
    pub force: bool,
    /// Keep untagged parents.
    pub noprune: bool,
}

/// Query of `GET /images/search`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSearchOptions {
    /// Search term.
    pub term: String,
    /// Max results.
    pub limit: Option<i64>,
    /// Filters (is-official, stars).
    pub filters: Filters,
}

/// Query of `POST /commit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOptions {
    /// Container id or name.
    pub container: String,
    /// Repository.
    pub repo: Option<String>,
    /// Tag.
    pub tag: Option<String>,
    /// Message.
    pub comment: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// Pause during the commit (default true).
    pub pause: bool,
    /// Dockerfile instructions to apply.
    pub changes: Vec<String>,
}

/// Query of `GET /events`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsOptions {
    /// Replay from this time (unix seconds, as sent).
    pub since: Option<String>,
    /// Stop at this time.
    pub until: Option<String>,
    /// Filters (type, event, container, image, label, ...).
    pub filters: Filters,
}

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
