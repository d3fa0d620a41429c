//! The persisted container record ([`ContainerRecord`], its [`ContainerMount`]s), the
//! [`ContainerStore`] every service reads records through, and small helpers (ids, names,
//! times).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_api_types::{ContainerConfig, ContainerState, HostConfig};
use berth_metadata::{MetadataError, Store};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// Metadata kind of container records.
pub const KIND: &str = "container";

/// What is pinned for a container (config, image, snapshot) and its last known state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// 64 hex digits.
    pub id: String,
    /// `/name`.
    pub name: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Executable (first of entrypoint + cmd).
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Merged config.
    pub config: ContainerConfig,
    /// Host config.
    pub host_config: HostConfig,
    /// Image id (`sha256:…`).
    pub image: String,
    /// State.
    pub state: ContainerState,
    /// Restarts done by the restart policy.
    pub restart_count: i64,
    /// json-file log.
    pub log_path: String,
    /// Stopped by the user (unless-stopped / always do not restart it).
    #[serde(default)]
    pub manually_stopped: bool,
    /// Networks to join and their endpoint settings (`NetworkingConfig`), by network name.
    #[serde(default)]
    pub endpoints_config: std::collections::BTreeMap<String, berth_api_types::EndpointSettings>,
    /// Binds, volumes and tmpfs mounts decided at create (see `crate::volumes::mounts`, which plans them).
    #[serde(default)]
    pub mounts: Vec<ContainerMount>,
    /// Legacy links on the default bridge (`--link target:alias`), checked at create:
    /// the containers this one links to. Links on user networks live in
    /// `endpoints_config` (`EndpointSettings.Links`) and go through the embedded DNS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LegacyLink>,
    /// Set while the container is being removed (`rm`): a daemon that crashed meanwhile
    /// finishes the removal at its next start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removing: Option<Removal>,
}

/// A legacy link: this container reaches `child` as `alias` (Docker's link graph entry
/// `/<parent>/<alias>`). The child's name and addresses are read when they are needed, so
/// a rename or a new address of the child shows; a removed child drops out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyLink {
    /// Full id of the linked container.
    pub child: String,
    /// The name this container gives it.
    pub alias: String,
}

/// One mount of a container as recorded at create (Docker's `MountPoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerMount {
    /// `bind`, `volume` or `tmpfs`.
    pub kind: String,
    /// Volume name (volumes).
    pub name: String,
    /// Host path (binds).
    pub source: String,
    /// Path in the container.
    pub destination: String,
    /// Mode as given (`ro`, `z`, …; `z` for named volumes without one, like Docker).
    pub mode: String,
    /// Writable.
    pub rw: bool,
    /// Bind propagation (`rprivate` by default for binds).
    pub propagation: String,
    /// Copy the image's content into the volume when it is empty.
    pub copy_data: bool,
    /// Create a missing bind source directory at start (`-v`, not `--mount`).
    pub create_host_path: bool,
    /// tmpfs mount data (`size=…,mode=…`).
    pub tmpfs_data: String,
    /// `VolumeOptions.Subpath`: the directory of the volume mounted instead of its root.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subpath: String,
}

impl ContainerMount {
    /// True for volume mounts.
    pub fn is_volume(&self) -> bool {
        self.kind == "volume"
    }
}

/// The container records in the metadata store and where a container's files live: what
/// every service reads about containers (networks, volumes, images' "in use", exec,
/// health). Only [`crate::containers::Containers`] changes records through operations.
#[derive(Debug, Clone)]
pub struct ContainerStore {
    store: Arc<Store>,
    exec_root: PathBuf,
    data_root: PathBuf,
    remap: Option<Arc<crate::remap::IdMapping>>,
    /// The group of the traversable directories when it is not root's nor the remapped
    /// root's (unit tests, which run unprivileged, use their own).
    traverse_gid: Option<u32>,
}

/// Maps a metadata error to the engine's.
pub fn meta_err(e: MetadataError) -> EngineError {
    match e {
        MetadataError::NameInUse { .. } => EngineError::conflict(e.to_string()),
        MetadataError::InvalidName { .. } => EngineError::invalid(e.to_string()),
        MetadataError::NotFound { reference, .. } => EngineError::no_such_container(&reference),
        MetadataError::Ambiguous { .. } => EngineError::invalid(e.to_string()),
        e => EngineError::internal(e.to_string()),
    }
}

impl ContainerStore {
    /// Records in `store`; files under `exec_root` and `data_root`.
    pub fn new(store: Arc<Store>, exec_root: PathBuf, data_root: PathBuf) -> Self {
        ContainerStore {
            store,
            exec_root,
            data_root,
            remap: None,
            traverse_gid: None,
        }
    }

    /// The same store with `gid` as the group of the traversable directories.
    #[cfg(test)]
    pub fn with_traverse_gid(mut self, gid: u32) -> Self {
        self.traverse_gid = Some(gid);
        self
    }

    /// The same store for a daemon with `userns-remap`.
    pub fn with_remap(mut self, remap: Option<Arc<crate::remap::IdMapping>>) -> Self {
        self.remap = remap;
        self
    }

    /// The daemon's `userns-remap` mapping, if any.
    pub fn remap(&self) -> Option<&Arc<crate::remap::IdMapping>> {
        self.remap.as_ref()
    }

    /// The roots and the group allowed to traverse them (the remapped root's with
    /// `userns-remap`).
    pub fn layout(&self) -> crate::layout::Layout {
        crate::layout::Layout {
            data_root: self.data_root.clone(),
            exec_root: self.exec_root.clone(),
            gid: self
                .traverse_gid
                .or_else(|| self.remap.as_ref().map(|m| m.root_gid())),
        }
    }

    /// The metadata store (records of every kind).
    pub fn metadata(&self) -> &Arc<Store> {
        &self.store
    }

    /// `<exec-root>`.
    pub fn exec_root(&self) -> &Path {
        &self.exec_root
    }

    /// `<data-root>`.
    pub fn data_root(&self) -> &Path {
        &self.data_root
    }

    /// Resolves a reference (id, name, prefix) to a full id.
    pub fn resolve(&self, reference: &str) -> Result<String> {
        match self.store.resolve(KIND, reference) {
            Ok(id) => Ok(id),
            Err(MetadataError::NotFound { .. }) => self
                .resolve_link_name(reference)
                .ok_or_else(|| EngineError::no_such_container(reference)),
            Err(e) => Err(meta_err(e)),
        }
    }

    /// `<parent>/<alias>`: the container a legacy link of `parent` names (Docker registers
    /// link names beside container names, so `docker rm --link parent/alias` finds it).
    pub fn resolve_link_name(&self, reference: &str) -> Option<String> {
        let (parent, alias) = reference.trim_start_matches('/').rsplit_once('/')?;
        let parent = self.store.name_owner(KIND, &format!("/{parent}"))?;
        let child = self
            .get(&parent)
            .ok()?
            .links
            .into_iter()
            .find(|l| l.alias == alias)?
            .child;
        self.get(&child).ok().map(|c| c.id)
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

    /// Every record (none when the store cannot be read).
    pub fn list(&self) -> Vec<ContainerRecord> {
        self.store
            .list::<ContainerRecord>(KIND)
            .map(|l| l.into_iter().map(|(_, r)| r).collect())
            .unwrap_or_default()
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

    /// Writes a record that a durable write supersedes right after (a stop's or a removal's
    /// mark): atomic and kept across a daemon crash, not fsync'd (`Store::put_unsynced`).
    pub async fn save_unsynced(&self, rec: &ContainerRecord) -> Result<()> {
        let store = self.store.clone();
        let rec = rec.clone();
        tokio::task::spawn_blocking(move || store.put_unsynced(KIND, &rec.id, &rec))
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
}

/// A removal in progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    /// Its anonymous volumes go too (`rm -v`, `--rm`).
    pub volumes: bool,
}

/// Go's zero time as Docker prints it.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A new 64-hex-digit id.
pub fn new_id() -> String {
    let mut b = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// True when `name` follows Docker's rule `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && n.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

const LEFT: &[&str] = &[
    "admiring",
    "adoring",
    "affectionate",
    "amazing",
    "awesome",
    "blissful",
    "bold",
    "brave",
    "charming",
    "clever",
    "cool",
    "compassionate",
    "confident",
    "dazzling",
    "determined",
    "eager",
    "ecstatic",
    "elegant",
    "epic",
    "festive",
    "focused",
    "friendly",
    "gallant",
    "gifted",
    "happy",
    "hopeful",
    "jolly",
    "keen",
    "kind",
    "loving",
    "modest",
    "nice",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "sharp",
    "stoic",
    "vibrant",
    "wizardly",
    "zealous",
];
const RIGHT: &[&str] = &[
    "albattani",
    "babbage",
    "bell",
    "curie",
    "darwin",
    "einstein",
    "euler",
    "faraday",
    "fermat",
    "feynman",
    "galileo",
    "hopper",
    "hypatia",
    "kepler",
    "lamarr",
    "lovelace",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "wozniak",
    "yonath",
];

/// Docker's random `adjective_scientist` name (with a digit on retries).
pub fn random_name(attempt: u32) -> String {
    let id = new_id();
    let a = usize::from_str_radix(&id[0..4], 16).unwrap_or(0);
    let b = usize::from_str_radix(&id[4..8], 16).unwrap_or(0);
    let base = format!("{}_{}", LEFT[a % LEFT.len()], RIGHT[b % RIGHT.len()]);
    if attempt == 0 {
        base
    } else {
        format!("{base}{}", b % 10)
    }
}

/// Unix seconds of an RFC 3339 time (0 when unparsable).
pub fn unix_secs(t: &str) -> i64 {
    crate::logfile::rfc3339_nanos(t)
        .map(|n| i64::try_from(n / 1_000_000_000).unwrap_or(0))
        .unwrap_or(0)
}

/// Docker's `Status` column text ("Up 3 seconds", "Exited (0) 5 minutes ago", "Created").
pub fn status_text(state: &ContainerState) -> String {
    let now = berth_units::Timestamp::now().secs;
    let ago = |t: &str| {
        let secs = u64::try_from(now - unix_secs(t)).unwrap_or(0);
        berth_units::human_duration(std::time::Duration::from_secs(secs))
    };
    match state.status.as_str() {
        "running" => {
            let health = match state.health.as_ref().map(|h| h.status.as_str()) {
                Some("starting") => " (health: starting)",
                Some("healthy") => " (healthy)",
                Some("unhealthy") => " (unhealthy)",
                _ => "",
            };
            format!("Up {}{health}", ago(&state.started_at))
        }
        "paused" => format!("Up {} (Paused)", ago(&state.started_at)),
        "restarting" => format!(
            "Restarting ({}) {} ago",
            state.exit_code,
            ago(&state.finished_at)
        ),
        "exited" => format!(
            "Exited ({}) {} ago",
            state.exit_code,
            ago(&state.finished_at)
        ),
        "dead" => "Dead".into(),
        "removing" => "Removal In Progress".into(),
        _ => "Created".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        assert!(valid_name("web"));
        assert!(valid_name("/web-1.a_b"));
        assert!(!valid_name("-web"));
        assert!(!valid_name("a"));
        assert!(!valid_name("we b"));
        assert!(valid_name(&random_name(0)));
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert_ne!(id, new_id());
    }
}
