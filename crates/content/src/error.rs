//! The content store's error type.

use std::path::PathBuf;

use crate::Digest;

/// Everything that can go wrong in the content store.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// A digest string does not follow `<algorithm>:<lowercase hex of the right length>`.
    #[error("invalid digest {input:?}: {reason}")]
    InvalidDigest {
        /// The string that was parsed (possibly truncated for display).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No blob with this digest is stored.
    #[error("blob {0} not found in the content store")]
    NotFound(Digest),
    /// The written bytes hash to something else than expected.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the caller announced.
        expected: Digest,
        /// The digest of the bytes actually written.
        actual: Digest,
    },
    /// The written bytes are not as long as announced (more bytes are refused as they arrive).
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The digest the caller announced (or `"unknown"` when none was given).
        digest: String,
        /// The announced size.
        expected: u64,
        /// The number of bytes written (for too many bytes: at least this many were offered).
        actual: u64,
    },
    /// A file system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("create", "rename", ...).
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl ContentError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ContentError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// True for [`ContentError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, ContentError::NotFound(_))
    }
}
