//! Serde models of the Docker Engine API v1.47 JSON that berth serves and its CLI consumes.
//!
//! Field names are exactly Docker's (mostly PascalCase, a few camelCase/lowercase ones where
//! Docker uses them). Decode with [`json::from_slice`]: it follows Docker's Go decoder (`null`
//! in any field means "not set", keys match fields case-insensitively), so the models need no
//! per-field leniency; missing fields take their default (`#[serde(default)]` on every
//! struct), unknown fields are ignored. Serialization omits the fields Docker tags `omitempty`
//! and writes `null` where Docker does.
//!
//! Modules follow the API's sections: [`container`], [`exec`], [`image`], [`system`],
//! [`volume`], [`network`], [`progress`] (streamed JSON messages), [`query`] (the endpoints'
//! query parameters), [`json`] (the decoder), and
//! [`common`] helpers
//! ([`common::StrSlice`], [`common::Filters`], [`common::ErrorResponse`]).

pub mod build_info;
pub mod common;
pub mod container;
pub mod detach_keys;
pub mod error_kind;
pub mod exec;
pub mod host_config;
pub mod image;
pub mod json;
pub mod network;
pub mod progress;
pub mod query;
pub mod stats;
pub mod system;
pub mod volume;

pub use common::{labels_match, EmptyObject, ErrorResponse, Filters, IdResponse, Labels, StrSlice};
pub use container::*;
pub use error_kind::ErrorKind;
pub use exec::*;
pub use host_config::*;
pub use image::*;
pub use network::*;
pub use progress::*;
pub use stats::{
    BlkioEntry, BlkioStats, ContainerStats, CpuStats, CpuUsage, MemoryStats, NetworkStats,
    PidsStats, ThrottlingData,
};
pub use system::*;
pub use volume::*;

/// The newest Engine API version berth speaks.
pub const MAX_API_VERSION: &str = "1.47";
/// The oldest Engine API version berth accepts.
pub const MIN_API_VERSION: &str = "1.24";
