//! berth-image: manifests and configs, layer unpacking, pulls, the image store and
//! `docker save`/`load` archives.

pub mod config;
mod error;
pub mod manifest;
pub mod platform;

pub use config::{ContainerConfig, Healthcheck, History, ImageConfig, RootFs};
pub use error::{ImageError, Result};
pub use manifest::{chain_ids, Compression, Index, Manifest, ManifestDoc};
pub use platform::{select_manifest, PlatformSpec};
pub mod unpack;
pub use unpack::{unpack_layer, unpack_to_new_dir, UnpackedLayer};
pub mod store;
pub use store::{ImageRecord, ImageStore, LayerRecord};
pub mod install;
pub use install::{Images, LayerOutcome};
pub mod archive;
pub mod names;
pub mod oci_layout;
pub mod pull;
pub use pull::{pull, LayerStatus, PullEvent, PullOptions, PullProgress, PullResult};
