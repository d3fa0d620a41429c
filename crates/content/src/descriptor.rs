//! The OCI content descriptor and platform (shared by manifests, indexes and the registry).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Digest;

/// An OCI content descriptor: what a manifest or index says about one blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The blob's media type (see [`crate::media_types`]).
    pub media_type: String,
    /// The blob's digest.
    pub digest: Digest,
    /// The blob's size in bytes.
    pub size: u64,
    /// Alternative download locations (foreign layers); never fetched from here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The platform a manifest in an index is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// OCI 1.1 artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor with only the three required fields set.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
        }
    }
}

/// The platform an image runs on, as in OCI indexes and image configs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture in GOARCH form (`amd64`, `arm64`, ...).
    pub architecture: String,
    /// Operating system in GOOS form (`linux`, ...).
    pub os: String,
    /// OS version (Windows images).
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required OS features.
    #[serde(default, rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant (`v7`, `v8`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}
