//! What can go wrong inside a root.

use std::io;

/// What can go wrong inside a root.
#[derive(Debug, thiserror::Error)]
pub enum InRootError {
    /// The path does not exist (or a parent is not a directory).
    #[error("no such file or directory: {0}")]
    NotFound(String),
    /// Extraction into something that is not a directory.
    #[error("extraction point is not a directory")]
    NotADirectory,
    /// The archive is not acceptable: a name leaving the destination, a symlink where none
    /// may be, Docker's overwrite rules, an unreadable or malformed tar.
    #[error("{0}")]
    Refused(String),
    /// A system call failed.
    #[error("{path}: {source}")]
    Io {
        /// Path inside the root.
        path: String,
        /// Cause.
        source: io::Error,
    },
}

impl InRootError {
    /// An I/O error at `path` (inside the root).
    pub(crate) fn io(path: &str, source: impl Into<io::Error>) -> InRootError {
        InRootError::Io {
            path: path.to_string(),
            source: source.into(),
        }
    }
}
