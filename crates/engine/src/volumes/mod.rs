//! Volumes in the engine: the Engine API's `/volumes` endpoints over `berth-volume`'s local
//! driver, and (in [`mounts`]) what containers mount: planned at create, bound at start,
//! referenced until the container is removed.
//!
//! A volume is *in use* while a container record names it (running or not), as in Docker.
//! Those references live in memory in the store and are rebuilt from the container records
//! at daemon start ([`Volumes::rebuild`]).

pub mod mount_spec;
pub mod mounts;

use std::path::Path;
use std::sync::Arc;

use crate::error::{EngineError, Result};
use berth_api_types::volume::{
    Volume, VolumeCreateOptions, VolumeListResponse, VolumePruneResponse, VolumeUsageData,
};
use berth_api_types::{EventActor, EventMessage, Filters};
use berth_units::{SubSeconds, Timestamp};
use berth_volume::{VolumeFilter, VolumeInfo, VolumeStore};

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
        Ok(to_api(v))
    }

    /// `GET /volumes` (filters `name`, `label`, `label!`, `dangling`, `driver`).
    pub fn list(&self, filters: &Filters) -> Result<VolumeListResponse> {
        Ok(VolumeListResponse {
            volumes: self
                .store
                .list(&volume_filter(filters)?)
                .map_err(EngineError::from)?
                .into_iter()
                .map(to_api)
                .collect(),
            warnings: Vec::new(),
        })
    }

    /// `GET /volumes/{name}`.
    pub fn inspect(&self, name: &str) -> Result<Volume> {
        self.store
            .inspect(name)
            .map(to_api)
            .map_err(EngineError::from)
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
        let filter = volume_filter(&filters)?;
        let pruned = tokio::task::spawn_blocking(move || this.store.prune(&filter))
            .await
            .map_err(EngineError::from)?
            .map_err(EngineError::from)?;
        for n in &pruned.deleted {
            self.event("destroy", n, &[]);
        }
        Ok(VolumePruneResponse {
            volumes_deleted: Some(pruned.deleted),
            space_reclaimed: pruned.reclaimed,
        })
    }

    /// Volumes with `UsageData` for `GET /system/df`.
    pub async fn usage(self: &Arc<Self>) -> Result<Vec<Volume>> {
        let this = self.clone();
        let usage = tokio::task::spawn_blocking(move || this.store.usage())
            .await
            .map_err(EngineError::from)?
            .map_err(EngineError::from)?;
        Ok(usage
            .into_iter()
            .map(|u| Volume {
                usage_data: Some(VolumeUsageData {
                    size: i64::try_from(u.size).unwrap_or(i64::MAX),
                    ref_count: i64::try_from(u.ref_count).unwrap_or(i64::MAX),
                }),
                ..to_api(u.volume)
            })
            .collect())
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

/// The API's `Volume` of a stored volume (local driver and scope, RFC 3339 creation time).
fn to_api(v: VolumeInfo) -> Volume {
    Volume {
        created_at: Timestamp::new(v.created_unix, 0).to_rfc3339(SubSeconds::Omit),
        driver: "local".into(),
        labels: v.labels,
        mountpoint: v.mountpoint.to_string_lossy().into_owned(),
        name: v.name,
        options: v.options,
        scope: "local".into(),
        status: None,
        usage_data: None,
    }
}

/// Docker's volume filters (`name`, `driver`, `label`, `label!`, `dangling`, and `all` for
/// prune) as the store's; an unknown key or a `dangling` that is not a boolean is 400.
fn volume_filter(f: &Filters) -> Result<VolumeFilter> {
    const KEYS: [&str; 6] = ["name", "label", "dangling", "driver", "all", "label!"];
    if let Some(key) = f.0.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(EngineError::invalid(format!("invalid filter '{key}'")));
    }
    let mut dangling = None;
    for d in f.get("dangling") {
        let want = match d.as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            other => {
                return Err(EngineError::invalid(format!(
                    "invalid filter 'dangling={other}'"
                )))
            }
        };
        // Both given: a true value wins (moby checks `ExactMatch("dangling", "true")` first).
        dangling = Some(want || dangling == Some(true));
    }
    Ok(VolumeFilter {
        names: f.get("name").to_vec(),
        drivers: f.get("driver").to_vec(),
        labels: f.get("label").to_vec(),
        not_labels: f.get("label!").to_vec(),
        dangling,
        all: f.get("all").iter().any(|v| v == "true" || v == "1"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(kv: &[(&str, &str)]) -> Filters {
        let mut f = Filters::default();
        for (k, v) in kv {
            f.add(k, v);
        }
        f
    }

    #[test]
    fn filters_become_the_stores_and_bad_ones_are_refused() {
        let f = volume_filter(&filters(&[
            ("name", "data"),
            ("label!", "x=1"),
            ("dangling", "false"),
            ("all", "true"),
        ]))
        .unwrap();
        assert_eq!(f.names, ["data"]);
        assert_eq!(f.not_labels, ["x=1"]);
        assert_eq!((f.dangling, f.all), (Some(false), true));
        assert_eq!(
            volume_filter(&Filters::default()).unwrap(),
            VolumeFilter::default()
        );
        let e = volume_filter(&filters(&[("bogus", "1")])).unwrap_err();
        assert_eq!(e.to_string(), "invalid filter 'bogus'");
        assert!(e.is(crate::error::ErrorKind::InvalidArgument));
        let e = volume_filter(&filters(&[("dangling", "maybe")])).unwrap_err();
        assert_eq!(e.to_string(), "invalid filter 'dangling=maybe'");
    }

    #[test]
    fn api_volume_has_docker_fields() {
        let v = to_api(VolumeInfo {
            name: "v".into(),
            labels: [("a".to_string(), "b".to_string())].into(),
            options: Default::default(),
            created_unix: 0,
            mountpoint: "/var/lib/berth/volumes/v/_data".into(),
            anonymous: false,
        });
        assert_eq!((v.driver.as_str(), v.scope.as_str()), ("local", "local"));
        assert_eq!(v.created_at, "1970-01-01T00:00:00Z");
        assert_eq!(v.mountpoint, "/var/lib/berth/volumes/v/_data");
    }
}
