//! The local volume driver: `<root>/volumes/<name>/_data` plus `<name>/berth.json`
//! (labels, options, creation time, anonymous flag), written temp+rename so a crash never
//! leaves a half-made volume visible (a directory without `berth.json` is ignored and
//! reclaimed by the next create of that name).
//!
//! Users (container ids) are counted in memory: the engine calls [`VolumeStore::acquire`]
//! when a container starts using a volume (also again for every running container after a
//! daemon restart) and [`VolumeStore::release`] when it stops using it. Volumes with
//! `type`/`device` options are mounted on the first acquire and unmounted on the last release.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_api_types::volume::{Volume, VolumePruneResponse};
use berth_api_types::{Filters, Labels};
use serde::{Deserialize, Serialize};

use crate::copyup;
use crate::error::{Result, VolumeError};
use crate::mountopts;
use crate::name::{anonymous_name, validate_name};

const META: &str = "berth.json";

/// What is persisted per volume.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Meta {
    name: String,
    labels: Labels,
    options: Labels,
    created_unix: i64,
    anonymous: bool,
}

/// The local volume store.
#[derive(Debug)]
pub struct VolumeStore {
    dir: PathBuf,
    users: Mutex<HashMap<String, BTreeSet<String>>>,
}

/// Formats Unix seconds as RFC 3339 UTC (`2024-01-02T03:04:05Z`).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil-from-days (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl VolumeStore {
    /// Opens the store under `<data_root>/volumes`.
    pub fn open(data_root: &Path) -> Result<Self> {
        let dir = data_root.join("volumes");
        std::fs::create_dir_all(&dir).map_err(|e| VolumeError::io("create dir", &dir, e))?;
        Ok(VolumeStore {
            dir,
            users: Mutex::new(HashMap::new()),
        })
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

    fn to_api(&self, m: &Meta) -> Volume {
        let users = self.users(&m.name).len() as i64;
        Volume {
            name: m.name.clone(),
            driver: "local".into(),
            mountpoint: self.data_path(&m.name).to_string_lossy().into_owned(),
            created_at: rfc3339(m.created_unix),
            status: None,
            labels: m.labels.clone(),
            scope: "local".into(),
            options: m.options.clone(),
            usage_data: Some(berth_api_types::volume::VolumeUsageData {
                size: -1,
                ref_count: users,
            }),
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
    ) -> Result<Volume> {
        if !driver.is_empty() && driver != "local" {
            return Err(VolumeError::InvalidArgument(format!(
                "error looking up volume plugin {driver}: plugin \"{driver}\" not found"
            )));
        }
        let (name, anonymous) = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                validate_name(n)?;
                (n.to_string(), false)
            }
            None => (anonymous_name(), true),
        };
        mountopts::validate(&options)?;
        if let Some(m) = self.read_meta(&name)? {
            return Ok(self.to_api(&m));
        }
        let dir = self.vol_dir(&name);
        let data = self.data_path(&name);
        std::fs::create_dir_all(&data).map_err(|e| VolumeError::io("create", &data, e))?;
        let created_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
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
        Ok(self.to_api(&meta))
    }

    /// One volume.
    pub fn inspect(&self, name: &str) -> Result<Volume> {
        let m = self
            .read_meta(name)?
            .ok_or_else(|| VolumeError::NotFound(name.to_string()))?;
        Ok(self.to_api(&m))
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
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| VolumeError::io("read dir", &self.dir, e))?;
        for e in entries.flatten() {
            if let Some(m) = self.read_meta(&e.file_name().to_string_lossy())? {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn matches(&self, m: &Meta, f: &Filters) -> Result<bool> {
        for key in f.0.keys() {
            if !["name", "label", "dangling", "driver", "all", "label!"].contains(&key.as_str()) {
                return Err(VolumeError::InvalidArgument(format!(
                    "invalid filter '{key}'"
                )));
            }
        }
        let names = f.get("name");
        if !names.is_empty() && !names.iter().any(|n| m.name.contains(n.as_str())) {
            return Ok(false);
        }
        let drivers = f.get("driver");
        if !drivers.is_empty() && !drivers.iter().any(|d| d == "local") {
            return Ok(false);
        }
        let label_ok = |l: &String| match l.split_once('=') {
            Some((k, v)) => m.labels.get(k).is_some_and(|x| x == v),
            None => m.labels.contains_key(l.as_str()),
        };
        if !f.get("label").iter().all(label_ok) {
            return Ok(false);
        }
        if f.get("label!").iter().any(label_ok) {
            return Ok(false);
        }
        for d in f.get("dangling") {
            let want = match d.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                other => {
                    return Err(VolumeError::InvalidArgument(format!(
                        "invalid filter 'dangling={other}'"
                    )))
                }
            };
            if self.users(&m.name).is_empty() != want {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Volumes matching Docker's filters: `name` (substring), `label` (`k` or `k=v`),
    /// `label!`, `dangling` (no users), `driver`.
    pub fn list(&self, filters: &Filters) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        for m in self.all()? {
            if self.matches(&m, filters)? {
                out.push(self.to_api(&m));
            }
        }
        Ok(out)
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
    pub fn prune(&self, filters: &Filters) -> Result<VolumePruneResponse> {
        let all = filters.get("all").iter().any(|v| v == "true" || v == "1");
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for m in self.all()? {
            if !self.users(&m.name).is_empty()
                || (!all && !m.anonymous)
                || !self.matches(&m, filters)?
            {
                continue;
            }
            let size = dir_size(&self.data_path(&m.name));
            self.remove(&m.name, false)?;
            reclaimed += size;
            deleted.push(m.name);
        }
        Ok(VolumePruneResponse {
            volumes_deleted: Some(deleted),
            space_reclaimed: reclaimed,
        })
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

    /// Records `container` as a user and returns the host path to mount; mounts the
    /// volume's device first if it has `type`/`device` options and is not mounted yet.
    pub fn acquire(&self, name: &str, container: &str) -> Result<PathBuf> {
        let m = self
            .read_meta(name)?
            .ok_or_else(|| VolumeError::NotFound(name.to_string()))?;
        let data = self.data_path(name);
        let mut users = self.users.lock().expect("users lock");
        let set = users.entry(name.to_string()).or_default();
        if set.is_empty() && mountopts::needs_mount(&m.options) && !mountopts::is_mounted(&data) {
            mountopts::mount(&m.options, &data)?;
        }
        set.insert(container.to_string());
        Ok(data)
    }

    /// Drops `container` as a user; unmounts a device volume when its last user leaves.
    pub fn release(&self, name: &str, container: &str) -> Result<()> {
        let mut users = self.users.lock().expect("users lock");
        let Some(set) = users.get_mut(name) else {
            return Ok(());
        };
        set.remove(container);
        if set.is_empty() {
            users.remove(name);
            let data = self.data_path(name);
            if mountopts::is_mounted(&data) {
                mountopts::unmount(&data)?;
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
