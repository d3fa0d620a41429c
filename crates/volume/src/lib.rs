//! berth volumes: the local driver ([`VolumeStore`]: named and anonymous volumes, `--opt`
//! device mounts, users, copy-up, filters, prune) and the typed mounts of a container
//! ([`spec`]). Its types are its own ([`VolumeInfo`], [`VolumeFilter`], [`MountSpec`]): the
//! engine converts from and to the Engine API's. See `docs/volumes.md`.

mod copyup;
pub mod error;
pub mod mountopts;
pub mod name;
pub mod spec;
mod store;

pub use copyup::copy_tree;
pub use error::{Result, VolumeError};
pub use name::{anonymous_name, is_anonymous_name, validate_name};
pub use spec::{MountSpec, MountType, Propagation};
pub use store::{
    Labels, Pruned, VolumeFilter, VolumeInfo, VolumeStore, VolumeUsage, ANONYMOUS_LABEL,
};
