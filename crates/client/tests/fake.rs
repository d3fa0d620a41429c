//! A small in-memory engine served by the real `berth_api_server::ApiServer` on a unix
//! socket in a temp dir, so the `berth` CLI (and the docker CLI, as the oracle) can be
//! driven against identical data.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use berth_api_server::types::*;
use berth_api_server::*;
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};

pub struct Ctr {
    pub id: String,
    pub name: String,
    pub image: String,
    pub cmd: Vec<String>,
    pub tty: bool,
    pub running: bool,
    pub auto_remove: bool,
    pub exited: watch::Sender<Option<i64>>,
}

#[derive(Default)]
pub struct Fake {
    pub ctrs: Mutex<Vec<Ctr>>,
    pub last_create: Mutex<Option<ContainerCreateRequest>>,
    pub seen_auth: Mutex<Option<AuthConfig>>,
    /// Every `POST /build`: its options and the context's entry names.
    pub builds: Mutex<Vec<(BuildOptions, Vec<String>)>>,
}

impl Fake {
    pub fn add(&self, name: &str, image: &str, cmd: &[&str], running: bool) -> String {
        let mut l = self.ctrs.lock().unwrap();
        let id = format!("{:x}", 0xabc + l.len()) + &"0123456789abcdef".repeat(4)[..61];
        l.push(Ctr {
            id: id.clone(),
            name: name.into(),
            image: image.into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            tty: false,
            running,
            auto_remove: false,
            exited: watch::channel(None).0,
        });
        id
    }
    fn find<R>(&self, key: &str, f: impl FnOnce(&mut Ctr) -> R) -> ApiResult<R> {
        let mut l = self.ctrs.lock().unwrap();
        let c = l
            .iter_mut()
            .find(|c| c.id.starts_with(key) || c.name == key.trim_start_matches('/'))
            .ok_or_else(|| ApiError::no_such_container(key))?;
        Ok(f(c))
    }
}

fn image() -> ImageSummary {
    ImageSummary {
        id: format!(
            "sha256:{}",
            "beae173ccac6ad749f76713cf4440fe3d21d1043fe616dfbe30775815d1d0f6a"
        ),
        repo_tags: vec!["busybox:latest".into(), "localhost:5000/busybox:1".into()],
        repo_digests: vec![
            "busybox@sha256:0123456789012345678901234567890123456789012345678901234567890123"
                .into(),
        ],
        created: 1_600_000_000,
        size: 4_261_550,
        containers: -1,
        shared_size: -1,
        ..Default::default()
    }
}

fn frame(s: StdStream, d: &'static [u8]) -> LogChunk {
    LogChunk {
        stream: s,
        data: Bytes::from_static(d),
    }
}

#[async_trait]
impl Engine for Fake {
    async fn version(&self, _ctx: &RequestContext) -> ApiResult<SystemVersion> {
        let details: std::collections::BTreeMap<String, String> = [
            ("ApiVersion", "1.47"),
            ("MinAPIVersion", "1.24"),
            ("GoVersion", "rust1.85"),
            ("GitCommit", "deadbee"),
            ("BuildTime", "2026-01-01T00:00:00Z"),
            ("Os", "linux"),
            ("Arch", "amd64"),
            ("Experimental", "false"),
            ("KernelVersion", "6.1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Ok(SystemVersion {
            platform: PlatformName {
                name: "berth".into(),
            },
            components: vec![
                ComponentVersion {
                    name: "Engine".into(),
                    version: "0.1.0".into(),
                    details: Some(details),
                },
                ComponentVersion {
                    name: "berth-runtime".into(),
                    version: "0.1.0".into(),
                    details: Some(
                        [("GitCommit".to_string(), "abc".to_string())]
                            .into_iter()
                            .collect(),
                    ),
                },
            ],
            version: "0.1.0".into(),
            api_version: "1.47".into(),
            min_api_version: "1.24".into(),
            git_commit: "deadbee".into(),
            go_version: "rust1.85".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            kernel_version: "6.1".into(),
            build_time: "2026-01-01T00:00:00Z".into(),
            ..Default::default()
        })
    }
    async fn info(&self, _ctx: &RequestContext) -> ApiResult<SystemInfo> {
        Ok(SystemInfo {
            id: "FAKE".into(),
            name: "fakehost".into(),
            server_version: "0.1.0".into(),
            ..Default::default()
        })
    }
    async fn system_df(&self, _ctx: &RequestContext, _t: Vec<String>) -> ApiResult<SystemDf> {
        Ok(SystemDf {
            images: vec![image()],
            ..Default::default()
        })
    }
    async fn events(
        &self,
        _ctx: &RequestContext,
        _o: EventsOptions,
    ) -> ApiResult<JsonStream<EventMessage>> {
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            let _ = tx
                .send(EventMessage {
                    kind: "container".into(),
                    action: "start".into(),
                    time: 1,
                    time_nano: 1_000_000_000,
                    ..Default::default()
                })
                .await;
        });
        Ok(rx)
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
        o: ContainerListOptions,
    ) -> ApiResult<Vec<ContainerSummary>> {
        let l = self.ctrs.lock().unwrap();
        Ok(l.iter()
            .filter(|c| o.all || c.running)
            .filter(|c| {
                o.filters
                    .get("name")
                    .iter()
                    .all(|n| c.name.contains(n.as_str()))
            })
            .map(|c| ContainerSummary {
                id: c.id.clone(),
                names: vec![format!("/{}", c.name)],
                image: c.image.clone(),
                command: c.cmd.join(" "),
                created: 1_600_000_000,
                state: if c.running { "running" } else { "exited" }.into(),
                status: if c.running {
                    "Up 5 minutes"
                } else {
                    "Exited (0) 2 hours ago"
                }
                .into(),
                ports: if c.running {
                    vec![Port {
                        ip: "0.0.0.0".into(),
                        private_port: 80,
                        public_port: 8080,
                        kind: "tcp".into(),
                    }]
                } else {
                    vec![]
                },
                ..Default::default()
            })
            .collect())
    }
    async fn container_create(
        &self,
        _ctx: &RequestContext,
        o: ContainerCreateOptions,
        body: ContainerCreateRequest,
    ) -> ApiResult<ContainerCreateResponse> {
        if body.config.image == "missing" || body.config.image == "missing:latest" {
            return Err(ApiError::no_such_image("missing:latest"));
        }
        *self.last_create.lock().unwrap() = Some(body.clone());
        let cmd = body.config.cmd.clone().map(|c| c.0).unwrap_or_default();
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let id = self.add(
            &o.name.unwrap_or_else(|| "fake_name".into()),
            &body.config.image,
            &cmd,
            false,
        );
        let auto_remove = body.host_config.as_ref().is_some_and(|h| h.auto_remove);
        self.find(&id, |c| {
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
        _s: bool,
    ) -> ApiResult<ContainerInspect> {
        self.find(id, |c| {
            let mut i = ContainerInspect {
                id: c.id.clone(),
                name: format!("/{}", c.name),
                image: image().id,
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
        _a: Option<String>,
    ) -> ApiResult<ContainerTopResponse> {
        self.find(id, |_| ContainerTopResponse {
            titles: vec!["UID".into(), "PID".into(), "CMD".into()],
            processes: vec![vec!["root".into(), "4242".into(), "sleep 100".into()]],
        })
    }
    async fn container_logs(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _o: LogsOptions,
    ) -> ApiResult<LogStream> {
        let tty = self.find(id, |c| c.tty)?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let _ = tx.send(frame(StdStream::Stdout, b"out line\n")).await;
            let _ = tx.send(frame(StdStream::Stderr, b"err line\n")).await;
        });
        Ok(LogStream { tty, chunks: rx })
    }
    async fn container_changes(
        &self,
        _ctx: &RequestContext,
        id: &str,
    ) -> ApiResult<Vec<FilesystemChange>> {
        self.find(id, |_| {
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
        self.find(id, |_| ())?;
        let (tx, rx) = mpsc::channel(1);
        tx.send(Ok(Bytes::from_static(b"TAR"))).await.unwrap();
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
        let removed = self.find(id, |c| {
            if c.running {
                return Err(ApiError::not_modified());
            }
            match c.cmd.first().map(String::as_str) {
                Some("nope") => {
                    return Err(ApiError::invalid(
                        "failed to create task for container: exec: \"nope\": executable file not found in $PATH",
                    ))
                }
                Some("noperm") => return Err(ApiError::invalid("exec /noperm: permission denied")),
                _ => {}
            }
            let code = if c.cmd.first().map(String::as_str) == Some("exit3") { 3 } else { 0 };
            c.exited.send_replace(Some(code));
            Ok(c.auto_remove.then(|| c.id.clone()))
        })??;
        if let Some(id) = removed {
            self.ctrs.lock().unwrap().retain(|c| c.id != id);
        }
        Ok(())
    }
    async fn container_stop(
        &self,
        _ctx: &RequestContext,
        id: &str,
        _o: StopOptions,
    ) -> ApiResult<()> {
        self.find(id, |c| c.running = false)
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
        _u: UpdateConfig,
    ) -> ApiResult<UpdateResponse> {
        self.find(id, |_| UpdateResponse::default())
    }
    async fn container_rename(&self, _ctx: &RequestContext, id: &str, n: &str) -> ApiResult<()> {
        let n = n.to_string();
        self.find(id, move |c| c.name = n)
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
        Ok(Hijack::new(tty, move |mut s: HijackedStreams| async move {
            if cmd.first().map(String::as_str) == Some("cat") && opts.stdin {
                let mut input = Vec::new();
                let _ = s.stdin.read_to_end(&mut input).await;
                let _ = s.output.write(StdStream::Stdout, &input).await;
            } else {
                let _ = exited.wait_for(|e| e.is_some()).await;
                if cmd.first().map(String::as_str) == Some("echo") {
                    let _ = s
                        .output
                        .write(
                            StdStream::Stdout,
                            format!("{}\n", cmd[1..].join(" ")).as_bytes(),
                        )
                        .await;
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
        _c: WaitCondition,
    ) -> ApiResult<WaitFuture> {
        let mut rx = self.find(id, |c| c.exited.subscribe())?;
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
        _o: ContainerDeleteOptions,
    ) -> ApiResult<()> {
        let mut l = self.ctrs.lock().unwrap();
        let n = l.len();
        l.retain(|c| !(c.id.starts_with(id) || c.name == id));
        if l.len() == n {
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
            size: 5,
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
        let st = self.container_archive_stat(ctx, id, path).await?;
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(6);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, &st.name, &b"hello\n"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let (tx, rx) = mpsc::channel(1);
        tx.send(Ok(Bytes::from(data))).await.unwrap();
        Ok((st, rx))
    }
    async fn container_archive_put(
        &self,
        _ctx: &RequestContext,
        id: &str,
        o: ArchivePutOptions,
        mut body: RequestBody,
    ) -> ApiResult<()> {
        let mut data = Vec::new();
        body.read_to_end(&mut data)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let names: Vec<String> = tar::Archive::new(&data[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        self.find(id, |c| c.cmd = vec![o.path.clone(), names.join(",")])
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
        c: &str,
        _cfg: ExecConfig,
    ) -> ApiResult<IdResponse> {
        self.find(c, |_| IdResponse { id: "e".repeat(64) })
    }
    async fn exec_start(
        &self,
        _ctx: &RequestContext,
        _id: &str,
        cfg: ExecStartConfig,
    ) -> ApiResult<Option<Hijack>> {
        if cfg.detach {
            return Ok(None);
        }
        Ok(Some(Hijack::new(
            cfg.tty,
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
        _o: ImageListOptions,
    ) -> ApiResult<Vec<ImageSummary>> {
        Ok(vec![image()])
    }
    async fn image_create(
        &self,
        ctx: &RequestContext,
        o: ImageCreateOptions,
        _b: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        *self.seen_auth.lock().unwrap() = ctx.registry_auth.clone();
        let from = o.from_image.unwrap_or_default();
        if from.ends_with("missing") {
            return Err(ApiError::not_found("pull access denied for missing, repository does not exist or may require 'docker login'"));
        }
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            let p = |id: &str, st: &str, cur: Option<i64>| JsonMessage {
                id: Some(id.into()),
                status: Some(st.into()),
                progress_detail: cur.map(|c| ProgressDetail {
                    current: Some(c),
                    total: Some(2000),
                }),
                progress: cur.map(|_| "[==>   ]".to_string()),
                ..Default::default()
            };
            for m in [
                JsonMessage::status("Pulling from library/busybox", Some("latest")),
                p("a1b2c3d4e5f6", "Pulling fs layer", None),
                p("a1b2c3d4e5f6", "Downloading", Some(1000)),
                p("a1b2c3d4e5f6", "Download complete", None),
                p("a1b2c3d4e5f6", "Pull complete", None),
                JsonMessage::status("Digest: sha256:0123", None),
                JsonMessage::status(
                    format!("Status: Downloaded newer image for {from}:latest"),
                    None,
                ),
            ] {
                let _ = tx.send(m).await;
            }
        });
        Ok(rx)
    }
    async fn image_inspect(&self, _ctx: &RequestContext, name: &str) -> ApiResult<ImageInspect> {
        if !name.starts_with("busybox") {
            return Err(ApiError::no_such_image(name));
        }
        Ok(ImageInspect {
            id: image().id,
            repo_tags: vec![name.into()],
            ..Default::default()
        })
    }
    async fn image_history(&self, ctx: &RequestContext, name: &str) -> ApiResult<Vec<HistoryItem>> {
        self.image_inspect(ctx, name).await?;
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
        _t: Option<String>,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        Err(ApiError::no_such_image(name))
    }
    async fn image_tag(
        &self,
        ctx: &RequestContext,
        name: &str,
        _r: &str,
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
    async fn image_save(&self, _ctx: &RequestContext, _n: Vec<String>) -> ApiResult<ByteStream> {
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

    async fn build(
        &self,
        _ctx: &RequestContext,
        opts: BuildOptions,
        mut body: RequestBody,
    ) -> ApiResult<JsonStream<JsonMessage>> {
        let mut data = Vec::new();
        body.read_to_end(&mut data)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut names = Vec::new();
        let mut dockerfile = String::new();
        let wanted = opts
            .dockerfile
            .clone()
            .unwrap_or_else(|| "Dockerfile".into());
        let mut ar = tar::Archive::new(&data[..]);
        for e in ar.entries().map_err(|e| ApiError::invalid(e.to_string()))? {
            let mut e = e.map_err(|e| ApiError::invalid(e.to_string()))?;
            let name = e.path().unwrap().display().to_string();
            if name == wanted {
                std::io::Read::read_to_string(&mut e, &mut dockerfile).unwrap();
            }
            names.push(name);
        }
        if dockerfile.contains("FORM") {
            return Err(ApiError::invalid(
                "dockerfile parse error on line 1: unknown instruction: FORM (did you mean FROM?)",
            ));
        }
        let messages = fake_build(&dockerfile, &opts);
        self.builds.lock().unwrap().push((opts, names));
        let (tx, rx) = mpsc::channel(messages.len() + 1);
        for m in messages {
            tx.send(m).await.unwrap();
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

/// A build as a tiny fake builder streams it: each Dockerfile line is a step; `RUN exit N`
/// fails with N after printing `boom`. Classic `stream` lines always, berth's events when
/// asked (`berthprogress=1`).
fn fake_build(dockerfile: &str, opts: &BuildOptions) -> Vec<JsonMessage> {
    let lines: Vec<&str> = dockerfile
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let total = lines.len();
    let mut out = Vec::new();
    let stream = |s: String| JsonMessage {
        stream: Some(s),
        ..Default::default()
    };
    let event = |v: serde_json::Value| JsonMessage {
        id: Some("berth.build.event".into()),
        aux: Some(v),
        ..Default::default()
    };
    let id = "sha256:5f0c2a7d1ce6c3d8b4e9a1f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f";
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if !opts.quiet {
            out.push(stream(format!("Step {n}/{total} : {line}\n")));
        }
        if opts.events {
            out.push(event(serde_json::json!({"type": "step", "stage": 0, "number": n, "total": total, "text": line, "label": format!("[{n}/{total}]")})));
        }
        if let Some(code) = line.strip_prefix("RUN exit ") {
            let code: i64 = code.trim().parse().unwrap();
            if opts.events {
                out.push(event(
                    serde_json::json!({"type": "output", "stage": 0, "data": "boom\n"}),
                ));
            }
            out.push(stream("boom\n".into()));
            let message =
                format!("The command '/bin/sh -c exit {code}' returned a non-zero code: {code}");
            out.push(JsonMessage {
                error_detail: Some(ErrorDetail {
                    code: Some(code),
                    message: message.clone(),
                }),
                error: Some(message),
                ..Default::default()
            });
            return out;
        }
        if opts.events {
            out.push(event(serde_json::json!({"type": "step_done", "stage": 0, "id": id, "millis": 12, "cached": n > 1})));
        }
        if !opts.quiet {
            out.push(stream(format!(" ---> {}\n", &id[7..19])));
        }
    }
    out.push(JsonMessage {
        aux: Some(serde_json::json!({"ID": id})),
        ..Default::default()
    });
    if opts.quiet {
        out.push(stream(format!("{id}\n")));
    } else {
        out.push(stream(format!("Successfully built {}\n", &id[7..19])));
        for t in &opts.tags {
            out.push(stream(format!("Successfully tagged {t}\n")));
        }
    }
    out
}

/// The server on a private socket; stops on drop.
pub struct Server {
    pub dir: berth_testkit::TempDir,
    pub socket: PathBuf,
    pub engine: Arc<Fake>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    pub async fn start(engine: Fake) -> Self {
        let dir = berth_testkit::TempDir::new("berth-cli-");
        let socket = dir.path().join("api.sock");
        let listener = bind_unix(&socket, 0o660).unwrap();
        let engine = Arc::new(engine);
        let server = ApiServer::new(engine.clone(), ServerConfig::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = server
                .serve_unix(listener, async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Server {
            dir,
            socket,
            engine,
            stop: Some(stop),
        }
    }
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Output of one CLI run.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `prog -H <server> args…` with a private config dir / HOME.
pub async fn cli(prog: PathBuf, server: &Server, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let host = server.host();
    let home = server.dir.path().join(format!(
        "home-{}",
        prog.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&home).unwrap();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let stdin = stdin.map(|s| s.to_vec());
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(prog)
            .arg("-H")
            .arg(&host)
            .args(&args)
            .env("HOME", &home)
            .env_remove("DOCKER_CONFIG")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env("DOCKER_CLI_HINTS", "false")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn cli");
        let mut sin = child.stdin.take().unwrap();
        if let Some(data) = stdin {
            sin.write_all(&data).unwrap();
        }
        drop(sin);
        let o = child.wait_with_output().unwrap();
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

pub async fn berth(server: &Server, args: &[&str]) -> Out {
    cli(berth_testkit::berth_bin(), server, args, None).await
}

pub async fn berth_in(server: &Server, args: &[&str], stdin: &[u8]) -> Out {
    cli(berth_testkit::berth_bin(), server, args, Some(stdin)).await
}

pub async fn docker(server: &Server, args: &[&str]) -> Out {
    cli(PathBuf::from("/usr/local/bin/docker"), server, args, None).await
}
