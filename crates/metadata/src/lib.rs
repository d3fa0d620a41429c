//! The crash-safe store of berth's records: containers, images, volumes, networks, build
//! cache. See [`Store`] for the on-disk protocol and `docs/metadata.md` for the design choice
//! (own one-file-per-record store with a redo journal instead of an embedded database).
//!
//! ```no_run
//! # fn main() -> berth_metadata::Result<()> {
//! let store = berth_metadata::Store::open("/var/lib/berth/metadata")?;
//! let id = "4f6c...";
//! let mut txn = store.transaction();
//! txn.put("container", id, &serde_json::json!({"Name": "/web"}))?;
//! txn.claim_name("container", "/web", id)?;
//! txn.commit()?;
//! assert_eq!(store.resolve("container", "web")?, id);
//! # Ok(()) }
//! ```

mod error;
mod fsutil;
pub mod names;
mod store;

pub use error::{MetadataError, Result};
pub use store::{CrashPoint, Store, Transaction};

/// Record kinds used by berth (any `[a-z0-9_-]+` kind works).
pub mod kinds {
    /// Container records, keyed by 64-hex id; names in `container-names`.
    pub const CONTAINER: &str = "container";
    /// Image records, keyed by id (hex of the config digest).
    pub const IMAGE: &str = "image";
    /// Image references (`name:tag`, `name@digest`) → image id.
    pub const IMAGE_REF: &str = "image-ref";
    /// Volumes, keyed by name.
    pub const VOLUME: &str = "volume";
    /// Networks, keyed by id; names in `network-names`.
    pub const NETWORK: &str = "network";
    /// Build cache entries.
    pub const BUILD_CACHE: &str = "build-cache";
}

#[cfg(test)]
mod tests;
