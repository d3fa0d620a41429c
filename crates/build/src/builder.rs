//! Runs a prepared build: the stages the target needs, independent ones in parallel, each
//! step through the cache, the final image written and tagged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use berth_dockerfile::Dockerfile;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::backend::{Backend, ImageState};
use crate::cache::Cache;
use crate::error::{BuildError, Result};
use crate::graph::{dependencies, needed, resolve_name, target_index, Source};
use crate::progress::{Event, Progress};
use crate::request::Prepared;
use crate::scope::{Platform, Scope, PROXY_ARGS};
use crate::stage::{StageBuild, StageResult};

/// The outcome of a build.
#[derive(Debug, Clone)]
pub struct BuildResult {
    /// `sha256:…`
    pub image_id: String,
    /// The tags given, as written.
    pub tags: Vec<String>,
    /// The final image's config and layers.
    pub state: ImageState,
}

/// Shared by the stage tasks of one build.
pub(crate) struct Shared<B: Backend> {
    pub backend: Arc<B>,
    pub cache: Arc<Cache>,
    pub prepared: Prepared,
    pub progress: Arc<dyn Progress>,
    pub work_dir: PathBuf,
    pub global: Scope,
    pub platform: Platform,
    /// Step numbers: (first number of each stage, total).
    pub numbering: BTreeMap<usize, usize>,
    pub total: usize,
    pub results: Vec<watch::Receiver<Option<Arc<StageResult>>>>,
    pub bases: Vec<Source>,
    /// `--cache-from` images found locally.
    pub cache_from: Vec<ImageState>,
}

impl<B: Backend> Shared<B> {
    pub fn df(&self) -> &Dockerfile {
        &self.prepared.dockerfile
    }

    pub fn escape(&self) -> char {
        self.prepared.dockerfile.directives.escape
    }

    /// Waits for a stage's result.
    pub async fn stage_result(&self, index: usize) -> Result<Arc<StageResult>> {
        let mut rx = self.results[index].clone();
        let r = rx
            .wait_for(|r| r.is_some())
            .await
            .map_err(|_| BuildError::Cancelled)?;
        Ok(r.clone().expect("waited for some"))
    }
}

/// The stages that report events, in the order the classic stream prints them (the
/// request's `--label` step is a stage of its own, after the others).
pub fn reporting_stages(prepared: &Prepared) -> Result<Vec<usize>> {
    let df = &prepared.dockerfile;
    let platform = Platform::host();
    let mut global = Scope::global(&platform);
    for inst in &df.meta_args {
        if let berth_dockerfile::Command::Arg { args } = &inst.command {
            for a in args {
                let default = match &a.default {
                    Some(d) => {
                        Some(global.expand(d, df.directives.escape, &mut BTreeMap::new())?)
                    }
                    None => None,
                };
                global.declare(&a.name, default, &prepared.request.build_args, None);
            }
        }
    }
    let target = target_index(df, prepared.request.target.as_deref())?;
    let mut deps = Vec::new();
    for (i, stage) in df.stages.iter().enumerate() {
        let name = global.expand(&stage.base, df.directives.escape, &mut BTreeMap::new())?;
        deps.push(dependencies(df, i, &resolve_name(df, &name, i)));
    }
    let mut out: Vec<usize> = needed(&deps, target).into_iter().collect();
    if !prepared.request.labels.is_empty() {
        out.push(df.stages.len());
    }
    Ok(out)
}

/// Builds `prepared`. `work_dir` holds the build's temporary files (tars for COPY).
pub async fn build<B: Backend>(
    backend: Arc<B>,
    cache: Arc<Cache>,
    prepared: Prepared,
    work_dir: PathBuf,
    progress: Arc<dyn Progress>,
) -> Result<BuildResult> {
    let df = &prepared.dockerfile;
    let platform = Platform::host();
    let mut global = Scope::global(&platform);
    let mut used_args = BTreeSet::new();
    for inst in &df.meta_args {
        if let berth_dockerfile::Command::Arg { args } = &inst.command {
            for a in args {
                let default = match &a.default {
                    Some(d) => {
                        Some(global.expand(d, df.directives.escape, &mut BTreeMap::new())?)
                    }
                    None => None,
                };
                global.declare(&a.name, default, &prepared.request.build_args, None);
                used_args.insert(a.name.clone());
            }
        }
    }
    let target = target_index(df, prepared.request.target.as_deref())?;
    let mut bases = Vec::new();
    for (i, stage) in df.stages.iter().enumerate() {
        let name = global.expand(&stage.base, df.directives.escape, &mut BTreeMap::new())?;
        bases.push(resolve_name(df, &name, i));
    }
    let deps: Vec<BTreeSet<usize>> = (0..df.stages.len())
        .map(|i| dependencies(df, i, &bases[i]))
        .collect();
    let needed = needed(&deps, target);
    let mut numbering = BTreeMap::new();
    let mut total = 0;
    for &i in &needed {
        numbering.insert(i, total + 1);
        total += 1 + df.stages[i].instructions.len();
    }
    let labels = !prepared.request.labels.is_empty();
    if labels {
        total += 1;
        numbering.insert(df.stages.len(), total);
    }
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..df.stages.len() {
        let (tx, rx) = watch::channel(None);
        senders.push(tx);
        receivers.push(rx);
    }
    let mut cache_from = Vec::new();
    for name in &prepared.request.cache_from {
        let opts = crate::backend::ResolveOptions {
            local_only: true,
            platform: prepared.request.platform.clone(),
            ..Default::default()
        };
        // As Docker: an image that is not there is skipped.
        if let Ok(image) = backend.resolve_image(name, &opts, &|_| {}).await {
            cache_from.push(image.state);
        }
    }
    std::fs::create_dir_all(&work_dir).map_err(|e| BuildError::Io {
        context: format!("create {}", work_dir.display()),
        source: e,
    })?;
    let shared = Arc::new(Shared {
        backend,
        cache,
        prepared,
        progress,
        work_dir,
        global,
        platform,
        numbering,
        total,
        results: receivers,
        bases,
        cache_from,
    });
    let mut tasks = JoinSet::new();
    for &i in &needed {
        let shared = shared.clone();
        let tx = senders[i].clone();
        tasks.spawn(async move {
            let result = StageBuild::new(shared.clone(), i).run().await;
            shared.progress.event(Event::StageDone { stage: i });
            match result {
                Ok(r) => {
                    let _ = tx.send(Some(Arc::new(r)));
                    Ok(i)
                }
                Err(e) => Err(e),
            }
        });
    }
    drop(senders);
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                if first_error.is_none() {
                    first_error = Some(e);
                    tasks.abort_all();
                }
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                first_error.get_or_insert(BuildError::Backend(format!("build task failed: {e}")));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let result = shared.stage_result(target).await?;
    let mut state = result.state.clone();
    let df = shared.df();
    for inst in df.stages.iter().flat_map(|s| &s.instructions) {
        if let berth_dockerfile::Command::Arg { args } = &inst.command {
            used_args.extend(args.iter().map(|a| a.name.clone()));
        }
    }
    let unused: Vec<&str> = shared
        .prepared
        .request
        .build_args
        .keys()
        .map(String::as_str)
        .filter(|k| !used_args.contains(*k) && !PROXY_ARGS.contains(k))
        .collect();
    if !unused.is_empty() {
        shared.progress.event(Event::Warning(format!(
            "One or more build-args [{}] were not consumed",
            unused.join(" ")
        )));
    }
    if labels {
        state = crate::stage::apply_request_labels(&shared, state, result.key.clone()).await?;
    }
    let image_id = shared
        .backend
        .write_image(&state)
        .await
        .map_err(BuildError::Backend)?;
    let mut tags = Vec::new();
    for t in &shared.prepared.request.tags {
        shared
            .backend
            .tag(&image_id, t)
            .await
            .map_err(BuildError::Backend)?;
        tags.push(t.clone());
    }
    Ok(BuildResult {
        image_id,
        tags,
        state,
    })
}
