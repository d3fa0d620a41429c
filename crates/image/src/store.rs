//! The image store: one JSON record per image plus a reference index, written atomically.
//!
//! ```text
//! <dir>/<config hex>.json   ImageRecord (image id = config digest)
//! <dir>/refs.json           { "docker.io/library/busybox:latest": "sha256:<id>", ... }
//! <dir>/.lock               flock taken around read-modify-write of refs.json
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_content::Digest;
use serde::{Deserialize, Serialize};

use crate::config::ImageConfig;
use crate::error::{invalid, ImageError, IoContext, Result};

/// One layer of a stored image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// Digest of the blob as distributed (compressed).
    pub digest: Digest,
    /// Media type of the blob.
    pub media_type: String,
    /// Size of the blob.
    pub size: u64,
    /// Digest of the uncompressed tar.
    pub diff_id: Digest,
    /// Chain id: the snapshot holding this layer and all below it.
    pub chain_id: Digest,
    /// Size of the uncompressed tar.
    pub uncompressed_size: u64,
}

/// An image as stored: its config, layers, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Image id: the digest of the config blob.
    pub id: Digest,
    /// Digest of the platform manifest (in the content store).
    pub manifest_digest: Digest,
    /// Media type of that manifest.
    pub manifest_media_type: String,
    /// Digest of the index it was chosen from, when pulled by a multi-platform reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<Digest>,
    /// The parsed config.
    pub config: ImageConfig,
    /// Layers, base first.
    pub layers: Vec<LayerRecord>,
    /// `repo@sha256:…` references (as pulled from or pushed to a registry).
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Seconds since the epoch when the record was written.
    #[serde(default)]
    pub stored_at: u64,
}

impl ImageRecord {
    /// Chain id of the top layer (the snapshot parent of containers); `None` if no layers.
    pub fn top_chain_id(&self) -> Option<&Digest> {
        self.layers.last().map(|l| &l.chain_id)
    }

    /// Sum of the uncompressed layer sizes (Docker's `Size`).
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.uncompressed_size).sum()
    }
}

/// Image records and name references on disk.
#[derive(Debug)]
pub struct ImageStore {
    dir: PathBuf,
    lock: Mutex<()>,
}

/// Holds the cross-process lock for the duration of a refs update.
struct FileLock(#[allow(dead_code)] fs::File);

impl ImageStore {
    /// Opens (creating) the store in `dir` (normally `<data-root>/images`).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).ctx("create", &dir)?;
        Ok(ImageStore {
            dir,
            lock: Mutex::new(()),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file_lock(&self) -> Result<FileLock> {
        let p = self.dir.join(".lock");
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .ctx("open", &p)?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(std::io::Error::from)
            .ctx("lock", &p)?;
        Ok(FileLock(f))
    }

    fn record_path(&self, id: &Digest) -> PathBuf {
        self.dir.join(format!("{}.json", id.hex()))
    }

    /// Writes (or replaces) an image record atomically.
    pub fn put(&self, record: &ImageRecord) -> Result<()> {
        let mut record = record.clone();
        if record.stored_at == 0 {
            record.stored_at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
        }
        let bytes = serde_json::to_vec_pretty(&record).expect("record serialises");
        write_atomic(&self.record_path(&record.id), &bytes)
    }

    /// Reads an image record by id.
    pub fn get(&self, id: &Digest) -> Result<ImageRecord> {
        let p = self.record_path(id);
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| invalid(p.display().to_string(), e)),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(ImageError::NotFound(id.to_string())),
            Err(e) => Err(e).ctx("read", p),
        }
    }

    /// True when an image with this id is stored.
    pub fn contains(&self, id: &Digest) -> bool {
        self.record_path(id).is_file()
    }

    /// All image records.
    pub fn list(&self) -> Result<Vec<ImageRecord>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).ctx("read", &self.dir)? {
            let entry = entry.ctx("read", &self.dir)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(hex) = name.strip_suffix(".json").filter(|h| h.len() == 64) {
                if let Ok(id) = Digest::parse(&format!("sha256:{hex}")) {
                    out.push(self.get(&id)?);
                }
            }
        }
        out.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        Ok(out)
    }

    /// Deletes an image record and every reference to it; returns the removed references.
    pub fn delete(&self, id: &Digest) -> Result<Vec<String>> {
        let removed = self.update_refs(|refs| {
            let names: Vec<String> = refs
                .iter()
                .filter(|(_, v)| *v == id)
                .map(|(k, _)| k.clone())
                .collect();
            for n in &names {
                refs.remove(n);
            }
            names
        })?;
        match fs::remove_file(self.record_path(id)) {
            Ok(()) => Ok(removed),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(ImageError::NotFound(id.to_string())),
            Err(e) => Err(e).ctx("remove", self.record_path(id)),
        }
    }

    fn read_refs(&self) -> Result<BTreeMap<String, Digest>> {
        let p = self.dir.join("refs.json");
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| invalid(p.display().to_string(), e)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e).ctx("read", p),
        }
    }

    fn update_refs<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Digest>) -> T) -> Result<T> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let _flock = self.file_lock()?;
        let mut refs = self.read_refs()?;
        let before = refs.clone();
        let out = f(&mut refs);
        // Re-tagging with the tag it already has (every cached rebuild) writes nothing: the
        // synced write is the dearest part of a tag.
        if refs != before {
            let bytes = serde_json::to_vec_pretty(&refs).expect("refs serialise");
            write_atomic(&self.dir.join("refs.json"), &bytes)?;
        }
        Ok(out)
    }

    /// Points reference `name` (a normalised `repo:tag` or `repo@digest`) at image `id`;
    /// returns the image it pointed at before, if another.
    pub fn tag(&self, name: &str, id: &Digest) -> Result<Option<Digest>> {
        if !self.contains(id) {
            return Err(ImageError::NotFound(id.to_string()));
        }
        self.update_refs(|refs| {
            refs.insert(name.to_string(), id.clone())
                .filter(|old| old != id)
        })
    }

    /// Removes reference `name`; returns the image it pointed at.
    pub fn untag(&self, name: &str) -> Result<Option<Digest>> {
        self.update_refs(|refs| refs.remove(name))
    }

    /// All references (`name` → image id).
    pub fn references(&self) -> Result<BTreeMap<String, Digest>> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.read_refs()
    }

    /// References pointing at image `id`.
    pub fn names_of(&self, id: &Digest) -> Result<Vec<String>> {
        Ok(self
            .references()?
            .into_iter()
            .filter(|(_, v)| v == id)
            .map(|(k, _)| k)
            .collect())
    }

    /// Finds an image by reference name, full id (`sha256:…`), bare hex id or unique id
    /// prefix (at least 4 hex digits), as `docker image inspect` does.
    pub fn resolve(&self, name_or_id: &str) -> Result<Digest> {
        if let Some(id) = self.references()?.get(name_or_id) {
            return Ok(id.clone());
        }
        let hex = name_or_id.strip_prefix("sha256:").unwrap_or(name_or_id);
        if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hex = hex.to_ascii_lowercase();
            let matches: Vec<Digest> = self
                .list()?
                .into_iter()
                .map(|r| r.id)
                .filter(|id| id.hex().starts_with(&hex))
                .collect();
            if matches.len() == 1 {
                return Ok(matches.into_iter().next().expect("one"));
            }
        }
        Err(ImageError::NotFound(name_or_id.to_string()))
    }
}

/// Writes `bytes` to `path` via a temp file, fsync and rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!(
        "tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.ctx("write", path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn retagging_with_the_same_tag_writes_nothing() {
        let dir = berth_testkit::tempdir::TempDir::new("berth-image-store-");
        let store = ImageStore::open(dir.path()).unwrap();
        let id = Digest::of(b"config");
        std::fs::write(store.record_path(&id), b"{}").unwrap();
        assert_eq!(store.tag("busybox:latest", &id).unwrap(), None);
        let refs = dir.path().join("refs.json");
        let inode = std::fs::metadata(&refs).unwrap().ino();
        assert_eq!(store.tag("busybox:latest", &id).unwrap(), None);
        assert_eq!(std::fs::metadata(&refs).unwrap().ino(), inode, "rewritten");
        assert_eq!(store.names_of(&id).unwrap(), vec!["busybox:latest"]);
        let other = Digest::of(b"other");
        std::fs::write(store.record_path(&other), b"{}").unwrap();
        assert_eq!(store.tag("busybox:latest", &other).unwrap(), Some(id));
        assert_ne!(std::fs::metadata(&refs).unwrap().ino(), inode);
    }
}
