//! Changes of an active snapshot: docker's A/C/D list and a layer tar of its upper dir.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::store::Snapshotter;
use crate::OPAQUE_XATTR;

/// The kind of a filesystem change, numbered like the Docker API's `Kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Changed (`C`, Kind 0).
    Modified,
    /// Added (`A`, Kind 1).
    Added,
    /// Deleted (`D`, Kind 2).
    Deleted,
}

impl ChangeKind {
    /// Docker API `Kind` number.
    pub fn docker_kind(self) -> u8 {
        match self {
            ChangeKind::Modified => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }

    /// `docker diff` letter.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One changed path (absolute inside the container, e.g. `/etc/hosts`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// Absolute path inside the container.
    pub path: String,
}

/// True for an overlayfs whiteout (a char device 0/0).
pub(crate) fn is_whiteout(md: &fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    let mut buf = [0u8; 4];
    matches!(rustix::fs::lgetxattr(path, OPAQUE_XATTR, &mut buf), Ok(1) if buf[0] == b'y')
}

/// Entries of `dir`, sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf, fs::Metadata)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).ctx("read", dir)? {
        let entry = entry.ctx("read", dir)?;
        let path = entry.path();
        let md = fs::symlink_metadata(&path).ctx("stat", &path)?;
        out.push((entry.file_name().to_string_lossy().into_owned(), path, md));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Whether `rel` is visible in the merged view of `lowers` (top-most first).
fn exists_in_lowers(lowers: &[PathBuf], rel: &Path) -> bool {
    for lower in lowers {
        match fs::symlink_metadata(lower.join(rel)) {
            Ok(md) => return !is_whiteout(&md),
            Err(_) => {
                // Hidden below here if an ancestor in this layer is opaque or whited out.
                let mut anc = rel.parent();
                while let Some(a) = anc.filter(|a| !a.as_os_str().is_empty()) {
                    let p = lower.join(a);
                    if let Ok(md) = fs::symlink_metadata(&p) {
                        if is_whiteout(&md) || (md.is_dir() && is_opaque(&p)) {
                            return false;
                        }
                    }
                    anc = a.parent();
                }
            }
        }
    }
    false
}

impl Snapshotter {
    /// The A/C/D changes of active snapshot `key` relative to its parent layers, sorted by
    /// path (what `docker diff` prints).
    pub fn changes(&self, key: &str) -> Result<Vec<Change>> {
        let info = self.active(key)?;
        let lowers = self.lower_dirs(key)?;
        let mut out = Vec::new();
        walk_changes(&info.upper, Path::new(""), &lowers, &mut out)?;
        Ok(out)
    }

    /// Writes the upper dir of active snapshot `key` as an (uncompressed) layer tar: overlay
    /// whiteouts become `.wh.<name>` entries and opaque dirs get a `.wh..wh..opq` entry.
    pub fn write_diff(&self, key: &str, out: impl Write) -> Result<()> {
        let info = self.active(key)?;
        write_layer_tar(&info.upper, out)
    }
}

fn walk_changes(root: &Path, rel: &Path, lowers: &[PathBuf], out: &mut Vec<Change>) -> Result<()> {
    for (name, path, md) in sorted_entries(&root.join(rel))? {
        let child = rel.join(&name);
        let kind = if is_whiteout(&md) {
            ChangeKind::Deleted
        } else if exists_in_lowers(lowers, &child) {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        out.push(Change {
            kind,
            path: format!("/{}", child.display()),
        });
        if md.is_dir() {
            // Below an opaque dir nothing of the lowers shows through.
            let lowers_below: &[PathBuf] = if is_opaque(&path) { &[] } else { lowers };
            walk_changes(root, &child, lowers_below, out)?;
        }
    }
    Ok(())
}

/// Writes the directory tree `root` (in overlay form) as a layer tar to `out`.
pub fn write_layer_tar(root: &Path, out: impl Write) -> Result<()> {
    let mut builder = tar::Builder::new(out);
    let mut links = HashMap::new();
    append_dir(&mut builder, root, Path::new(""), &mut links)?;
    builder
        .into_inner()
        .and_then(|mut w| w.flush())
        .ctx("write tar", root)
}

fn header_for(md: &fs::Metadata, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(md.mode() & 0o7777);
    h.set_uid(md.uid().into());
    h.set_gid(md.gid().into());
    h.set_mtime(u64::try_from(md.mtime()).unwrap_or(0));
    h.set_size(0);
    h
}

fn xattr_records(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 4096];
    let n = match rustix::fs::llistxattr(path, &mut names) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e).ctx("listxattr", path),
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if name.starts_with("trusted.overlay.") {
            continue;
        }
        let mut value = vec![0u8; 65536];
        let len = rustix::fs::lgetxattr(path, name.as_str(), &mut value).ctx("getxattr", path)?;
        value.truncate(len);
        out.push((format!("SCHILY.xattr.{name}"), value));
    }
    Ok(out)
}

fn append_dir<W: Write>(
    b: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<()> {
    let ioe = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| Error::Io {
            op: "append to tar",
            path: p,
            source: e,
        }
    };
    for (name, path, md) in sorted_entries(&root.join(rel))? {
        let child = rel.join(&name);
        let ft = md.file_type();
        if is_whiteout(&md) {
            let wh = rel.join(format!(".wh.{name}"));
            let mut h = header_for(&md, tar::EntryType::Regular);
            h.set_mode(0o644);
            b.append_data(&mut h, &wh, std::io::empty())
                .map_err(ioe(&path))?;
            continue;
        }
        let xattrs = xattr_records(&path)?;
        if !xattrs.is_empty() {
            b.append_pax_extensions(xattrs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
                .map_err(ioe(&path))?;
        }
        if ft.is_dir() {
            let mut h = header_for(&md, tar::EntryType::Directory);
            b.append_data(&mut h, &child, std::io::empty())
                .map_err(ioe(&path))?;
            if is_opaque(&path) {
                let mut h = header_for(&md, tar::EntryType::Regular);
                h.set_mode(0o644);
                b.append_data(&mut h, child.join(".wh..wh..opq"), std::io::empty())
                    .map_err(ioe(&path))?;
            }
            append_dir(b, root, &child, links)?;
        } else if ft.is_file() {
            if md.nlink() > 1 {
                if let Some(first) = links.get(&(md.dev(), md.ino())) {
                    let mut h = header_for(&md, tar::EntryType::Link);
                    b.append_link(&mut h, &child, first).map_err(ioe(&path))?;
                    continue;
                }
                links.insert((md.dev(), md.ino()), child.clone());
            }
            let mut h = header_for(&md, tar::EntryType::Regular);
            h.set_size(md.len());
            let f = fs::File::open(&path).ctx("open", &path)?;
            b.append_data(&mut h, &child, f).map_err(ioe(&path))?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).ctx("readlink", &path)?;
            let mut h = header_for(&md, tar::EntryType::Symlink);
            b.append_link(&mut h, &child, &target).map_err(ioe(&path))?;
        } else {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else if ft.is_fifo() {
                tar::EntryType::Fifo
            } else {
                continue; // sockets are not archived
            };
            let mut h = header_for(&md, kind);
            let dev = md.rdev();
            h.set_device_major(rustix::fs::major(dev))
                .map_err(ioe(&path))?;
            h.set_device_minor(rustix::fs::minor(dev))
                .map_err(ioe(&path))?;
            b.append_data(&mut h, &child, std::io::empty())
                .map_err(ioe(&path))?;
        }
    }
    Ok(())
}
