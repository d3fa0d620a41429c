//! berth-content: a blob store addressed by digest, on disk in OCI image-layout form.
//!
//! ```text
//! <root>/oci-layout                 {"imageLayoutVersion":"1.0.0"}
//! <root>/blobs/sha256/<hex>         committed blobs (immutable, verified)
//! <root>/ingest/<unique>            writes in progress (invisible until committed)
//! ```
//!
//! Every write goes to a temp file under `ingest/`, is hashed while written, verified against
//! the expected digest and size, fsynced and only then renamed to its final name. A crash
//! (even `kill -9`) mid-write therefore never leaves a corrupt blob under a valid name; it
//! leaves at most a stale ingest file, which [`ContentStore::gc`] removes. Concurrent writers
//! of the same digest are safe: each writes its own temp file and the rename is atomic.
//!
//! The crate also holds the few shared OCI types every layer above needs: [`Digest`],
//! [`Descriptor`], [`Platform`] and the [`media_types`] constants.

mod descriptor;
mod digest;
mod error;
pub mod media_types;
mod store;
mod writer;

pub use descriptor::{Descriptor, Platform};
pub use digest::{Algorithm, Digest, Digester};
pub use error::ContentError;
pub use store::ContentStore;
pub use writer::BlobWriter;
