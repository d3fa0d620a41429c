//! berth-registry: a client for the OCI distribution API (Docker registries).
//!
//! - [`Reference`]: Docker's image-reference grammar and normalisation.
//! - [`Client`]: resolve manifests, fetch blobs into a [`berth_content::ContentStore`] with
//!   verification, progress and retries; push blobs (existence check, cross-repository
//!   mount, upload) and manifests; list tags, the catalog, and search.
//! - Authentication: anonymous, basic, and the bearer-token challenge flow, with
//!   credentials from Docker's `config.json` ([`DockerConfig`]) or any
//!   [`CredentialProvider`].
//! - [`RegistryConfig`]: insecure (plain HTTP) registries, Docker Hub mirrors.

mod catalog;
mod challenge;
mod client;
mod config;
mod credentials;
mod error;
mod manifest;
mod progress;
mod pull;
mod push;
mod reference;
mod transport;

pub use catalog::{SearchResult, SearchResults};
pub use challenge::Challenge;
pub use client::Client;
pub use config::RegistryConfig;
pub use credentials::{
    config_key_host, Anonymous, CredentialProvider, Credentials, DockerConfig, StaticCredentials,
    DOCKER_HUB_CONFIG_KEY,
};
pub use error::RegistryError;
pub use manifest::{FetchedManifest, ManifestAccept};
pub use progress::{Progress, ProgressFn, ProgressStatus};
pub use push::PushedBlob;
pub use reference::{Reference, DOCKER_HUB};
