//! Errors of the volume library.

use std::path::PathBuf;

/// Everything that can go wrong with volumes and mount specs.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// Bad input (name, option, mount syntax); the message is Docker's where clients show it.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such volume.
    #[error("get {0}: no such volume")]
    NotFound(String),
    /// Removal of a volume that containers use (Docker's 409 message).
    #[error("remove {name}: volume is in use - [{}]", users.join(", "))]
    InUse {
        /// The volume.
        name: String,
        /// Container ids using it.
        users: Vec<String>,
    },
    /// A filesystem or mount operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Its path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A metadata file that does not parse.
    #[error("corrupt volume metadata {path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Parse error.
        message: String,
    },
}

impl VolumeError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VolumeError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = VolumeError> = std::result::Result<T, E>;
