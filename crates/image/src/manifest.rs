//! Docker v2 schema 2 manifests and manifest lists, OCI manifests and indexes.

use std::collections::BTreeMap;

use berth_content::{media_types as mt, Descriptor, Digest};
use serde::{Deserialize, Serialize};

use crate::error::{invalid, Result};

/// A single-platform image manifest (OCI or Docker schema 2; same JSON shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's media type (required by Docker, optional in OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// OCI 1.1 artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The image config blob.
    pub config: Descriptor,
    /// The layer blobs, base first.
    pub layers: Vec<Descriptor>,
    /// OCI 1.1 subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A multi-platform index (OCI image index or Docker manifest list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// The index's media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The per-platform manifests.
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A parsed manifest document of either kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestDoc {
    /// A single-platform manifest.
    Manifest(Box<Manifest>),
    /// A multi-platform index.
    Index(Index),
}

impl ManifestDoc {
    /// Parses `bytes`, served with `media_type` (the Content-Type or descriptor media type;
    /// may be empty when unknown). The document's own `mediaType`, when present, must agree,
    /// and a document may not be both a manifest and an index.
    pub fn parse(media_type: &str, bytes: &[u8]) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| invalid("manifest", e))?;
        let obj = value
            .as_object()
            .ok_or_else(|| invalid("manifest", "not a JSON object"))?;
        let inner = obj.get("mediaType").and_then(|m| m.as_str());
        let declared = media_type.split(';').next().unwrap_or("").trim();
        let has_layers = obj.contains_key("layers") || obj.contains_key("config");
        let has_manifests = obj.contains_key("manifests");
        if has_layers && has_manifests {
            return Err(invalid(
                "manifest",
                "document is both a manifest and an index",
            ));
        }
        let generic = |m: &str| m.is_empty() || m == "application/json";
        if let Some(inner) = inner {
            if !generic(declared) && inner != declared {
                return Err(invalid(
                    "manifest",
                    format!("media type {declared} disagrees with the document's {inner}"),
                ));
            }
        }
        let kind = inner.filter(|m| !m.is_empty()).unwrap_or(declared);
        let is_index = if mt::is_index(kind) {
            true
        } else if mt::is_manifest(kind) {
            false
        } else if generic(kind) {
            has_manifests
        } else {
            return Err(invalid(
                "manifest",
                format!("unsupported media type {kind}"),
            ));
        };
        if is_index {
            if has_layers {
                return Err(invalid("index", "an index must not have layers or config"));
            }
            let idx: Index = serde_json::from_value(value).map_err(|e| invalid("index", e))?;
            Ok(ManifestDoc::Index(idx))
        } else {
            if has_manifests {
                return Err(invalid("manifest", "a manifest must not list manifests"));
            }
            let m: Manifest = serde_json::from_value(value).map_err(|e| invalid("manifest", e))?;
            if m.schema_version != 2 {
                return Err(invalid("manifest", "only schemaVersion 2 is supported"));
            }
            Ok(ManifestDoc::Manifest(Box::new(m)))
        }
    }
}

impl Manifest {
    /// A Docker v2 schema 2 manifest (what `docker push` writes).
    pub fn docker(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Manifest {
            schema_version: 2,
            media_type: Some(mt::DOCKER_MANIFEST.into()),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    /// An OCI image manifest.
    pub fn oci(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Manifest {
            media_type: Some(mt::OCI_MANIFEST.into()),
            ..Manifest::docker(config, layers)
        }
    }

    /// Serialises to JSON bytes (the exact bytes whose digest names the manifest).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifest serialises")
    }

    /// The manifest's media type (OCI when it does not say).
    pub fn media_type(&self) -> &str {
        self.media_type.as_deref().unwrap_or(mt::OCI_MANIFEST)
    }
}

impl Index {
    /// An OCI index of `manifests`.
    pub fn oci(manifests: Vec<Descriptor>) -> Self {
        Index {
            schema_version: 2,
            media_type: Some(mt::OCI_INDEX.into()),
            manifests,
            annotations: BTreeMap::new(),
        }
    }

    /// Serialises to JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("index serialises")
    }
}

/// Compression of a layer blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// Detects the compression from a blob's first bytes (magic numbers).
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The OCI layer media type for this compression.
    pub fn oci_media_type(self) -> &'static str {
        match self {
            Compression::None => mt::OCI_LAYER_TAR,
            Compression::Gzip => mt::OCI_LAYER_GZIP,
            Compression::Zstd => mt::OCI_LAYER_ZSTD,
        }
    }
}

/// Whether `media_type` names a layer this engine can unpack.
pub fn is_layer_media_type(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.oci.image.layer.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.diff.tar")
}

/// chainID(1) = diffID(1); chainID(n) = sha256(chainID(n-1) + " " + diffID(n)).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => Digest::of(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn parses_docker_manifest_and_rejects_confusion() {
        let doc = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{CFG}","size":1}},"layers":[]}}"#,
            mt::DOCKER_MANIFEST,
            mt::DOCKER_CONFIG
        );
        let parsed = ManifestDoc::parse(mt::DOCKER_MANIFEST, doc.as_bytes()).unwrap();
        assert!(matches!(parsed, ManifestDoc::Manifest(_)));
        // Content-Type disagreeing with the document
        assert!(ManifestDoc::parse(mt::OCI_INDEX, doc.as_bytes()).is_err());
        // both a manifest and an index
        let both = doc.replace(r#""layers":[]"#, r#""layers":[],"manifests":[]"#);
        assert!(ManifestDoc::parse("", both.as_bytes()).is_err());
        // unknown media type
        assert!(ManifestDoc::parse("text/html", b"{}").is_err());
    }

    #[test]
    fn parses_index_without_media_type() {
        let doc = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{CFG}","size":3,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#,
            mt::OCI_MANIFEST
        );
        match ManifestDoc::parse("", doc.as_bytes()).unwrap() {
            ManifestDoc::Index(i) => {
                assert_eq!(
                    i.manifests[0].platform.as_ref().unwrap().architecture,
                    "arm64"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn detects_compression() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::detect(b"etc/"), Compression::None);
    }
}
