//! The local volume driver: `<root>/volumes/<name>/_data` plus `<name>/berth.json`
//! (labels, options, creation time, anonymous flag), written temp+rename so a crash never
//! leaves a half-made volume visible (a directory without `berth.json` is ignored and
//! reclaimed by the next create of that name).
//!
//! Users are tracked in memory, in two sets per volume:
//! - *references* ([`VolumeStore::add_ref`]/[`VolumeStore::remove_ref`]): containers whose
//!   record names the volume, running or not (Docker refuses to remove those); the engine
//!   rebuilds them from its container records at daemon start;
//! - *mounts* ([`VolumeStore::mount`]/[`VolumeStore::unmount`]): running containers; a volume
//!   with `type`/`device` options is mounted on the first and unmounted after the last.
//!
//! [`VolumeStore::acquire`]/[`VolumeStore::release`] do both at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::copyup;
use crate::error::{Result, VolumeError};
use crate::mountopts;
use crate::name::{anonymous_name, validate_name};

const META: &str = "berth.json";

/// Labels and driver options: sorted key/value pairs.
pub type Labels = BTreeMap<String, String>;

/// A volume as the store knows it (the engine turns it into the API's `Volume`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Its name.
    pub name: String,
    /// User labels (anonymous volumes carry [`ANONYMOUS_LABEL`]).
    pub labels: Labels,
    /// Driver options (`type`, `device`, `o`, `size`).
    pub options: Labels,
    /// Creation time, seconds since the epoch.
    pub created_unix: i64,
    /// Host path of its data (`<root>/volumes/<name>/_data`).
    pub mountpoint: PathBuf,
    /// Created without a name (`rm -v` and the default prune remove these).
    pub anonymous: bool,
}

/// A volume with what `system df` shows of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeUsage {
    /// The volume.
    pub volume: VolumeInfo,
    /// Bytes under its data directory.
    pub size: u64,
    /// Containers referencing it.
    pub ref_count: usize,
}

/// Which volumes `list` and `prune` take; every set condition must hold (Docker's
/// `volume ls --filter` keys: `name`, `driver`, `label`, `label!`, `dangling`; `all` for
/// prune).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeFilter {
    /// The name contains one of these.
    pub names: Vec<String>,
    /// The driver is one of these.
    pub drivers: Vec<String>,
    /// Has every label (`k` or `k=v`).
    pub labels: Vec<String>,
    /// Has none of these labels (`k` or `k=v`).
    pub not_labels: Vec<String>,
    /// No container uses it (`true`) or one does (`false`).
    pub dangling: Option<bool>,
    /// Prune named volumes too, not only anonymous ones.
    pub all: bool,
}

/// What a prune removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Names of the removed volumes.
    pub deleted: Vec<String>,
    /// Bytes their data took.
    pub reclaimed: u64,
}

/// What is persisted per volume.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Meta {
    name: String,
    labels: Labels,
    options: Labels,
    created_unix: i64,
    anonymous: bool,
}

/// Label Docker puts on anonymous volumes (`volume prune` without `all` removes only these).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// The local volume store.
#[derive(Debug)]
pub struct VolumeStore {
    dir: PathBuf,
    users: Mutex<HashMap<String, BTreeSet<String>>>,
    mounted_by: Mutex<HashMap<String, BTreeSet<String>>>,
    owner: Option<(u32, u32)>,
}

impl VolumeStore {
    /// Opens the store under `<data_root>/volumes`, creating the directory.
    pub fn open(data_root: &Path) -> Result<Self> {
        let store = Self::new(data_root);
        std::fs::create_dir_all(&store.dir)
            .map_err(|e| VolumeError::io("create dir", &store.dir, e))?;
        Ok(store)
    }

    /// The store under `<data_root>/volumes` without touching the disk (the directory is
    /// made by the first create; a missing one lists as empty).
    pub fn new(data_root: &Path) -> Self {
        VolumeStore {
            dir: data_root.join("volumes"),
            users: Mutex::new(HashMap::new()),
            mounted_by: Mutex::new(HashMap::new()),
            owner: None,
        }
    }

    /// The same store, whose new volumes' `_data` belongs to `owner` (uid, gid): the
    /// remapped root of a daemon with `userns-remap`, as dockerd creates them.
    pub fn with_owner(mut self, owner: Option<(u32, u32)>) -> Self {
        self.owner = owner;
        self
    }

    fn vol_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Host path of a volume's data (`<root>/volumes/<name>/_data`).
    pub fn data_path(&self, name: &str) -> PathBuf {
        self.vol_dir(name).join("_data")
    }

    fn read_meta(&self, name: &str) -> Result<Option<Meta>> {
        let path = self.vol_dir(name).join(META);
        match std::fs::read(&path) {
            Ok(d) => serde_json::from_slice(&d)
                .map(Some)
                .map_err(|e| VolumeError::Corrupt {
                    path,
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(VolumeError::io("read", path, e)),
        }
    }

    fn info(&self, m: &Meta) -> VolumeInfo {
        VolumeInfo {
            name: m.name.clone(),
            labels: m.labels.clone(),
            options: m.options.clone(),
            created_unix: m.created_unix,
            mountpoint: self.data_path(&m.name),
            anonymous: m.anonymous,
        }
    }

    /// Creates a volume (anonymous when `name` is `None`); creating an existing name returns
    /// the existing volume, like Docker.
    pub fn create(
        &self,
        name: Option<&str>,
        driver: &str,
        labels: Labels,
        options: Labels,
    ) -> Result<VolumeInfo> {
        match name.filter(|n| !n.is_empty()) {
            Some(n) => self.create_with(n, driver, labels, options, false),
            None => self.create_with(&anonymous_name(), driver, labels, options, true),
        }
    }

    /// Checks a create request without creating anything (driver, name, options).
    pub fn check_create(name: &str, driver: &str, options: &Labels) -> Result<()> {
        if !driver.is_empty() && driver != "local" {
            return Err(VolumeError::InvalidArgument(format!(
                "error looking up volume plugin {driver}: plugin \"{driver}\" not found"
            )));
        }
        validate_name(name)?;
        mountopts::validate(options)
    }

    /// Creates the volume `name` (an existing one is returned as is); `anonymous` marks it
    /// for `rm -v` and the default `prune`.
    pub fn create_with(
        &self,
        name: &str,
        driver: &str,
        labels: Labels,
        options: Labels,
        anonymous: bool,
    ) -> Result<VolumeInfo> {
        Self::check_create(name, driver, &options)?;
        let name = name.to_string();
        if let Some(m) = self.read_meta(&name)? {
            return Ok(self.info(&m));
        }
        let dir = self.vol_dir(&name);
        let data = self.data_path(&name);
        std::fs::create_dir_all(&data).map_err(|e| VolumeError::io("create", &data, e))?;
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(&data, Some(uid), Some(gid))
                .map_err(|e| VolumeError::io("chown", &data, e))?;
        }
        let created_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .unwrap_or(0);
        let mut labels = labels;
        if anonymous {
            labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
        }
        let meta = Meta {
            name: name.clone(),
            labels,
            options,
            created_unix,
            anonymous,
        };
        let tmp = dir.join("berth.json.tmp");
        let res = std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(&meta).expect("meta serializes"),
        )
        .map_err(|e| VolumeError::io("write", &tmp, e))
        .and_then(|()| {
            std::fs::rename(&tmp, dir.join(META)).map_err(|e| VolumeError::io("rename", &tmp, e))
        });
        if let Err(e) = res {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(self.info(&meta))
    }

    /// One volume.
    pub fn inspect(&self, name: &str) -> Result<VolumeInfo> {
        let m = self
            .read_meta(name)?
            .ok_or_else(|| VolumeError::NotFound(name.to_string()))?;
        Ok(self.info(&m))
    }

    /// True when the volume was created anonymously (for `rm -v`).
    pub fn is_anonymous(&self, name: &str) -> Result<bool> {
        Ok(self
            .read_meta(name)?
            .ok_or_else(|| VolumeError::NotFound(name.to_string()))?
            .anonymous)
    }

    fn all(&self) -> Result<Vec<Meta>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(VolumeError::io("read dir", &self.dir, e)),
        };
        for e in entries.flatten() {
            if let Some(m) = self.read_meta(&e.file_name().to_string_lossy())? {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn matches(&self, m: &Meta, f: &VolumeFilter) -> bool {
        if !f.names.is_empty() && !f.names.iter().any(|n| m.name.contains(n.as_str())) {
            return false;
        }
        if !f.drivers.is_empty() && !f.drivers.iter().any(|d| d == "local") {
            return false;
        }
        let label_ok = |l: &String| match l.split_once('=') {
            Some((k, v)) => m.labels.get(k).is_some_and(|x| x == v),
            None => m.labels.contains_key(l.as_str()),
        };
        if !f.labels.iter().all(label_ok) || f.not_labels.iter().any(label_ok) {
            return false;
        }
        match f.dangling {
            Some(want) => self.users(&m.name).is_empty() == want,
            None => true,
        }
    }

    /// Volumes matching Docker's filters: `name` (substring), `label` (`k` or `k=v`),
    /// `label!`, `dangling` (no users), `driver`.
    pub fn list(&self, filter: &VolumeFilter) -> Result<Vec<VolumeInfo>> {
        Ok(self
            .all()?
            .iter()
            .filter(|m| self.matches(m, filter))
            .map(|m| self.info(m))
            .collect())
    }

    /// Every volume with `UsageData` (size of its data in bytes, number of referencing
    /// containers), for `system df`.
    pub fn usage(&self) -> Result<Vec<VolumeUsage>> {
        Ok(self
            .all()?
            .iter()
            .map(|m| VolumeUsage {
                volume: self.info(m),
                size: dir_size(&self.data_path(&m.name)),
                ref_count: self.users(&m.name).len(),
            })
            .collect())
    }

    /// Removes a volume; refused while containers use it (unless `force`, which still
    /// refuses in-use volumes like Docker but ignores a missing one).
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        let users = self.users(name);
        if !users.is_empty() {
            return Err(VolumeError::InUse {
                name: name.to_string(),
                users,
            });
        }
        if self.read_meta(name)?.is_none() {
            return if force {
                Ok(())
            } else {
                Err(VolumeError::NotFound(name.to_string()))
            };
        }
        let data = self.data_path(name);
        if mountopts::is_mounted(&data) {
            mountopts::unmount(&data)?;
        }
        let dir = self.vol_dir(name);
        // Drop the metadata first: a crash mid-delete leaves an ignored directory.
        let meta = dir.join(META);
        std::fs::remove_file(&meta).map_err(|e| VolumeError::io("remove", &meta, e))?;
        std::fs::remove_dir_all(&dir).map_err(|e| VolumeError::io("remove", &dir, e))
    }

    /// Removes unused volumes: anonymous ones only, unless the filter `all=true` is given
    /// (Docker API >= 1.42); other filters as in [`list`](Self::list).
    pub fn prune(&self, filter: &VolumeFilter) -> Result<Pruned> {
        let all = filter.all;
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for m in self.all()? {
            if !self.users(&m.name).is_empty()
                || (!all && !m.anonymous)
                || !self.matches(&m, filter)
            {
                continue;
            }
            let size = dir_size(&self.data_path(&m.name));
            self.remove(&m.name, false)?;
            reclaimed += size;
            deleted.push(m.name);
        }
        Ok(Pruned { deleted, reclaimed })
    }

    /// Container ids using a volume.
    pub fn users(&self, name: &str) -> Vec<String> {
        self.users
            .lock()
            .expect("users lock")
            .get(name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Records `container` as referencing the volume (it then counts as in use).
    pub fn add_ref(&self, name: &str, container: &str) -> Result<()> {
        if self.read_meta(name)?.is_none() {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        self.users
            .lock()
            .expect("users lock")
            .entry(name.to_string())
            .or_default()
            .insert(container.to_string());
        Ok(())
    }

    /// Drops `container`'s reference.
    pub fn remove_ref(&self, name: &str, container: &str) {
        let mut users = self.users.lock().expect("users lock");
        if let Some(set) = users.get_mut(name) {
            set.remove(container);
            if set.is_empty() {
                users.remove(name);
            }
        }
    }

    /// A running `container` uses the volume: mounts its device first when it has
    /// `type`/`device` options and is not mounted yet; returns the host path to bind.
    pub fn mount(&self, name: &str, container: &str) -> Result<PathBuf> {
        let m = self
            .read_meta(name)?
            .ok_or_else(|| VolumeError::NotFound(name.to_string()))?;
        let data = self.data_path(name);
        let mut active = self.mounted_by.lock().expect("mount lock");
        let set = active.entry(name.to_string()).or_default();
        if set.is_empty() && mountopts::needs_mount(&m.options) && !mountopts::is_mounted(&data) {
            if let Err(e) = mountopts::mount(&m.options, &data) {
                active.remove(name);
                return Err(e);
            }
        }
        set.insert(container.to_string());
        Ok(data)
    }

    /// `container` stopped using the volume; unmounts a device volume after its last user.
    pub fn unmount(&self, name: &str, container: &str) -> Result<()> {
        let mut active = self.mounted_by.lock().expect("mount lock");
        let Some(set) = active.get_mut(name) else {
            return Ok(());
        };
        set.remove(container);
        if set.is_empty() {
            active.remove(name);
            let data = self.data_path(name);
            if mountopts::is_mounted(&data) {
                mountopts::unmount(&data)?;
            }
        }
        Ok(())
    }

    /// `container` stopped: [`unmount`](Self::unmount) of every volume it had mounted.
    pub fn unmount_container(&self, container: &str) {
        let names: Vec<String> = self
            .mounted_by
            .lock()
            .expect("mount lock")
            .iter()
            .filter(|(_, set)| set.contains(container))
            .map(|(n, _)| n.clone())
            .collect();
        for n in names {
            let _ = self.unmount(&n, container);
        }
    }

    /// [`add_ref`](Self::add_ref) and [`mount`](Self::mount) at once.
    pub fn acquire(&self, name: &str, container: &str) -> Result<PathBuf> {
        self.add_ref(name, container)?;
        self.mount(name, container)
            .inspect_err(|_| self.remove_ref(name, container))
    }

    /// [`unmount`](Self::unmount) and [`remove_ref`](Self::remove_ref) at once.
    pub fn release(&self, name: &str, container: &str) -> Result<()> {
        let res = self.unmount(name, container);
        self.remove_ref(name, container);
        res
    }

    /// Copies `image_dir` (the image's content at the mount target) into the volume if the
    /// volume is empty; returns whether it copied. Call after [`acquire`](Self::acquire)
    /// unless the mount says `nocopy`.
    pub fn copy_up(&self, name: &str, image_dir: &Path) -> Result<bool> {
        let data = self.data_path(name);
        let empty = std::fs::read_dir(&data)
            .map_err(|e| VolumeError::io("read dir", &data, e))?
            .next()
            .is_none();
        if !empty || !image_dir.is_dir() {
            return Ok(false);
        }
        copyup::copy_tree(image_dir, &data)?;
        Ok(true)
    }

    /// Names of all volumes with labels (used by the engine to rebuild state).
    pub fn names(&self) -> Result<BTreeMap<String, bool>> {
        Ok(self
            .all()?
            .into_iter()
            .map(|m| (m.name, m.anonymous))
            .collect())
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
