//! A fake engine and helpers shared by the api-server integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use berth_api_server::types::*;
use berth_api_server::*;
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};

/// One fake container.
pub struct FakeContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    pub cmd: Vec<String>,
    pub tty: bool,
    pub running: bool,
    pub exited: watch::Sender<Option<i64>>,
}

/// An in-memory engine good enough for the docker CLI's container/image/system commands.
#[derive(Default)]
pub struct FakeEngine {
    pub containers: Mutex<Vec<FakeContainer>>,
    pub seen_auth: Mutex<Option<AuthConfig>>,
    pub seen_versions: Mutex<Vec<ApiVersion>>,
    pub stdin_received: Mutex<HashMap<String, Vec<u8>>>,
}

impl FakeEngine {
    pub fn with_container(name: &str, image: &str, cmd: &[&str], tty: bool) -> Self {
        let e = FakeEngine::default();
        e.add(name, image, cmd, tty);
        e
    }

    pub fn add(&self, name: &str, image: &str, cmd: &[&str], tty: bool) -> String {
        let mut list = self.containers.lock().unwrap();
        let id = format!("{:x}{}", list.len() + 0xabc, "0".repeat(61));
        let id = id[..64].to_string();
        list.push(FakeContainer {
            id: id.clone(),
            name: name.to_string(),
            image: image.to_string(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            tty,
            running: false,
            exited: watch::channel(None).0,
        });
        id
    }

    fn find<R>(&self, key: &str, f: impl FnOnce(&mut FakeContainer) -> R) -> ApiResult<R> {
        let mut list = self.containers.lock().unwrap();
        let c = list
            .iter_mut()
            .find(|c| c.id.starts_with(key) || c.name == key.trim_start_matches('/'))
            .ok_or_else(|| ApiError::no_such_container(key))?;
        Ok(f(c))
    }

    fn note(&self, ctx: &RequestContext) {
        self.seen_versions.lock().unwrap().push(ctx.api_version);
    }
}

fn image_summary() -> ImageSummary {
    ImageSummary {
        id: format!("sha256:{}", "b".repeat(64)),
        repo_tags: vec!["busybox:latest".into()],
        created: 1_700_000_000,
        size: 4_261_550,
        containers: -1,
        shared_size: -1,
        ..Default::default()
    }
}

#[async_trait]
impl Engine for FakeEngine {
    async fn version(&self, ctx: &RequestContext) -> ApiResult<SystemVersion> {
        self.note(ctx);
        Ok(SystemVersion {
            platform: PlatformName {
                name: "berth fake engine".into(),
            },
            components: vec![ComponentVersion {
                name: "Engine".into(),
                version: "0.1.0-fake".into(),
                details: None,
            }],
            version: "0.1.0-fake".into(),
            git_commit: "deadbee".into(),
            go_version: "rust".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            kernel_version: "6.0".into(),
            build_time: "2026-01-01T00:00:00Z".into(),
            ..Default::default()
        })
    }
    async fn info(&self, _ctx: &RequestContext) -> ApiResult<SystemInfo> {
        Ok(SystemInfo {
            id: "FAKE".into(),
            containers: self.containers.lock().unwrap().len() as i64,
            images: 1,
            driver: "overlay2".into(),
            server_version: "0.1.0-fake".into(),
            os_type: "linux".into(),
            operating_system: "FakeOS".into(),
            architecture: "x86_64".into(),
            ncpu: 2,
            mem_total: 1 << 30,
            name: "fakehost".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: "2".into(),
            logging_driver: "json-file".into(),
            default_runtime: "berth".into(),
            swarm: SwarmInfo {
                local_node_state: "inactive".into(),
                ..Default::default()
            },
            ..Default::default()
        })
    }
    async fn system_df(&self, _ctx: &RequestContext, _types: Vec<String>) -> ApiResult<SystemDf> {
        Ok(SystemDf {
            images: vec![image_summary()],
            ..Default::default()
        })
    }
    async fn events(
        &self,
        _ctx: &RequestContext,
        opts: EventsOptions,
    ) -> ApiResult<JsonStream<EventMessage>> {
        let (tx, rx) = mpsc::channel(4);
        let kind = opts
            .filters
            .get("type")
            .first()
            .cloned()
            .unwrap_or("container".into());
        tokio::spawn(async move {
            for action in ["create", "start"] {
                let ev = EventMessage {
                    kind: kind.clone(),
                    action: action.into(),
                    scope: "local".into(),
                    time: 1,
                    time_nano: 1_000_000_000,
                    ..Default::default()
                };
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }
    async fn auth(&self, _ctx: &RequestContext, auth: AuthConfig) -> ApiResult<AuthResponse> {
        if auth.password != "secret" {
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
        Ok(list
            .iter()
            .filter(|c| opts.all || c.running)
            .map(|c| ContainerSummary {
                id: c.id.clone(),
                names: vec![format!("/{}", c.name)],
                image: c.image.clone(),
                command: c.cmd.join(" "),
                created: 1_700_000_000,
                state: if c.running {
                    "running".into()
                } else {
                    "exited".into()
                },
                status: if c.running {
                    "Up 5 minutes".into()
                } else {
                    "Exited (0) 2 hours ago".into()
                },
                ..Default::default()
            })
            .collect())
    }
    async fn container_create(
        &self,
        _ctx: &RequestContext,
        opts: ContainerCreateOptions,
        body: ContainerCreateRequest,
    ) -> ApiResult<ContainerCreateResponse> {
        if body.config.image == "missing" {
            return Err(ApiError::no_such_image("missing:latest"));
        }
        let cmd = body.config.cmd.map(|c| c.0).unwrap_or_default();
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let name = opts.name.unwrap_or_else(|| "fake_name".into());
        let id = self.add(&name, &body.config.image, &cmd, body.config.tty);
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
        self.find(id, |c| {
            let mut i = ContainerInspect {
                id: c.id.clone(),
                name: format!("/{}", c.name),
                image: format!("sha256:{}", "b".repeat(64)),
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
        self.find(id, |_| ContainerTopResponse {
            titles: vec!["PID".into(), "CMD".into()],
            processes: vec![vec!["1".into(), "sleep 100".into()]],
        })
    }
    async fn container_logs(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _opts: LogsOptions,
    ) -> ApiResult<LogStream> {
        let tty = self.find(id, |c| c.tty)?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let _ = tx
                .send(LogChunk {
                    stream: StdStream::Stdout,
                    data: Bytes::from_static(b"out line\n"),
                })
                .await;
            let _ = tx
                .send(LogChunk {
                    stream: StdStream::Stderr,
                    data: Bytes::from_static(b"err line\n"),
                })
                .await;
        });
        Ok(LogStream { tty, chunks: rx })
    }
    async fn container_changes(
        &self,
        _ctx: &RequestContext,
        id: &str,
    ) -> ApiResult<Vec<FilesystemChange>> {
        self.find(id, |_| {
            vec![FilesystemChange {
                path: "/tmp".into(),
                kind: 0,
            }]
        })
    }
    async fn container_export(&self, _ctx: &RequestContext, id: &str) -> ApiResult<ByteStream> {
        self.find(id, |_| ())?;
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            let _ = tx.send(Ok(Bytes::from_static(b"TARDATA"))).await;
        });
        Ok(rx)
    }
    async fn container_resize(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _h: u16,
        _w: u16,
    ) -> ApiResult<()> {
        self.find(id, |_| ())
    }
    async fn container_start(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _k: Option<String>,
    ) -> ApiResult<()> {
        self.find(id, |c| {
            if c.running {
                return Err(ApiError::not_modified());
            }
            // The fake "process" exits at once with status 0 (3 for a `false` command).
            let code = if c.cmd.first().map(String::as_str) == Some("false") {
                1
            } else {
                0
            };
            c.exited.send_replace(Some(code));
            Ok(())
        })?
    }
    async fn container_stop(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _o: StopOptions,
    ) -> ApiResult<()> {
        self.find(id, |c| {
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
        _o: StopOptions,
    ) -> ApiResult<()> {
        self.find(id, |_| ())
    }
    async fn container_kill(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _s: Option<String>,
    ) -> ApiResult<()> {
        self.find(id, |c| {
            if c.running {
                Ok(())
            } else {
                Err(ApiError::conflict(format!(
                    "Container {} is not running",
                    c.id
                )))
            }
        })?
    }
    async fn container_update(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _u: UpdateConfig,
    ) -> ApiResult<UpdateResponse> {
        self.find(id, |_| UpdateResponse::default())
    }
    async fn container_rename(
        &self,
        _ctx: &RequestContext,
        id: &str,
        new_name: &str,
    ) -> ApiResult<()> {
        let new_name = new_name.to_string();
        self.find(id, move |c| c.name = new_name)
    }
    async fn container_pause(&self, _ctx: &RequestContext, id: &str) -> ApiResult<()> {
        self.find(id, |_| ())
    }
    async fn container_unpause(&self, _ctx: &RequestContext, id: &str) -> ApiResult<()> {
        self.find(id, |_| ())
    }
    async fn container_attach(
        &self,
        _ctx: &RequestContext,
        id: &str,
        opts: AttachOptions,
    ) -> ApiResult<Hijack> {
        let (tty, cmd, mut exited) =
            self.find(id, |c| (c.tty, c.cmd.clone(), c.exited.subscribe()))?;
        let id = id.to_string();
        let store: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
        let _ = (&store, &id);
        Ok(Hijack::new(tty, move |mut s: HijackedStreams| async move {
            // "cat" echoes stdin back; anything else prints its arguments after start.
            if cmd.first().map(String::as_str) == Some("cat") && opts.stdin {
                let mut input = Vec::new();
                let _ = s.stdin.read_to_end(&mut input).await;
                let _ = s.output.write(StdStream::Stdout, &input).await;
            } else {
                let _ = exited.wait_for(|e| e.is_some()).await;
                let line = format!("{}\n", cmd[1..].join(" "));
                let _ = s.output.write(StdStream::Stdout, line.as_bytes()).await;
                let _ = s.output.write(StdStream::Stderr, b"to stderr\n").await;
            }
            let _ = s.output.shutdown().await;
        }))
    }
    async fn container_wait(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _c: WaitCondition,
    ) -> ApiResult<WaitFuture> {
        let mut rx = self.find(id, |c| c.exited.subscribe())?;
        Ok(Box::pin(async move {
            let code = match rx.wait_for(|e| e.is_some()).await {
                Ok(v) => v.unwrap_or(0),
                Err(_) => -1,
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
        _o: ContainerDeleteOptions,
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
        self.find(id, |_| ContainerPathStat {
            name,
            size: 7,
            mode: 0o644,
            ..Default::default()
        })
    }
    async fn container_archive_get(
        &self,
        ctx: &RequestContext,
        id: &str,
        path: &str,
    ) -> ApiResult<(ContainerPathStat, ByteStream)> {
        let stat = self.container_archive_stat(ctx, id, path).await?;
        let (tx, rx) = mpsc::channel(1);
        tx.send(Ok(Bytes::from_static(b"TAR"))).await.unwrap();
        Ok((stat, rx))
    }
    async fn container_archive_put(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _o: ArchivePutOptions,
        mut body: RequestBody,
    ) -> ApiResult<()> {
        let mut data = Vec::new();
        body.read_to_end(&mut data)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        self.stdin_received
            .lock()
            .unwrap()
            .insert(id.to_string(), data);
        Ok(())
    }
    async fn container_prune(
        &self,
        _ctx: &RequestContext,
        _f: Filters,
    ) -> ApiResult<ContainerPruneResponse> {
        Ok(ContainerPruneResponse::default())
    }
    async fn exec_create(
        &self,
        _ctx: &RequestContext,
        container: &str,
        config: ExecConfig,
    ) -> ApiResult<IdResponse> {
        self.find(container, |_| ())?;
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
            id: id.to_string(),
            exit_code: Some(0),
            ..Default::default()
        })
    }
    async fn image_list(
        &self,
        _ctx: &RequestContext,
        _o: ImageListOptions,
    ) -> ApiResult<Vec<ImageSummary>> {
        Ok(vec![image_summary()])
    }
    async fn image_create(
        &self,
        ctx: &RequestContext,
        opts: ImageCreateOptions,
        _body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        *self.seen_auth.lock().unwrap() = ctx.registry_auth.clone();
        let from = opts.from_image.unwrap_or_default();
        if from == "nope" {
            return Err(ApiError::not_found(
                "pull access denied for nope, repository does not exist",
            ));
        }
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            let _ = tx
                .send(JsonMessage::status(
                    format!("Pulling from library/{from}"),
                    Some("latest"),
                ))
                .await;
            let _ = tx
                .send(JsonMessage::status("Pull complete", Some("abcdef012345")))
                .await;
            let _ = tx
                .send(JsonMessage::status(
                    format!("Status: Downloaded newer image for {from}:latest"),
                    None,
                ))
                .await;
        });
        Ok(rx)
    }
    async fn image_inspect(&self, _ctx: &RequestContext, name: &str) -> ApiResult<ImageInspect> {
        if name != "busybox" && name != "busybox:latest" && name != "localhost:5000/lib/busybox:1" {
            return Err(ApiError::no_such_image(name));
        }
        Ok(ImageInspect {
            id: format!("sha256:{}", "b".repeat(64)),
            repo_tags: vec![name.to_string()],
            ..Default::default()
        })
    }
    async fn image_history(
        &self,
        _ctx: &RequestContext,
        name: &str,
    ) -> ApiResult<Vec<HistoryItem>> {
        self.image_inspect(_ctx, name).await?;
        Ok(vec![HistoryItem {
            id: "<missing>".into(),
            created_by: "CMD [\"sh\"]".into(),
            ..Default::default()
        }])
    }
    async fn image_push(
        &self,
        _ctx: &RequestContext,
        name: &str,
        _t: Option<String>,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        Err(ApiError::no_such_image(name))
    }
    async fn image_tag(
        &self,
        ctx: &RequestContext,
        name: &str,
        _repo: &str,
        _t: Option<String>,
    ) -> ApiResult<()> {
        self.image_inspect(ctx, name).await.map(|_| ())
    }
    async fn image_delete(
        &self,
        ctx: &RequestContext,
        name: &str,
        _o: ImageDeleteOptions,
    ) -> ApiResult<Vec<ImageDeleteResponseItem>> {
        self.image_inspect(ctx, name).await?;
        Ok(vec![ImageDeleteResponseItem {
            untagged: Some(name.into()),
            deleted: None,
        }])
    }
    async fn image_search(
        &self,
        _ctx: &RequestContext,
        o: ImageSearchOptions,
    ) -> ApiResult<Vec<ImageSearchResult>> {
        Ok(vec![ImageSearchResult {
            name: o.term,
            description: "fake".into(),
            star_count: 1,
            ..Default::default()
        }])
    }
    async fn image_prune(
        &self,
        _ctx: &RequestContext,
        _f: Filters,
    ) -> ApiResult<ImagePruneResponse> {
        Ok(ImagePruneResponse::default())
    }
    async fn image_commit(
        &self,
        _ctx: &RequestContext,
        o: CommitOptions,
        _c: Option<ContainerConfig>,
    ) -> ApiResult<IdResponse> {
        self.find(&o.container, |_| IdResponse {
            id: format!("sha256:{}", "c".repeat(64)),
        })
    }
    async fn image_save(
        &self,
        _ctx: &RequestContext,
        _names: Vec<String>,
    ) -> ApiResult<ByteStream> {
        let (tx, rx) = mpsc::channel(1);
        tx.send(Ok(Bytes::from_static(b"SAVED"))).await.unwrap();
        Ok(rx)
    }
    async fn image_load(
        &self,
        _ctx: &RequestContext,
        _q: bool,
        mut body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        let mut data = Vec::new();
        body.read_to_end(&mut data)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let (tx, rx) = mpsc::channel(1);
        tx.send(JsonMessage {
            stream: Some(format!("Loaded {} bytes\n", data.len())),
            ..Default::default()
        })
        .await
        .unwrap();
        Ok(rx)
    }
}

/// A running server on a unix socket in a temp dir; stops when dropped.
pub struct TestServer {
    pub dir: berth_testkit::TempDir,
    pub socket: PathBuf,
    pub engine: Arc<FakeEngine>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start(engine: FakeEngine) -> Self {
        let dir = berth_testkit::TempDir::new("berth-api-");
        let socket = dir.path().join("api.sock");
        let listener = bind_unix(&socket, 0o660).unwrap();
        let engine = Arc::new(engine);
        let server = ApiServer::new(engine.clone(), ServerConfig::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            server
                .serve_unix(listener, async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        TestServer {
            dir,
            socket,
            engine,
            stop: Some(stop),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
