//! `impl Engine for FakeEngine`: system, containers and exec here; images and build
//! delegate to `images.rs` and `build.rs`.

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::{answers, ArchivePut, FakeEngine};
use crate::build::{BuildOptions, BuildPruneOptions};
use crate::types::*;
use crate::*;

#[async_trait]
impl Engine for FakeEngine {
    async fn version(&self, ctx: &RequestContext) -> ApiResult<SystemVersion> {
        self.seen_versions.lock().unwrap().push(ctx.api_version);
        Ok(answers::system_version())
    }
    async fn info(&self, _ctx: &RequestContext) -> ApiResult<SystemInfo> {
        Ok(answers::info(self.containers.lock().unwrap().len()))
    }
    async fn system_df(&self, _ctx: &RequestContext, _types: Vec<String>) -> ApiResult<SystemDf> {
        Ok(SystemDf {
            images: vec![super::images::busybox()],
            ..Default::default()
        })
    }
    /// `create` then `start`, of the first `type` filter (default `container`).
    async fn events(
        &self,
        _ctx: &RequestContext,
        opts: EventsOptions,
    ) -> ApiResult<JsonStream<EventMessage>> {
        Ok(answers::events(opts))
    }
    async fn auth(&self, _ctx: &RequestContext, auth: AuthConfig) -> ApiResult<AuthResponse> {
        let ok = auth.password == "secret";
        *self.seen_auth.lock().unwrap() = Some(auth);
        if !ok {
            return Err(ApiError::unauthorized(
                "login attempt failed: bad credentials",
            ));
        }
        Ok(AuthResponse {
            status: "Login Succeeded".into(),
            ..Default::default()
        })
    }

    async fn container_list(
        &self,
        _ctx: &RequestContext,
        opts: ContainerListOptions,
    ) -> ApiResult<Vec<ContainerSummary>> {
        let list = self.containers.lock().unwrap();
        let names = opts.filters.get("name");
        Ok(list
            .iter()
            .filter(|c| opts.all || c.running)
            .filter(|c| names.iter().all(|n| c.name.contains(n.as_str())))
            .map(answers::summary)
            .collect())
    }
    async fn container_create(
        &self,
        _ctx: &RequestContext,
        opts: ContainerCreateOptions,
        body: ContainerCreateRequest,
    ) -> ApiResult<ContainerCreateResponse> {
        if body.config.image == "missing" || body.config.image == "missing:latest" {
            return Err(ApiError::no_such_image("missing:latest"));
        }
        *self.last_create.lock().unwrap() = Some(body.clone());
        let cmd = body.config.cmd.clone().map(|c| c.0).unwrap_or_default();
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let name = opts.name.unwrap_or_else(|| "fake_name".into());
        let id = self.add(&name, &body.config.image, &cmd, false);
        let auto_remove = body.host_config.as_ref().is_some_and(|h| h.auto_remove);
        self.update(&id, |c| {
            c.tty = body.config.tty;
            c.auto_remove = auto_remove;
        })?;
        Ok(ContainerCreateResponse {
            id,
            warnings: vec![],
        })
    }
    async fn container_inspect(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _size: bool,
    ) -> ApiResult<ContainerInspect> {
        self.update(id, |c| {
            let mut i = ContainerInspect {
                id: c.id.clone(),
                name: format!("/{}", c.name),
                image: super::images::busybox().id,
                ..Default::default()
            };
            i.state.status = if c.running { "running" } else { "exited" }.into();
            i.state.running = c.running;
            i.config.image = c.image.clone();
            i.config.tty = c.tty;
            i.config.cmd = Some(StrSlice(c.cmd.clone()));
            i
        })
    }
    async fn container_top(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _ps_args: Option<String>,
    ) -> ApiResult<ContainerTopResponse> {
        self.update(id, |_| ContainerTopResponse {
            titles: vec!["UID".into(), "PID".into(), "CMD".into()],
            processes: vec![vec!["root".into(), "4242".into(), "sleep 100".into()]],
        })
    }
    /// `out line` on stdout, then `err line` on stderr.
    async fn container_logs(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _opts: LogsOptions,
    ) -> ApiResult<LogStream> {
        let tty = self.update(id, |c| c.tty)?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let _ = tx
                .send(answers::chunk(StdStream::Stdout, b"out line\n"))
                .await;
            let _ = tx
                .send(answers::chunk(StdStream::Stderr, b"err line\n"))
                .await;
        });
        Ok(LogStream { tty, chunks: rx })
    }
    async fn container_changes(
        &self,
        _ctx: &RequestContext,
        id: &str,
    ) -> ApiResult<Vec<FilesystemChange>> {
        self.update(id, |_| {
            vec![
                FilesystemChange {
                    path: "/tmp".into(),
                    kind: 0,
                },
                FilesystemChange {
                    path: "/tmp/x".into(),
                    kind: 1,
                },
            ]
        })
    }
    async fn container_export(&self, _ctx: &RequestContext, id: &str) -> ApiResult<ByteStream> {
        self.update(id, |_| ())?;
        let (tx, rx) = mpsc::channel(1);
        let _ = tx.send(Ok(Bytes::from_static(b"TAR"))).await;
        Ok(rx)
    }
    async fn container_resize(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _h: u16,
        _w: u16,
    ) -> ApiResult<()> {
        self.update(id, |_| ())
    }
    /// The fake process exits at once (module doc); an auto-remove container goes away.
    async fn container_start(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _detach_keys: Option<String>,
    ) -> ApiResult<()> {
        let removed = self.update(id, |c| {
            if c.running {
                return Err(ApiError::not_modified());
            }
            let code = answers::start_outcome(&c.cmd)?;
            c.exited.send_replace(Some(code));
            Ok(c.auto_remove.then(|| c.id.clone()))
        })??;
        if let Some(id) = removed {
            self.containers.lock().unwrap().retain(|c| c.id != id);
        }
        Ok(())
    }
    async fn container_stop(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _opts: StopOptions,
    ) -> ApiResult<()> {
        self.update(id, |c| {
            if c.running {
                c.running = false;
                Ok(())
            } else {
                Err(ApiError::not_modified())
            }
        })?
    }
    async fn container_restart(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _opts: StopOptions,
    ) -> ApiResult<()> {
        self.update(id, |_| ())
    }
    async fn container_kill(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _signal: Option<String>,
    ) -> ApiResult<()> {
        self.update(id, |c| {
            if c.running {
                Ok(())
            } else {
                Err(ApiError::conflict(format!(
                    "cannot kill container: {}: container {} is not running",
                    c.name, c.id
                )))
            }
        })?
    }
    async fn container_update(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _update: UpdateConfig,
    ) -> ApiResult<UpdateResponse> {
        self.update(id, |_| UpdateResponse::default())
    }
    async fn container_rename(
        &self,
        _ctx: &RequestContext,
        id: &str,
        new_name: &str,
    ) -> ApiResult<()> {
        let new_name = new_name.to_string();
        self.update(id, move |c| c.name = new_name)
    }
    async fn container_pause(&self, _ctx: &RequestContext, id: &str) -> ApiResult<()> {
        self.update(id, |_| ())
    }
    async fn container_unpause(&self, _ctx: &RequestContext, id: &str) -> ApiResult<()> {
        self.update(id, |_| ())
    }
    async fn container_attach(
        &self,
        _ctx: &RequestContext,
        id: &str,
        opts: AttachOptions,
    ) -> ApiResult<Hijack> {
        let (tty, cmd, mut exited) =
            self.update(id, |c| (c.tty, c.cmd.clone(), c.exited.subscribe()))?;
        Ok(Hijack::new(tty, move |mut s: HijackedStreams| async move {
            let program = cmd.first().map(String::as_str);
            if program == Some("cat") && opts.stdin {
                let mut input = Vec::new();
                let _ = s.stdin.read_to_end(&mut input).await;
                let _ = s.output.write(StdStream::Stdout, &input).await;
            } else {
                let _ = exited.wait_for(|e| e.is_some()).await;
                if program == Some("echo") {
                    let line = format!("{}\n", cmd[1..].join(" "));
                    let _ = s.output.write(StdStream::Stdout, line.as_bytes()).await;
                    let _ = s.output.write(StdStream::Stderr, b"to stderr\n").await;
                }
            }
            let _ = s.output.shutdown().await;
        }))
    }
    async fn container_wait(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _condition: WaitCondition,
    ) -> ApiResult<WaitFuture> {
        let mut rx = self.update(id, |c| c.exited.subscribe())?;
        Ok(Box::pin(async move {
            let code = match rx.wait_for(|e| e.is_some()).await {
                Ok(v) => v.unwrap_or(0),
                Err(_) => 0,
            };
            ContainerWaitResponse {
                status_code: code,
                error: None,
            }
        }))
    }
    async fn container_delete(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _opts: ContainerDeleteOptions,
    ) -> ApiResult<()> {
        let mut list = self.containers.lock().unwrap();
        let before = list.len();
        list.retain(|c| !(c.id.starts_with(id) || c.name == id));
        if list.len() == before {
            return Err(ApiError::no_such_container(id));
        }
        Ok(())
    }
    async fn container_archive_stat(
        &self,
        _ctx: &RequestContext,
        id: &str,
        path: &str,
    ) -> ApiResult<ContainerPathStat> {
        let name = path.rsplit('/').next().unwrap_or("").to_string();
        self.update(id, |_| ContainerPathStat {
            name,
            size: 6,
            mode: 0o644,
            ..Default::default()
        })
    }
    /// A tar of one file named after the path, holding `hello\n`.
    async fn container_archive_get(
        &self,
        ctx: &RequestContext,
        id: &str,
        path: &str,
    ) -> ApiResult<(ContainerPathStat, ByteStream)> {
        let stat = self.container_archive_stat(ctx, id, path).await?;
        let tar = answers::hello_tar(&stat.name)?;
        let (tx, rx) = mpsc::channel(1);
        let _ = tx.send(Ok(tar)).await;
        Ok((stat, rx))
    }
    async fn container_archive_put(
        &self,
        _ctx: &RequestContext,
        id: &str,
        opts: ArchivePutOptions,
        body: RequestBody,
    ) -> ApiResult<()> {
        let data = answers::read_body(body).await?;
        self.update(id, |_| ())?;
        self.archive_puts.lock().unwrap().push(ArchivePut {
            container: id.to_string(),
            path: opts.path,
            data,
        });
        Ok(())
    }
    async fn container_prune(
        &self,
        _ctx: &RequestContext,
        _filters: Filters,
    ) -> ApiResult<ContainerPruneResponse> {
        Ok(ContainerPruneResponse::default())
    }
    async fn exec_create(
        &self,
        _ctx: &RequestContext,
        container: &str,
        config: ExecConfig,
    ) -> ApiResult<IdResponse> {
        self.update(container, |_| ())?;
        if config.cmd.as_ref().is_none_or(|c| c.0.is_empty()) {
            return Err(ApiError::invalid("No exec command specified"));
        }
        Ok(IdResponse { id: "e".repeat(64) })
    }
    async fn exec_start(
        &self,
        _ctx: &RequestContext,
        id: &str,
        config: ExecStartConfig,
    ) -> ApiResult<Option<Hijack>> {
        if !id.starts_with('e') {
            return Err(ApiError::no_such_exec(id));
        }
        if config.detach {
            return Ok(None);
        }
        Ok(Some(Hijack::new(
            config.tty,
            |mut s: HijackedStreams| async move {
                let _ = s.output.write(StdStream::Stdout, b"exec output\n").await;
            },
        )))
    }
    async fn exec_resize(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        _h: u16,
        _w: u16,
    ) -> ApiResult<()> {
        Ok(())
    }
    async fn exec_inspect(&self, _ctx: &RequestContext, id: &str) -> ApiResult<ExecInspect> {
        Ok(ExecInspect {
            id: id.into(),
            exit_code: Some(7),
            ..Default::default()
        })
    }
    async fn image_list(
        &self,
        _ctx: &RequestContext,
        _opts: ImageListOptions,
    ) -> ApiResult<Vec<ImageSummary>> {
        Ok(vec![super::images::busybox()])
    }
    async fn image_create(
        &self,
        ctx: &RequestContext,
        opts: ImageCreateOptions,
        _body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        *self.seen_auth.lock().unwrap() = ctx.registry_auth.clone();
        super::images::pull(opts.from_image.unwrap_or_default())
    }
    async fn image_inspect(&self, _ctx: &RequestContext, name: &str) -> ApiResult<ImageInspect> {
        super::images::inspect(name)
    }
    async fn image_history(
        &self,
        _ctx: &RequestContext,
        name: &str,
    ) -> ApiResult<Vec<HistoryItem>> {
        super::images::inspect(name)?;
        Ok(vec![HistoryItem {
            id: "<missing>".into(),
            created: 1_600_000_000,
            created_by: "CMD [\"sh\"]".into(),
            ..Default::default()
        }])
    }
    async fn image_push(
        &self,
        _ctx: &RequestContext,
        name: &str,
        _tag: Option<String>,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        Err(ApiError::no_such_image(name))
    }
    async fn image_tag(
        &self,
        _ctx: &RequestContext,
        name: &str,
        _repo: &str,
        _tag: Option<String>,
    ) -> ApiResult<()> {
        super::images::inspect(name).map(|_| ())
    }
    async fn image_delete(
        &self,
        _ctx: &RequestContext,
        name: &str,
        _opts: ImageDeleteOptions,
    ) -> ApiResult<Vec<ImageDeleteResponseItem>> {
        super::images::inspect(name)?;
        Ok(vec![ImageDeleteResponseItem {
            untagged: Some(name.into()),
            deleted: None,
        }])
    }
    async fn image_search(
        &self,
        _ctx: &RequestContext,
        opts: ImageSearchOptions,
    ) -> ApiResult<Vec<ImageSearchResult>> {
        Ok(vec![ImageSearchResult {
            name: opts.term,
            description: "fake".into(),
            star_count: 1,
            ..Default::default()
        }])
    }
    async fn image_prune(
        &self,
        _ctx: &RequestContext,
        _filters: Filters,
    ) -> ApiResult<ImagePruneResponse> {
        Ok(ImagePruneResponse::default())
    }
    async fn image_commit(
        &self,
        _ctx: &RequestContext,
        opts: CommitOptions,
        _config: Option<ContainerConfig>,
    ) -> ApiResult<IdResponse> {
        self.update(&opts.container, |_| IdResponse {
            id: format!("sha256:{}", "c".repeat(64)),
        })
    }
    async fn image_save(
        &self,
        _ctx: &RequestContext,
        _names: Vec<String>,
    ) -> ApiResult<ByteStream> {
        let (tx, rx) = mpsc::channel(1);
        let _ = tx.send(Ok(Bytes::from_static(b"SAVED"))).await;
        Ok(rx)
    }
    /// `Loaded <n> bytes`.
    async fn image_load(
        &self,
        _ctx: &RequestContext,
        _quiet: bool,
        body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        let data = answers::read_body(body).await?;
        let (tx, rx) = mpsc::channel(1);
        let _ = tx
            .send(JsonMessage {
                stream: Some(format!("Loaded {} bytes\n", data.len())),
                ..Default::default()
            })
            .await;
        Ok(rx)
    }
    async fn build(
        &self,
        _ctx: &RequestContext,
        opts: BuildOptions,
        body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        let data = answers::read_body(body).await?;
        let (names, messages) = super::build::run(&data, &opts)?;
        self.builds.lock().unwrap().push((opts, names));
        let (tx, rx) = mpsc::channel(messages.len() + 1);
        for m in messages {
            let _ = tx.send(m).await;
        }
        Ok(rx)
    }
    async fn build_prune(
        &self,
        _ctx: &RequestContext,
        opts: BuildPruneOptions,
    ) -> ApiResult<BuildCachePruneResponse> {
        Ok(BuildCachePruneResponse {
            caches_deleted: if opts.all {
                vec!["k1".into(), "k2".into()]
            } else {
                vec!["k1".into()]
            },
            space_reclaimed: if opts.all { 2048 } else { 1024 },
        })
    }
}
