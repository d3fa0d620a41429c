//! A container's persistent record (`<root>/<id>/state.json`) and its live status.
//!
//! The record holds the init pid together with the process start time (field 22 of
//! /proc/<pid>/stat), so a recycled pid is never mistaken for the container.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// Name of the record file in a container's state directory.
pub(crate) const STATE_FILE: &str = "state.json";
/// Name of the exec fifo: present while the container is created but not started.
pub(crate) const EXEC_FIFO: &str = "exec.fifo";

/// What the runtime remembers about a container between invocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// The container id.
    pub id: String,
    /// Host pid of the container's init process.
    pub pid: i32,
    /// Start time of that process in clock ticks since boot.
    pub start_time: u64,
    /// The bundle directory (absolute).
    pub bundle: PathBuf,
    /// The rootfs (absolute).
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 with nanoseconds, UTC.
    pub created: String,
    /// Uid of the creating user.
    pub owner: u32,
    /// The container's cgroup, as the cgroups crate serialises it.
    pub cgroup: serde_json::Value,
    /// The systemd scope unit holding the container (`--systemd-cgroup`); stopped by delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
    /// The spec the container was created from (exec and delete need it).
    pub config: Spec,
}

/// A container's status as runc reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Created, waiting for `start`.
    Created,
    /// The user process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The init process is gone.
    Stopped,
}

impl Status {
    /// The word runc prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// runc's `state` output (and the state hooks receive on stdin).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateOutput {
    /// The spec version.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Init pid (0 once stopped).
    pub pid: i32,
    /// created | running | paused | stopped (| creating for hooks).
    pub status: String,
    /// Bundle path.
    pub bundle: PathBuf,
    /// Rootfs path.
    pub rootfs: PathBuf,
    /// Creation time.
    pub created: String,
    /// Owner (empty like runc for root).
    pub owner: String,
    /// The spec's annotations.
    #[serde(skip_serializing_if = "HashMap::is_empty", default)]
    pub annotations: HashMap<String, String>,
}

/// Reads `state` char and start time of `pid` from /proc; None if there is no such process.
pub(crate) fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    // After ')' the fields start at field 3 (state); starttime is field 22.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

impl ContainerRecord {
    /// The record's directory.
    pub(crate) fn dir(root: &Path, id: &str) -> PathBuf {
        root.join(id)
    }

    /// Loads the record of `id`.
    pub(crate) fn load(root: &Path, id: &str) -> Result<ContainerRecord> {
        crate::spec::validate_id(id)?;
        let path = Self::dir(root, id).join(STATE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()))
            }
            Err(e) => return Err(e).sys(|| format!("read {}", path.display())),
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Other(format!("{}: corrupt state: {e}", path.display())))
    }

    /// Writes the record atomically (temp file + rename).
    pub(crate) fn save(&self, root: &Path) -> Result<()> {
        let dir = Self::dir(root, &self.id);
        let tmp = dir.join(".state.json.tmp");
        let data = serde_json::to_vec(self).map_err(|e| Error::Other(e.to_string()))?;
        // 0600: the record carries the spec, environment variables (secrets) included.
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .sys(|| format!("create {}", tmp.display()))?;
        f.write_all(&data)
            .sys(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, dir.join(STATE_FILE)).sys(|| format!("rename {}", tmp.display()))
    }

    /// True while the init process recorded here still exists (and is not a zombie).
    pub fn alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((s, t)) if t == self.start_time && s != 'Z' && s != 'X')
    }

    /// The container's current status.
    pub(crate) fn status(&self, root: &Path, frozen: impl FnOnce() -> bool) -> Status {
        if !self.alive() {
            return Status::Stopped;
        }
        if Self::dir(root, &self.id).join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        if frozen() {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// runc's state document for this record and status.
    pub fn output(&self, status: &str) -> StateOutput {
        StateOutput {
            oci_version: self.config.version().clone(),
            id: self.id.clone(),
            pid: if status == "stopped" { 0 } else { self.pid },
            status: status.to_string(),
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: String::new(),
            annotations: self.config.annotations().clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_of_self() {
        let (state, start) = proc_stat(i32::try_from(std::process::id()).unwrap()).unwrap();
        assert!(state.is_ascii_alphabetic());
        assert!(start > 0);
    }
}
