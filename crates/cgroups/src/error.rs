//! The crate's error type: every variant names the path, field or controller involved.

use std::io;
use std::path::PathBuf;

/// Errors from resolving, creating, configuring and inspecting cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A filesystem operation on a cgroup file or directory failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted: "read", "write", "mkdir", "rmdir", "open".
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A cgroup file held something this crate cannot parse.
    #[error("cannot parse {path}: unexpected content {content:?}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The offending text.
        content: String,
    },
    /// `linux.cgroupsPath` is malformed.
    #[error("invalid linux.cgroupsPath {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A value under `linux.resources` cannot be applied.
    #[error("invalid linux.resources.{field} {value:?}: {reason}")]
    InvalidResource {
        /// The field, e.g. "memory.swap".
        field: &'static str,
        /// The value as given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A resource needs a controller this host does not offer.
    #[error(
        "cgroup controller {controller} is not available (needed for linux.resources.{field})"
    )]
    ControllerMissing {
        /// The controller, e.g. "hugetlb".
        controller: String,
        /// The resource field that needs it.
        field: &'static str,
    },
    /// No cgroup filesystem is mounted (nothing in /proc/self/mountinfo).
    #[error("no cgroup filesystem is mounted (checked {mountinfo})")]
    NotMounted {
        /// The mountinfo file read.
        mountinfo: PathBuf,
    },
    /// Freezing or thawing did not settle in time.
    #[error("timed out waiting for {path} to become {state}")]
    FreezeTimeout {
        /// The freezer file watched.
        path: PathBuf,
        /// The awaited state.
        state: &'static str,
    },
    /// The kernel rejected the compiled cgroup v2 device program.
    #[error("loading the device filter for {path}: {source}")]
    BpfLoad {
        /// The cgroup directory.
        path: PathBuf,
        /// The errno and verifier log.
        #[source]
        source: berth_sys::bpf::LoadError,
    },
    /// Attaching, querying or detaching a device program failed.
    #[error("{op} device filter on {path}: {source}")]
    Bpf {
        /// "attach", "query", "detach", "open".
        op: &'static str,
        /// The cgroup directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The systemd driver was asked for where systemd is not the init system (runc's text).
    #[error("systemd not running on this host, cannot use systemd cgroups manager")]
    SystemdNotRunning,
    /// systemd refused or failed a unit operation, or could not be reached.
    #[error("systemd unit {unit}: {reason}")]
    Systemd {
        /// The unit (`berth-<id>.scope`).
        unit: String,
        /// What failed, with systemd's error.
        reason: String,
    },
}

/// Result with [`CgroupError`] as the default error.
pub type Result<T, E = CgroupError> = std::result::Result<T, E>;

impl CgroupError {
    /// True when the error is an I/O error with kind NotFound (a missing file or directory).
    pub fn is_not_found(&self) -> bool {
        matches!(self, CgroupError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}
