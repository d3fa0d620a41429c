//! Applying a layer tar (plain, gzip or zstd) onto a directory, in overlayfs form.
//!
//! Entry names are cleaned like moby's archive package: a leading `/` is dropped (layers
//! made by old tools have absolute names), `.` components vanish and `a/../b` folds to `b`;
//! but a name whose `..` would climb above the layer root is refused, as are hardlinks
//! whose target does. Every parent directory is opened with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, so an entry can never be written through
//! a symlink (a symlink followed by a file "under" it is refused, as is a whiteout under a
//! symlinked parent). Whiteouts `.wh.<name>` become overlay whiteouts (char device 0/0) and
//! `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory. The diff_id (sha256 of
//! the uncompressed stream, to its very end) is computed while reading and verified.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_content::{Algorithm, Digest, Digester};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;

use crate::error::{ImageError, IoContext, Result};
use crate::manifest::Compression;

/// What unpacking a layer found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedLayer {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar stream.
    pub uncompressed_size: u64,
    /// How the blob was compressed.
    pub compression: Compression,
}

/// Wraps a blob reader into a decompressing reader chosen by the blob's magic bytes.
pub fn decompress<'a, R: Read + 'a>(src: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut buffered = BufReader::with_capacity(256 * 1024, src);
    let kind = Compression::detect(buffered.fill_buf()?);
    let reader: Box<dyn Read + 'a> = match kind {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        Compression::None => Box::new(buffered),
    };
    Ok((kind, reader))
}

/// A reader that hashes and counts everything read through it.
struct HashingReader<R> {
    inner: R,
    digester: Digester,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Unpacks the layer blob `src` onto `dest` (an existing, empty directory).
///
/// `layer` names the layer in errors. On error `dest` may hold a partial tree: unpack into a
/// [`berth_snapshot::PendingLayer`] or use [`unpack_to_new_dir`] so that it is discarded.
pub fn unpack_layer(
    src: impl Read,
    dest: &Path,
    expected_diff_id: Option<&Digest>,
    layer: &str,
) -> Result<UnpackedLayer> {
    let stream_err = |reason: String| ImageError::Layer {
        layer: layer.to_string(),
        entry: String::new(),
        reason,
    };
    let (compression, reader) =
        decompress(src).map_err(|e| stream_err(format!("reading layer: {e}")))?;
    let mut hashing = HashingReader {
        inner: reader,
        digester: Digester::new(Algorithm::Sha256),
        count: 0,
    };
    let root = rustix::fs::open(
        dest,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
    .ctx("open layer root", dest)?;
    let mut unpacker = Unpacker {
        root,
        root_path: dest.to_path_buf(),
        dir_times: Vec::new(),
        buf: vec![0u8; 256 * 1024],
    };
    {
        let mut archive = tar::Archive::new(&mut hashing);
        let entries = archive
            .entries()
            .map_err(|e| stream_err(format!("reading tar: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| stream_err(format!("reading tar: {e}")))?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            unpacker
                .apply(&mut entry)
                .map_err(|reason| ImageError::Layer {
                    layer: layer.to_string(),
                    entry: name,
                    reason,
                })?;
        }
    }
    // The diff_id covers the whole stream, including padding after the end-of-archive
    // blocks; reading to the end also makes gzip check its CRC and length.
    io::copy(&mut hashing, &mut io::sink())
        .map_err(|e| stream_err(format!("reading layer: {e}")))?;
    unpacker.finish_dir_times();
    let diff_id = hashing.digester.finish();
    if let Some(expected) = expected_diff_id {
        if *expected != diff_id {
            return Err(ImageError::DiffIdMismatch {
                layer: layer.to_string(),
                expected: expected.clone(),
                actual: diff_id,
            });
        }
    }
    Ok(UnpackedLayer {
        diff_id,
        uncompressed_size: hashing.count,
        compression,
    })
}

/// Unpacks into a fresh temp dir beside `target` and renames it to `target` on success;
/// on failure nothing is left behind. `target` must not exist.
pub fn unpack_to_new_dir(
    src: impl Read,
    target: &Path,
    expected_diff_id: Option<&Digest>,
    layer: &str,
) -> Result<UnpackedLayer> {
    let parent = target.parent().unwrap_or(Path::new("."));
    let name = target.file_name().unwrap_or(OsStr::new("layer"));
    let tmp = parent.join(format!(
        ".{}.unpack-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::create_dir(&tmp).ctx("create", &tmp)?;
    let result = unpack_layer(src, &tmp, expected_diff_id, layer).and_then(|u| {
        std::fs::rename(&tmp, target)
            .ctx("rename", target)
            .map(|_| u)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

struct Unpacker {
    root: OwnedFd,
    root_path: PathBuf,
    dir_times: Vec<(Vec<Vec<u8>>, Timestamps)>,
    buf: Vec<u8>,
}

/// Cleans a tar name into components relative to the layer root; `None` names the root.
fn clean(name: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if name.contains(&0) {
        return Err("name contains a NUL byte".into());
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    for comp in name.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() {
                    return Err("path escapes the layer root (\"..\")".into());
                }
            }
            c => out.push(c.to_vec()),
        }
    }
    Ok(out)
}

fn join(comps: &[Vec<u8>]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(&comps.join(&b'/')))
}

fn errno(what: &str, e: Errno) -> String {
    match e {
        Errno::LOOP => format!("{what}: path goes through a symlink"),
        Errno::XDEV => format!("{what}: path escapes the layer root"),
        Errno::NOTDIR => format!("{what}: a parent is not a directory"),
        e => format!("{what}: {}", io::Error::from(e)),
    }
}

fn timestamps(mtime: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime.min(i64::MAX as u64) as i64,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: u64,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl Unpacker {
    /// Opens (creating missing directories if `create`) the directory `comps` under the root
    /// without following any symlink.
    fn open_dir(&self, comps: &[Vec<u8>], create: bool) -> Result<OwnedFd, String> {
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let open = |p: &Path| rustix::fs::openat2(&self.root, p, flags, Mode::empty(), how);
        if comps.is_empty() {
            return open(Path::new(".")).map_err(|e| errno("open root", e));
        }
        match open(&join(comps)) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) if create => {}
            Err(e) => return Err(errno(&format!("open {}", join(comps).display()), e)),
        }
        let mut dir = open(Path::new(".")).map_err(|e| errno("open root", e))?;
        for c in comps {
            let name = OsStr::from_bytes(c);
            match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(errno("create parent", e)),
            }
            dir = rustix::fs::openat2(&dir, name, flags, Mode::empty(), how)
                .map_err(|e| errno(&format!("open {}", name.to_string_lossy()), e))?;
        }
        Ok(dir)
    }

    fn full_path(&self, comps: &[Vec<u8>]) -> PathBuf {
        self.root_path.join(join(comps))
    }

    /// Removes whatever is at `name` in `dir` unless it and the new entry are both dirs.
    fn make_room(&self, dir: &OwnedFd, comps: &[Vec<u8>], new_is_dir: bool) -> Result<(), String> {
        let name = OsStr::from_bytes(comps.last().expect("non-root"));
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(errno("stat existing", e)),
            Ok(st) => {
                let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if is_dir && new_is_dir {
                    Ok(())
                } else if is_dir {
                    std::fs::remove_dir_all(self.full_path(comps))
                        .map_err(|e| format!("replace directory: {e}"))
                } else {
                    rustix::fs::unlinkat(dir, name, AtFlags::empty())
                        .map_err(|e| errno("replace existing", e))
                }
            }
        }
    }

    fn apply<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), String> {
        let kind = entry.header().entry_type();
        let raw_name = entry.path_bytes().into_owned();
        let comps = clean(&raw_name)?;
        let meta = self.meta(entry)?;
        if matches!(kind, tar::EntryType::XGlobalHeader) {
            return Ok(());
        }
        let Some(base) = comps.last().cloned() else {
            return Ok(()); // the layer root itself: keep the snapshot dir's own metadata
        };
        let parent_comps = &comps[..comps.len() - 1];
        let parent = self.open_dir(parent_comps, true)?;

        if let Some(hidden) = base.strip_prefix(b".wh.") {
            if hidden == b".wh..opq" {
                let p = self.full_path(parent_comps);
                return rustix::fs::lsetxattr(
                    &p,
                    berth_snapshot::OPAQUE_XATTR,
                    b"y",
                    rustix::fs::XattrFlags::empty(),
                )
                .map_err(|e| errno("mark directory opaque", e));
            }
            if hidden.starts_with(b".wh.") {
                return Ok(()); // aufs bookkeeping (.wh..wh.plnk etc.)
            }
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                return Err("invalid whiteout name".into());
            }
            let mut target = parent_comps.to_vec();
            target.push(hidden.to_vec());
            self.make_room(&parent, &target, false)?;
            return rustix::fs::mknodat(
                &parent,
                OsStr::from_bytes(hidden),
                FileType::CharacterDevice,
                Mode::empty(),
                0,
            )
            .map_err(|e| errno("create whiteout", e));
        }

        let name = OsStr::from_bytes(&base);
        let is_dir = kind == tar::EntryType::Directory
            || (kind == tar::EntryType::Regular && raw_name.ends_with(b"/"));
        self.make_room(&parent, &comps, is_dir)?;
        match kind {
            _ if is_dir => {
                match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(errno("mkdir", e)),
                }
                let dir = self.open_dir(&comps, false)?;
                self.chown_at(&parent, name, &meta)?;
                rustix::fs::chmodat(
                    &parent,
                    name,
                    Mode::from_raw_mode(meta.mode),
                    AtFlags::empty(),
                )
                .map_err(|e| errno("chmod", e))?;
                drop(dir);
                self.set_xattrs(&self.full_path(&comps), &meta)?;
                self.dir_times.push((comps.clone(), timestamps(meta.mtime)));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let fd = rustix::fs::openat(
                    &parent,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| errno("create file", e))?;
                let mut file = File::from(fd);
                let sparse = kind == tar::EntryType::GNUSparse;
                self.copy_data(entry, &mut file, sparse)?;
                rustix::fs::fchown(
                    &file,
                    Some(rustix::fs::Uid::from_raw(meta.uid)),
                    Some(rustix::fs::Gid::from_raw(meta.gid)),
                )
                .map_err(|e| errno("chown", e))?;
                rustix::fs::fchmod(&file, Mode::from_raw_mode(meta.mode))
                    .map_err(|e| errno("chmod", e))?;
                for (k, v) in &meta.xattrs {
                    rustix::fs::fsetxattr(&file, k.as_str(), v, rustix::fs::XattrFlags::empty())
                        .map_err(|e| errno(&format!("set xattr {k}"), e))?;
                }
                rustix::fs::futimens(&file, &timestamps(meta.mtime))
                    .map_err(|e| errno("set mtime", e))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or("symlink without a target")?
                    .into_owned();
                rustix::fs::symlinkat(OsStr::from_bytes(&target), &parent, name)
                    .map_err(|e| errno("symlink", e))?;
                self.chown_at(&parent, name, &meta)?;
                self.set_xattrs(&self.full_path(&comps), &meta)?;
                self.utimes_at(&parent, name, &meta)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or("hardlink without a target")?
                    .into_owned();
                let tcomps = clean(&target).map_err(|e| format!("hardlink target: {e}"))?;
                let Some(tbase) = tcomps.last() else {
                    return Err("hardlink to the layer root".into());
                };
                let tparent = self
                    .open_dir(&tcomps[..tcomps.len() - 1], false)
                    .map_err(|e| format!("hardlink target: {e}"))?;
                rustix::fs::linkat(
                    &tparent,
                    OsStr::from_bytes(tbase),
                    &parent,
                    name,
                    AtFlags::empty(),
                )
                .map_err(|e| errno("hardlink", e))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let ft = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let h = entry.header();
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                let dev = rustix::fs::makedev(major, minor);
                rustix::fs::mknodat(
                    &parent,
                    name,
                    ft,
                    Mode::from_raw_mode(meta.mode & 0o777),
                    dev,
                )
                .map_err(|e| errno("mknod", e))?;
                self.chown_at(&parent, name, &meta)?;
                rustix::fs::chmodat(
                    &parent,
                    name,
                    Mode::from_raw_mode(meta.mode),
                    AtFlags::empty(),
                )
                .map_err(|e| errno("chmod", e))?;
                self.set_xattrs(&self.full_path(&comps), &meta)?;
                self.utimes_at(&parent, name, &meta)?;
            }
            other => return Err(format!("unsupported tar entry type {other:?}")),
        }
        Ok(())
    }

    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>) -> Result<Meta, String> {
        let h = entry.header();
        let mut meta = Meta {
            // Like Go's archive/tar, an empty numeric field reads as 0.
            uid: h.uid().unwrap_or(0) as u32,
            gid: h.gid().unwrap_or(0) as u32,
            mode: h.mode().unwrap_or(0o644) & 0o7777,
            mtime: h.mtime().unwrap_or(0),
            xattrs: Vec::new(),
        };
        if let Some(pax) = entry.pax_extensions().map_err(|e| e.to_string())? {
            for ext in pax {
                let ext = ext.map_err(|e| e.to_string())?;
                let key = ext.key().map_err(|e| e.to_string())?;
                let value = ext.value_bytes();
                let num = || {
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.split('.').next()?.parse::<u64>().ok())
                };
                if let Some(xattr) = key.strip_prefix("SCHILY.xattr.") {
                    meta.xattrs.push((xattr.to_string(), value.to_vec()));
                } else if key == "uid" {
                    meta.uid = num().ok_or("bad pax uid")? as u32;
                } else if key == "gid" {
                    meta.gid = num().ok_or("bad pax gid")? as u32;
                } else if key == "mtime" {
                    meta.mtime = num().unwrap_or(meta.mtime);
                }
            }
        }
        Ok(meta)
    }

    fn chown_at(&self, dir: &OwnedFd, name: &OsStr, meta: &Meta) -> Result<(), String> {
        rustix::fs::chownat(
            dir,
            name,
            Some(rustix::fs::Uid::from_raw(meta.uid)),
            Some(rustix::fs::Gid::from_raw(meta.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| errno("chown", e))
    }

    fn utimes_at(&self, dir: &OwnedFd, name: &OsStr, meta: &Meta) -> Result<(), String> {
        rustix::fs::utimensat(
            dir,
            name,
            &timestamps(meta.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| errno("set mtime", e))
    }

    fn set_xattrs(&self, path: &Path, meta: &Meta) -> Result<(), String> {
        for (k, v) in &meta.xattrs {
            rustix::fs::lsetxattr(path, k.as_str(), v, rustix::fs::XattrFlags::empty())
                .map_err(|e| errno(&format!("set xattr {k}"), e))?;
        }
        Ok(())
    }

    fn copy_data(
        &mut self,
        src: &mut impl Read,
        file: &mut File,
        sparse: bool,
    ) -> Result<(), String> {
        let mut len = 0u64;
        let mut hole = false;
        loop {
            let n = match src.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("reading file data: {e}")),
            };
            let chunk = &self.buf[..n];
            if sparse && chunk.iter().all(|b| *b == 0) {
                file.seek(SeekFrom::Current(n as i64))
                    .map_err(|e| format!("seek: {e}"))?;
                hole = true;
            } else {
                file.write_all(chunk).map_err(|e| format!("write: {e}"))?;
            }
            len += n as u64;
        }
        if hole {
            file.set_len(len).map_err(|e| format!("truncate: {e}"))?;
        }
        Ok(())
    }

    /// Directory mtimes are set last: creating their children changed them.
    fn finish_dir_times(&mut self) {
        for (comps, times) in std::mem::take(&mut self.dir_times).into_iter().rev() {
            let (base, parent) = comps.split_last().expect("non-root");
            if let Ok(dir) = self.open_dir(parent, false) {
                let _ = rustix::fs::utimensat(
                    &dir,
                    OsStr::from_bytes(base),
                    &times,
                    AtFlags::SYMLINK_NOFOLLOW,
                );
            }
        }
    }
}
