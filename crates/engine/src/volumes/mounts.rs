//! What a container mounts, the way Docker decides it:
//! 1. at create, [`plan`] turns `HostConfig.VolumesFrom`, `Binds`, `Mounts` and the
//!    config's `Volumes` (the image's `VOLUME` plus `-v /path`) into [`ContainerMount`]s,
//!    checking everything first; [`Volumes::commit`] then creates the missing volumes and
//!    references them (undone by [`Volumes::rollback`] when the record cannot be written);
//! 2. at start, [`Volumes::oci_mounts`] resolves host paths (a device volume is mounted,
//!    an empty volume gets the image's content, a missing `-v` bind source directory is
//!    created) and [`apply`] puts them into `config.json` over the default mounts;
//! 3. at removal, [`Volumes::container_removed`] drops the references and, for `rm -v` and
//!    `--rm`, the container's anonymous volumes.

mod oci;
mod plan;
mod refs;

pub use oci::{tmpfs_options, volume_source};
pub use plan::{plan, Plan};

use berth_api_types::MountPoint;
use berth_volume::VolumeStore;

use crate::record::ContainerMount;

impl ContainerMount {
    /// The `Mounts` entry of inspect and list.
    pub fn to_api(&self, store: &VolumeStore) -> MountPoint {
        let volume = self.is_volume();
        MountPoint {
            kind: self.kind.clone(),
            name: self.name.clone(),
            source: if volume {
                store.data_path(&self.name).display().to_string()
            } else {
                self.source.clone()
            },
            destination: self.destination.clone(),
            driver: if volume {
                "local".into()
            } else {
                String::new()
            },
            mode: self.mode.clone(),
            rw: self.rw,
            propagation: self.propagation.clone(),
        }
    }
}

/// Docker's `path.Clean` of an absolute container path.
pub fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}
