//! The build context: a tar (plain, gzip or zstd), spooled to one file and indexed, never
//! extracted. COPY reads file data at its offset in the spool; paths are resolved inside the
//! index (symlinks included, `..` clamped at the root), so nothing in a hostile context —
//! `../` names, absolute names, a symlink to `/etc/shadow` — can reach a host file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{BuildError, IoContext, Result};

/// What a context entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// Data at `offset` in the spool, `size` bytes.
    File {
        /// Where the data starts in the spool.
        offset: u64,
        /// Its length in bytes.
        size: u64,
    },
    /// A directory.
    Dir,
    /// A symbolic link and its target.
    Symlink(String),
}

/// One entry of the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// File, directory or link.
    pub kind: EntryKind,
    /// Permission bits (and setuid/setgid/sticky).
    pub mode: u32,
    /// Owner uid from the context's tar.
    pub uid: u64,
    /// Owner gid from the context's tar.
    pub gid: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

impl Entry {
    fn implied_dir() -> Self {
        Self {
            kind: EntryKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: 0,
        }
    }
}

/// An indexed context. Paths are relative, `/`-separated, normalised; `""` is the root.
#[derive(Debug, Clone)]
pub struct Context {
    spool: Arc<File>,
    entries: BTreeMap<String, Entry>,
}

/// Normalises a path inside the context: leading `/` dropped, `.` removed, `..` folded;
/// `None` when `..` climbs above the root.
pub fn clean_rel(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// Like [`clean_rel`] but `..` above the root stays at the root (as a chroot does).
pub fn clamp_rel(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

impl Context {
    /// Spools `input` (a tar, optionally gzip-, bzip2-, xz- or zstd-compressed) to `spool` and indexes it.
    pub fn from_tar(input: impl Read + Send, spool: &Path) -> Result<Self> {
        let mut reader = crate::compress::decompress(input).ctx(|| "read build context".into())?;
        let mut file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(spool)
            .ctx(|| format!("create {}", spool.display()))?;
        io::copy(&mut reader, &mut file).ctx(|| "read build context".into())?;
        file.flush().ctx(|| "spool build context".into())?;
        Self::index(file)
    }

    /// Indexes the tar file at `path`: a plain tar in place (no copy; the file must not
    /// change while the context lives), a compressed one spooled to `spool` as
    /// [`Context::from_tar`] does.
    pub fn from_file(path: &Path, spool: &Path) -> Result<Self> {
        let file = File::open(path).ctx(|| format!("open {}", path.display()))?;
        let mut head = [0u8; 6];
        let mut n = 0;
        while n < head.len() {
            match file.read_at(&mut head[n..], n as u64) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(BuildError::Io {
                        context: format!("read {}", path.display()),
                        source: e,
                    })
                }
            }
        }
        if crate::compress::is_compressed(&head[..n]) {
            Self::from_tar(BufReader::with_capacity(1 << 20, file), spool)
        } else {
            Self::index(file)
        }
    }

    /// An empty context (`docker build - < Dockerfile`).
    pub fn empty(spool: &Path) -> Result<Self> {
        let file = File::create(spool).ctx(|| format!("create {}", spool.display()))?;
        let mut entries = BTreeMap::new();
        entries.insert(String::new(), Entry::implied_dir());
        Ok(Self {
            spool: Arc::new(file),
            entries,
        })
    }

    fn index(file: File) -> Result<Self> {
        let bad = |m: String| BuildError::Context(format!("invalid build context: {m}"));
        let mut entries = BTreeMap::new();
        entries.insert(String::new(), Entry::implied_dir());
        let mut reader = file.try_clone().ctx(|| "spool".into())?;
        reader.seek(SeekFrom::Start(0)).ctx(|| "spool".into())?;
        let mut archive = tar::Archive::new(BufReader::new(reader));
        let mut links = Vec::new();
        for item in archive.entries().map_err(|e| bad(e.to_string()))? {
            let item = item.map_err(|e| bad(e.to_string()))?;
            let raw = String::from_utf8_lossy(&item.path_bytes()).into_owned();
            let name =
                clean_rel(&raw).ok_or_else(|| bad(format!("{raw:?} escapes the context")))?;
            let header = item.header();
            let mode = header.mode().unwrap_or(0o644) & 0o7777;
            let uid = header.uid().unwrap_or(0);
            let gid = header.gid().unwrap_or(0);
            let mtime = header.mtime().unwrap_or(0);
            let link = || {
                item.link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            };
            let kind = match header.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File {
                    offset: item.raw_file_position(),
                    size: item.size(),
                },
                tar::EntryType::Directory => EntryKind::Dir,
                tar::EntryType::Symlink => EntryKind::Symlink(link()),
                tar::EntryType::Link => {
                    let target = clean_rel(&link())
                        .ok_or_else(|| bad(format!("hard link {raw:?} escapes the context")))?;
                    links.push((name, target, mode, uid, gid, mtime));
                    continue;
                }
                // pax/GNU headers are consumed by the tar crate; devices, fifos are skipped.
                _ => continue,
            };
            if name.is_empty() {
                continue;
            }
            let mut parent = parent_of(&name).to_string();
            while !parent.is_empty() && !entries.contains_key(&parent) {
                entries.insert(parent.clone(), Entry::implied_dir());
                parent = parent_of(&parent).to_string();
            }
            entries.insert(
                name,
                Entry {
                    kind,
                    mode,
                    uid,
                    gid,
                    mtime,
                },
            );
        }
        for (name, target, mode, uid, gid, mtime) in links {
            match entries.get(&target).map(|e| e.kind.clone()) {
                Some(kind @ EntryKind::File { .. }) => {
                    entries.insert(
                        name,
                        Entry {
                            kind,
                            mode,
                            uid,
                            gid,
                            mtime,
                        },
                    );
                }
                _ => {
                    return Err(bad(format!(
                        "hard link {name:?} to a missing file {target:?}"
                    )))
                }
            }
        }
        Ok(Self {
            spool: Arc::new(file),
            entries,
        })
    }

    /// The entry at `path` (relative, `/`-separated, cleaned).
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// All entries, in path order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Entries strictly below `dir`, in path order.
    pub fn descendants<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a Entry)> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Removes entries (and everything below them).
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Entry) -> bool) {
        let drop: Vec<String> = self
            .entries
            .iter()
            .filter(|(k, v)| !k.is_empty() && !keep(k, v))
            .map(|(k, _)| k.clone())
            .collect();
        for d in drop {
            self.entries.remove(&d);
        }
    }

    /// Resolves `path` inside the context, following symlinks (the last one only when
    /// `follow_last`); absolute targets start again at the context root, `..` stops at it.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Result<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut pending: Vec<String> = split_rev(path);
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    stack.pop();
                    continue;
                }
                _ => {}
            }
            stack.push(c);
            let cur = stack.join("/");
            if let Some(Entry {
                kind: EntryKind::Symlink(target),
                ..
            }) = self.entries.get(&cur)
            {
                if pending.is_empty() && !follow_last {
                    break;
                }
                hops += 1;
                if hops > 255 {
                    return Err(BuildError::Source(format!(
                        "too many links resolving {path}"
                    )));
                }
                stack.pop();
                if target.starts_with('/') {
                    stack.clear();
                }
                pending.extend(split_rev(target));
            }
        }
        Ok(stack.join("/"))
    }

    /// A reader of a file entry's data.
    pub fn open(&self, entry: &Entry) -> Box<dyn Read + Send + '_> {
        match entry.kind {
            EntryKind::File { offset, size } => Box::new(SpoolReader {
                file: &self.spool,
                pos: offset,
                end: offset + size,
            }),
            _ => Box::new(io::empty()),
        }
    }

    /// The whole content of a file (the Dockerfile, `.dockerignore`).
    pub fn read(&self, path: &str) -> Option<Vec<u8>> {
        let entry = self.entries.get(path)?;
        if !matches!(entry.kind, EntryKind::File { .. }) {
            return None;
        }
        let mut out = Vec::new();
        self.open(entry).read_to_end(&mut out).ok()?;
        Some(out)
    }
}

fn split_rev(path: &str) -> Vec<String> {
    path.split('/').rev().map(str::to_string).collect()
}

struct SpoolReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for SpoolReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // At most buf.len(), a usize.
        let left =
            usize::try_from((self.end - self.pos).min(buf.len() as u64)).unwrap_or(buf.len());
        if left == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..left], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// A spool file removed on drop.
#[derive(Debug)]
pub struct SpoolPath(pub PathBuf);

impl Drop for SpoolPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
