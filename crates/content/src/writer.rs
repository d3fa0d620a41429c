//! [`BlobWriter`]: a write in progress, invisible until verified and committed.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::{Algorithm, ContentError, Digest, Digester};

/// A blob being written to `<root>/ingest/`.
///
/// Lifecycle: created by [`crate::ContentStore::writer`]; bytes are hashed as they are
/// written and bytes past the expected size are refused at once; [`BlobWriter::commit`]
/// verifies digest and size, fsyncs and renames the temp file to `blobs/<alg>/<hex>`.
/// Dropping the writer without committing (or a failed commit) removes the temp file.
/// While it lives, the writer holds an exclusive `flock` on its temp file, which tells
/// [`crate::ContentStore::gc`] that the file is not stale.
#[derive(Debug)]
pub struct BlobWriter {
    file: Option<File>,
    temp: PathBuf,
    blobs_dir: PathBuf,
    hasher: Digester,
    written: u64,
    expected_digest: Option<Digest>,
    expected_size: Option<u64>,
    /// Set once more bytes than expected were offered: the blob can never commit.
    overflowed: bool,
}

impl BlobWriter {
    pub(crate) fn create(
        temp: PathBuf,
        blobs_dir: PathBuf,
        expected_digest: Option<Digest>,
        expected_size: Option<u64>,
    ) -> Result<Self, ContentError> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| ContentError::io("create", &temp, e))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|e| ContentError::io("lock", &temp, e.into()))?;
        let algorithm = expected_digest
            .as_ref()
            .map_or(Algorithm::Sha256, Digest::algorithm);
        Ok(BlobWriter {
            file: Some(file),
            temp,
            blobs_dir,
            hasher: Digester::new(algorithm),
            written: 0,
            expected_digest,
            expected_size,
            overflowed: false,
        })
    }

    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The size this writer expects, if one was given.
    pub fn expected_size(&self) -> Option<u64> {
        self.expected_size
    }

    /// The temp file's path (for diagnostics).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    fn expected_label(&self) -> String {
        self.expected_digest
            .as_ref()
            .map_or_else(|| "unknown".to_owned(), ToString::to_string)
    }

    /// Verifies digest and size, makes the bytes durable and publishes the blob.
    ///
    /// If a blob with the same digest already exists (another writer won), the temp file is
    /// discarded and the existing blob's digest returned.
    pub fn commit(self) -> Result<Digest, ContentError> {
        self.commit_reporting().map(|(d, _)| d)
    }

    /// [`BlobWriter::commit`], also telling whether this writer published the blob
    /// (`false`: it was already stored), so a caller can undo only what it added.
    pub fn commit_reporting(mut self) -> Result<(Digest, bool), ContentError> {
        if let Some(expected) = self.expected_size {
            if self.overflowed || self.written != expected {
                return Err(ContentError::SizeMismatch {
                    digest: self.expected_label(),
                    expected,
                    actual: self.written,
                });
            }
        }
        let actual = std::mem::replace(&mut self.hasher, Digester::new(Algorithm::Sha256)).finish();
        if let Some(expected) = &self.expected_digest {
            if *expected != actual {
                return Err(ContentError::DigestMismatch {
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        let file = self.file.as_mut().expect("file present until commit");
        file.flush()
            .and_then(|()| file.sync_all())
            .map_err(|e| ContentError::io("fsync", &self.temp, e))?;
        let dir = self.blobs_dir.join(actual.algorithm().name());
        let target = dir.join(actual.hex());
        if target.is_file() {
            // Dedup: the temp file is removed by Drop.
            return Ok((actual, false));
        }
        std::fs::create_dir_all(&dir).map_err(|e| ContentError::io("create", &dir, e))?;
        std::fs::rename(&self.temp, &target)
            .map_err(|e| ContentError::io("rename into place", &target, e))?;
        // The temp name is gone; keep Drop from removing a file someone else may create.
        self.temp = PathBuf::new();
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| ContentError::io("fsync", &dir, e))?;
        Ok((actual, true))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(expected) = self.expected_size {
            if self.written + buf.len() as u64 > expected {
                self.overflowed = true;
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {} is larger than the expected {expected} bytes",
                        self.expected_label()
                    ),
                ));
            }
        }
        let file = self.file.as_mut().expect("file present until commit");
        let n = file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        self.file = None;
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
