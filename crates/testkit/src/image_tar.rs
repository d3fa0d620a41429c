//! `docker save`-style archives ("docker-archive" tars) built from a directory tree, so tests
//! can `docker load` / `POST /images/load` a real, runnable image without a registry.
//!
//! ```no_run
//! let dir = berth_testkit::TempDir::new("img");
//! let img = berth_testkit::image_tar::busybox_archive(&dir.path().join("busybox.tar"), &["busybox:latest"]);
//! // img.image_id == "sha256:<config digest>", loadable with `docker load -i busybox.tar`
//! ```
//!
//! The archive has the classic layout every Docker version reads:
//!
//! ```text
//! manifest.json            [{"Config":"<hex>.json","RepoTags":[...],"Layers":["<hex>/layer.tar"]}]
//! <config hex>.json        image config: architecture, os, config.Cmd/Env, rootfs.diff_ids, history
//! <diff id hex>/layer.tar  the uncompressed layer
//! repositories             {"busybox":{"latest":"<diff id hex>"}} (legacy, for old loaders)
//! ```
//!
//! Layer tars are deterministic (uid/gid 0, fixed mtime, sorted entries), so the same tree
//! always gives the same diff id and image id.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// What an archive holds, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// Path of the written archive.
    pub path: PathBuf,
    /// Image id: `sha256:` + hex digest of the config JSON.
    pub image_id: String,
    /// `sha256:` digests of each uncompressed layer, base first.
    pub diff_ids: Vec<String>,
    /// The config JSON as written.
    pub config: serde_json::Value,
    /// Uncompressed size of each layer tar in bytes.
    pub layer_sizes: Vec<u64>,
}

/// The default container config of the test images: `Cmd ["sh"]` and a PATH.
pub fn default_container_config() -> serde_json::Value {
    serde_json::json!({
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
    })
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    format!("sha256:{}", hex_lower(&h.finalize()))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A deterministic, uncompressed tar of the tree at `root` (paths relative to it, symlinks
/// kept as symlinks, owners 0:0, mtime 0).
pub fn layer_tar(root: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    b.follow_symlinks(false);
    let mut entries = Vec::new();
    collect(root, Path::new(""), &mut entries);
    entries.sort();
    for rel in entries {
        b.append_path_with_name(root.join(&rel), &rel)
            .unwrap_or_else(|e| panic!("tar {}: {e}", rel.display()));
    }
    b.into_inner().expect("finish layer tar")
}

fn collect(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let dir = root.join(rel);
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let entry = entry.expect("dir entry");
        let child = rel.join(entry.file_name());
        out.push(child.clone());
        if entry.file_type().expect("file type").is_dir() {
            collect(root, &child, out);
        }
    }
}

/// Writes a docker-archive of one image whose layers are the trees `layers` (base first),
/// tagged `repo_tags` (e.g. `["busybox:latest"]`, may be empty), with `container_config` as
/// the image's `config` section.
pub fn write_archive(
    path: &Path,
    layers: &[&Path],
    repo_tags: &[&str],
    container_config: serde_json::Value,
) -> ArchiveInfo {
    let tars: Vec<Vec<u8>> = layers.iter().map(|l| layer_tar(l)).collect();
    let diff_ids: Vec<String> = tars.iter().map(|t| sha256_digest(t)).collect();
    let history: Vec<serde_json::Value> = diff_ids
        .iter()
        .enumerate()
        .map(|(i, _)| {
            serde_json::json!({
                "created": "2024-01-02T03:04:05Z",
                "created_by": format!("berth-testkit layer {i}"),
            })
        })
        .collect();
    let config = serde_json::json!({
        "architecture": berth_units::arch::go_arch(),
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    let config_bytes = serde_json::to_vec(&config).expect("config JSON");
    let image_id = sha256_digest(&config_bytes);
    let id_hex = &image_id["sha256:".len()..];

    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).expect("append");
    };
    add(&format!("{id_hex}.json"), &config_bytes);
    let mut layer_paths = Vec::new();
    for (tar, diff_id) in tars.iter().zip(&diff_ids) {
        let p = format!("{}/layer.tar", &diff_id["sha256:".len()..]);
        add(&p, tar);
        layer_paths.push(p);
    }
    let manifest = serde_json::json!([{
        "Config": format!("{id_hex}.json"),
        "RepoTags": repo_tags,
        "Layers": layer_paths,
    }]);
    add(
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("json"),
    );
    let mut repositories = serde_json::Map::new();
    if let Some(top) = diff_ids.last() {
        for t in repo_tags {
            let (repo, tag) = t.rsplit_once(':').unwrap_or((t, "latest"));
            repositories
                .entry(repo.to_string())
                .or_insert_with(|| serde_json::json!({}))[tag] =
                serde_json::Value::String(top["sha256:".len()..].to_string());
        }
    }
    add(
        "repositories",
        &serde_json::to_vec(&repositories).expect("json"),
    );
    let bytes = b.into_inner().expect("finish archive");
    let mut f =
        std::fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    f.write_all(&bytes).expect("write archive");
    ArchiveInfo {
        path: path.to_path_buf(),
        image_id,
        layer_sizes: tars.iter().map(|t| t.len() as u64).collect(),
        diff_ids,
        config,
    }
}

/// Writes a one-layer busybox image archive (a [`crate::busybox::make_rootfs`] tree,
/// `Cmd ["sh"]`) to `path`, tagged `repo_tags`.
pub fn busybox_archive(path: &Path, repo_tags: &[&str]) -> ArchiveInfo {
    let dir = crate::TempDir::new("bbimg");
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(&rootfs).expect("mkdir rootfs");
    crate::busybox::make_rootfs(&rootfs);
    write_archive(path, &[&rootfs], repo_tags, default_container_config())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_is_deterministic_and_consistent() {
        let dir = crate::TempDir::new("imgtar");
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("etc")).unwrap();
        std::fs::write(tree.join("etc/hello"), "hi\n").unwrap();
        std::os::unix::fs::symlink("hello", tree.join("etc/link")).unwrap();
        let a = write_archive(
            &dir.path().join("a.tar"),
            &[&tree],
            &["t:1"],
            default_container_config(),
        );
        let b = write_archive(
            &dir.path().join("b.tar"),
            &[&tree],
            &["t:1"],
            default_container_config(),
        );
        assert_eq!(a.image_id, b.image_id);
        assert_eq!(a.diff_ids, vec![sha256_digest(&layer_tar(&tree))]);
        let mut ar = tar::Archive::new(std::fs::File::open(&a.path).unwrap());
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.contains(&"manifest.json".to_string()), "{names:?}");
        assert!(names.contains(&format!("{}.json", &a.image_id[7..])));
        let layer = tar::Archive::new(&layer_tar(&tree)[..])
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect::<Vec<_>>();
        assert!(layer.contains(&("etc/link".to_string(), tar::EntryType::Symlink)));
    }
}
