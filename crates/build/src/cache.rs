//! The layer cache. A step's key is sha256 over its parent's key, the instruction after
//! substitution, the build args it used and (COPY/ADD) the content hash of exactly the files
//! it selected. A record holds the image state after the step, so a hit needs no container
//! and no unpacking. Records are files (`<dir>/<key>.json`, written temp + rename), so the
//! cache survives restarts; `prune` removes them by age and by total size, oldest use first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backend::ImageState;

/// The key of a step.
pub fn step_key(
    parent: &str,
    instruction: &str,
    used_args: &BTreeMap<String, String>,
    content: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    h.update(b"berth-build-cache-v1\n");
    h.update(format!("parent {parent}\n").as_bytes());
    h.update(format!("instruction {}\n{instruction}\n", instruction.len()).as_bytes());
    for (k, v) in used_args {
        h.update(format!("arg {}={}\n{k}={v}\n", k.len(), v.len()).as_bytes());
    }
    if let Some(c) = content {
        h.update(format!("content {c}\n").as_bytes());
    }
    hex::encode(h.finalize())
}

/// The key of a stage's base image.
pub fn base_key(image_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("berth-build-cache-v1\nfrom {image_id}\n").as_bytes());
    hex::encode(h.finalize())
}

/// One cached step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheRecord {
    /// The step's key (hex sha256).
    pub key: String,
    /// The key of the step before it (or of the stage's base).
    pub parent: String,
    /// The instruction, for `builder prune` / `system df` listings.
    pub description: String,
    /// The state after the step.
    pub state: ImageState,
    /// Bytes of the layer this step made (0 for metadata steps).
    pub size: u64,
    /// Seconds since the epoch when it was made.
    pub created: u64,
    /// Seconds since the epoch when a build last used it.
    pub last_used: u64,
    /// How many builds used it.
    pub usage_count: u64,
}

/// What `prune` removed.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    /// The records removed.
    pub removed: Vec<CacheRecord>,
    /// Bytes freed.
    pub reclaimed: u64,
}

/// Which records to prune (BuildKit's semantics, which `docker builder prune` has).
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Also records whose layer an image uses (`--all`); without it only dangling records
    /// go.
    pub all: bool,
    /// Keep records used more recently than this many seconds (`--filter until=`).
    pub older_than: Option<u64>,
    /// Remove candidates, least recently used first, only until at most this many bytes
    /// stay (`--keep-storage`).
    pub keep_storage: Option<u64>,
    /// Only records whose key starts with one of these (`--filter id=`).
    pub ids: Vec<String>,
}

/// The persistent cache.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    lock: std::sync::Mutex<()>,
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Cache {
    /// Opens (creating it if needed) the cache in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            lock: std::sync::Mutex::new(()),
        })
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The record for `key`, if any (its use is recorded).
    pub fn get(&self, key: &str) -> Option<CacheRecord> {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = std::fs::read(self.path(key)).ok()?;
        let mut rec: CacheRecord = serde_json::from_slice(&bytes).ok()?;
        rec.last_used = now();
        rec.usage_count += 1;
        let _ = self.rewrite(&rec);
        Some(rec)
    }

    /// Rewrites an existing record in place: only its use counters changed, so no new file
    /// (a new inode and a rename for every cache hit cost more than the rest of a cached
    /// step). A record torn by a crash does not parse and is a cache miss, no worse.
    fn rewrite(&self, rec: &CacheRecord) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(rec).map_err(std::io::Error::other)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.path(&rec.key))?;
        std::io::Write::write_all(&mut f, &bytes)?;
        f.set_len(bytes.len() as u64)
    }

    /// Stores a record.
    pub fn put(&self, rec: &CacheRecord) -> std::io::Result<()> {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.write(rec)
    }

    fn write(&self, rec: &CacheRecord) -> std::io::Result<()> {
        let tmp = self.dir.join(format!(".{}.tmp", rec.key));
        std::fs::write(
            &tmp,
            serde_json::to_vec(rec).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, self.path(&rec.key))
    }

    /// Removes a record (stale: its layers are gone).
    pub fn remove(&self, key: &str) {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let _ = std::fs::remove_file(self.path(key));
    }

    /// All records.
    pub fn records(&self) -> Vec<CacheRecord> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect()
    }

    /// Bytes the records account for.
    pub fn size(&self) -> u64 {
        self.records().iter().map(|r| r.size).sum()
    }

    /// Garbage collection by age and size. `shared(record)`: an image uses the record's
    /// layer (such records are kept unless `all`).
    pub fn prune(&self, opts: &PruneOptions, shared: &dyn Fn(&CacheRecord) -> bool) -> PruneReport {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut records = self.records();
        records.sort_by_key(|r| (r.last_used, r.created));
        let now = now();
        let mut report = PruneReport::default();
        let mut total: u64 = records.iter().map(|r| r.size).sum();
        for rec in records {
            if opts.keep_storage.is_some_and(|keep| total <= keep) {
                break;
            }
            let recent = opts
                .older_than
                .is_some_and(|age| now.saturating_sub(rec.last_used) < age);
            let chosen = opts.ids.is_empty() || opts.ids.iter().any(|i| rec.key.starts_with(i));
            if recent || !chosen || (!opts.all && shared(&rec)) {
                continue;
            }
            if std::fs::remove_file(self.path(&rec.key)).is_ok() {
                total -= rec.size;
                report.reclaimed += rec.size;
                report.removed.push(rec);
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_image::ImageConfig;

    fn rec(key: &str, size: u64, last_used: u64) -> CacheRecord {
        CacheRecord {
            key: key.into(),
            parent: String::new(),
            description: format!("RUN {key}"),
            state: ImageState {
                config: ImageConfig::default(),
                layers: Vec::new(),
            },
            size,
            created: last_used,
            last_used,
            usage_count: 0,
        }
    }

    #[test]
    fn keys_depend_on_everything_but_mtime() {
        let args = BTreeMap::from([("A".to_string(), "1".to_string())]);
        let k = step_key("p", "RUN x", &args, None);
        assert_eq!(k, step_key("p", "RUN x", &args, None));
        assert_ne!(k, step_key("q", "RUN x", &args, None));
        assert_ne!(k, step_key("p", "RUN y", &args, None));
        assert_ne!(k, step_key("p", "RUN x", &BTreeMap::new(), None));
        assert_ne!(k, step_key("p", "RUN x", &args, Some("sha256:1")));
    }

    #[test]
    fn prune_by_size_age_sharing_and_all() {
        let dir = berth_testkit::TempDir::new("berth-cache-");
        let cache = Cache::open(dir.path()).unwrap();
        let t = now();
        cache.put(&rec("old", 100, t - 10_000)).unwrap();
        cache.put(&rec("mid", 100, t - 100)).unwrap();
        cache.put(&rec("new", 100, t)).unwrap();
        cache.put(&rec("img", 100, t - 20_000)).unwrap();
        assert_eq!(cache.size(), 400);
        let shared = |r: &CacheRecord| r.key == "img";
        let r = cache.prune(
            &PruneOptions {
                older_than: Some(5_000),
                ..Default::default()
            },
            &shared,
        );
        let keys: Vec<&str> = r.removed.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["old"], "the image's record is not dangling");
        let r = cache.prune(
            &PruneOptions {
                keep_storage: Some(250),
                ..Default::default()
            },
            &shared,
        );
        assert_eq!(r.removed[0].key, "mid");
        assert!(cache.get("new").is_some());
        // Without options, every dangling record goes; the image's stays.
        let r = cache.prune(&PruneOptions::default(), &shared);
        assert_eq!(r.removed.len(), 1);
        assert_eq!(cache.records().len(), 1);
        let r = cache.prune(
            &PruneOptions {
                all: true,
                ..Default::default()
            },
            &shared,
        );
        assert_eq!(r.reclaimed, 100);
        assert!(cache.records().is_empty());
    }
}
