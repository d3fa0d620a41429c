//! Exports of one path of a layer stack (`COPY --from`), kept per (top chain id, path).
//!
//! A `COPY --from` is planned before its cache lookup: the files it selects are hashed into
//! the step's key, so even a fully cached rebuild needs them. A committed layer never
//! changes and its chain id names the whole stack's content, so the tar written for
//! (chain id, path) is the same every time: it is written once (through a mounted view)
//! and hard-linked out again on the next build, which then mounts nothing.
//!
//! On disk: `<data-root>/build/exports/<chain hex>-<sha256(path) hex>.tar`. Entries whose
//! layer is gone are removed when the daemon starts and after a `builder prune`; exports
//! larger than [`MAX_KEPT`] are not kept (a large tree is exported each time, as before).

use std::path::{Path, PathBuf};

/// The largest export kept.
const MAX_KEPT: u64 = 64 << 20;

/// The export store.
#[derive(Debug)]
pub(super) struct Exports {
    dir: PathBuf,
}

impl Exports {
    /// The store in `dir` (created).
    pub(super) fn open(dir: PathBuf) -> Result<Self, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        Ok(Self { dir })
    }

    fn file(&self, chain_id: &str, path: &str) -> Option<PathBuf> {
        let chain = chain_id.strip_prefix("sha256:")?;
        if chain.is_empty() || !chain.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(self.dir.join(format!(
            "{chain}-{}.tar",
            super::sha256_hex(path.as_bytes())
        )))
    }

    /// Links the kept export of `path` in the stack topped by `chain_id` to `out`; false
    /// when there is none.
    pub(super) fn link_to(&self, chain_id: &str, path: &str, out: &Path) -> bool {
        let Some(kept) = self.file(chain_id, path) else {
            return false;
        };
        match std::fs::hard_link(&kept, out) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            // Another file system (or no hard links): a copy still saves the mount.
            Err(_) => std::fs::copy(&kept, out).is_ok(),
        }
    }

    /// Keeps the export just written at `out` (a hard link, renamed into place so a
    /// reader never sees a partial file). Best effort: a failure only costs a later mount.
    pub(super) fn keep(&self, chain_id: &str, path: &str, out: &Path) {
        let Some(kept) = self.file(chain_id, path) else {
            return;
        };
        if std::fs::metadata(out).map_or(true, |m| m.len() > MAX_KEPT) {
            return;
        }
        let tmp = self.dir.join(format!(".tmp-{}", super::random_hex()));
        if std::fs::hard_link(out, &tmp).is_ok() && std::fs::rename(&tmp, &kept).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// Removes the exports of layers for which `exists` is false, and leftover temp files.
    pub(super) fn retain(&self, exists: impl Fn(&str) -> bool) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let keep = name
                .split_once('-')
                .filter(|_| name.ends_with(".tar") && !name.starts_with('.'))
                .is_some_and(|(chain, _)| exists(&format!("sha256:{chain}")));
            if !keep {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn kept_exports_link_out_and_go_with_their_layer() {
        let dir = berth_testkit::tempdir::TempDir::new("berth-exports-");
        let store = Exports::open(dir.path().join("exports")).unwrap();
        let out = dir.path().join("out.tar");
        assert!(!store.link_to(CHAIN, "/app", &out));
        std::fs::write(&out, b"tar bytes").unwrap();
        store.keep(CHAIN, "/app", &out);
        std::fs::remove_file(&out).unwrap();
        assert!(store.link_to(CHAIN, "/app", &out));
        assert_eq!(std::fs::read(&out).unwrap(), b"tar bytes");
        let other = dir.path().join("other.tar");
        assert!(!store.link_to(CHAIN, "/app/sub", &other), "keyed by path");
        assert!(
            !store.link_to("sha256:../x", "/app", &other),
            "bad chain id"
        );
        store.retain(|c| c == CHAIN);
        assert!(store.link_to(CHAIN, "/app", &other));
        store.retain(|_| false);
        let third = dir.path().join("third.tar");
        assert!(!store.link_to(CHAIN, "/app", &third), "gone with its layer");
    }
}
