//! `docker pull`: resolve, choose the platform, download config and layers concurrently,
//! unpack each layer as soon as it is downloaded (layers unpack independently, each into
//! its own snapshot dir, so several run in parallel), commit them by chain id and record
//! the image. A failed pull writes no image record.

use std::sync::Arc;

use berth_content::Digest;
use berth_registry::{Client, ManifestAccept, Progress, ProgressFn, ProgressStatus, Reference};

use crate::config::ImageConfig;
use crate::error::{invalid, ImageError, Result};
use crate::install::{Images, LayerOutcome};
use crate::manifest::{Manifest, ManifestDoc};
use crate::platform::{select_manifest, PlatformSpec};
use crate::store::ImageRecord;

/// Per-layer pull progress, in the order Docker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerStatus {
    /// Queued ("Pulling fs layer" / "Waiting").
    Waiting,
    /// The layer's snapshot exists already ("Already exists").
    AlreadyExists,
    /// Bytes arriving ("Downloading").
    Downloading {
        /// Bytes so far.
        current: u64,
        /// Blob size.
        total: u64,
    },
    /// A transient error; the download restarts.
    Retrying,
    /// Download finished, digest being checked ("Verifying Checksum").
    Verifying,
    /// Verified ("Download complete").
    DownloadComplete,
    /// Being unpacked ("Extracting").
    Extracting,
    /// Unpacked and committed ("Pull complete").
    PullComplete,
}

/// A progress event of one layer (identified by its blob digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullEvent {
    /// The layer blob.
    pub layer: Digest,
    /// What happened.
    pub status: LayerStatus,
}

/// Receives pull progress events (from several tasks at once).
pub type PullProgress = Arc<dyn Fn(&PullEvent) + Send + Sync>;

/// Options of [`pull`].
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Platform to choose from a multi-platform index (default: the host's).
    pub platform: PlatformSpec,
    /// Concurrent downloads.
    pub max_downloads: usize,
    /// Concurrent layer unpacks (default: the number of CPUs).
    pub max_unpacks: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: PlatformSpec::host(),
            max_downloads: 6,
            max_unpacks: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct PullResult {
    /// The stored image.
    pub record: ImageRecord,
    /// The digest the reference resolved to (the index's when multi-platform): Docker's
    /// `Digest:` line and the repo digest.
    pub digest: Digest,
    /// False when every layer already existed and the image was already stored.
    pub downloaded: bool,
}

fn registry_err(e: berth_registry::RegistryError) -> ImageError {
    ImageError::Registry(e)
}

/// Pulls `reference` into `images` (content, snapshots, image record and tag).
pub async fn pull(
    images: &Arc<Images>,
    client: &Client,
    reference: &Reference,
    opts: &PullOptions,
    progress: Option<PullProgress>,
) -> Result<PullResult> {
    let emit = |layer: &Digest, status: LayerStatus| {
        if let Some(p) = &progress {
            p(&PullEvent {
                layer: layer.clone(),
                status,
            });
        }
    };
    let fetched = client.resolve(reference).await.map_err(registry_err)?;
    let resolved = fetched.digest.clone();
    let (manifest_digest, manifest, index_digest) =
        match ManifestDoc::parse(&fetched.media_type, &fetched.bytes)? {
            ManifestDoc::Manifest(m) => {
                images.content.write_blob(&fetched.bytes)?;
                (fetched.digest, *m, None)
            }
            ManifestDoc::Index(index) => {
                images.content.write_blob(&fetched.bytes)?;
                let desc = select_manifest(&index, &opts.platform)?;
                let m = client
                    .fetch_manifest(
                        reference,
                        &desc.digest,
                        Some(desc.size),
                        ManifestAccept::ImageManifest,
                    )
                    .await
                    .map_err(registry_err)?;
                let ManifestDoc::Manifest(parsed) = ManifestDoc::parse(&m.media_type, &m.bytes)?
                else {
                    return Err(invalid(
                        "manifest",
                        "an index entry points to another index",
                    ));
                };
                images.content.write_blob(&m.bytes)?;
                (m.digest, *parsed, Some(fetched.digest))
            }
        };

    client
        .fetch_blob(reference, &manifest.config, &images.content, None)
        .await
        .map_err(registry_err)?;
    let config = ImageConfig::parse(&images.content.read_blob(&manifest.config.digest)?)?;
    let plan = images.plan(&manifest, &config)?;
    let already_stored = images.store.contains(&manifest.config.digest);

    let downloads = Arc::new(tokio::sync::Semaphore::new(opts.max_downloads.max(1)));
    let unpacks = Arc::new(tokio::sync::Semaphore::new(opts.max_unpacks.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut downloaded = false;
    for (i, layer) in plan.iter().enumerate() {
        if images.snapshots.has_layer(layer.chain_id.as_str()) {
            emit(&layer.digest, LayerStatus::AlreadyExists);
            continue;
        }
        downloaded = true;
        emit(&layer.digest, LayerStatus::Waiting);
        let desc = manifest.layers[i].clone();
        let layer = layer.clone();
        let parent = i.checked_sub(1).map(|p| plan[p].chain_id.clone());
        let (images, client, reference) = (images.clone(), client.clone(), reference.clone());
        let (downloads, unpacks, progress) = (downloads.clone(), unpacks.clone(), progress.clone());
        tasks.spawn(async move {
            let layer_digest = desc.digest.clone();
            let emit = |status| {
                if let Some(p) = &progress {
                    p(&PullEvent {
                        layer: layer_digest.clone(),
                        status,
                    })
                }
            };
            {
                let _permit = downloads.acquire().await.expect("semaphore open");
                let relay: Option<ProgressFn> = progress.clone().map(|p| {
                    Arc::new(move |ev: &Progress| {
                        let status = match ev.status {
                            ProgressStatus::Transferring => LayerStatus::Downloading {
                                current: ev.current,
                                total: ev.total,
                            },
                            ProgressStatus::Retrying => LayerStatus::Retrying,
                            ProgressStatus::Done | ProgressStatus::Exists => LayerStatus::Verifying,
                            ProgressStatus::Mounted => return,
                        };
                        p(&PullEvent {
                            layer: ev.digest.clone(),
                            status,
                        })
                    }) as ProgressFn
                });
                client
                    .fetch_blob(&reference, &desc, &images.content, relay.as_ref())
                    .await
                    .map_err(registry_err)?;
            }
            emit(LayerStatus::DownloadComplete);
            let _permit = unpacks.acquire().await.expect("semaphore open");
            emit(LayerStatus::Extracting);
            let outcome = tokio::task::spawn_blocking(move || {
                images.ensure_layer(&desc, &layer.diff_id, &layer.chain_id, parent.as_ref())
            })
            .await
            .map_err(|e| invalid("pull", format!("unpack task failed: {e}")))??;
            emit(match outcome {
                LayerOutcome::AlreadyExists => LayerStatus::AlreadyExists,
                LayerOutcome::Unpacked => LayerStatus::PullComplete,
            });
            Ok::<(), ImageError>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let result = joined.map_err(|e| invalid("pull", format!("layer task failed: {e}")))?;
        if let Err(e) = result {
            tasks.abort_all();
            return Err(e);
        }
    }

    let record = images.record(
        &manifest_digest,
        &manifest,
        index_digest.as_ref(),
        config,
        plan,
    )?;
    if let Some(tag) = reference.tag() {
        images
            .store
            .tag(&format!("{}:{tag}", reference.name()), &record.id)?;
    }
    images.add_repo_digest(&record.id, &format!("{}@{resolved}", reference.name()))?;
    let record = images.store.get(&record.id)?;
    Ok(PullResult {
        record,
        digest: resolved,
        downloaded: downloaded || !already_stored,
    })
}

impl Images {
    /// The manifest of a stored image (read back from the content store).
    pub fn manifest_of(&self, record: &ImageRecord) -> Result<Manifest> {
        match ManifestDoc::parse(
            &record.manifest_media_type,
            &self.content.read_blob(&record.manifest_digest)?,
        )? {
            ManifestDoc::Manifest(m) => Ok(*m),
            ManifestDoc::Index(_) => Err(invalid("manifest", "record points to an index")),
        }
    }
}
