//! `POST /build`: the context (the body, or `remote`), the request, the builder run, and the
//! classic JSON stream (`stream` lines, `aux` with the image id, `errorDetail` at the end
//! of a failed build). Also the cleanup of what builds leave when the daemon dies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::stream::{BodyReader, JsonStream};
use berth_api_types::query::{BuildOptions, BUILD_EVENT_ID};
use berth_api_types::{ErrorDetail, JsonMessage};
use berth_build::classic::ClassicStream;
use berth_build::{BuildError, BuildRequest, Context, Event, Prepared};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::backend::EngineBackend;
use super::root::is_mountpoint;
use super::{BuildEnv, BuildService};
use crate::error::{EngineError, Result};

/// Contexts up to this size are read into memory before they are spooled.
const SMALL_CONTEXT: usize = 8 << 20;

/// A build's temporary directory, removed when dropped.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn engine_error(e: BuildError) -> EngineError {
    match e {
        BuildError::Parse(_)
        | BuildError::Invalid(_)
        | BuildError::Expand(_)
        | BuildError::Context(_)
        | BuildError::Source(_) => EngineError::invalid(e.to_string()),
        e => EngineError::internal(e.to_string()),
    }
}

fn text(s: impl Into<String>) -> JsonMessage {
    JsonMessage {
        stream: Some(s.into()),
        ..Default::default()
    }
}

/// `name[:tag]` as `docker build` prints it after `Successfully tagged`.
fn shown_tag(t: &str) -> String {
    match berth_registry::Reference::parse(t) {
        Ok(r) => format!(
            "{}:{}",
            crate::images::familiar(&r.name()),
            r.tag().unwrap_or("latest")
        ),
        Err(_) => t.to_string(),
    }
}

impl BuildService {
    /// Spools and indexes the context, parses the Dockerfile (errors here are HTTP errors),
    /// then runs the build in a task that streams its messages.
    pub async fn build(
        &self,
        opts: BuildOptions,
        body: BodyReader,
    ) -> Result<JsonStream<JsonMessage>> {
        for t in &opts.tags {
            crate::images::parse_reference(t)?;
        }
        let work = WorkDir(self.env.work_dir.join(super::random_hex()));
        std::fs::create_dir_all(&work.0).map_err(|e| EngineError::internal(e.to_string()))?;
        let (context, dockerfile_text) = self.context(&opts, body, &work.0).await?;
        let request = BuildRequest {
            dockerfile: opts.dockerfile.clone(),
            dockerfile_text,
            tags: opts.tags.clone(),
            build_args: opts.build_args.clone(),
            labels: opts.labels.clone(),
            target: opts.target.clone().filter(|t| !t.is_empty()),
            no_cache: opts.no_cache,
            pull: opts.pull,
            network: opts.network_mode.clone().filter(|n| !n.is_empty()),
            extra_hosts: opts.extra_hosts.clone(),
            shm_size: opts.shm_size.and_then(|s| u64::try_from(s).ok()),
            memory: opts.memory.filter(|m| *m > 0),
            cpuset_cpus: opts.cpuset_cpus.clone().filter(|c| !c.is_empty()),
            platform: opts.platform.clone().filter(|p| !p.is_empty()),
            registry_config: opts.registry_config.clone(),
            secrets: opts.secrets.clone(),
            ssh: opts
                .ssh
                .iter()
                .map(|(k, v)| (k.clone(), PathBuf::from(v)))
                .collect(),
            cache_from: opts.cache_from.clone(),
        };
        let prepared = tokio::task::spawn_blocking(move || berth_build::prepare(context, request))
            .await
            .map_err(|e| EngineError::internal(e.to_string()))?
            .map_err(engine_error)?;
        let stages = berth_build::reporting_stages(&prepared).map_err(engine_error)?;
        let (tx, rx) = mpsc::channel(256);
        let backend = Arc::new(EngineBackend {
            env: self.env.clone(),
        });
        let cache = self.cache.clone();
        tokio::spawn(run(backend, cache, prepared, stages, opts, work, tx));
        Ok(rx)
    }

    /// The context: the body (a tar, maybe compressed), or `remote` (a git repository or a
    /// tarball URL; a URL whose content is not an archive is the Dockerfile itself).
    async fn context(
        &self,
        opts: &BuildOptions,
        mut body: BodyReader,
        work: &Path,
    ) -> Result<(Context, Option<String>)> {
        let spool = work.join("context.tar");
        let invalid = |e: BuildError| engine_error(e);
        if let Some(remote) = opts.remote.as_deref().filter(|r| !r.is_empty()) {
            if let Some(git) = berth_build::git::parse(remote) {
                let co = berth_build::git::checkout(&git, work.join("git"), false, None)
                    .await
                    .map_err(invalid)?;
                return Ok((co.context, None));
            }
            if remote.starts_with("http://") || remote.starts_with("https://") {
                let raw = work.join("remote");
                berth_build::remote::download(remote, &raw, None)
                    .await
                    .map_err(invalid)?;
                let raw2 = raw.clone();
                let spool2 = spool.clone();
                let ctx = tokio::task::spawn_blocking(move || {
                    let f = std::fs::File::open(&raw2).map_err(|e| e.to_string())?;
                    Context::from_tar(f, &spool2).map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| EngineError::internal(e.to_string()))?;
                return match ctx {
                    Ok(c) => Ok((c, None)),
                    Err(_) => {
                        let text = std::fs::read_to_string(&raw).map_err(|e| {
                            EngineError::invalid(format!("remote context {remote}: {e}"))
                        })?;
                        let _ = std::fs::remove_file(&spool);
                        let empty = Context::empty(&spool).map_err(invalid)?;
                        Ok((empty, Some(text)))
                    }
                };
            }
            return Err(EngineError::invalid(format!(
                "unable to prepare context: unsupported remote context {remote:?}"
            )));
        }
        let raw = work.join("context.raw");
        // A small context (the usual case) is read whole and written with one call; a
        // large one goes to the file as it comes.
        let mut head = Vec::new();
        let complete = (&mut body)
            .take(SMALL_CONTEXT as u64)
            .read_to_end(&mut head)
            .await
            .map_err(|e| EngineError::invalid(format!("read the build context: {e}")))?
            < SMALL_CONTEXT;
        if !complete {
            let mut f = tokio::fs::File::create(&raw)
                .await
                .map_err(|e| EngineError::internal(e.to_string()))?;
            f.write_all(&head)
                .await
                .map_err(|e| EngineError::internal(e.to_string()))?;
            head = Vec::new();
            let mut body = tokio::io::BufReader::with_capacity(1 << 20, body);
            tokio::io::copy_buf(&mut body, &mut f)
                .await
                .map_err(|e| EngineError::invalid(format!("read the build context: {e}")))?;
            f.flush()
                .await
                .map_err(|e| EngineError::internal(e.to_string()))?;
        }
        let ctx = tokio::task::spawn_blocking(move || {
            let io = |e| BuildError::Io {
                context: "spool the context".into(),
                source: e,
            };
            if complete {
                if head.is_empty() {
                    return Context::empty(&spool);
                }
                std::fs::write(&raw, &head).map_err(io)?;
            } else if std::fs::metadata(&raw).map_err(io)?.len() == 0 {
                return Context::empty(&spool);
            }
            // A plain tar is indexed where it lies; the name can go, the open file stays.
            let ctx = Context::from_file(&raw, &spool);
            let _ = std::fs::remove_file(&raw);
            ctx
        })
        .await
        .map_err(|e| EngineError::internal(e.to_string()))?
        .map_err(invalid)?;
        Ok((ctx, None))
    }
}

/// Runs the build and streams it; the work dir goes when it ends.
async fn run(
    backend: Arc<EngineBackend>,
    cache: Arc<berth_build::Cache>,
    prepared: Prepared,
    stages: Vec<usize>,
    opts: BuildOptions,
    work: WorkDir,
    out: mpsc::Sender<JsonMessage>,
) {
    // The builder reports synchronously; an unbounded queue decouples it from the client.
    let (tx, mut rx) = mpsc::unbounded_channel::<JsonMessage>();
    let forward = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if out.send(m).await.is_err() {
                return false;
            }
        }
        true
    });
    let classic_tx = tx.clone();
    let classic = Arc::new(ClassicStream::new(stages, opts.quiet, move |s: String| {
        let _ = classic_tx.send(text(s));
    }));
    let events = opts.events;
    let event_tx = tx.clone();
    let progress: Arc<dyn berth_build::Progress> = Arc::new(move |e: Event| {
        if events {
            if let Ok(v) = serde_json::to_value(&e) {
                let _ = event_tx.send(JsonMessage {
                    id: Some(BUILD_EVENT_ID.into()),
                    aux: Some(v),
                    ..Default::default()
                });
            }
        }
        classic.event(e);
    });
    let build_dir = work.0.join("steps");
    let result = berth_build::build(backend, cache, prepared, build_dir, progress).await;
    match result {
        Ok(r) => {
            let _ = tx.send(JsonMessage {
                aux: Some(serde_json::json!({ "ID": r.image_id })),
                ..Default::default()
            });
            if opts.quiet {
                let _ = tx.send(text(format!("{}\n", r.image_id)));
            } else {
                let short = berth_build::progress::short_id(&r.image_id).to_string();
                let _ = tx.send(text(format!("Successfully built {short}\n")));
                for t in &r.tags {
                    let _ = tx.send(text(format!("Successfully tagged {}\n", shown_tag(t))));
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            let _ = tx.send(JsonMessage {
                error_detail: Some(ErrorDetail {
                    code: Some(e.code()),
                    message: message.clone(),
                }),
                error: Some(message),
                ..Default::default()
            });
        }
    }
    drop(tx);
    let _ = forward.await;
    drop(work);
}

/// Unmounts and removes what builds in flight left under `<exec-root>/build` (a daemon
/// that died mid-build), with their snapshots, and the temporary work dirs.
pub(super) fn clear_leftovers(env: &BuildEnv) {
    let snapshots = &env.images.images().snapshots;
    if let Ok(dir) = std::fs::read_dir(&env.build_dir) {
        for entry in dir.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            for sub in ["rootfs", ""] {
                let p = if sub.is_empty() {
                    path.clone()
                } else {
                    path.join(sub)
                };
                while is_mountpoint(&p) {
                    if berth_snapshot::unmount(&p).is_err() {
                        break;
                    }
                }
            }
            if let Ok(inner) = std::fs::read_dir(&path) {
                for e in inner.flatten() {
                    while is_mountpoint(&e.path()) {
                        if berth_snapshot::unmount(&e.path()).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = snapshots.remove(&name);
            if !is_mountpoint(&path) {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
    }
    for a in snapshots.actives().unwrap_or_default() {
        if a.key.starts_with("buildview-") {
            let _ = snapshots.remove(&a.key);
        }
    }
    let _ = std::fs::remove_dir_all(&env.work_dir);
}

/// After a prune: deletes the layers (top-down) of removed records that no image, no other
/// record and no snapshot builds on, and their uncompressed blobs.
pub(super) fn remove_unused_layers(
    env: &BuildEnv,
    cache: &berth_build::Cache,
    removed: &[berth_build::CacheRecord],
) {
    let images = env.images.images();
    let mut keep: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut keep_blobs: std::collections::HashSet<String> = std::collections::HashSet::new();
    for rec in images.store.list().unwrap_or_default() {
        for l in rec.layers {
            keep.insert(l.chain_id.to_string());
            keep_blobs.insert(l.digest.to_string());
            keep_blobs.insert(l.diff_id.to_string());
        }
    }
    for rec in cache.records() {
        for l in rec.state.layers {
            keep.insert(l.chain_id);
            keep_blobs.insert(l.diff_id);
        }
    }
    for rec in removed {
        for l in rec.state.layers.iter().rev() {
            if keep.contains(&l.chain_id) || images.snapshots.remove_layer(&l.chain_id).is_err() {
                break;
            }
            if !keep_blobs.contains(&l.diff_id) {
                if let Ok(d) = berth_content::Digest::parse(&l.diff_id) {
                    let _ = images.content.delete(&d);
                }
            }
        }
    }
}
