//! Image builds (`POST /build`, `POST /build/prune`, the build cache in `system df`): the
//! engine's side of `berth-build`. [`BuildService`] turns a request into a
//! [`berth_build::BuildRequest`], runs the builder over [`backend::EngineBackend`] and
//! streams Docker's classic builder messages.
//!
//! - [`backend`]: the `Backend` trait over the image stores and the task runtime;
//! - [`root`]: a step's writable root (an overlay snapshot);
//! - [`step`]: a RUN step's container (no container record: `ps -a` never shows it);
//! - [`view`]: read-only views of layer stacks (`COPY --from`, `RUN --mount=…,from=`);
//! - [`exports`]: `COPY --from` exports kept per (layer, path), so a cached rebuild mounts
//!   nothing;
//! - [`image`]: the built image's manifest and record;
//! - [`stream`]: the request, the context and the JSON stream.
//!
//! On disk: `<data-root>/build/cache` (one record per step, see `berth_build::Cache`),
//! `<data-root>/build/cache-mounts` (`RUN --mount=type=cache`), `<data-root>/build/work`
//! (a build's spooled context and temporary tars), `<data-root>/build/exports` (kept
//! `COPY --from` exports), `<exec-root>/build/<key>` (a step's
//! root mount and bundle).

pub mod backend;
mod exports;
mod image;
mod root;
mod step;
#[cfg(test)]
mod step_tests;
mod stream;
mod view;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use berth_api_types::query::BuildPruneOptions;
use berth_api_types::{BuildCache, BuildCachePruneResponse};
use berth_build::{Cache, CacheRecord, PruneOptions};

use crate::containers::tasks::{ShimRuntime, TaskRuntime};
use crate::error::{EngineError, Result};
use crate::helpers::Helpers;
use crate::images::ImageService;
use crate::networks::Networks;

/// What the build backend reaches in the engine.
pub struct BuildEnv {
    /// Image stores (snapshots, content, records).
    pub images: Arc<ImageService>,
    /// Networking of RUN steps.
    pub networks: Arc<Networks>,
    /// `berth-shim` and `berth-runtime`.
    pub helpers: Helpers,
    /// What runs the RUN steps and mounts the step roots: a [`ShimRuntime`] whose state
    /// dirs are the steps' directories in [`BuildEnv::build_dir`] (a fake in unit tests).
    pub tasks: Arc<dyn TaskRuntime>,
    /// `<exec-root>`.
    pub exec_root: PathBuf,
    /// `<exec-root>/build`: step roots and bundles.
    pub build_dir: PathBuf,
    /// `<data-root>/build/work`: per-build temporary files.
    pub work_dir: PathBuf,
    /// `<data-root>/build/cache-mounts`: `RUN --mount=type=cache` directories, kept across
    /// builds and daemon restarts, emptied by an unfiltered `builder prune`.
    pub cache_mounts_dir: PathBuf,
    /// `<data-root>/build/exports`: `COPY --from` exports by (layer, path).
    exports: exports::Exports,
}

/// The daemon's builder.
pub struct BuildService {
    env: Arc<BuildEnv>,
    cache: Arc<Cache>,
}

impl std::fmt::Debug for BuildService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildService")
            .field("build_dir", &self.env.build_dir)
            .finish_non_exhaustive()
    }
}

/// 64 random hex digits.
pub(crate) fn random_hex() -> String {
    crate::record::new_id()
}

/// sha256 of `bytes`, in hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    berth_content::Digest::of(bytes).hex().to_string()
}

/// The credentials `X-Registry-Config` holds for `registry` (base64url JSON: registry →
/// auth config; Docker Hub under its index address).
pub(crate) fn auth_for(config: &str, registry: &str) -> Option<berth_api_types::AuthConfig> {
    use base64::Engine as _;
    let raw = config.trim().trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(raw))
        .ok()?;
    let map: std::collections::BTreeMap<String, berth_api_types::AuthConfig> =
        serde_json::from_slice(&bytes).ok()?;
    let hub = registry == "docker.io" || registry == "registry-1.docker.io";
    map.into_iter()
        .find(|(k, _)| {
            let host = k
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default();
            host == registry || (hub && (host == "index.docker.io" || host == "docker.io"))
        })
        .map(|(_, v)| v)
}

impl BuildService {
    /// Opens the build cache under `<data-root>/build` and clears what a previous daemon
    /// left of builds in flight (step roots still mounted, their snapshots, temporary
    /// files). Call before the container reconcile, which would otherwise see the steps'
    /// snapshots as containers that were never created.
    pub fn open(
        data_root: &std::path::Path,
        exec_root: &std::path::Path,
        images: Arc<ImageService>,
        networks: Arc<Networks>,
        helpers: Helpers,
    ) -> Result<Arc<Self>, String> {
        let tasks = ShimRuntime::new(helpers.clone(), exec_root.to_path_buf())
            .with_state_root(exec_root.join("build"));
        Self::open_with_tasks(
            data_root,
            exec_root,
            images,
            networks,
            helpers,
            Arc::new(tasks),
        )
    }

    /// [`BuildService::open`] with RUN steps run by `tasks`.
    pub fn open_with_tasks(
        data_root: &std::path::Path,
        exec_root: &std::path::Path,
        images: Arc<ImageService>,
        networks: Arc<Networks>,
        helpers: Helpers,
        tasks: Arc<dyn TaskRuntime>,
    ) -> Result<Arc<Self>, String> {
        let base = data_root.join("build");
        let cache =
            Cache::open(base.join("cache")).map_err(|e| format!("open the build cache: {e}"))?;
        let env = Arc::new(BuildEnv {
            images,
            networks,
            helpers,
            tasks,
            exec_root: exec_root.to_path_buf(),
            build_dir: exec_root.join("build"),
            work_dir: base.join("work"),
            cache_mounts_dir: base.join("cache-mounts"),
            exports: exports::Exports::open(base.join("exports"))?,
        });
        stream::clear_leftovers(&env);
        let snapshots = env.images.images().snapshots.clone();
        env.exports.retain(|chain| snapshots.has_layer(chain));
        for d in [&env.build_dir, &env.work_dir, &env.cache_mounts_dir] {
            std::fs::create_dir_all(d).map_err(|e| format!("create {}: {e}", d.display()))?;
        }
        Ok(Arc::new(BuildService {
            env,
            cache: Arc::new(cache),
        }))
    }

    /// Chain ids and blobs the build cache still needs (kept by image recovery).
    pub fn cache_roots(&self) -> (HashSet<String>, HashSet<String>) {
        let mut chains = HashSet::new();
        let mut blobs = HashSet::new();
        for rec in self.cache.records() {
            for l in &rec.state.layers {
                chains.insert(l.chain_id.clone());
                blobs.insert(l.diff_id.clone());
            }
        }
        (chains, blobs)
    }

    /// Chain ids the images in the store use.
    fn image_chains(&self) -> HashSet<String> {
        self.env
            .images
            .images()
            .store
            .list()
            .unwrap_or_default()
            .iter()
            .flat_map(|r| r.layers.iter().map(|l| l.chain_id.to_string()))
            .collect()
    }

    /// The build cache as `system df` lists it: one entry per step that made a layer.
    pub fn df(&self) -> Vec<BuildCache> {
        let used = self.image_chains();
        let mut out: Vec<BuildCache> = self
            .cache
            .records()
            .into_iter()
            .filter(|r| r.size > 0)
            .map(|r| cache_entry(&r, &used))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// `POST /build/prune`.
    pub async fn prune(&self, opts: BuildPruneOptions) -> Result<BuildCachePruneResponse> {
        let used = self.image_chains();
        let cache = self.cache.clone();
        let env = self.env.clone();
        tokio::task::spawn_blocking(move || {
            let report = cache.prune(
                &PruneOptions {
                    all: opts.all,
                    older_than: opts.until,
                    // A negative keep-storage keeps everything, as it always did.
                    keep_storage: opts
                        .keep_storage
                        .map(|k| u64::try_from(k).unwrap_or(u64::MAX)),
                    ids: opts.ids.clone(),
                },
                &|rec: &CacheRecord| {
                    rec.state
                        .layers
                        .last()
                        .is_some_and(|l| used.contains(&l.chain_id))
                },
            );
            stream::remove_unused_layers(&env, &cache, &report.removed);
            let snapshots = &env.images.images().snapshots;
            env.exports.retain(|chain| snapshots.has_layer(chain));
            let mut caches_deleted: Vec<String> =
                report.removed.iter().map(|r| r.key.clone()).collect();
            let mut space_reclaimed = report.reclaimed;
            if opts.ids.is_empty() && opts.until.is_none() && opts.keep_storage.is_none() {
                for (id, size) in step::remove_cache_mounts(&env.cache_mounts_dir) {
                    caches_deleted.push(id);
                    space_reclaimed += size;
                }
            }
            BuildCachePruneResponse {
                caches_deleted,
                space_reclaimed,
            }
        })
        .await
        .map_err(|e| EngineError::internal(e.to_string()))
    }
}

fn cache_entry(r: &CacheRecord, used: &HashSet<String>) -> BuildCache {
    let rfc = |secs: u64| {
        berth_units::Timestamp::new(i64::try_from(secs).unwrap_or(i64::MAX), 0)
            .to_rfc3339(berth_units::SubSeconds::Omit)
    };
    BuildCache {
        id: r.key.chars().take(25).collect(),
        parents: (!r.parent.is_empty()).then(|| vec![r.parent.chars().take(25).collect()]),
        kind: "regular".into(),
        description: r.description.clone(),
        in_use: false,
        shared: r
            .state
            .layers
            .last()
            .is_some_and(|l| used.contains(&l.chain_id)),
        size: i64::try_from(r.size).unwrap_or(i64::MAX),
        created_at: rfc(r.created),
        last_used_at: Some(rfc(r.last_used)),
        usage_count: i64::try_from(r.usage_count).unwrap_or(i64::MAX),
    }
}
