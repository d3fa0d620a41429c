//! The image crate's error type.

use std::path::PathBuf;

use berth_content::{ContentError, Digest};

/// Everything that can go wrong reading, unpacking, pulling or storing images.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A file system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The content store failed.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// The snapshotter failed.
    #[error(transparent)]
    Snapshot(#[from] berth_snapshot::Error),
    /// A manifest, index or config is malformed or unsupported.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which document.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// A layer tar is hostile or broken; nothing of it was kept.
    #[error("layer {layer}: entry {entry:?}: {reason}")]
    Layer {
        /// The layer (digest or file).
        layer: String,
        /// The offending tar entry name ("" for stream-level errors).
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// The uncompressed layer does not hash to the diff_id the config promises.
    #[error("layer {layer}: diff_id mismatch: config says {expected}, content is {actual}")]
    DiffIdMismatch {
        /// The layer (digest or file).
        layer: String,
        /// The diff_id in the image config.
        expected: Digest,
        /// The digest of the uncompressed tar.
        actual: Digest,
    },
    /// No manifest in the index matches the wanted platform.
    #[error(
        "no matching manifest for {wanted} in the manifest list entries (available: {available})"
    )]
    NoMatchingPlatform {
        /// The requested platform.
        wanted: String,
        /// The platforms offered.
        available: String,
    },
    /// No such image or reference.
    #[error("No such image: {0}")]
    NotFound(String),
    /// The registry client failed (kept typed: the engine tells not found, unauthorized and
    /// bad references apart by variant).
    #[error("registry: {0}")]
    Registry(#[from] berth_registry::RegistryError),
}

/// Result alias of this crate.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;

pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| ImageError::Io {
            op,
            path: path.into(),
            source,
        })
    }
}

pub(crate) fn invalid(what: impl Into<String>, reason: impl ToString) -> ImageError {
    ImageError::Invalid {
        what: what.into(),
        reason: reason.to_string(),
    }
}
