//! [`ContentStore`]: the on-disk blob store.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::{Algorithm, BlobWriter, ContentError, Digest, Digester};

/// Ingest files younger than this are never collected, even when unlocked (a writer may be
/// between creating and locking its file).
const INGEST_GRACE: Duration = Duration::from_secs(60);

const OCI_LAYOUT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

/// A blob store by digest in OCI image-layout form (see the crate docs for the layout).
///
/// Cheap to clone; all methods take `&self` and are safe to call from many threads and
/// processes at once.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: &Path) -> Result<Self, ContentError> {
        for dir in [
            root.join("blobs").join(Algorithm::Sha256.name()),
            root.join("ingest"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| ContentError::io("create", &dir, e))?;
        }
        let layout = root.join("oci-layout");
        if !layout.is_file() {
            let tmp = root.join("ingest").join(unique_temp_name());
            std::fs::write(&tmp, OCI_LAYOUT).map_err(|e| ContentError::io("write", &tmp, e))?;
            std::fs::rename(&tmp, &layout)
                .map_err(|e| ContentError::io("rename into place", &layout, e))?;
        }
        Ok(ContentStore {
            root: root.to_owned(),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with digest `d` lives (whether or not it exists).
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().name())
            .join(d.hex())
    }

    /// True if the blob is stored.
    pub fn contains(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    /// The blob's size, if stored.
    pub fn size(&self, d: &Digest) -> Option<u64> {
        std::fs::metadata(self.path(d))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Opens the blob for reading.
    pub fn open_blob(&self, d: &Digest) -> Result<File, ContentError> {
        let path = self.path(d);
        File::open(&path).map_err(|e| self.map_missing(d, &path, "open", e))
    }

    /// Reads the whole blob into memory (manifests, configs).
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>, ContentError> {
        let path = self.path(d);
        std::fs::read(&path).map_err(|e| self.map_missing(d, &path, "read", e))
    }

    /// Re-hashes a stored blob and checks it still matches its name.
    pub fn verify(&self, d: &Digest) -> Result<(), ContentError> {
        let path = self.path(d);
        let mut file = self.open_blob(d)?;
        let mut hasher = Digester::new(d.algorithm());
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| ContentError::io("read", &path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let actual = hasher.finish();
        if actual != *d {
            return Err(ContentError::DigestMismatch {
                expected: d.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// Starts a write; `expected` is the digest and size the bytes must have.
    pub fn writer(&self, expected: Option<(&Digest, u64)>) -> Result<BlobWriter, ContentError> {
        match expected {
            Some((d, size)) => self.writer_with(Some(d), Some(size)),
            None => self.writer_with(None, None),
        }
    }

    /// Starts a write where digest and size may be known independently (e.g. a manifest
    /// fetched by digest whose size is not known in advance).
    pub fn writer_with(
        &self,
        digest: Option<&Digest>,
        size: Option<u64>,
    ) -> Result<BlobWriter, ContentError> {
        let temp = self.root.join("ingest").join(unique_temp_name());
        BlobWriter::create(temp, self.root.join("blobs"), digest.cloned(), size)
    }

    /// Stores `bytes` (a no-op when already stored) and returns their SHA-256 digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest, ContentError> {
        let digest = Digest::of(bytes);
        if self.contains(&digest) {
            return Ok(digest);
        }
        let mut w = self.writer(Some((&digest, bytes.len() as u64)))?;
        w.write_all(bytes)
            .map_err(|e| ContentError::io("write", w.temp_path().to_owned(), e))?;
        w.commit()
    }

    /// Removes a blob.
    pub fn delete(&self, d: &Digest) -> Result<(), ContentError> {
        let path = self.path(d);
        std::fs::remove_file(&path).map_err(|e| self.map_missing(d, &path, "remove", e))
    }

    /// All stored blobs, sorted.
    pub fn list(&self) -> Result<Vec<Digest>, ContentError> {
        let mut out = Vec::new();
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let dir = self.root.join("blobs").join(algorithm.name());
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ContentError::io("list", &dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| ContentError::io("list", &dir, e))?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if let Ok(d) = Digest::parse(&format!("{}:{name}", algorithm.name())) {
                    out.push(d);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes every blob not in `keep` and every stale ingest file (one whose writer is
    /// gone); returns the removed blobs' digests.
    ///
    /// The caller must make sure no pull that relies on a blob not in `keep` is running
    /// (the metadata layer's job: it holds the reference set).
    pub fn gc(&self, keep: &HashSet<Digest>) -> Result<Vec<Digest>, ContentError> {
        let mut removed = Vec::new();
        for d in self.list()? {
            if keep.contains(&d) {
                continue;
            }
            match self.delete(&d) {
                Ok(()) => removed.push(d),
                Err(ContentError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.remove_stale_ingest(INGEST_GRACE)?;
        Ok(removed)
    }

    /// Removes ingest files that no live writer holds and that are older than `grace`;
    /// returns how many were removed.
    pub fn remove_stale_ingest(&self, grace: Duration) -> Result<usize, ContentError> {
        let dir = self.root.join("ingest");
        let entries = std::fs::read_dir(&dir).map_err(|e| ContentError::io("list", &dir, e))?;
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| ContentError::io("list", &dir, e))?;
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if age < grace {
                continue;
            }
            let Ok(file) = File::open(&path) else {
                continue;
            };
            let unlocked =
                rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                    .is_ok();
            if unlocked && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Number of files currently in `ingest/` (writes in progress or stale).
    pub fn ingest_count(&self) -> usize {
        std::fs::read_dir(self.root.join("ingest")).map_or(0, |e| e.count())
    }

    fn map_missing(
        &self,
        d: &Digest,
        path: &Path,
        op: &'static str,
        e: std::io::Error,
    ) -> ContentError {
        if e.kind() == std::io::ErrorKind::NotFound {
            ContentError::NotFound(d.clone())
        } else {
            ContentError::io(op, path, e)
        }
    }
}

/// `<pid>-<counter>-<nanos>`: unique across threads and processes sharing the store.
fn unique_temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{n}-{nanos}", std::process::id())
}
