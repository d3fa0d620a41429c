//! What the builder needs from the engine, and nothing more. The engine implements it with
//! its services (images, snapshots, the fast container run path); the tests implement it
//! with directories, so the build logic is unit-tested without root.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use berth_image::ImageConfig;

/// One layer of an image being built.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Layer {
    /// sha256 of the uncompressed layer tar (`sha256:…`).
    pub diff_id: String,
    /// Chain id of the layer stack up to this one (`sha256:…`).
    pub chain_id: String,
    /// Bytes on disk (for cache accounting).
    pub size: u64,
}

/// An image: its config (rootfs diff ids included) and its layers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageState {
    /// The image config.
    pub config: ImageConfig,
    /// The layers, bottom first.
    pub layers: Vec<Layer>,
}

/// A base image as the engine resolved it.
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// Image id (`sha256:<config digest>`).
    pub id: String,
    /// Its config and layers.
    pub state: ImageState,
}

/// How `FROM` images are looked up.
#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    /// `--pull`: fetch even when present.
    pub always_pull: bool,
    /// `os/arch[/variant]`, if asked for.
    pub platform: Option<String>,
    /// Base64 `X-Registry-Config` (registry → credentials), passed through to pulls.
    pub registry_config: Option<String>,
    /// Only look in the local store, never pull (`--cache-from` images).
    pub local_only: bool,
}

/// A mount of a RUN step, already resolved by the builder.
#[derive(Debug, Clone, PartialEq)]
pub enum RunMountSource {
    /// A persistent cache directory the engine keeps per id (`type=cache`).
    Cache {
        /// `id=` (the target when not given).
        id: String,
        /// `sharing=locked`: one build at a time.
        locked: bool,
    },
    /// A read-only view of a path inside another image or stage (`type=bind,from=…`).
    Layers {
        /// The layers of the image or stage.
        layers: Vec<Layer>,
        /// The path inside it.
        path: String,
    },
    /// A file or directory of the build context, materialised by the builder.
    HostPath(PathBuf),
    /// A fresh tmpfs (`type=tmpfs`), bytes (0 = default).
    Tmpfs {
        /// Size in bytes (0: the default).
        size: u64,
    },
    /// A file whose content is given (`type=secret`).
    Secret(Vec<u8>),
    /// The agent socket (`type=ssh`).
    Ssh(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
/// A mount of a RUN step: where, what, and how.
pub struct RunMount {
    /// Where it is mounted in the step's root.
    pub target: String,
    /// What is mounted.
    pub source: RunMountSource,
    /// Mounted read-only.
    pub read_only: bool,
    /// `mode=` of the mount point (cache, secret).
    pub mode: Option<u32>,
    /// `uid=` owner of the mount point (cache, secret).
    pub uid: Option<u32>,
    /// `gid=` group of the mount point (cache, secret).
    pub gid: Option<u32>,
}

/// A RUN step's container.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// The command, already in exec form (the shell prepended).
    pub args: Vec<String>,
    /// The environment (`KEY=value`): the stage's, the build args the step uses, then secrets
    /// mounted as variables.
    pub env: Vec<String>,
    /// `USER` (empty: root).
    pub user: String,
    /// `WORKDIR`, absolute.
    pub workdir: String,
    /// `default` (the build's network), `none`, `host`, or a network name.
    pub network: String,
    /// `RUN --mount=` mounts.
    pub mounts: Vec<RunMount>,
    /// `host:ip` entries for /etc/hosts.
    pub extra_hosts: Vec<String>,
    /// `--shm-size` in bytes.
    pub shm_size: Option<u64>,
    /// `--memory` in bytes.
    pub memory: Option<i64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// Files (e.g. a heredoc script) made available read-only at a path inside the root.
    pub files: Vec<(String, Vec<u8>, u32)>,
}

/// Where a step's output goes.
pub type OutputSink<'a> = &'a (dyn Fn(&[u8]) + Send + Sync);

/// The engine operations a build uses.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// A writable root prepared on top of some layers.
    type Root: Send + Sync;

    /// Finds (pulling when needed or asked) an image by reference or id.
    async fn resolve_image(
        &self,
        reference: &str,
        opts: &ResolveOptions,
        output: OutputSink<'_>,
    ) -> Result<BaseImage, String>;

    /// A writable snapshot on top of `layers` (base first).
    async fn prepare(&self, layers: &[Layer]) -> Result<Self::Root, String>;

    /// The id of the container a RUN on `root` runs as, when it has one (the classic stream
    /// prints ` ---> Running in <id>`).
    fn run_id(&self, _root: &Self::Root) -> Option<String> {
        None
    }

    /// Runs a container on `root`; returns its exit code. Output goes to `output` as it comes.
    async fn run(
        &self,
        root: &Self::Root,
        spec: &RunSpec,
        output: OutputSink<'_>,
    ) -> Result<i64, String>;

    /// Extracts the tar at `tar` into directory `dest` of `root` (created with its missing
    /// parents, owned by root), resolving every path inside the root.
    async fn extract(&self, root: &Self::Root, dest: &str, tar: &Path) -> Result<(), String>;

    /// `mkdir -p` inside the root (WORKDIR), owned by `uid:gid`.
    async fn mkdir(&self, root: &Self::Root, path: &str, uid: u32, gid: u32) -> Result<(), String>;

    /// Whether `path` is a directory inside the root (symlinks followed inside the root).
    async fn is_dir(&self, root: &Self::Root, path: &str) -> Result<bool, String>;

    /// Reads a file inside the root (`/etc/passwd` for `--chown=name`); `None` if absent.
    async fn read_file(&self, root: &Self::Root, path: &str) -> Result<Option<Vec<u8>>, String>;

    /// Writes a tar of `path` inside `layers` (`COPY --from`) to `out`, names relative to
    /// `path` (its contents for a directory, its base name for anything else).
    async fn export(&self, layers: &[Layer], path: &str, out: &Path) -> Result<bool, String>;

    /// Commits the root's changes as a layer on top of `parent`; `None` when nothing changed.
    /// The root is gone afterwards.
    async fn commit(&self, root: Self::Root, parent: &[Layer]) -> Result<Option<Layer>, String>;

    /// A layer with `diff`'s content (a layer committed on an empty root) on top of `parent`:
    /// the same diff id, the chain id of `parent` plus it (`COPY --link`). With no parent it
    /// is `diff` itself.
    async fn stack(&self, parent: &[Layer], diff: &Layer) -> Result<Layer, String>;

    /// Drops a root without committing.
    async fn release(&self, root: Self::Root);

    /// Whether every layer still exists (a cache record is usable).
    async fn has_layers(&self, layers: &[Layer]) -> bool;

    /// Stores an image; returns its id (`sha256:…`).
    async fn write_image(&self, state: &ImageState) -> Result<String, String>;

    /// Tags an image (`name[:tag]`).
    async fn tag(&self, image_id: &str, reference: &str) -> Result<(), String>;
}
