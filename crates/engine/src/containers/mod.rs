//! Containers: records in the metadata store, lifecycle through per-container shims.
//!
//! A container *record* (config, image, snapshot) lives in `berth-metadata`; a running
//! *task* is a `berth-shim` process (see [`crate::shim`]) reached over its socket
//! (`<exec-root>/s/<id[..12]>.sock`).

mod archive;
mod attach;
mod changes;
mod commit;
mod create;
#[cfg(test)]
mod exec_tests;
mod exit;
mod export;
#[cfg(test)]
pub(crate) mod fake_tasks;
#[cfg(test)]
mod health_tests;
pub mod host_settings;
mod inspect;
mod kill;
#[cfg(test)]
mod lifecycle_tests;
mod links;
mod list;
mod list_filter;
mod logging;
mod logs;
pub mod namespaces;
mod network;
#[cfg(test)]
mod network_events_tests;
mod ops;
mod options;
mod pause;
mod prune;
pub mod reconcile;
mod remove;
mod rename;
pub mod resources;
mod restart;
mod restore;
mod shutdown;
mod start;
pub mod stats;
mod stop;
pub mod task;
pub mod tasks;
#[cfg(test)]
mod test_harness;
mod top;
mod userns;
pub mod validate;
mod wait;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::error::Result;
use berth_metadata::Store;

use crate::events::EventBus;
use crate::health::HealthMonitor;
use crate::images::ImageService;
use crate::networks::Networks;
pub use crate::record::meta_err;
use crate::record::{ContainerRecord, ContainerStore};
use crate::volumes::Volumes;
pub use logging::LogDefaults;
use task::Live;

/// The container side of the engine.
pub struct Containers {
    /// Records (shared with the services that read them).
    pub records: ContainerStore,
    /// The metadata store under the records.
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
    /// The daemon's log driver and options (`log-driver`, `log-opts` of daemon.json).
    pub log: LogDefaults,
    /// The daemon's `no-new-privileges` and `seccomp-profile`.
    pub security_defaults: crate::spec::security::DaemonDefaults,
    /// Networking.
    pub networks: Arc<Networks>,
    /// Volumes (and the mounts of containers).
    pub volumes: Arc<Volumes>,
    /// `berth-shim` and `berth-runtime`, found once at start (exec and health run the
    /// runtime themselves).
    pub helpers: crate::helpers::Helpers,
    /// What runs the tasks: [`tasks::ShimRuntime`], or a fake in unit tests.
    pub tasks: Arc<dyn tasks::TaskRuntime>,
    /// `live-restore`: running containers outlive a stop of the daemon.
    pub live_restore: bool,
    /// The cgroup driver: `cgroupfs` or `systemd` (scope units, made by the runtime).
    pub cgroup_driver: String,
    /// Set while the daemon stops its containers (shutdown without live restore, or a start
    /// that finds containers it must stop): their exits start no restart policy.
    no_restarts: std::sync::atomic::AtomicBool,
    live: Mutex<HashMap<String, Arc<Live>>>,
    /// The health checks, told when a container starts and asked for inspect and `ps`.
    pub health: Arc<dyn HealthMonitor>,
}

impl std::fmt::Debug for Containers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Containers")
            .field("exec_root", &self.exec_root)
            .finish_non_exhaustive()
    }
}

/// What [`Containers`] is built from (by the daemon's service builder).
pub struct ContainersDeps {
    /// Records.
    pub records: ContainerStore,
    /// Images.
    pub images: Arc<ImageService>,
    /// Event bus.
    pub events: Arc<EventBus>,
    /// Networks.
    pub networks: Arc<Networks>,
    /// Volumes.
    pub volumes: Arc<Volumes>,
    /// The daemon's log driver and options.
    pub log: LogDefaults,
    /// The daemon's `no-new-privileges` and `seccomp-profile`.
    pub security_defaults: crate::spec::security::DaemonDefaults,
    /// `live-restore`.
    pub live_restore: bool,
    /// The cgroup driver.
    pub cgroup_driver: String,
    /// What runs the tasks.
    pub tasks: Arc<dyn tasks::TaskRuntime>,
    /// The health checks (the [`crate::health::Health`] service).
    pub health: Arc<dyn HealthMonitor>,
    /// The helper programs (resolved once, by the builder).
    pub helpers: crate::helpers::Helpers,
}

impl Containers {
    /// The container service over what it needs.
    pub fn new(deps: ContainersDeps) -> Arc<Self> {
        let records = deps.records;
        Arc::new(Containers {
            store: records.metadata().clone(),
            exec_root: records.exec_root().to_path_buf(),
            data_root: records.data_root().to_path_buf(),
            layout: records.layout(),
            records,
            images: deps.images,
            events: deps.events,
            log: deps.log,
            security_defaults: deps.security_defaults,
            networks: deps.networks,
            volumes: deps.volumes,
            helpers: deps.helpers,
            live_restore: deps.live_restore,
            cgroup_driver: deps.cgroup_driver,
            tasks: deps.tasks,
            no_restarts: Default::default(),
            live: Mutex::new(HashMap::new()),
            health: deps.health,
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
        self.records.resolve(reference)
    }

    /// The record of `id` (full id).
    pub fn get(&self, id: &str) -> Result<ContainerRecord> {
        self.records.get(id)
    }

    /// Resolve + get.
    pub fn lookup(&self, reference: &str) -> Result<ContainerRecord> {
        self.records.lookup(reference)
    }

    /// Writes a record durably (off the async threads).
    pub async fn save(&self, rec: &ContainerRecord) -> Result<()> {
        self.records.save(rec).await
    }

    /// Saves a mark a durable save supersedes right after (see `ContainerStore::save_unsynced`).
    pub(crate) async fn save_unsynced(&self, rec: &ContainerRecord) -> Result<()> {
        self.records.save_unsynced(rec).await
    }

    /// `<exec-root>/containers/<id>`.
    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.records.state_dir(id)
    }

    /// Where the root filesystem is mounted while running.
    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.records.rootfs(id)
    }

    /// `<data-root>/containers/<id>` (log, hostname, hosts, resolv.conf).
    pub fn data_dir(&self, id: &str) -> PathBuf {
        self.records.data_dir(id)
    }

    /// Emits a container event.
    pub fn event(&self, action: &str, rec: &ContainerRecord, extra: &[(&str, String)]) {
        self.events.for_container(action, rec, extra);
    }
}
