//! A directory-backed fake engine: every layer is a full copy of the tree (so diffs are
//! computed by comparing listings), RUN interprets a tiny command language.

#![allow(dead_code)]

pub mod env;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use berth_build::{Backend, BaseImage, ImageState, Layer, OutputSink, ResolveOptions, RunSpec};
use berth_image::ImageConfig;
use berth_testkit::TempDir;
use sha2::{Digest, Sha256};

pub struct Fake {
    pub dir: TempDir,
    seq: AtomicU64,
    pub images: Mutex<BTreeMap<String, BaseImage>>,
    pub written: Mutex<BTreeMap<String, ImageState>>,
    pub tags: Mutex<BTreeMap<String, String>>,
    pub runs: Mutex<Vec<RunSpec>>,
    pub pulls: AtomicU64,
    /// (path in root, uid, gid, mode) of every extracted entry.
    pub extracted: Mutex<Vec<(String, u64, u64, u32)>>,
    pub live_roots: Mutex<BTreeSet<PathBuf>>,
}

pub struct Root(PathBuf);

fn sh(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        let dst = to.join(e.file_name());
        if ft.is_dir() {
            copy_tree(&e.path(), &dst);
            let mode = e.metadata().unwrap().permissions().mode();
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode)).unwrap();
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dst).unwrap();
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A listing of a tree: path, kind, mode, content digest.
pub fn listing(root: &Path) -> String {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let md = std::fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                out.push(format!("d {rel} {:o}", md.mode() & 0o7777));
                walk(root, &p, out);
            } else if md.file_type().is_symlink() {
                out.push(format!(
                    "l {rel} {}",
                    std::fs::read_link(&p).unwrap().display()
                ));
            } else {
                let data = std::fs::read(&p).unwrap();
                out.push(format!(
                    "f {rel} {:o} {}",
                    md.mode() & 0o7777,
                    sh(&String::from_utf8_lossy(&data))
                ));
            }
        }
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out.join("\n")
}

impl Fake {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            dir: TempDir::new("berth-build-fake-"),
            seq: AtomicU64::new(0),
            images: Mutex::new(BTreeMap::new()),
            written: Mutex::new(BTreeMap::new()),
            tags: Mutex::new(BTreeMap::new()),
            runs: Mutex::new(Vec::new()),
            pulls: AtomicU64::new(0),
            extracted: Mutex::new(Vec::new()),
            live_roots: Mutex::new(BTreeSet::new()),
        })
    }

    fn layer_dir(&self, chain: &str) -> PathBuf {
        self.dir
            .path()
            .join("layers")
            .join(chain.trim_start_matches("sha256:"))
    }

    fn top(&self, layers: &[Layer]) -> Option<PathBuf> {
        layers.last().map(|l| self.layer_dir(&l.chain_id))
    }

    /// Adds a base image whose single layer holds `files` (path, content).
    pub fn add_image(&self, name: &str, files: &[(&str, &str)], env: &[&str]) {
        let tmp = self
            .dir
            .path()
            .join(format!("img-{}", self.seq.fetch_add(1, Ordering::Relaxed)));
        for (p, c) in files {
            let path = tmp.join(p.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, c).unwrap();
        }
        std::fs::create_dir_all(&tmp).unwrap();
        let diff = format!("sha256:{}", sh(&listing(&tmp)));
        let layer = Layer {
            diff_id: diff.clone(),
            chain_id: diff.clone(),
            size: 10,
        };
        std::fs::create_dir_all(self.dir.path().join("layers")).unwrap();
        std::fs::rename(&tmp, self.layer_dir(&diff)).unwrap();
        let mut config = ImageConfig {
            architecture: "amd64".into(),
            os: "linux".into(),
            ..ImageConfig::default()
        };
        config.rootfs.diff_ids.push(diff.parse().unwrap());
        let cc = config.config.get_or_insert_with(Default::default);
        cc.env = Some(env.iter().map(|s| s.to_string()).collect());
        cc.cmd = Some(vec!["sh".into()]);
        let state = ImageState {
            config,
            layers: vec![layer],
        };
        let id = berth_build::state_id(&state);
        self.images
            .lock()
            .unwrap()
            .insert(name.to_string(), BaseImage { id, state });
    }

    pub fn run_count(&self) -> usize {
        self.runs.lock().unwrap().len()
    }

    /// The tree of an image's top layer.
    pub fn tree(&self, state: &ImageState) -> PathBuf {
        self.top(&state.layers).unwrap()
    }
}

#[async_trait]
impl Backend for Fake {
    type Root = Root;

    async fn resolve_image(
        &self,
        reference: &str,
        _: &ResolveOptions,
        _: OutputSink<'_>,
    ) -> Result<BaseImage, String> {
        self.pulls.fetch_add(1, Ordering::Relaxed);
        self.images
            .lock()
            .unwrap()
            .get(reference)
            .cloned()
            .ok_or_else(|| format!("pull access denied for {reference}, repository does not exist or may require 'docker login'"))
    }

    async fn prepare(&self, layers: &[Layer]) -> Result<Root, String> {
        let dir = self
            .dir
            .path()
            .join(format!("root-{}", self.seq.fetch_add(1, Ordering::Relaxed)));
        match self.top(layers) {
            Some(top) => copy_tree(&top, &dir),
            None => std::fs::create_dir_all(&dir).unwrap(),
        }
        self.live_roots.lock().unwrap().insert(dir.clone());
        Ok(Root(dir))
    }

    async fn run(
        &self,
        root: &Root,
        spec: &RunSpec,
        output: OutputSink<'_>,
    ) -> Result<i64, String> {
        self.runs.lock().unwrap().push(spec.clone());
        let script = spec.args.last().cloned().unwrap_or_default();
        for cmd in script.split("&&").map(str::trim) {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            match words.as_slice() {
                ["write", path, content @ ..] => {
                    let p = root.0.join(path.trim_start_matches('/'));
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(p, content.join(" ")).unwrap();
                }
                ["echo", rest @ ..] => output(format!("{}\n", rest.join(" ")).as_bytes()),
                ["env"] => output(format!("{}\n", spec.env.join("\n")).as_bytes()),
                ["fail", code] => {
                    output(b"failing\n");
                    return Ok(code.parse().unwrap());
                }
                ["true"] | [] => {}
                other => return Err(format!("fake: unknown command {other:?}")),
            }
        }
        Ok(0)
    }

    async fn extract(&self, root: &Root, dest: &str, tar: &Path) -> Result<(), String> {
        let dir = root.0.join(dest.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut a = tar::Archive::new(std::fs::File::open(tar).unwrap());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let path = e.path().unwrap().display().to_string();
            self.extracted.lock().unwrap().push((
                format!(
                    "{}/{}",
                    dest.trim_end_matches('/'),
                    path.trim_end_matches('/')
                ),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mode().unwrap(),
            ));
            e.set_preserve_permissions(true);
            e.unpack_in(&dir).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn mkdir(&self, root: &Root, path: &str, _: u32, _: u32) -> Result<(), String> {
        std::fs::create_dir_all(root.0.join(path.trim_start_matches('/')))
            .map_err(|e| e.to_string())
    }

    async fn is_dir(&self, root: &Root, path: &str) -> Result<bool, String> {
        Ok(root.0.join(path.trim_start_matches('/')).is_dir())
    }

    async fn read_file(&self, root: &Root, path: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(std::fs::read(root.0.join(path.trim_start_matches('/'))).ok())
    }

    async fn export(&self, layers: &[Layer], path: &str, out: &Path) -> Result<bool, String> {
        let Some(top) = self.top(layers) else {
            return Ok(false);
        };
        let src = top.join(path.trim_start_matches('/'));
        if !src.exists() {
            return Ok(false);
        }
        let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
        if src.is_dir() {
            b.append_dir_all(".", &src).unwrap();
        } else {
            b.append_path_with_name(&src, src.file_name().unwrap())
                .unwrap();
        }
        b.finish().unwrap();
        Ok(true)
    }

    async fn commit(&self, root: Root, parent: &[Layer]) -> Result<Option<Layer>, String> {
        self.live_roots.lock().unwrap().remove(&root.0);
        let before = self.top(parent).map(|p| listing(&p)).unwrap_or_default();
        let after = listing(&root.0);
        if before == after {
            std::fs::remove_dir_all(&root.0).unwrap();
            return Ok(None);
        }
        let diff = format!("sha256:{}", sh(&format!("{before}\n--\n{after}")));
        let chain = match parent.last() {
            Some(p) => format!("sha256:{}", sh(&format!("{} {diff}", p.chain_id))),
            None => diff.clone(),
        };
        let dst = self.layer_dir(&chain);
        if dst.exists() {
            std::fs::remove_dir_all(&root.0).unwrap();
        } else {
            std::fs::rename(&root.0, &dst).unwrap();
        }
        Ok(Some(Layer {
            diff_id: diff,
            chain_id: chain,
            size: after.len() as u64,
        }))
    }

    async fn stack(&self, parent: &[Layer], diff: &Layer) -> Result<Layer, String> {
        let Some(p) = parent.last() else {
            return Ok(diff.clone());
        };
        let chain = format!("sha256:{}", sh(&format!("{} {}", p.chain_id, diff.diff_id)));
        let dst = self.layer_dir(&chain);
        if !dst.exists() {
            copy_tree(&self.layer_dir(&p.chain_id), &dst);
            copy_tree(&self.layer_dir(&diff.chain_id), &dst);
        }
        Ok(Layer {
            diff_id: diff.diff_id.clone(),
            chain_id: chain,
            size: diff.size,
        })
    }

    async fn release(&self, root: Root) {
        self.live_roots.lock().unwrap().remove(&root.0);
        let _ = std::fs::remove_dir_all(&root.0);
    }

    async fn has_layers(&self, layers: &[Layer]) -> bool {
        layers.iter().all(|l| self.layer_dir(&l.chain_id).exists())
    }

    async fn write_image(&self, state: &ImageState) -> Result<String, String> {
        let id = berth_build::state_id(state);
        self.written
            .lock()
            .unwrap()
            .insert(id.clone(), state.clone());
        Ok(id)
    }

    async fn tag(&self, image_id: &str, reference: &str) -> Result<(), String> {
        self.tags
            .lock()
            .unwrap()
            .insert(reference.to_string(), image_id.to_string());
        Ok(())
    }
}

/// A context tar from (path, bytes, mode) files.
pub fn context_tar_bytes(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(*mode);
        h.set_size(content.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, path, *content).unwrap();
    }
    b.into_inner().unwrap()
}

/// A context tar from (path, content, mode) files.
pub fn context_tar(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(*mode);
        h.set_size(content.len() as u64);
        h.set_mtime(1_700_000_000);
        h.set_uid(1000);
        h.set_gid(1000);
        b.append_data(&mut h, path, content.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}
