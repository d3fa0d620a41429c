//! Writing OCI image layout directories (`oci-layout`, `index.json`, `blobs/sha256/…`):
//! what `skopeo copy oci:<dir>:<tag>` reads. Used to hand images to peers in tests and
//! benchmarks.

use std::fs;
use std::path::{Path, PathBuf};

use berth_content::{media_types as mt, Descriptor, Digest};

use crate::archive::ANNOTATION_REF_NAME;
use crate::config::ImageConfig;
use crate::error::{IoContext, Result};
use crate::manifest::{Index, Manifest};

/// An OCI layout directory being written.
#[derive(Debug)]
pub struct OciLayoutWriter {
    dir: PathBuf,
    manifests: Vec<Descriptor>,
}

impl OciLayoutWriter {
    /// Creates the layout directory (and `blobs/sha256`).
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let blobs = dir.join("blobs/sha256");
        fs::create_dir_all(&blobs).ctx("create", &blobs)?;
        Ok(OciLayoutWriter {
            dir,
            manifests: Vec::new(),
        })
    }

    /// The layout directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a blob; returns a descriptor of it with `media_type`.
    pub fn add_blob(&self, media_type: &str, bytes: &[u8]) -> Result<Descriptor> {
        let digest = Digest::of(bytes);
        let p = self.dir.join("blobs/sha256").join(digest.hex());
        fs::write(&p, bytes).ctx("write", &p)?;
        Ok(Descriptor::new(media_type, digest, bytes.len() as u64))
    }

    /// Adds an image (config + already-written layer blobs) under reference name `tag`.
    pub fn add_image(
        &mut self,
        config: &ImageConfig,
        layers: Vec<Descriptor>,
        tag: &str,
    ) -> Result<Digest> {
        let config = self.add_blob(mt::OCI_CONFIG, &config.to_bytes())?;
        let manifest = Manifest::oci(config, layers);
        let mut desc = self.add_blob(mt::OCI_MANIFEST, &manifest.to_bytes())?;
        desc.annotations
            .insert(ANNOTATION_REF_NAME.into(), tag.to_string());
        let digest = desc.digest.clone();
        self.manifests.push(desc);
        Ok(digest)
    }

    /// Writes `index.json` and `oci-layout`.
    pub fn finish(self) -> Result<PathBuf> {
        let index = self.dir.join("index.json");
        fs::write(&index, Index::oci(self.manifests).to_bytes()).ctx("write", &index)?;
        let layout = self.dir.join("oci-layout");
        fs::write(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#).ctx("write", &layout)?;
        Ok(self.dir)
    }
}
