//! The built image's record: its config blob, a manifest naming each layer's blob, and the
//! record in the image store. Layers the build made are stored uncompressed (blob digest =
//! diff id); layers of a base image keep the blobs they were pulled or loaded with.

use std::collections::HashMap;

use berth_build::{ImageState, Layer};
use berth_content::{media_types as mt, Descriptor, Digest};
use berth_image::Manifest;

use super::BuildEnv;

/// Blob descriptors of the layers known to the image store, by diff id.
fn known_blobs(env: &BuildEnv) -> HashMap<String, Descriptor> {
    let mut out = HashMap::new();
    if let Ok(records) = env.images.images().store.list() {
        for rec in records {
            for l in rec.layers {
                out.entry(l.diff_id.to_string())
                    .or_insert_with(|| Descriptor::new(l.media_type, l.digest, l.size));
            }
        }
    }
    out
}

fn descriptor(
    env: &BuildEnv,
    diff_id: &str,
    known: &mut Option<HashMap<String, Descriptor>>,
) -> Option<Descriptor> {
    let images = env.images.images();
    if let Ok(d) = Digest::parse(diff_id) {
        if let Some(size) = images.content.size(&d) {
            return Some(Descriptor::new(mt::OCI_LAYER_TAR, d, size));
        }
    }
    known
        .get_or_insert_with(|| known_blobs(env))
        .get(diff_id)
        .cloned()
}

/// Whether a cache record's layers can still make an image: each layer is unpacked and its
/// blob is stored.
pub(super) fn layers_usable(env: &BuildEnv, layers: &[Layer]) -> bool {
    let snapshots = &env.images.images().snapshots;
    let mut known = None;
    layers.iter().all(|l| {
        snapshots.has_layer(&l.chain_id) && descriptor(env, &l.diff_id, &mut known).is_some()
    })
}

/// Stores the image of `state`; returns its id.
pub(super) fn write(env: &BuildEnv, state: &ImageState) -> Result<String, String> {
    let images = env.images.images();
    let mut known = None;
    let mut layers = Vec::new();
    for diff in &state.config.rootfs.diff_ids {
        let d = descriptor(env, diff.as_str(), &mut known)
            .ok_or_else(|| format!("the blob of layer {diff} is missing"))?;
        layers.push(d);
    }
    let config = state.config.to_bytes();
    let config_digest = images
        .content
        .write_blob(&config)
        .map_err(|e| e.to_string())?;
    let manifest = Manifest::oci(
        Descriptor::new(mt::OCI_CONFIG, config_digest, config.len() as u64),
        layers,
    );
    let digest = images.put_manifest(&manifest).map_err(|e| e.to_string())?;
    // A cached rebuild gives an image that is already stored, with this very manifest:
    // nothing to record again (no layer walk for sizes, no synced write).
    if let Ok(old) = images.store.get(&manifest.config.digest) {
        if old.manifest_digest == digest {
            return Ok(old.id.to_string());
        }
    }
    let rec = images
        .install(&digest, &manifest, None, &|_, _| {})
        .map_err(|e| e.to_string())?;
    Ok(rec.id.to_string())
}
