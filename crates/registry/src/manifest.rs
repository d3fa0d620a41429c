//! Validation of fetched manifests: kind, media type against Content-Type, digest.

use berth_content::media_types as mt;
use berth_content::{Digest, Digester};

use crate::RegistryError;

/// Largest manifest accepted (Docker's limit is 4 MiB).
pub(crate) const MANIFEST_LIMIT: usize = 4 << 20;

/// Which kinds of manifest a fetch accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestAccept {
    /// A single-platform manifest or an index (resolving a tag).
    Any,
    /// Only a single-platform image manifest (following an index entry).
    ImageManifest,
    /// Only an index / manifest list.
    Index,
}

impl ManifestAccept {
    /// The Accept header value.
    pub(crate) fn header(self) -> String {
        let types: &[&str] = match self {
            ManifestAccept::Any => &[
                mt::OCI_INDEX,
                mt::DOCKER_MANIFEST_LIST,
                mt::OCI_MANIFEST,
                mt::DOCKER_MANIFEST,
            ],
            ManifestAccept::ImageManifest => &[mt::OCI_MANIFEST, mt::DOCKER_MANIFEST],
            ManifestAccept::Index => &[mt::OCI_INDEX, mt::DOCKER_MANIFEST_LIST],
        };
        types.join(", ")
    }
}

/// A manifest (or index) as fetched and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    /// The exact bytes (the digest is over these).
    pub bytes: Vec<u8>,
    /// Its media type (one of the four in [`berth_content::media_types`]).
    pub media_type: String,
    /// Its digest, verified against the bytes.
    pub digest: Digest,
}

impl FetchedManifest {
    /// True for an index / manifest list.
    pub fn is_index(&self) -> bool {
        mt::is_index(&self.media_type)
    }
}

/// Checks the digest: against the one asked for, else the `Docker-Content-Digest` header,
/// else it is computed.
pub(crate) fn verify_digest(
    what: &str,
    bytes: &[u8],
    requested: Option<&Digest>,
    header: Option<&str>,
) -> Result<Digest, RegistryError> {
    let announced = match header {
        Some(h) => Some(
            Digest::parse(h.trim()).map_err(|e| RegistryError::InvalidManifest {
                what: what.to_owned(),
                reason: format!("bad Docker-Content-Digest header: {e}"),
            })?,
        ),
        None => None,
    };
    let hash = |d: &Digest| {
        let mut h = Digester::new(d.algorithm());
        h.update(bytes);
        h.finish()
    };
    for expected in [requested, announced.as_ref()].into_iter().flatten() {
        let actual = hash(expected);
        if actual != *expected {
            return Err(RegistryError::DigestMismatch {
                what: what.to_owned(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(requested
        .cloned()
        .or(announced)
        .unwrap_or_else(|| Digest::of(bytes)))
}

/// Works out the manifest's media type from its body and Content-Type and checks that the
/// two agree, that the body is one kind (not both a manifest and an index), and that the
/// kind is the one accepted.
pub(crate) fn classify(
    what: &str,
    bytes: &[u8],
    content_type: Option<&str>,
    accept: ManifestAccept,
) -> Result<String, RegistryError> {
    let invalid = |reason: String| RegistryError::InvalidManifest {
        what: what.to_owned(),
        reason,
    };
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        schema_version: Option<i64>,
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        layers: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
        fs_layers: Option<serde_json::Value>,
    }
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    if probe.schema_version == Some(1) || probe.fs_layers.is_some() {
        return Err(invalid(
            "Docker image manifest schema 1 is not supported (deprecated)".into(),
        ));
    }
    let looks_index = probe.manifests.is_some();
    let looks_manifest = probe.layers.is_some() || probe.config.is_some();
    if looks_index && looks_manifest {
        return Err(invalid(
            "it is both an image manifest (config/layers) and an index (manifests)".into(),
        ));
    }
    if !looks_index && !looks_manifest {
        return Err(invalid("neither an image manifest nor an index".into()));
    }
    let header_type = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_owned())
        .filter(|c| mt::is_index(c) || mt::is_manifest(c));
    let media_type = match (&probe.media_type, &header_type) {
        (Some(body), Some(header)) if body != header => {
            return Err(invalid(format!(
                "its mediaType {body:?} disagrees with the Content-Type {header:?}"
            )))
        }
        (Some(body), _) => body.clone(),
        (None, Some(header)) => header.clone(),
        (None, None) if looks_index => mt::OCI_INDEX.to_owned(),
        (None, None) => mt::OCI_MANIFEST.to_owned(),
    };
    if !(mt::is_index(&media_type) || mt::is_manifest(&media_type)) {
        return Err(invalid(format!("unsupported media type {media_type:?}")));
    }
    if mt::is_index(&media_type) != looks_index {
        return Err(invalid(format!(
            "its media type {media_type:?} does not match its content"
        )));
    }
    match accept {
        ManifestAccept::ImageManifest if looks_index => Err(invalid(
            "expected a single-platform image manifest but got an index".into(),
        )),
        ManifestAccept::Index if !looks_index => Err(invalid(
            "expected an index but got a single-platform image manifest".into(),
        )),
        _ => Ok(media_type),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
    const INDEX: &str = r#"{"schemaVersion":2,"manifests":[]}"#;

    #[test]
    fn classifies_and_checks_content_type() {
        assert_eq!(
            classify(
                "m",
                MANIFEST.as_bytes(),
                Some(mt::OCI_MANIFEST),
                ManifestAccept::Any
            )
            .unwrap(),
            mt::OCI_MANIFEST
        );
        assert_eq!(
            classify(
                "i",
                INDEX.as_bytes(),
                Some(mt::DOCKER_MANIFEST_LIST),
                ManifestAccept::Any
            )
            .unwrap(),
            mt::DOCKER_MANIFEST_LIST
        );
        assert_eq!(
            classify(
                "i",
                INDEX.as_bytes(),
                Some("application/json"),
                ManifestAccept::Any
            )
            .unwrap(),
            mt::OCI_INDEX
        );
        let e = classify(
            "m",
            MANIFEST.as_bytes(),
            Some(mt::DOCKER_MANIFEST),
            ManifestAccept::Any,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("disagrees with the Content-Type"),
            "{e}"
        );
        let e = classify("i", INDEX.as_bytes(), None, ManifestAccept::ImageManifest).unwrap_err();
        assert!(e.to_string().contains("got an index"), "{e}");
        let e = classify("m", MANIFEST.as_bytes(), None, ManifestAccept::Index).unwrap_err();
        assert!(e.to_string().contains("expected an index"), "{e}");
        let both = r#"{"schemaVersion":2,"manifests":[],"layers":[],"config":{}}"#;
        let e = classify("b", both.as_bytes(), None, ManifestAccept::Any).unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
        let v1 = r#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert!(classify("v1", v1.as_bytes(), None, ManifestAccept::Any).is_err());
        let lying = r#"{"mediaType":"application/vnd.oci.image.index.v1+json","layers":[]}"#;
        assert!(classify("l", lying.as_bytes(), None, ManifestAccept::Any).is_err());
    }

    #[test]
    fn verifies_digests() {
        let d = Digest::of(b"abc");
        assert_eq!(verify_digest("x", b"abc", Some(&d), None).unwrap(), d);
        assert_eq!(
            verify_digest("x", b"abc", None, Some(d.as_str())).unwrap(),
            d
        );
        assert_eq!(verify_digest("x", b"abc", None, None).unwrap(), d);
        assert!(matches!(
            verify_digest("x", b"abd", Some(&d), None),
            Err(RegistryError::DigestMismatch { .. })
        ));
        assert!(verify_digest("x", b"abd", None, Some(d.as_str())).is_err());
        let e = verify_digest("x", b"abc", None, Some("sha256:../x")).unwrap_err();
        assert!(e.to_string().contains("invalid digest"), "{e}");
    }
}
