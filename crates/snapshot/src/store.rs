//! The overlay snapshotter: layers by chain id, active and view snapshots.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::mount::Mount;

/// A committed, read-only layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// Chain id, `sha256:<hex>`.
    pub id: String,
    /// Parent chain id; `None` for a base layer.
    pub parent: Option<String>,
    /// Directory holding the layer contents (overlay form).
    pub path: PathBuf,
}

/// The kind of a non-committed snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    /// Writable (a container's upper layer).
    Active,
    /// Read-only view of a layer chain.
    View,
}

/// An active or view snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveInfo {
    /// The caller's key (e.g. a container id).
    pub key: String,
    /// Active or view.
    pub kind: SnapshotKind,
    /// Chain id of the layer it is built on.
    pub parent: Option<String>,
    /// The writable upper directory (empty and unused for views).
    pub upper: PathBuf,
}

/// Disk usage of a layer or snapshot (hardlinked inodes counted once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Sum of file sizes in bytes.
    pub size: u64,
    /// Number of inodes.
    pub inodes: u64,
}

#[derive(Serialize, Deserialize)]
struct ActiveRecord {
    kind: SnapshotKind,
    parent: Option<String>,
}

/// A layer being filled (e.g. by an unpack) before it is committed under its chain id.
///
/// Dropping it without [`Snapshotter::commit_pending`] deletes everything written.
#[derive(Debug)]
pub struct PendingLayer {
    dir: PathBuf,
}

impl PendingLayer {
    /// The (initially empty) directory to fill with the layer contents.
    pub fn path(&self) -> PathBuf {
        self.dir.join("diff")
    }
}

impl Drop for PendingLayer {
    fn drop(&mut self) {
        if self.dir.exists() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Creates `dir` (and missing parents) 0700: a host user must never reach a layer's files
/// (a setuid binary a container made, CVE-2021-41091).
fn private_dir_all(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .ctx("create", dir)
}

/// Creates a layer's `diff` directory 0755: it is the root directory of the container's
/// filesystem until a layer says otherwise.
fn content_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir(dir).ctx("create", dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).ctx("chmod", dir)
}

/// Overlayfs snapshotter rooted at one directory (normally `<data-root>/snapshots`).
#[derive(Debug, Clone)]
pub struct Snapshotter {
    dir: PathBuf,
}

impl Snapshotter {
    /// Opens (creating if needed) a snapshotter in `dir`, clearing leftovers in `tmp/`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        for sub in ["layers", "l", "active", "tmp"] {
            let p = dir.join(sub);
            private_dir_all(&p)?;
        }
        // Only this process's own pending dirs could be in use; others are leftovers of a
        // crash. Pending dirs carry the pid, so remove the ones of dead processes.
        let tmp = dir.join("tmp");
        for entry in fs::read_dir(&tmp).ctx("read", &tmp)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
            let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
            if !alive {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        Ok(Self { dir })
    }

    /// The snapshotter's root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn layer_dir(&self, id: &str) -> Result<PathBuf> {
        Ok(self.dir.join("layers").join(layer_hex(id)?))
    }

    fn active_dir(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        Ok(self.dir.join("active").join(key))
    }

    fn temp_dir(&self, what: &str) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.dir
            .join("tmp")
            .join(format!("{what}-{}-{n}-{nanos:x}", std::process::id()))
    }

    /// True when the layer with this chain id is committed.
    pub fn has_layer(&self, id: &str) -> bool {
        self.layer_dir(id).map(|d| d.is_dir()).unwrap_or(false)
    }

    /// Information about a committed layer.
    pub fn layer(&self, id: &str) -> Result<LayerInfo> {
        let dir = self.layer_dir(id)?;
        if !dir.is_dir() {
            return Err(Error::NotFound(id.to_string()));
        }
        let parent = match fs::read_to_string(dir.join("parent")) {
            Ok(p) => Some(p.trim().to_string()),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e).ctx("read", dir.join("parent")),
        };
        Ok(LayerInfo {
            id: id.to_string(),
            parent,
            path: dir.join("diff"),
        })
    }

    /// All committed layers.
    pub fn layers(&self) -> Result<Vec<LayerInfo>> {
        let root = self.dir.join("layers");
        let mut out = Vec::new();
        for entry in fs::read_dir(&root).ctx("read", &root)? {
            let entry = entry.ctx("read", &root)?;
            let id = format!("sha256:{}", entry.file_name().to_string_lossy());
            out.push(self.layer(&id)?);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The layer and its ancestors, top-most first.
    pub fn chain(&self, id: &str) -> Result<Vec<LayerInfo>> {
        let mut out = Vec::new();
        let mut next = Some(id.to_string());
        while let Some(id) = next {
            let info = self.layer(&id)?;
            next = info.parent.clone();
            out.push(info);
            if out.len() > 4096 {
                return Err(Error::Corrupt(self.dir.clone(), "layer parent loop".into()));
            }
        }
        Ok(out)
    }

    /// Starts a new layer to be filled by the caller (e.g. unpacked into).
    pub fn begin_layer(&self) -> Result<PendingLayer> {
        let dir = self.temp_dir("layer");
        private_dir_all(&dir)?;
        content_dir(&dir.join("diff"))?;
        Ok(PendingLayer { dir })
    }

    /// Commits a filled pending layer as chain id `id` on top of `parent`.
    ///
    /// Returns `false` (and discards `pending`) when the layer already existed, e.g. because a
    /// concurrent pull committed it first.
    pub fn commit_pending(
        &self,
        pending: PendingLayer,
        id: &str,
        parent: Option<&str>,
    ) -> Result<bool> {
        self.install_layer(&pending.dir, id, parent)
    }

    fn install_layer(&self, staged: &Path, id: &str, parent: Option<&str>) -> Result<bool> {
        let hex = layer_hex(id)?;
        if let Some(p) = parent {
            layer_hex(p)?;
            let f = staged.join("parent");
            fs::write(&f, p).ctx("write", &f)?;
        }
        let short = short_id(id);
        let f = staged.join("link");
        fs::write(&f, &short).ctx("write", &f)?;
        let dest = self.layer_dir(id)?;
        match fs::rename(staged, &dest) {
            Ok(()) => {}
            Err(e) if dest.is_dir() => {
                let _ = e;
                return Ok(false);
            }
            Err(e) => return Err(e).ctx("rename layer into", &dest),
        }
        self.ensure_link(hex, &short)?;
        Ok(true)
    }

    /// Makes `l/<short>` point at the layer's diff dir (recreating it if it was lost).
    fn ensure_link(&self, hex: &str, short: &str) -> Result<()> {
        let link = self.dir.join("l").join(short);
        let want = format!("../layers/{hex}/diff");
        match fs::read_link(&link) {
            Ok(t) if t.as_os_str() == want.as_str() => return Ok(()),
            Ok(t) => {
                let what = format!("short id {short} collides ({})", t.display());
                return Err(Error::Corrupt(link, what));
            }
            Err(_) => {}
        }
        match std::os::unix::fs::symlink(&want, &link) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e).ctx("symlink", &link),
        }
    }

    fn lower_paths(&self, parent: Option<&str>) -> Result<Vec<String>> {
        let Some(parent) = parent else {
            return Ok(Vec::new());
        };
        self.chain(parent)?
            .iter()
            .map(|l| {
                let short = short_id(&l.id);
                self.ensure_link(layer_hex(&l.id)?, &short)?;
                Ok(self
                    .dir
                    .join("l")
                    .join(short)
                    .to_string_lossy()
                    .into_owned())
            })
            .collect()
    }

    fn create_snapshot(&self, key: &str, kind: SnapshotKind, parent: Option<&str>) -> Result<()> {
        let dest = self.active_dir(key)?;
        if dest.exists() {
            return Err(Error::AlreadyExists(key.to_string()));
        }
        if let Some(p) = parent {
            layer_hex(p)?;
            if !self.has_layer(p) {
                return Err(Error::NotFound(p.to_string()));
            }
        }
        let staged = self.temp_dir("active");
        let result = (|| {
            private_dir_all(&staged)?;
            content_dir(&staged.join("diff"))?;
            if kind == SnapshotKind::Active {
                private_dir_all(&staged.join("work"))?;
            }
            let rec = ActiveRecord {
                kind,
                parent: parent.map(str::to_string),
            };
            let f = staged.join("info.json");
            fs::write(&f, serde_json::to_vec(&rec).expect("serialize")).ctx("write", &f)?;
            match fs::rename(&staged, &dest) {
                Ok(()) => Ok(()),
                Err(_) if dest.exists() => Err(Error::AlreadyExists(key.to_string())),
                Err(e) => Err(e).ctx("rename snapshot into", &dest),
            }
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staged);
        }
        result
    }

    /// Creates a writable snapshot `key` over layer `parent` and returns how to mount it.
    pub fn prepare(&self, key: &str, parent: Option<&str>) -> Result<Mount> {
        self.create_snapshot(key, SnapshotKind::Active, parent)?;
        self.mounts(key)
    }

    /// Creates a read-only view `key` of layer `parent` and returns how to mount it.
    pub fn view(&self, key: &str, parent: Option<&str>) -> Result<Mount> {
        self.create_snapshot(key, SnapshotKind::View, parent)?;
        self.mounts(key)
    }

    /// Information about an active or view snapshot.
    pub fn active(&self, key: &str) -> Result<ActiveInfo> {
        let dir = self.active_dir(key)?;
        let f = dir.join("info.json");
        let bytes = match fs::read(&f) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::NotFound(key.to_string()))
            }
            Err(e) => return Err(e).ctx("read", &f),
        };
        let rec: ActiveRecord =
            serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt(f, e.to_string()))?;
        Ok(ActiveInfo {
            key: key.to_string(),
            kind: rec.kind,
            parent: rec.parent,
            upper: dir.join("diff"),
        })
    }

    /// All active and view snapshots.
    pub fn actives(&self) -> Result<Vec<ActiveInfo>> {
        let root = self.dir.join("active");
        let mut out = Vec::new();
        for entry in fs::read_dir(&root).ctx("read", &root)? {
            let entry = entry.ctx("read", &root)?;
            out.push(self.active(&entry.file_name().to_string_lossy())?);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The mount description of an active or view snapshot.
    pub fn mounts(&self, key: &str) -> Result<Mount> {
        let info = self.active(key)?;
        let dir = self.active_dir(key)?;
        let lowers = self.lower_paths(info.parent.as_deref())?;
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let bind = |source: String, ro: bool| Mount {
            kind: "bind".into(),
            source,
            options: vec!["rbind".into(), if ro { "ro" } else { "rw" }.into()],
        };
        Ok(match (info.kind, lowers.len()) {
            (SnapshotKind::Active, 0) => bind(path(&info.upper), false),
            (SnapshotKind::View, 0) => bind(path(&info.upper), true),
            (SnapshotKind::View, 1) => bind(lowers[0].clone(), true),
            (SnapshotKind::View, _) => Mount {
                kind: "overlay".into(),
                source: "overlay".into(),
                options: vec!["ro".into(), format!("lowerdir={}", lowers.join(":"))],
            },
            (SnapshotKind::Active, _) => Mount {
                kind: "overlay".into(),
                source: "overlay".into(),
                options: vec![
                    "index=off".into(),
                    format!("lowerdir={}", lowers.join(":")),
                    format!("upperdir={}", path(&info.upper)),
                    format!("workdir={}", path(&dir.join("work"))),
                ],
            },
        })
    }

    /// Commits active snapshot `key` as layer `id` (its parent becomes the layer's parent) and
    /// removes the snapshot. The snapshot must not be mounted.
    pub fn commit(&self, key: &str, id: &str) -> Result<()> {
        let info = self.active(key)?;
        if info.kind != SnapshotKind::Active {
            return Err(Error::WrongKind(key.into(), "only active snapshots commit"));
        }
        layer_hex(id)?;
        let staged = self.temp_dir("commit");
        let dir = self.active_dir(key)?;
        fs::rename(&dir, &staged).ctx("rename", &dir)?;
        let _ = fs::remove_dir_all(staged.join("work"));
        let _ = fs::remove_file(staged.join("info.json"));
        let result = self.install_layer(&staged, id, info.parent.as_deref());
        if staged.exists() {
            let _ = fs::remove_dir_all(&staged);
        }
        result.map(|_| ())
    }

    /// Removes an active or view snapshot (it must not be mounted).
    pub fn remove(&self, key: &str) -> Result<()> {
        let dir = self.active_dir(key)?;
        if !dir.exists() {
            return Err(Error::NotFound(key.to_string()));
        }
        let staged = self.temp_dir("rm");
        fs::rename(&dir, &staged).ctx("rename", &dir)?;
        fs::remove_dir_all(&staged).ctx("remove", &staged)
    }

    /// Removes a layer; refused while another layer or snapshot builds on it.
    pub fn remove_layer(&self, id: &str) -> Result<()> {
        let dir = self.layer_dir(id)?;
        if !dir.is_dir() {
            return Err(Error::NotFound(id.to_string()));
        }
        if let Some(child) = self
            .layers()?
            .into_iter()
            .find(|l| l.parent.as_deref() == Some(id))
        {
            return Err(Error::InUse(id.into(), child.id));
        }
        if let Some(s) = self
            .actives()?
            .into_iter()
            .find(|s| s.parent.as_deref() == Some(id))
        {
            return Err(Error::InUse(id.into(), s.key));
        }
        let _ = fs::remove_file(self.dir.join("l").join(short_id(id)));
        let staged = self.temp_dir("rm");
        fs::rename(&dir, &staged).ctx("rename", &dir)?;
        fs::remove_dir_all(&staged).ctx("remove", &staged)
    }

    /// Disk usage of a committed layer.
    pub fn layer_usage(&self, id: &str) -> Result<Usage> {
        usage_of(&self.layer(id)?.path)
    }

    /// Disk usage of an active snapshot's own (upper) data.
    pub fn usage(&self, key: &str) -> Result<Usage> {
        usage_of(&self.active(key)?.upper)
    }

    /// Lower layer directories of snapshot `key`, top-most first (for diffs).
    pub fn lower_dirs(&self, key: &str) -> Result<Vec<PathBuf>> {
        let info = self.active(key)?;
        match info.parent {
            Some(p) => Ok(self.chain(&p)?.into_iter().map(|l| l.path).collect()),
            None => Ok(Vec::new()),
        }
    }
}

fn usage_of(root: &Path) -> Result<Usage> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut usage = Usage::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).ctx("read", &dir)? {
            let entry = entry.ctx("read", &dir)?;
            let md = entry.metadata().ctx("stat", entry.path())?;
            if md.nlink() > 1 && !md.is_dir() && !seen.insert((md.dev(), md.ino())) {
                continue;
            }
            usage.inodes += 1;
            if md.is_dir() {
                stack.push(entry.path());
            } else {
                usage.size += md.len();
            }
        }
    }
    Ok(usage)
}

/// The short id of a layer's `l/` link: 64 bits of a fixed-key SipHash of the chain id.
fn short_id(id: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The hex part of a `sha256:<hex>` chain id.
fn layer_hex(id: &str) -> Result<&str> {
    let hex = id
        .strip_prefix("sha256:")
        .ok_or_else(|| Error::InvalidId(id.into(), "expected sha256:<hex>"))?;
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(Error::InvalidId(
            id.into(),
            "expected 64 lowercase hex digits",
        ));
    }
    Ok(hex)
}

fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(
            key.into(),
            "keys are [A-Za-z0-9_.-], at most 128",
        ))
    }
}
