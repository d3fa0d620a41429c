//! A container's mount as one typed [`MountSpec`]. The engine makes it from the API's
//! `HostConfig.Binds` and `HostConfig.Mounts` entries (with Docker's checks and messages);
//! the clients' flag syntaxes are the client's (`--mount`: `berth_client::mount_flag`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Kind of mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// A host path.
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A fresh tmpfs.
    Tmpfs,
}

impl MountType {
    /// `bind`, `volume` or `tmpfs`.
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Volume => "volume",
            MountType::Tmpfs => "tmpfs",
        }
    }
}

/// Bind propagation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    /// private
    Private,
    /// rprivate (Docker's default)
    Rprivate,
    /// shared
    Shared,
    /// rshared
    Rshared,
    /// slave
    Slave,
    /// rslave
    Rslave,
}

impl Propagation {
    /// The mode Docker names `s` (`private`, `rprivate`, `shared`, `rshared`, `slave`,
    /// `rslave`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "private" => Propagation::Private,
            "rprivate" => Propagation::Rprivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::Rshared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::Rslave,
            _ => return None,
        })
    }
}

/// One mount of a container, whichever syntax it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    /// bind, volume or tmpfs (`None` never leaves the parser).
    pub kind: Option<MountType>,
    /// Host path (bind) or volume name; `None` for anonymous volumes and tmpfs.
    pub source: Option<String>,
    /// Absolute path in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Bind propagation.
    pub propagation: Option<Propagation>,
    /// Do not copy image content into an empty volume.
    pub no_copy: bool,
    /// `-v` creates a missing bind source directory; `--mount` refuses it.
    pub create_host_path: bool,
    /// SELinux relabel (`z`/`Z`), recorded only.
    pub relabel: Option<String>,
    /// tmpfs size in bytes.
    pub tmpfs_size: Option<u64>,
    /// tmpfs mode.
    pub tmpfs_mode: Option<u32>,
    /// Labels for a volume created by this mount.
    pub volume_labels: BTreeMap<String, String>,
    /// Driver options for a volume created by this mount.
    pub volume_options: BTreeMap<String, String>,
    /// Volume driver (only `local` is implemented).
    pub volume_driver: Option<String>,
}

impl MountSpec {
    /// The mount type.
    pub fn mount_type(&self) -> MountType {
        self.kind.unwrap_or(MountType::Volume)
    }
}

impl Propagation {
    /// Docker's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::Rprivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::Rshared => "rshared",
            Propagation::Slave => "slave",
            Propagation::Rslave => "rslave",
        }
    }
}
