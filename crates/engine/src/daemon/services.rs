//! The one place the engine's services are built, each once and with what it needs, in
//! dependency order: records and events, images, volumes, networks, health checks, then
//! containers (which use all of them) and exec instances. The helper programs are resolved
//! here once, and exec and health share one process runtime. Then crash recovery and live
//! restore, before anything is served.

use std::sync::Arc;

use super::config::DaemonConfig;
use crate::build::BuildService;
use crate::containers::tasks::ShimRuntime;
use crate::containers::{Containers, ContainersDeps};
use crate::events::EventBus;
use crate::execs::Execs;
use crate::health::Health;
use crate::helpers::Helpers;
use crate::images::{ImageService, ImageUser, ImageUsers};
use crate::networks::Networks;
use crate::processes::RuntimeExec;
use crate::record::ContainerStore;
use crate::volumes::Volumes;

/// The engine's services.
pub struct Services {
    /// Container records, read by every service.
    pub records: ContainerStore,
    /// The event bus.
    pub events: Arc<EventBus>,
    /// Images.
    pub images: Arc<ImageService>,
    /// Volumes.
    pub volumes: Arc<Volumes>,
    /// Networks.
    pub networks: Arc<Networks>,
    /// Health checks of running containers.
    pub health: Arc<Health>,
    /// Containers.
    pub containers: Arc<Containers>,
    /// Exec instances.
    pub execs: Arc<Execs>,
    /// Image builds.
    pub builds: Arc<BuildService>,
}

impl Services {
    /// Builds the services over the data and exec roots of `cfg`.
    pub async fn build(cfg: &DaemonConfig) -> Result<Services, String> {
        let store = Arc::new(
            berth_metadata::Store::open(cfg.data_root.join("metadata"))
                .map_err(|e| e.to_string())?,
        );
        let records = ContainerStore::new(store, cfg.exec_root.clone(), cfg.data_root.clone())
            .with_remap(cfg.remap.clone());
        let events = Arc::new(EventBus::default());
        let registry = berth_registry::RegistryConfig {
            insecure_registries: cfg.insecure_registries.clone(),
            mirrors: cfg.registry_mirrors.clone(),
            ..Default::default()
        };
        let bus = events.clone();
        let images = Arc::new(
            ImageService::new(
                &cfg.data_root,
                registry,
                Arc::new(move |e| bus.publish(e)),
                Arc::new(records.clone()),
            )
            .map_err(|e| e.to_string())?,
        );
        let volumes = Volumes::new(
            &cfg.data_root,
            events.clone(),
            cfg.remap.as_ref().map(|m| (m.root_uid(), m.root_gid())),
        );
        let networks = Networks::open(
            &cfg.data_root,
            cfg.network.clone(),
            records.clone(),
            events.clone(),
        )
        .await?;
        // The helper programs, resolved once for every service that runs them.
        let helpers = Helpers::from_current_exe();
        let processes = Arc::new(RuntimeExec::new(helpers.clone(), cfg.exec_root.clone()));
        let health = Health::new(records.clone(), events.clone(), processes.clone());
        let containers = Containers::new(ContainersDeps {
            records: records.clone(),
            images: images.clone(),
            events: events.clone(),
            networks: networks.clone(),
            volumes: volumes.clone(),
            log: cfg.log.clone(),
            security_defaults: cfg.security_defaults.clone(),
            live_restore: cfg.live_restore,
            cgroup_driver: cfg.cgroup_driver.clone(),
            tasks: Arc::new(ShimRuntime::new(helpers.clone(), cfg.exec_root.clone())),
            health: health.clone(),
            helpers: helpers.clone(),
        });
        let execs = Execs::new(records.clone(), networks.clone(), events.clone(), processes);
        // Build steps left by a daemon that died mid-build are cleared here, before the
        // container reconcile (their snapshots have no container record); recovery keeps
        // the layers the build cache uses.
        let builds = BuildService::open(
            &cfg.data_root,
            &cfg.exec_root,
            images.clone(),
            networks.clone(),
            helpers,
        )?;
        let cache = builds.clone();
        images.set_build_roots(Arc::new(move || cache.cache_roots()));
        Ok(Services {
            records,
            events,
            images,
            volumes,
            networks,
            health,
            containers,
            execs,
            builds,
        })
    }

    /// Crash recovery and live restore: containers first (their snapshots keep image
    /// layers alive), then the image stores, the volume references, running containers and
    /// their network attachments; then the containers their restart policy starts with the
    /// daemon.
    pub async fn recover(&self) -> Result<(), String> {
        let repaired = self.containers.reconcile().await;
        if !repaired.is_empty() {
            eprintln!("berth daemon: reconciled containers after an unclean stop: {repaired}");
        }
        let images = self.images.clone();
        let recovered = tokio::task::spawn_blocking(move || images.recover())
            .await
            .map_err(|e| e.to_string())?;
        if !recovered.is_empty() {
            eprintln!("berth daemon: recovered image stores after an unclean stop: {recovered}");
        }
        self.volumes.rebuild(&self.records.list());
        self.containers.restore().await;
        self.networks.restore_networks().await;
        self.containers.start_by_policy().await;
        Ok(())
    }
}

/// The images containers use, from their records: a running container first, as Docker
/// reports it (a running user's image cannot be deleted even with force).
impl ImageUsers for ContainerStore {
    fn user_of(&self, image_id: &str) -> Option<ImageUser> {
        let users: Vec<_> = self
            .list()
            .into_iter()
            .filter(|r| r.image == image_id)
            .collect();
        let user = users
            .iter()
            .find(|r| r.state.running)
            .or_else(|| users.first())?;
        Some(ImageUser {
            container_id: user.id.clone(),
            running: user.state.running,
        })
    }
}
