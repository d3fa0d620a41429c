//! The Docker Engine API HTTP layer of berth.
//!
//! Requests flow socket → [`ApiServer::serve_connection`] (hyper HTTP/1.1 with upgrades) →
//! version prefix and negotiation ([`version`]) → routing → query/JSON parsing →
//! one [`Engine`] call → a JSON response, a stream ([`stream`]), or a hijacked connection
//! ([`hijack`]). Errors anywhere become Docker's `{"message": …}` with the status of their
//! [`ErrorKind`]. The server never touches disk: everything goes through the [`Engine`] trait.
//!
//! See `docs/api.md` for the full picture.

pub mod body;
pub mod build;
pub mod compat;
pub mod engine;
pub mod error;
pub mod hijack;
pub mod query;
pub mod response;
mod router;
mod server;
pub mod stream;
mod swarm;
mod system;
#[cfg(feature = "testing")]
pub mod testing;
pub mod version;

pub use body::{ApiBody, RequestBody};
pub use build::{BuildOptions, BuildPruneOptions};
pub use engine::*;
pub use error::{ApiError, ApiResult, ErrorKind};
pub use hijack::{Hijack, HijackedStreams};
pub use server::{bind_unix, ApiServer, ServerConfig};
pub use stream::{ByteStream, JsonStream, LogChunk, LogStream, OutputSink, StdStream};
pub use version::ApiVersion;

/// Re-export of the API models.
pub use berth_api_types as types;
