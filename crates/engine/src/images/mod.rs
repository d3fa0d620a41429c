//! The image side of the Engine API: [`ImageService`] owns the image stores under the data
//! root (content, snapshots, image records) and implements the `image_*` actions and
//! `/auth`, one method per action of the HTTP layer's `Engine` trait (the API's query types,
//! the engine's streams), so the daemon's `Engine` impl delegates to it one call per action.
//!
//! Names are stored normalised (`docker.io/library/busybox:latest`) and shown familiar
//! (`busybox:latest`). Errors use Docker's wording and kinds ("No such image: x" not found,
//! "conflict: unable to delete …" conflict).
//!
//! Modules: `inspect` (list/inspect/history models), `pull` (pull and import streams),
//! `push`, `remove` (delete and prune), `archive` (save/load), `commit`, `changes`
//! (`--change` instructions), `auth` (login and search), `progress` (Docker's JSON lines).

mod archive;
mod auth;
mod changes;
mod commit;
mod inspect;
mod meta;
mod progress;
mod pull;
mod push;
pub mod recover;
mod remove;

pub use changes::apply_changes;
pub use inspect::parse_rfc3339;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::error::{EngineError, Result};
use berth_api_types::{EventActor, EventMessage};
use berth_content::Digest;
use berth_image::{ImageError, ImageRecord, Images};
use berth_registry::{Reference, RegistryConfig};

/// Receives the image events (`pull`, `push`, `tag`, `untag`, `delete`, `import`, `load`,
/// `save`) for `/events`.
pub type EventFn = Arc<dyn Fn(EventMessage) + Send + Sync>;

/// A container using an image, as the engine reports it to [`ImageService`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    /// The container's id.
    pub container_id: String,
    /// True while it runs (Docker refuses to delete such an image even with force).
    pub running: bool,
}

/// Who uses an image (by full image id `sha256:…`): such images are not deleted without
/// `force` (never while a container runs) and never pruned. The daemon's builder gives the
/// service the container records; a running user is reported before a stopped one.
pub trait ImageUsers: Send + Sync {
    /// A container using image `image_id`, if any.
    fn user_of(&self, image_id: &str) -> Option<ImageUser>;
}

/// No container uses any image (the image service on its own: tools, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUsers;

impl ImageUsers for NoUsers {
    fn user_of(&self, _image_id: &str) -> Option<ImageUser> {
        None
    }
}

/// The layers (chain ids) and blobs (digests) the build cache still uses: recovery keeps
/// them although no image names them.
pub type BuildRootsFn = Arc<
    dyn Fn() -> (
            std::collections::HashSet<String>,
            std::collections::HashSet<String>,
        ) + Send
        + Sync,
>;

/// The image service: one per daemon.
pub struct ImageService {
    images: Arc<Images>,
    registry: RwLock<RegistryConfig>,
    events: EventFn,
    users: Arc<dyn ImageUsers>,
    build_roots: RwLock<Option<BuildRootsFn>>,
    tmp: PathBuf,
    meta_dir: PathBuf,
    meta_lock: std::sync::Mutex<()>,
}

impl std::fmt::Debug for ImageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageService")
            .field("root", &self.images.root())
            .finish_non_exhaustive()
    }
}

impl ImageService {
    /// Opens (creating) the image stores under `data_root` (`content/`, `snapshots/`,
    /// `images/`, `image-meta/` for parents and tag times, and `tmp/images` for uploads being
    /// received). `users` tells which images containers use.
    pub fn new(
        data_root: &Path,
        registry: RegistryConfig,
        events: EventFn,
        users: Arc<dyn ImageUsers>,
    ) -> Result<Self> {
        let images = Images::open(data_root).map_err(EngineError::from)?;
        let tmp = data_root.join("tmp").join("images");
        let meta_dir = data_root.join("image-meta");
        for dir in [&tmp, &meta_dir] {
            std::fs::create_dir_all(dir)
                .map_err(|e| EngineError::internal(format!("create {}: {e}", dir.display())))?;
        }
        Ok(ImageService {
            images: Arc::new(images),
            registry: RwLock::new(registry),
            events,
            users,
            build_roots: RwLock::new(None),
            tmp,
            meta_dir,
            meta_lock: std::sync::Mutex::new(()),
        })
    }

    /// The registry settings pulls and pushes use now.
    pub fn registry_config(&self) -> RegistryConfig {
        self.registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the insecure registries and mirrors (SIGHUP reload of daemon.json); pulls
    /// and pushes that start afterwards use them.
    pub fn set_registries(&self, insecure: Vec<String>, mirrors: Vec<String>) {
        let mut r = self.registry.write().unwrap_or_else(|e| e.into_inner());
        r.insecure_registries = insecure;
        r.mirrors = mirrors;
    }

    /// The stores (the engine prepares container snapshots from `images().snapshots`).
    pub fn images(&self) -> &Arc<Images> {
        &self.images
    }

    /// Sets what the build cache uses (the daemon calls this once its builder is open: the
    /// builder is made from this service, so this one link is set afterwards).
    pub fn set_build_roots(&self, f: BuildRootsFn) {
        *self.build_roots.write().unwrap_or_else(|e| e.into_inner()) = Some(f);
    }

    /// Chain ids and blobs the build cache uses (see [`BuildRootsFn`]).
    pub(crate) fn build_roots(
        &self,
    ) -> (
        std::collections::HashSet<String>,
        std::collections::HashSet<String>,
    ) {
        self.build_roots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|f| f())
            .unwrap_or_default()
    }

    /// A container using image `id`, if any.
    pub(crate) fn user_of(&self, id: &Digest) -> Option<ImageUser> {
        self.users.user_of(id.as_str())
    }

    fn in_use(&self, id: &Digest) -> bool {
        self.user_of(id).is_some()
    }

    /// Finds an image by name (`busybox`, `busybox:1`, `host:5000/a/b:t`, `name@sha256:…`),
    /// full id, or unique id prefix. A miss is Docker's 404 "No such image: busybox:latest".
    pub fn resolve(&self, name_or_id: &str) -> Result<ImageRecord> {
        let id = self.resolve_id(name_or_id)?;
        self.images.store.get(&id).map_err(|e| match e {
            ImageError::NotFound(_) => no_such_image(name_or_id),
            e => EngineError::internal(e),
        })
    }

    /// The image id `name_or_id` refers to (see [`ImageService::resolve`]).
    pub fn resolve_id(&self, name_or_id: &str) -> Result<Digest> {
        if name_or_id.is_empty() {
            return Err(no_such_image(name_or_id));
        }
        if let Ok(d) = Digest::parse(name_or_id) {
            if self.images.store.contains(&d) {
                return Ok(d);
            }
        }
        if let Ok(r) = Reference::parse(name_or_id) {
            if let Some(id) = self.lookup_reference(&r)? {
                return Ok(id);
            }
        }
        let looks_like_id = {
            let hex = name_or_id.strip_prefix("sha256:").unwrap_or(name_or_id);
            !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
        };
        if looks_like_id {
            if let Ok(id) = self.images.store.resolve(name_or_id) {
                return Ok(id);
            }
        }
        Err(no_such_image(name_or_id))
    }

    /// The image a normalised reference points at (tag in the refs, digest in the records).
    fn lookup_reference(&self, r: &Reference) -> Result<Option<Digest>> {
        if let Some(d) = r.digest() {
            let want = format!("{}@{d}", r.name());
            let found = self
                .images
                .store
                .list()
                .map_err(EngineError::from)?
                .into_iter()
                .find(|rec| rec.repo_digests.contains(&want))
                .map(|rec| rec.id);
            return Ok(found);
        }
        let key = format!("{}:{}", r.name(), r.tag().unwrap_or("latest"));
        Ok(self
            .images
            .store
            .references()
            .map_err(EngineError::from)?
            .get(&key)
            .cloned())
    }

    /// Tags (familiar form, `busybox:latest`) pointing at `id`.
    fn tags_of(&self, id: &Digest) -> Result<Vec<String>> {
        let mut tags: Vec<String> = self
            .images
            .store
            .names_of(id)
            .map_err(EngineError::from)?
            .iter()
            .map(|n| familiar(n))
            .collect();
        tags.sort();
        Ok(tags)
    }

    /// Sends an image event.
    fn event(&self, action: &str, id: &str, name: Option<&str>) {
        (self.events)(image_event(action, id, name));
    }

    /// A fresh path for a temporary upload (removed by [`TempFile`]'s drop).
    fn temp_file(&self, what: &str) -> TempFile {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TempFile(self.tmp.join(format!("{what}-{}-{n}", std::process::id())))
    }
}

/// An image event message (`Type: image`) about `id`, with its `name` attribute.
pub(crate) fn image_event(action: &str, id: &str, name: Option<&str>) -> EventMessage {
    let now = berth_units::Timestamp::now();
    let mut attributes = std::collections::BTreeMap::new();
    if let Some(n) = name {
        attributes.insert("name".to_string(), n.to_string());
    }
    EventMessage {
        status: Some(action.to_string()),
        id: Some(id.to_string()),
        from: None,
        kind: "image".into(),
        action: action.into(),
        actor: EventActor {
            id: id.to_string(),
            attributes,
        },
        scope: "local".into(),
        time: now.secs,
        time_nano: now.unix_nano(),
    }
}

/// A temporary file deleted on drop.
pub(crate) struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Docker's short display form of a stored name (`docker.io/library/busybox:latest` →
/// `busybox:latest`, `docker.io/user/app@sha256:…` → `user/app@sha256:…`).
pub fn familiar(name: &str) -> String {
    match Reference::parse_named(name) {
        Ok(r) => r.familiar(),
        Err(_) => berth_image::names::familiar(name),
    }
}

/// Docker's 404 for an image reference, naming it as Docker does (`nosuch:latest`).
pub fn no_such_image(name: &str) -> EngineError {
    EngineError::no_such_image(name)
}

/// Parses a client-supplied reference, 400 with Docker's wording on failure.
pub(crate) fn parse_reference(s: &str) -> Result<Reference> {
    Reference::parse(s).map_err(|_| EngineError::invalid(format!("invalid reference format: {s}")))
}
