//! The runtime's error type: every variant names what it was about (a spec field, a path,
//! a container id), so the message alone tells the user what to fix.

use std::path::PathBuf;

/// Everything that can go wrong in the runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// config.json could not be read.
    #[error("reading {path}: {source}")]
    ReadSpec {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// config.json is not a valid runtime spec; `field` is the JSON path (`linux.namespaces[2].type`).
    #[error("{path}: {field}: {message}")]
    ParseSpec {
        /// The file.
        path: PathBuf,
        /// Where in the document.
        field: String,
        /// What is wrong there.
        message: String,
    },
    /// The spec parsed but asks for something invalid or impossible.
    #[error("{field}: {message}")]
    InvalidSpec {
        /// The spec field (`root.path`, `mounts[3].destination`, …).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A container id that is empty or contains path characters.
    #[error(
        "invalid container id {0:?}: use letters, digits, '_', '-', '.' (not starting with '.')"
    )]
    InvalidId(String),
    /// No container with this id under --root.
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// A container with this id already exists.
    #[error("container {0:?} already exists")]
    Exists(String),
    /// The operation does not fit the container's status.
    #[error("container {id:?} is {status}: {message}")]
    BadStatus {
        /// The container.
        id: String,
        /// Its current status.
        status: String,
        /// What cannot be done.
        message: String,
    },
    /// A system call or file operation failed; `what` says which and on what.
    #[error("{what}: {source}")]
    Sys {
        /// The operation and its object (`mount proc on /proc`, `write /proc/123/uid_map`).
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The container's init process reported a failure while setting up the container.
    #[error("container init: {0}")]
    Init(String),
    /// A cgroup operation failed.
    #[error("cgroup: {0}")]
    Cgroup(String),
    /// An error from the cgroups crate.
    #[error("cgroup: {0}")]
    Cgroups(#[from] berth_cgroups::CgroupError),
    /// A hook failed or timed out.
    #[error("{kind} hook #{index} ({path}): {message}")]
    Hook {
        /// prestart, createRuntime, …
        kind: String,
        /// Position in its list.
        index: usize,
        /// The hook's program.
        path: String,
        /// What happened.
        message: String,
    },
    /// The seccomp profile could not be compiled or loaded.
    #[error("linux.seccomp: {0}")]
    Seccomp(String),
    /// Anything else, with context.
    #[error("{0}")]
    Other(String),
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds "what was being done" to OS errors.
pub trait Context<T> {
    /// Wraps the error as [`Error::Sys`] with the given description.
    fn sys(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::io::Result<T> {
    fn sys(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Sys {
            what: what(),
            source,
        })
    }
}

impl<T> Context<T> for rustix::io::Result<T> {
    fn sys(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::Sys {
            what: what(),
            source: e.into(),
        })
    }
}

/// Shorthand for an [`Error::InvalidSpec`].
pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::InvalidSpec {
        field: field.into(),
        message: message.into(),
    }
}
