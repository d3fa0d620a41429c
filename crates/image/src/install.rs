//! Turning blobs in the content store into a runnable image: parallel layer unpack into
//! snapshots keyed by chain id, then an image record.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_content::{ContentStore, Descriptor, Digest};
use berth_snapshot::Snapshotter;

use crate::config::ImageConfig;
use crate::error::{invalid, ImageError, Result};
use crate::manifest::{chain_ids, is_layer_media_type, Manifest};
use crate::store::{ImageRecord, ImageStore, LayerRecord};
use crate::unpack::unpack_layer;

/// The three stores an image lives in, under one data root.
#[derive(Debug)]
pub struct Images {
    /// Blobs by digest (`<root>/content`).
    pub content: ContentStore,
    /// Layer snapshots (`<root>/snapshots`).
    pub snapshots: Snapshotter,
    /// Image records and references (`<root>/images`).
    pub store: ImageStore,
    root: PathBuf,
}

/// What happened to one layer while installing an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerOutcome {
    /// The snapshot existed already (shared with another image).
    AlreadyExists,
    /// The layer was unpacked now.
    Unpacked,
}

impl Images {
    /// Opens the stores under `root` (`content/`, `snapshots/`, `images/`).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        Ok(Images {
            content: ContentStore::open(&root.join("content"))?,
            snapshots: Snapshotter::open(root.join("snapshots"))?,
            store: ImageStore::open(root.join("images"))?,
            root,
        })
    }

    /// The data root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Makes sure the snapshot `chain_id` exists, unpacking `layer` (in the content store)
    /// if needed and verifying its diff_id.
    pub fn ensure_layer(
        &self,
        layer: &Descriptor,
        diff_id: &Digest,
        chain_id: &Digest,
        parent: Option<&Digest>,
    ) -> Result<LayerOutcome> {
        if self.snapshots.has_layer(chain_id.as_str()) {
            return Ok(LayerOutcome::AlreadyExists);
        }
        let blob = self.content.open_blob(&layer.digest)?;
        let pending = self.snapshots.begin_layer()?;
        unpack_layer(
            std::io::BufReader::with_capacity(1 << 20, blob),
            &pending.path(),
            Some(diff_id),
            layer.digest.as_str(),
        )?;
        self.snapshots
            .commit_pending(pending, chain_id.as_str(), parent.map(Digest::as_str))?;
        Ok(LayerOutcome::Unpacked)
    }

    /// Unpacks all layers of `manifest` (blobs already stored) in parallel, one thread per
    /// CPU, calling `on_layer(index, outcome)` as each finishes, then writes the image record.
    /// On error no record is written (committed layers stay, shared and reusable).
    pub fn install(
        &self,
        manifest_digest: &Digest,
        manifest: &Manifest,
        index_digest: Option<&Digest>,
        on_layer: &(dyn Fn(usize, &LayerOutcome) + Sync),
    ) -> Result<ImageRecord> {
        let config_bytes = self.content.read_blob(&manifest.config.digest)?;
        let config = ImageConfig::parse(&config_bytes)?;
        let plan = self.plan(manifest, &config)?;
        let next = Mutex::new(0usize);
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(plan.len().max(1));
        let first_error: Mutex<Option<ImageError>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = {
                        let mut n = next.lock().expect("lock");
                        let i = *n;
                        *n += 1;
                        i
                    };
                    if i >= plan.len() || first_error.lock().expect("lock").is_some() {
                        break;
                    }
                    let l = &plan[i];
                    let parent = i.checked_sub(1).map(|p| &plan[p].chain_id);
                    match self.ensure_layer(&manifest.layers[i], &l.diff_id, &l.chain_id, parent) {
                        Ok(outcome) => on_layer(i, &outcome),
                        Err(e) => {
                            first_error.lock().expect("lock").get_or_insert(e);
                        }
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().expect("lock") {
            return Err(e);
        }
        self.record(manifest_digest, manifest, index_digest, config, plan)
    }

    /// Checks the manifest against its config and computes the layer records.
    pub(crate) fn plan(
        &self,
        manifest: &Manifest,
        config: &ImageConfig,
    ) -> Result<Vec<LayerRecord>> {
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != manifest.layers.len() {
            return Err(invalid(
                "image",
                format!(
                    "config lists {} diff_ids but the manifest has {} layers",
                    diff_ids.len(),
                    manifest.layers.len()
                ),
            ));
        }
        let chains = chain_ids(diff_ids);
        manifest
            .layers
            .iter()
            .zip(diff_ids.iter().zip(chains))
            .map(|(desc, (diff_id, chain_id))| {
                if !is_layer_media_type(&desc.media_type) {
                    return Err(invalid(
                        "manifest",
                        format!("unsupported layer media type {}", desc.media_type),
                    ));
                }
                Ok(LayerRecord {
                    digest: desc.digest.clone(),
                    media_type: desc.media_type.clone(),
                    size: desc.size,
                    diff_id: diff_id.clone(),
                    chain_id,
                    uncompressed_size: 0,
                })
            })
            .collect()
    }

    pub(crate) fn record(
        &self,
        manifest_digest: &Digest,
        manifest: &Manifest,
        index_digest: Option<&Digest>,
        config: ImageConfig,
        mut layers: Vec<LayerRecord>,
    ) -> Result<ImageRecord> {
        for l in &mut layers {
            l.uncompressed_size = self.snapshots.layer_usage(l.chain_id.as_str())?.size;
        }
        let record = ImageRecord {
            id: manifest.config.digest.clone(),
            manifest_digest: manifest_digest.clone(),
            manifest_media_type: manifest.media_type().to_string(),
            index_digest: index_digest.cloned(),
            config,
            layers,
            repo_digests: Vec::new(),
            stored_at: 0,
        };
        let record = match self.store.get(&record.id) {
            Ok(old) => ImageRecord {
                repo_digests: old.repo_digests,
                ..record
            },
            Err(_) => record,
        };
        self.store.put(&record)?;
        Ok(record)
    }

    /// Stores `manifest` as a blob and returns its digest.
    pub fn put_manifest(&self, manifest: &Manifest) -> Result<Digest> {
        Ok(self.content.write_blob(&manifest.to_bytes())?)
    }

    /// Adds a `repo@digest` reference to an image record (kept unique).
    pub fn add_repo_digest(&self, id: &Digest, repo_digest: &str) -> Result<()> {
        let mut rec = self.store.get(id)?;
        if !rec.repo_digests.iter().any(|d| d == repo_digest) {
            rec.repo_digests.push(repo_digest.to_string());
            self.store.put(&rec)?;
        }
        Ok(())
    }
}
