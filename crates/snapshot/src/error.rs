use std::path::PathBuf;

/// Errors of the snapshotter, with the path or key involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on `path` failed.
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
    /// No layer or snapshot with this id/key.
    #[error("snapshot {0} not found")]
    NotFound(String),
    /// The key is already in use.
    #[error("snapshot {0} already exists")]
    AlreadyExists(String),
    /// A malformed key or layer id.
    #[error("invalid snapshot id {0:?}: {1}")]
    InvalidId(String, &'static str),
    /// The layer still has children (layers or snapshots built on it).
    #[error("layer {0} is in use by {1}")]
    InUse(String, String),
    /// The operation does not apply to this kind of snapshot.
    #[error("snapshot {0}: {1}")]
    WrongKind(String, &'static str),
    /// A metadata file could not be parsed.
    #[error("corrupt snapshot metadata {path}: {1}", path = .0.display())]
    Corrupt(PathBuf, String),
    /// The mount description cannot be mounted.
    #[error("mount {kind} on {}: {reason}", target.display())]
    Mount {
        /// Mount type.
        kind: String,
        /// Mount point.
        target: PathBuf,
        /// Why it failed.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds the operation and path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            op,
            path: path.into(),
            source,
        })
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::Io {
            op,
            path: path.into(),
            source: e.into(),
        })
    }
}
