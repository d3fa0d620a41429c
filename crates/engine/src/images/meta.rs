//! What Docker keeps per image beyond its config: the parent image (set by `commit`) and
//! the last tag time. One small JSON file per image id under `<data-root>/image-meta/`,
//! written temp + rename; a missing file means "no parent, never tagged".

use std::path::PathBuf;

use berth_content::Digest;
use serde::{Deserialize, Serialize};

use super::ImageService;

/// Local metadata of one image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ImageMeta {
    /// Id of the image this one was committed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// RFC 3339 time of the last tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tag_time: Option<String>,
}

impl ImageService {
    fn meta_path(&self, id: &Digest) -> PathBuf {
        self.meta_dir.join(format!("{}.json", id.hex()))
    }

    /// The metadata of `id` (default when none was written).
    pub(crate) fn meta(&self, id: &Digest) -> ImageMeta {
        std::fs::read(self.meta_path(id))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Read-modify-write of the metadata of `id` (best effort: it is informational).
    pub(crate) fn update_meta(&self, id: &Digest, f: impl FnOnce(&mut ImageMeta)) {
        let _guard = self.meta_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut m = self.meta(id);
        f(&mut m);
        let path = self.meta_path(id);
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec(&m).unwrap_or_default();
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }

    /// Forgets the metadata of a deleted image.
    pub(crate) fn remove_meta(&self, id: &Digest) {
        let _ = std::fs::remove_file(self.meta_path(id));
    }

    /// Records "tagged now".
    pub(crate) fn touch_tag_time(&self, id: &Digest) {
        let t = berth_units::time::now_rfc3339_nanos();
        self.update_meta(id, |m| m.last_tag_time = Some(t));
    }
}
