//! Who may enter the data root and the exec root (the CVE-2021-41091 class).
//!
//! Below these roots lie container layers and mounted root filesystems: a setuid binary that
//! a container's root made there would give any host user who can reach it root on the host;
//! bundles, runtime state, records and logs carry the containers' environment (secrets). So,
//! as Docker does since 20.10.9:
//!
//! | path | mode |
//! |---|---|
//! | data root | 0710 |
//! | exec root | 0711 (the API socket may live in it; nothing in it can be listed) |
//! | `containers/` and `volumes/` (data root), `containers/` and `runtime/` (exec root), and each `containers/<id>/` | 0710 |
//! | every other directory directly under a root | 0700 |
//!
//! The group of the 0710 directories is root's, or the remapped root's group with
//! `userns-remap`: a user-namespaced container's root must traverse them to its rootfs,
//! bundle, exec fifo, `/etc/hosts` and volumes, and no one else may. The daemon applies the table when
//! it starts (before and after opening its stores), so directories made 0755 by an older
//! berth are fixed; each store creates what it adds later with its own private mode.
//! Directories that are content (a layer's `diff/`, a volume's `_data/`, a mounted rootfs)
//! sit below these and keep their own modes: they are the containers' own directories.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the data root.
pub const DATA_ROOT_MODE: u32 = 0o710;
/// Mode of the exec root.
pub const EXEC_ROOT_MODE: u32 = 0o711;
/// Mode of directories the remapped root must traverse.
pub const TRAVERSE_MODE: u32 = 0o710;
/// Mode of every other directory directly under a root.
pub const PRIVATE_MODE: u32 = 0o700;

/// Directories under either root that a user-namespaced container's root must traverse.
const TRAVERSED: &[&str] = &["containers", "volumes", "runtime"];

/// The daemon's two roots and the group allowed to traverse them.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `--data-root`.
    pub data_root: PathBuf,
    /// `--exec-root`.
    pub exec_root: PathBuf,
    /// The remapped root's gid (`userns-remap`); root's group otherwise.
    pub gid: Option<u32>,
}

/// A directory whose mode could not be set.
#[derive(Debug, thiserror::Error)]
#[error("securing {path}: {source}")]
pub struct LayoutError {
    /// The directory.
    pub path: PathBuf,
    /// Why.
    pub source: io::Error,
}

impl Layout {
    /// Creates both roots if missing and sets the table's modes on them, on every directory
    /// directly under them and on each `containers/<id>`.
    pub fn secure(&self) -> Result<(), LayoutError> {
        let roots = [
            (&self.data_root, DATA_ROOT_MODE),
            (&self.exec_root, EXEC_ROOT_MODE),
        ];
        for (root, mode) in roots {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(PRIVATE_MODE)
                .create(root)
                .map_err(|source| LayoutError {
                    path: root.clone(),
                    source,
                })?;
            self.set(root, mode)?;
            for (dir, name) in subdirectories(root)? {
                let traversed = TRAVERSED.contains(&name.as_str());
                self.set(
                    &dir,
                    if traversed {
                        TRAVERSE_MODE
                    } else {
                        PRIVATE_MODE
                    },
                )?;
                if name == "containers" {
                    for (id_dir, _) in subdirectories(&dir)? {
                        self.set(&id_dir, TRAVERSE_MODE)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The data root given to a daemon with `userns-remap`, whose stores live in
    /// `<root>/<uid>.<gid>`: created if missing, 0710 with the remapped root's group (as
    /// dockerd), so that the remapped root reaches its own store and nothing else.
    pub fn secure_outer_root(root: &Path, gid: u32) -> Result<(), LayoutError> {
        let outer = Layout {
            data_root: root.to_path_buf(),
            exec_root: root.to_path_buf(),
            gid: Some(gid),
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(PRIVATE_MODE)
            .create(root)
            .map_err(|source| LayoutError {
                path: root.to_path_buf(),
                source,
            })?;
        outer.set(root, DATA_ROOT_MODE)
    }

    /// Creates a directory a user-namespaced container's root traverses (`containers/`,
    /// `containers/<id>`, the runtime's root) with the traversable mode and group.
    pub fn traversable_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(TRAVERSE_MODE)
            .create(dir)?;
        // `containers/` (or `runtime/`) may have just been made on the way: it needs the
        // group too.
        for ancestor in dir.ancestors().skip(1) {
            let under_root = ancestor
                .parent()
                .is_some_and(|p| p == self.data_root || p == self.exec_root);
            let traversed = ancestor
                .file_name()
                .is_some_and(|n| TRAVERSED.iter().any(|t| n == *t));
            if under_root && traversed {
                self.set(ancestor, TRAVERSE_MODE).map_err(|e| e.source)?;
            }
        }
        self.set(dir, TRAVERSE_MODE).map_err(|e| e.source)
    }

    /// Sets `mode` (and, for a traversable or root directory, the group) on `dir`.
    fn set(&self, dir: &Path, mode: u32) -> Result<(), LayoutError> {
        let err = |source| LayoutError {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).map_err(err)?;
        let gid = self.gid.unwrap_or(0);
        let group_reads = mode & 0o070 != 0;
        if group_reads
            && std::os::unix::fs::MetadataExt::gid(&std::fs::metadata(dir).map_err(err)?) != gid
        {
            std::os::unix::fs::chown(dir, None, Some(gid)).map_err(err)?;
        }
        Ok(())
    }
}

/// Writes `data` to `path` readable by root alone (0600, also when the file existed): for
/// files that carry a container's environment, such as its bundle's `config.json`.
pub fn write_private(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(data)
}

/// The real directories (not symlinks) directly under `dir`, with their names.
fn subdirectories(dir: &Path) -> Result<Vec<(PathBuf, String)>, LayoutError> {
    let err = |source| LayoutError {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        if entry.file_type().map_err(err)?.is_dir() {
            out.push((
                entry.path(),
                entry.file_name().to_string_lossy().into_owned(),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn roots_and_their_directories_get_dockers_modes_also_when_they_exist() {
        if !berth_testkit::is_root() {
            // Root's group on the traversable directories needs root.
            return berth_testkit::skip("layout modes", "needs root");
        }
        let tmp = berth_testkit::TempDir::new("berth-layout-");
        let data = tmp.path().join("data");
        let exec = tmp.path().join("exec");
        for d in [
            "data/snapshots/active/x/diff",
            "data/containers/abc",
            "data/volumes/v/_data",
            "exec/containers/abc/rootfs",
            "exec/runtime/abc",
        ] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
            std::fs::set_permissions(tmp.path().join(d), PermissionsExt::from_mode(0o755)).unwrap();
        }
        std::os::unix::fs::symlink("/etc", data.join("link")).unwrap();
        let etc_mode = mode(Path::new("/etc"));
        let layout = Layout {
            data_root: data.clone(),
            exec_root: exec.clone(),
            gid: None,
        };
        layout.secure().unwrap();
        assert_eq!(mode(&data), 0o710);
        assert_eq!(mode(&exec), 0o711);
        assert_eq!(mode(&data.join("snapshots")), 0o700);
        assert_eq!(mode(&data.join("containers")), 0o710);
        assert_eq!(mode(&data.join("containers/abc")), 0o710);
        assert_eq!(mode(&data.join("volumes")), 0o710);
        assert_eq!(mode(&exec.join("containers")), 0o710);
        assert_eq!(mode(&exec.join("containers/abc")), 0o710);
        assert_eq!(mode(&exec.join("runtime")), 0o710);
        // Content keeps its mode; a symlink's target is never touched.
        assert_eq!(mode(&data.join("snapshots/active/x/diff")), 0o755);
        assert_eq!(mode(&data.join("volumes/v/_data")), 0o755);
        assert_eq!(mode(&exec.join("containers/abc/rootfs")), 0o755);
        assert_eq!(mode(Path::new("/etc")), etc_mode);
        // Created where missing.
        let fresh = Layout {
            data_root: tmp.path().join("new/data"),
            exec_root: tmp.path().join("new/exec"),
            gid: None,
        };
        fresh.secure().unwrap();
        assert_eq!(mode(&fresh.data_root), 0o710);
        fresh
            .traversable_dir(&fresh.exec_root.join("containers/id1"))
            .unwrap();
        assert_eq!(mode(&fresh.exec_root.join("containers")), 0o710);
        assert_eq!(mode(&fresh.exec_root.join("containers/id1")), 0o710);
    }
}
