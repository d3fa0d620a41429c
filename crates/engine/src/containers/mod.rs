//! Containers: records in the metadata store, lifecycle through per-container shims.
//!
//! A container *record* (config, image, snapshot) lives in `berth-metadata`; a running
//! *task* is a `berth-shim` process (see [`crate::shim`]) reached over its socket
//! (`<exec-root>/s/<id[..12]>.sock`).

mod archive;
mod exec;
mod exec_process;
pub mod health;
pub mod init;
mod ops;
mod options;
mod query;
pub mod reconcile;
pub mod record;
pub mod resources;
pub mod seccomp;
pub mod spec;
pub mod stats;
pub mod task;
pub mod validate;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::error::{EngineError, Result};
use berth_metadata::{MetadataError, Store};

use crate::daemon::events::EventBus;
use crate::images::ImageService;
use record::{ContainerRecord, KIND};
use task::Live;

/// The container side of the engine.
pub struct Containers {
    /// Records.
    pub store: Arc<Store>,
    /// Images (resolve, snapshots).
    pub images: Arc<ImageService>,
    /// Event bus.
    pub events: Arc<EventBus>,
    /// `<exec-root>`.
    pub exec_root: PathBuf,
    /// `<data-root>`.
    pub data_root: PathBuf,
    /// The roots' modes, for the per-container directories.
    pub layout: crate::layout::Layout,
    /// Default log options (`log-opts` of daemon.json).
    pub log_opts: std::collections::BTreeMap<String, String>,
    /// Networking (set once at daemon start).
    pub networks: std::sync::OnceLock<Arc<crate::networks::Networks>>,
    /// Volumes (and the mounts of containers).
    pub volumes: Arc<crate::volumes::Volumes>,
    /// `berth-shim` and `berth-runtime`, found once at start.
    pub helpers: crate::helpers::Helpers,
    live: Mutex<HashMap<String, Arc<Live>>>,
    execs: Mutex<HashMap<String, exec::ExecRecord>>,
    health: health::HealthBoard,
}

impl std::fmt::Debug for Containers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Containers")
            .field("exec_root", &self.exec_root)
            .finish_non_exhaustive()
    }
}

/// Maps a metadata error to the API's.
pub fn meta_err(e: MetadataError) -> EngineError {
    match e {
        MetadataError::NameInUse { .. } => EngineError::conflict(e.to_string()),
        MetadataError::InvalidName { .. } => EngineError::invalid(e.to_string()),
        MetadataError::NotFound { reference, .. } => EngineError::no_such_container(&reference),
        MetadataError::Ambiguous { .. } => EngineError::invalid(e.to_string()),
        e => EngineError::internal(e.to_string()),
    }
}

impl Containers {
    /// A manager over `store`.
    pub fn new(
        store: Arc<Store>,
        images: Arc<ImageService>,
        events: Arc<EventBus>,
        exec_root: PathBuf,
        data_root: PathBuf,
    ) -> Arc<Self> {
        Arc::new(Containers {
            store,
            images,
            volumes: crate::volumes::Volumes::new(&data_root, events.clone()),
            events,
            layout: crate::layout::Layout {
                data_root: data_root.clone(),
                exec_root: exec_root.clone(),
                gid: None,
            },
            exec_root,
            data_root,
            log_opts: Default::default(),
            networks: std::sync::OnceLock::new(),
            helpers: crate::helpers::Helpers::from_current_exe(),
            live: Mutex::new(HashMap::new()),
            execs: Mutex::new(HashMap::new()),
            health: Default::default(),
        })
    }

    /// The in-memory state of `id`.
    pub fn live(&self, id: &str) -> Arc<Live> {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    fn forget(&self, id: &str) {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Resolves a reference (id, name, prefix) to a full id.
    pub fn resolve(&self, reference: &str) -> Result<String> {
        self.store.resolve(KIND, reference).map_err(|e| match e {
            MetadataError::NotFound { .. } => EngineError::no_such_container(reference),
            e => meta_err(e),
        })
    }

    /// The record of `id` (full id).
    pub fn get(&self, id: &str) -> Result<ContainerRecord> {
        self.store
            .get::<ContainerRecord>(KIND, id)
            .map_err(meta_err)?
            .ok_or_else(|| EngineError::no_such_container(id))
    }

    /// Resolve + get.
    pub fn lookup(&self, reference: &str) -> Result<ContainerRecord> {
        let id = self.resolve(reference)?;
        self.get(&id)
    }

    /// Writes a record durably (off the async threads).
    pub async fn save(&self, rec: &ContainerRecord) -> Result<()> {
        let store = self.store.clone();
        let rec = rec.clone();
        tokio::task::spawn_blocking(move || store.put(KIND, &rec.id, &rec))
            .await
            .map_err(|e| EngineError::internal(e.to_string()))?
            .map_err(meta_err)?;
        Ok(())
    }

    /// `<exec-root>/containers/<id>`.
    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.exec_root.join("containers").join(id)
    }

    /// Where the root filesystem is mounted while running.
    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.state_dir(id).join("rootfs")
    }

    /// `<data-root>/containers/<id>` (log, hostname, hosts, resolv.conf).
    pub fn data_dir(&self, id: &str) -> PathBuf {
        self.data_root.join("containers").join(id)
    }

    /// True when an image id is used by a container.
    pub fn image_in_use(&self, image_id: &str) -> bool {
        self.store
            .list::<ContainerRecord>(KIND)
            .map(|l| l.iter().any(|(_, r)| r.image == image_id))
            .unwrap_or(false)
    }

    /// Emits a container event.
    pub fn event(&self, action: &str, rec: &ContainerRecord, extra: &[(&str, String)]) {
        let image = if rec.config.image.is_empty() {
            rec.image.clone()
        } else {
            rec.config.image.clone()
        };
        self.events.container(
            action,
            &rec.id,
            &rec.name,
            &image,
            extra,
            &rec.config.labels.clone().unwrap_or_default(),
        );
    }
}
