//! Volumes in the engine: the Engine API's `/volumes` endpoints over `berth-volume`'s local
//! driver, and (in [`mounts`]) what containers mount: planned at create, bound at start,
//! referenced until the container is removed.
//!
//! A volume is *in use* while a container record names it (running or not), as in Docker.
//! Those references live in memory in the store and are rebuilt from the container records
//! at daemon start ([`Volumes::rebuild`]).

pub mod mounts;

use std::path::Path;
use std::sync::Arc;

use crate::error::{EngineError, Result};
use berth_api_types::volume::{
    Volume, VolumeCreateOptions, VolumeListResponse, VolumePruneResponse,
};
use berth_api_types::{EventActor, EventMessage, Filters};
use berth_volume::VolumeStore;

use crate::events::EventBus;
use crate::record::ContainerRecord;

/// The engine's volume service.
pub struct Volumes {
    /// The local driver's store (`<data-root>/volumes`).
    pub store: VolumeStore,
    events: Arc<EventBus>,
}

impl std::fmt::Debug for Volumes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volumes")
            .field("store", &self.store)
            .finish()
    }
}

impl Volumes {
    /// The service over `<data_root>/volumes` (created on first use); new volumes belong to
    /// `owner` (the remapped root with `userns-remap`), root otherwise.
    pub fn new(data_root: &Path, events: Arc<EventBus>, owner: Option<(u32, u32)>) -> Arc<Self> {
        Arc::new(Volumes {
            store: VolumeStore::new(data_root).with_owner(owner),
            events,
        })
    }

    /// Publishes a `volume` event (create, destroy, mount, unmount).
    pub fn event(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attributes: berth_api_types::Labels =
            [("driver".to_string(), "local".to_string())].into();
        for (k, v) in extra {
            attributes.insert(k.to_string(), v.clone());
        }
        self.events.publish(EventMessage {
            kind: "volume".into(),
            action: action.into(),
            actor: EventActor {
                id: name.into(),
                attributes,
            },
            ..Default::default()
        });
    }

    /// `POST /volumes/create`.
    pub fn create(&self, opts: VolumeCreateOptions) -> Result<Volume> {
        let existed = !opts.name.is_empty() && self.store.inspect(&opts.name).is_ok();
        let v = self
            .store
            .create(
                Some(opts.name.as_str()),
                &opts.driver,
                opts.labels,
                opts.driver_opts,
            )
            .map_err(EngineError::from)?;
        if !existed {
            self.event("create", &v.name, &[]);
        }
        Ok(v)
    }

    /// `GET /volumes` (filters `name`, `label`, `label!`, `dangling`, `driver`).
    pub fn list(&self, filters: &Filters) -> Result<VolumeListResponse> {
        Ok(VolumeListResponse {
            volumes: self.store.list(filters).map_err(EngineError::from)?,
            warnings: Vec::new(),
        })
    }

    /// `GET /volumes/{name}`.
    pub fn inspect(&self, name: &str) -> Result<Volume> {
        self.store.inspect(name).map_err(EngineError::from)
    }

    /// `DELETE /volumes/{name}` (in use → 409 even with `force`).
    pub async fn remove(self: &Arc<Self>, name: &str, force: bool) -> Result<()> {
        let this = self.clone();
        let n = name.to_string();
        let existed = self.store.inspect(name).is_ok();
        tokio::task::spawn_blocking(move || this.store.remove(&n, force))
            .await
            .map_err(EngineError::from)?
            .map_err(EngineError::from)?;
        if existed {
            self.event("destroy", name, &[]);
        }
        Ok(())
    }

    /// `POST /volumes/prune`: unused anonymous volumes, all unused ones with `all=true`.
    pub async fn prune(self: &Arc<Self>, filters: Filters) -> Result<VolumePruneResponse> {
        let this = self.clone();
        let resp = tokio::task::spawn_blocking(move || this.store.prune(&filters))
            .await
            .map_err(EngineError::from)?
            .map_err(EngineError::from)?;
        for n in resp.volumes_deleted.iter().flatten() {
            self.event("destroy", n, &[]);
        }
        Ok(resp)
    }

    /// Volumes with `UsageData` for `GET /system/df`.
    pub async fn usage(self: &Arc<Self>) -> Result<Vec<Volume>> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.store.usage())
            .await
            .map_err(EngineError::from)?
            .map_err(EngineError::from)
    }

    /// Daemon start: every container record references its volumes again; running ones
    /// also count as mounting them (a device volume found mounted stays mounted).
    pub fn rebuild(&self, records: &[ContainerRecord]) {
        for rec in records {
            for m in rec.mounts.iter().filter(|m| m.is_volume()) {
                let _ = self.store.add_ref(&m.name, &rec.id);
                if rec.state.running {
                    let _ = self.store.mount(&m.name, &rec.id);
                }
            }
        }
    }
}
