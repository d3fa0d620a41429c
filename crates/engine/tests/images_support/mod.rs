//! A test-only `Engine` that serves the image endpoints from an [`ImageService`] (and
//! answers 501 for everything else), so the real docker CLI can drive the image side before
//! the daemon is wired. Generated from the trait's declarations in berth-api-server.
#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use berth_api_server::types::*;
use berth_api_server::*;
use berth_engine::images::ImageService;

/// The adapter.
pub struct ImagesOnly(pub Arc<ImageService>);

#[async_trait]
impl Engine for ImagesOnly {
    async fn version(&self, _ctx: &RequestContext) -> ApiResult<SystemVersion> {
        Ok(SystemVersion {
            version: "test".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            ..Default::default()
        })
    }

    async fn info(&self, _ctx: &RequestContext) -> ApiResult<SystemInfo> {
        Err(ApiError::not_implemented(
            "info: not in the image-service test engine",
        ))
    }

    async fn system_df(&self, _ctx: &RequestContext, _types: Vec<String>) -> ApiResult<SystemDf> {
        Err(ApiError::not_implemented(
            "system_df: not in the image-service test engine",
        ))
    }

    async fn events(
        &self,
        _ctx: &RequestContext,
        _opts: EventsOptions,
    ) -> ApiResult<JsonStream<EventMessage>> {
        Err(ApiError::not_implemented(
            "events: not in the image-service test engine",
        ))
    }

    async fn auth(&self, _ctx: &RequestContext, auth: AuthConfig) -> ApiResult<AuthResponse> {
        Ok(self.0.auth(auth).await?)
    }

    async fn container_list(
        &self,
        _ctx: &RequestContext,
        _opts: ContainerListOptions,
    ) -> ApiResult<Vec<ContainerSummary>> {
        Err(ApiError::not_implemented(
            "container_list: not in the image-service test engine",
        ))
    }

    async fn container_create(
        &self,
        _ctx: &RequestContext,
        _opts: ContainerCreateOptions,
        _body: ContainerCreateRequest,
    ) -> ApiResult<ContainerCreateResponse> {
        Err(ApiError::not_implemented(
            "container_create: not in the image-service test engine",
        ))
    }

    async fn container_inspect(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _size: bool,
    ) -> ApiResult<ContainerInspect> {
        Err(ApiError::not_implemented(
            "container_inspect: not in the image-service test engine",
        ))
    }

    async fn container_top(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _ps_args: Option<String>,
    ) -> ApiResult<ContainerTopResponse> {
        Err(ApiError::not_implemented(
            "container_top: not in the image-service test engine",
        ))
    }

    async fn container_logs(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _opts: LogsOptions,
    ) -> ApiResult<LogStream> {
        Err(ApiError::not_implemented(
            "container_logs: not in the image-service test engine",
        ))
    }

    async fn container_changes(
        &self,
        _ctx: &RequestContext,
        _id: &str,
    ) -> ApiResult<Vec<FilesystemChange>> {
        Err(ApiError::not_implemented(
            "container_changes: not in the image-service test engine",
        ))
    }

    async fn container_export(&self, _ctx: &RequestContext, _id: &str) -> ApiResult<ByteStream> {
        Err(ApiError::not_implemented(
            "container_export: not in the image-service test engine",
        ))
    }

    async fn container_resize(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _height: u16,
        _width: u16,
    ) -> ApiResult<()> {
        Err(ApiError::not_implemented(
            "container_resize: not in the image-service test engine",
        ))
    }

    async fn container_start(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _detach_keys: Option<String>,
    ) -> ApiResult<()> {
        Err(ApiError::not_implemented(
            "container_start: not in the image-service test engine",
        ))
    }

    async fn container_stop(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _opts: StopOptions,
    ) -> ApiResult<()> {
        Err(ApiError::not_implemented(
            "container_stop: not in the image-service test engine",
        ))
    }

    async fn container_restart(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _opts: StopOptions,
    ) -> ApiResult<()> {
        Err(ApiError::not_implemented(
            "container_restart: not in the image-service test engine",
        ))
    }

    async fn container_kill(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _signal: Option<String>,
    ) -> ApiResult<()> {
        Err(ApiError::not_implemented(
            "container_kill: not in the image-service test engine",
        ))
    }

    async fn container_update(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _update: UpdateConfig,
    ) -> ApiResult<UpdateResponse> {
        Err(ApiError::not_implemented(
            "container_update: not in the image-service test engine",
        ))
    }

    async fn container_rename(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _new_name: &str,
    ) -> ApiResult<()> {
        Err(ApiError::not_implemented(
            "container_rename: not in the image-service test engine",
        ))
    }

    async fn container_pause(&self, _ctx: &RequestContext, _id: &str) -> ApiResult<()> {
        Err(ApiError::not_implemented(
            "container_pause: not in the image-service test engine",
        ))
    }

    async fn container_unpause(&self, _ctx: &RequestContext, _id: &str) -> ApiResult<()> {
        Err(ApiError::not_implemented(
            "container_unpause: not in the image-service test engine",
        ))
    }

    async fn container_attach(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _opts: AttachOptions,
    ) -> ApiResult<Hijack> {
        Err(ApiError::not_implemented(
            "container_attach: not in the image-service test engine",
        ))
    }

    async fn container_wait(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _condition: WaitCondition,
    ) -> ApiResult<WaitFuture> {
        Err(ApiError::not_implemented(
            "container_wait: not in the image-service test engine",
        ))
    }

    async fn container_delete(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _opts: ContainerDeleteOptions,
    ) -> ApiResult<()> {
        Err(ApiError::not_implemented(
            "container_delete: not in the image-service test engine",
        ))
    }

    async fn container_archive_stat(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _path: &str,
    ) -> ApiResult<ContainerPathStat> {
        Err(ApiError::not_implemented(
            "container_archive_stat: not in the image-service test engine",
        ))
    }

    async fn container_archive_get(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _path: &str,
    ) -> ApiResult<(ContainerPathStat, ByteStream)> {
        Err(ApiError::not_implemented(
            "container_archive_get: not in the image-service test engine",
        ))
    }

    async fn container_archive_put(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _opts: ArchivePutOptions,
        _body: RequestBody,
    ) -> ApiResult<()> {
        Err(ApiError::not_implemented(
            "container_archive_put: not in the image-service test engine",
        ))
    }

    async fn container_prune(
        &self,
        _ctx: &RequestContext,
        _filters: Filters,
    ) -> ApiResult<ContainerPruneResponse> {
        Err(ApiError::not_implemented(
            "container_prune: not in the image-service test engine",
        ))
    }

    async fn exec_create(
        &self,
        _ctx: &RequestContext,
        _container: &str,
        _config: ExecConfig,
    ) -> ApiResult<IdResponse> {
        Err(ApiError::not_implemented(
            "exec_create: not in the image-service test engine",
        ))
    }

    async fn exec_start(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _config: ExecStartConfig,
    ) -> ApiResult<Option<Hijack>> {
        Err(ApiError::not_implemented(
            "exec_start: not in the image-service test engine",
        ))
    }

    async fn exec_resize(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _height: u16,
        _width: u16,
    ) -> ApiResult<()> {
        Err(ApiError::not_implemented(
            "exec_resize: not in the image-service test engine",
        ))
    }

    async fn exec_inspect(&self, _ctx: &RequestContext, _id: &str) -> ApiResult<ExecInspect> {
        Err(ApiError::not_implemented(
            "exec_inspect: not in the image-service test engine",
        ))
    }

    async fn image_list(
        &self,
        _ctx: &RequestContext,
        opts: ImageListOptions,
    ) -> ApiResult<Vec<ImageSummary>> {
        Ok(self.0.image_list(opts).await?)
    }

    async fn image_create(
        &self,
        ctx: &RequestContext,
        opts: ImageCreateOptions,
        body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        Ok(self
            .0
            .image_create(ctx.registry_auth.as_ref(), opts, Box::new(body))
            .await?)
    }

    async fn image_inspect(&self, _ctx: &RequestContext, name: &str) -> ApiResult<ImageInspect> {
        Ok(self.0.image_inspect(name).await?)
    }

    async fn image_history(
        &self,
        _ctx: &RequestContext,
        name: &str,
    ) -> ApiResult<Vec<HistoryItem>> {
        Ok(self.0.image_history(name).await?)
    }

    async fn image_push(
        &self,
        ctx: &RequestContext,
        name: &str,
        tag: Option<String>,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        Ok(self
            .0
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
        Ok(self.0.image_tag(name, repo, tag).await?)
    }

    async fn image_delete(
        &self,
        _ctx: &RequestContext,
        name: &str,
        opts: ImageDeleteOptions,
    ) -> ApiResult<Vec<ImageDeleteResponseItem>> {
        Ok(self.0.image_delete(name, opts).await?)
    }

    async fn image_search(
        &self,
        ctx: &RequestContext,
        opts: ImageSearchOptions,
    ) -> ApiResult<Vec<ImageSearchResult>> {
        Ok(self
            .0
            .image_search(ctx.registry_auth.as_ref(), opts)
            .await?)
    }

    async fn image_prune(
        &self,
        _ctx: &RequestContext,
        filters: Filters,
    ) -> ApiResult<ImagePruneResponse> {
        Ok(self.0.image_prune(filters).await?)
    }

    async fn image_commit(
        &self,
        _ctx: &RequestContext,
        _opts: CommitOptions,
        _config: Option<ContainerConfig>,
    ) -> ApiResult<IdResponse> {
        Err(ApiError::not_implemented(
            "image_commit: not in the image-service test engine",
        ))
    }

    async fn image_save(&self, _ctx: &RequestContext, names: Vec<String>) -> ApiResult<ByteStream> {
        Ok(self.0.image_save(names).await?)
    }

    async fn image_load(
        &self,
        _ctx: &RequestContext,
        quiet: bool,
        body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        Ok(self.0.image_load(quiet, Box::new(body)).await?)
    }
}
