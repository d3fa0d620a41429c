//! Errors of the metadata store.

use std::path::PathBuf;

/// Everything that can go wrong in the store; each variant names what it was about.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// A filesystem operation failed.
    #[error("metadata I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A record file or the journal does not parse.
    #[error("corrupt metadata file {path}: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A value could not be (de)serialized as the requested type.
    #[error("record {kind}/{key}: {source}")]
    Codec {
        /// Record kind.
        kind: String,
        /// Record key.
        key: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// Nothing matches the reference.
    #[error("no such {kind}: {reference}")]
    NotFound {
        /// Record kind.
        kind: String,
        /// What was looked up.
        reference: String,
    },
    /// An id prefix matches several records.
    #[error("multiple IDs found with provided prefix: {prefix}")]
    Ambiguous {
        /// Record kind.
        kind: String,
        /// The prefix.
        prefix: String,
    },
    /// The name belongs to another record (Docker's 409).
    #[error("The {kind} name \"/{name}\" is already in use by {kind} \"{id}\". You have to remove (or rename) that {kind} to be able to reuse that name.")]
    NameInUse {
        /// Record kind.
        kind: String,
        /// The name, without slash.
        name: String,
        /// The id owning it.
        id: String,
    },
    /// The name breaks Docker's rule `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
    #[error("Invalid {kind} name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName {
        /// Record kind.
        kind: String,
        /// The name as given.
        name: String,
    },
    /// A kind must be `[a-z0-9_-]+`; keys must be non-empty.
    #[error("invalid record {what}: {value:?}")]
    InvalidKey {
        /// "kind" or "key".
        what: &'static str,
        /// The value.
        value: String,
    },
}

impl MetadataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MetadataError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result of store operations.
pub type Result<T> = std::result::Result<T, MetadataError>;
