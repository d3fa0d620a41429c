//! `docker commit`: a container's diff (a layer tar the engine writes from its snapshot)
//! on top of its image becomes a new image.

use std::io::{self, BufReader};
use std::path::Path;

use crate::error::{EngineError, Result};
use berth_api_types::query::CommitOptions;
use berth_content::{media_types as mt, Descriptor};
use berth_image::config::History;
use berth_image::{chain_ids, ImageConfig, Images, Manifest, PlatformSpec};

use super::{parse_reference, pull::join_reference, ImageService};

impl ImageService {
    /// Makes an image from `layer_tar` (an uncompressed layer, e.g. `Snapshotter::write_diff`
    /// of the container) on top of image `parent` (an id or name; `None` for a scratch
    /// image). `config` is the container's config (the new image's defaults) before
    /// `opts.changes` are applied; `opts.repo`/`opts.tag` tag it, `opts.comment` and
    /// `opts.author` are recorded. Returns the new image id (`sha256:…`).
    pub async fn commit_layer(
        &self,
        layer_tar: &Path,
        parent: Option<&str>,
        config: Option<berth_api_types::ContainerConfig>,
        opts: &CommitOptions,
    ) -> Result<String> {
        let parent = parent.map(|p| self.resolve(p)).transpose()?;
        let target = match opts.repo.as_deref().filter(|r| !r.is_empty()) {
            Some(repo) => Some(parse_reference(&join_reference(repo, opts.tag.as_deref()))?),
            None => None,
        };
        let mut cc: berth_image::ContainerConfig = match config {
            Some(c) => serde_json::to_value(c)
                .and_then(serde_json::from_value)
                .map_err(EngineError::internal)?,
            None => parent
                .as_ref()
                .and_then(|p| p.config.config.clone())
                .unwrap_or_default(),
        };
        super::changes::apply_changes(&mut cc, &opts.changes)?;
        let images = self.images.clone();
        let path = layer_tar.to_path_buf();
        let comment = opts.comment.clone().filter(|c| !c.is_empty());
        let author = opts.author.clone().filter(|a| !a.is_empty());
        let parent_id = parent.as_ref().map(|p| p.id.clone());
        let rec = tokio::task::spawn_blocking(move || {
            commit_blocking(&images, &path, parent.as_ref(), cc, comment, author)
        })
        .await
        .map_err(EngineError::from)??;
        if let Some(p) = parent_id {
            self.update_meta(&rec.id, |m| m.parent = Some(p.to_string()));
        }
        if let Some(r) = &target {
            let key = format!("{}:{}", r.name(), r.tag().unwrap_or("latest"));
            self.images
                .store
                .tag(&key, &rec.id)
                .map_err(EngineError::from)?;
            self.touch_tag_time(&rec.id);
            self.event("tag", rec.id.as_str(), Some(&r.familiar()));
        }
        Ok(rec.id.to_string())
    }
}

fn commit_blocking(
    images: &Images,
    layer_tar: &Path,
    parent: Option<&berth_image::ImageRecord>,
    cc: berth_image::ContainerConfig,
    comment: Option<String>,
    author: Option<String>,
) -> Result<berth_image::ImageRecord> {
    let open = || {
        std::fs::File::open(layer_tar)
            .map(|f| BufReader::with_capacity(1 << 20, f))
            .map_err(|e| EngineError::io(format!("open {}", layer_tar.display()), e))
    };
    // The blob (uncompressed, so its digest is the diff id).
    let mut w = images.content.writer(None)?;
    io::copy(&mut open()?, &mut w)
        .map_err(|e| EngineError::io("write the layer to the content store", e))?;
    let blob = w.commit()?;
    let blob_size = images.content.size(&blob).unwrap_or(0);

    let mut config = match parent {
        Some(p) => p.config.clone(),
        None => {
            let host = PlatformSpec::host();
            ImageConfig {
                architecture: host.architecture,
                os: host.os,
                variant: host.variant,
                ..ImageConfig::default()
            }
        }
    };
    let mut diff_ids = config.rootfs.diff_ids.clone();
    diff_ids.push(blob.clone());
    let chain = chain_ids(&diff_ids);
    let chain_id = chain.last().expect("one layer at least").clone();
    if !images.snapshots.has_layer(chain_id.as_str()) {
        let pending = images.snapshots.begin_layer()?;
        let unpacked = berth_image::unpack_layer(open()?, &pending.path(), Some(&blob), "commit")
            .map_err(EngineError::from)?;
        debug_assert_eq!(unpacked.diff_id, blob);
        let parent_chain = chain.len().checked_sub(2).map(|i| chain[i].as_str());
        images
            .snapshots
            .commit_pending(pending, chain_id.as_str(), parent_chain)?;
    }
    let now = berth_units::Timestamp::now().to_rfc3339(berth_units::SubSeconds::Omit);
    config.created = Some(now.clone());
    config.author = author.clone();
    config.config = Some(cc);
    config.rootfs.diff_ids = diff_ids;
    config.history.push(History {
        created: Some(now),
        created_by: Some(String::new()),
        author,
        comment: comment.clone(),
        empty_layer: false,
    });
    match comment {
        Some(c) => config.extra.insert("comment".into(), c.into()),
        None => config.extra.remove("comment"),
    };
    let config_bytes = config.to_bytes();
    let config_digest = images.content.write_blob(&config_bytes)?;
    let mut layers: Vec<Descriptor> = parent
        .map(|p| {
            p.layers
                .iter()
                .map(|l| Descriptor::new(l.media_type.clone(), l.digest.clone(), l.size))
                .collect()
        })
        .unwrap_or_default();
    layers.push(Descriptor::new(mt::OCI_LAYER_TAR, blob, blob_size));
    let manifest = Manifest::oci(
        Descriptor::new(mt::OCI_CONFIG, config_digest, config_bytes.len() as u64),
        layers,
    );
    let digest = images.put_manifest(&manifest).map_err(EngineError::from)?;
    images
        .install(&digest, &manifest, None, &|_, _| {})
        .map_err(EngineError::from)
}
