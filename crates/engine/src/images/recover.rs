//! Daemon start, after the containers are reconciled: makes the image stores agree again
//! after a crash in the middle of a pull, load, import, commit or `rmi`.
//!
//! A pull writes blobs (through `content/ingest/`), then unpacks layers into snapshots
//! committed by chain id, then writes the image record, then the tag: a crash leaves
//! partial ingest files, blobs and layers that no image record names, but never a record
//! without its layers. `rmi` untags, deletes the record, then layers and blobs: a crash
//! leaves unreferenced layers and blobs. So recovery
//!
//! - removes temp files (ingest files no writer holds, uploads under `tmp/images`, the
//!   image store's and `image-meta`'s half-written files),
//! - drops references to images that are not stored,
//! - re-unpacks a record's missing layers from their blobs, and forgets (untags and
//!   deletes) a record whose layers cannot be rebuilt,
//! - deletes layers that no image and no container snapshot builds on, and blobs that no
//!   image record names, and the metadata of images that are gone.
//!
//! Nothing else runs meanwhile (the API is not served yet), so "unreferenced" is final.

use std::collections::HashSet;
use std::time::Duration;

use berth_content::{Descriptor, Digest};
use berth_image::ImageRecord;

use super::ImageService;

/// What image recovery repaired (printed by the daemon when not empty).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImageRecovery {
    /// Temp and partial files removed.
    pub temp_files: usize,
    /// References to missing images removed.
    pub dangling_refs: Vec<String>,
    /// Layers unpacked again from their blobs (chain ids).
    pub rebuilt_layers: Vec<String>,
    /// Image records whose layers could not be rebuilt, removed (ids).
    pub broken_images: Vec<String>,
    /// Layers no image or container used, removed (chain ids).
    pub orphan_layers: Vec<String>,
    /// Blobs no image named, removed.
    pub orphan_blobs: Vec<String>,
}

impl ImageRecovery {
    /// True when nothing needed repair.
    pub fn is_empty(&self) -> bool {
        *self == ImageRecovery::default()
    }
}

impl std::fmt::Display for ImageRecovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.temp_files > 0 {
            parts.push(format!("temp files {}", self.temp_files));
        }
        for (what, v) in [
            ("dangling references", &self.dangling_refs),
            ("rebuilt layers", &self.rebuilt_layers),
            ("broken images", &self.broken_images),
            ("orphan layers", &self.orphan_layers),
            ("orphan blobs", &self.orphan_blobs),
        ] {
            if !v.is_empty() {
                parts.push(format!("{what} {}", v.len()));
            }
        }
        write!(f, "{}", parts.join("; "))
    }
}

fn remove_files_in(dir: &std::path::Path, pred: impl Fn(&str) -> bool) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .filter(|e| pred(&e.file_name().to_string_lossy()))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

impl ImageService {
    /// Repairs the image stores; see the module docs. Blocking (unpacks, deletes): the
    /// daemon calls it from `spawn_blocking` before serving.
    pub fn recover(&self) -> ImageRecovery {
        let mut out = ImageRecovery::default();
        let images = &self.images;

        // Temp files: nothing is being written now.
        out.temp_files += images
            .content
            .remove_stale_ingest(Duration::ZERO)
            .unwrap_or(0);
        out.temp_files += remove_files_in(&self.tmp, |_| true);
        out.temp_files += remove_files_in(images.store.dir(), |n| n.contains(".tmp-"));
        out.temp_files += remove_files_in(&self.meta_dir, |n| n.ends_with(".tmp"));

        // References to images that are not stored.
        if let Ok(refs) = images.store.references() {
            for (name, id) in refs {
                if !images.store.contains(&id) && images.store.untag(&name).is_ok() {
                    out.dangling_refs.push(name);
                }
            }
        }

        // Records whose layers are missing: unpack them again, or forget the image.
        let records: Vec<ImageRecord> = images.store.list().unwrap_or_default();
        let mut kept = Vec::new();
        for rec in records {
            match self.rebuild_layers(&rec, &mut out.rebuilt_layers) {
                Ok(()) => kept.push(rec),
                Err(()) => {
                    if images.store.delete(&rec.id).is_ok() {
                        self.remove_meta(&rec.id);
                        out.broken_images.push(rec.id.to_string());
                    }
                }
            }
        }

        // Layers nobody builds on: not in an image's chain, not below a container snapshot.
        let snaps = &images.snapshots;
        let mut keep: HashSet<String> = kept
            .iter()
            .flat_map(|r| r.layers.iter().map(|l| l.chain_id.to_string()))
            .collect();
        let (build_chains, build_blobs) = self.build_roots();
        keep.extend(build_chains);
        for active in snaps.actives().unwrap_or_default() {
            if let Some(parent) = active.parent {
                for l in snaps.chain(&parent).unwrap_or_default() {
                    keep.insert(l.id);
                }
            }
        }
        // Top-down: a layer goes once no remaining layer has it as parent.
        loop {
            let layers = snaps.layers().unwrap_or_default();
            let parents: HashSet<String> = layers.iter().filter_map(|l| l.parent.clone()).collect();
            let removable: Vec<String> = layers
                .into_iter()
                .filter(|l| !keep.contains(&l.id) && !parents.contains(&l.id))
                .map(|l| l.id)
                .collect();
            let mut progress = false;
            for id in removable {
                if snaps.remove_layer(&id).is_ok() {
                    out.orphan_layers.push(id);
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }

        // Blobs no image record names.
        let mut named: HashSet<Digest> = HashSet::new();
        for r in &kept {
            named.insert(r.id.clone());
            named.insert(r.manifest_digest.clone());
            named.extend(r.index_digest.clone());
            for l in &r.layers {
                named.insert(l.digest.clone());
                named.insert(l.diff_id.clone());
            }
        }
        named.extend(build_blobs.iter().filter_map(|b| Digest::parse(b).ok()));
        for d in images.content.list().unwrap_or_default() {
            if !named.contains(&d) && images.content.delete(&d).is_ok() {
                out.orphan_blobs.push(d.to_string());
            }
        }

        // Metadata of images that are gone.
        let ids: HashSet<String> = kept.iter().map(|r| r.id.hex().to_string()).collect();
        remove_files_in(&self.meta_dir, |n| {
            n.strip_suffix(".json")
                .is_some_and(|hex| hex.len() == 64 && !ids.contains(hex))
        });
        out
    }

    /// Unpacks the missing layers of `rec` from their blobs; `Err` when one cannot be.
    fn rebuild_layers(&self, rec: &ImageRecord, rebuilt: &mut Vec<String>) -> Result<(), ()> {
        let images = &self.images;
        for (i, l) in rec.layers.iter().enumerate() {
            if images.snapshots.has_layer(l.chain_id.as_str()) {
                continue;
            }
            if !images.content.contains(&l.digest) {
                return Err(());
            }
            let desc = Descriptor::new(l.media_type.clone(), l.digest.clone(), l.size);
            let parent = i.checked_sub(1).map(|p| &rec.layers[p].chain_id);
            images
                .ensure_layer(&desc, &l.diff_id, &l.chain_id, parent)
                .map_err(|_| ())?;
            rebuilt.push(l.chain_id.to_string());
        }
        Ok(())
    }
}
