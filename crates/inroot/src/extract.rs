//! The one tar extractor: `docker cp` into a container, image layers, build steps.
//!
//! Every entry is created relative to a descriptor of its parent directory, which was
//! resolved from the root under the caller's [`Resolve`] policy; the entry's own name is
//! never followed (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, `O_EXCL`). Names are cleaned like
//! moby's archive package (a leading `/` dropped, `.` removed, `a/../b` folded) and refused
//! when a `..` would climb above the destination; hardlink targets likewise. Owners, modes,
//! times, pax `SCHILY.xattr.*` attributes, devices, fifos and sparse files are restored;
//! directory times are set last. With [`Whiteouts::Overlay`], `.wh.<name>` becomes an
//! overlay whiteout (char device 0/0) and `.wh..wh..opq` marks its directory opaque.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{
    AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags, CWD,
};
use rustix::io::Errno;

use crate::path::{clean, display, entry_components};
use crate::root::{mkdir_all, proc_fd_path, remove_all_at, Resolve, Root};
use crate::InRootError;

/// The xattr overlayfs reads to hide a lower directory's contents (`.wh..wh..opq`).
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What `.wh.` entries are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Whiteouts {
    /// Ordinary files (`docker cp`, build contexts).
    #[default]
    Keep,
    /// OCI layer whiteouts, written in overlayfs form (image layers).
    Overlay,
}

/// How [`extract`] treats an archive.
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// How the destination and every entry's parent directories are resolved:
    /// [`Resolve::InRoot`] follows symlinks inside the root (`docker cp`, COPY into a
    /// snapshot); [`Resolve::NoSymlinks`] refuses any (layers).
    pub resolve: Resolve,
    /// What `.wh.` names mean.
    pub whiteouts: Whiteouts,
    /// Owner of everything extracted (`copyUIDGID`, `COPY --chown`); the archive's owners
    /// (pax `uid`/`gid` included) when `None`.
    pub owner: Option<(u32, u32)>,
    /// Refuse to replace a directory with a non-directory and vice versa (Docker's
    /// `noOverwriteDirNonDir`); otherwise the existing entry is removed first.
    pub no_overwrite_dir_non_dir: bool,
    /// Restore pax `SCHILY.xattr.*` extended attributes.
    pub xattrs: bool,
}

/// Extracts the tar `input` into the directory `dest` inside `root`.
///
/// `dest` must exist and be a directory (resolved under `opts.resolve`): otherwise
/// [`InRootError::NotFound`] / [`InRootError::NotADirectory`] and nothing is written. On any
/// other error the tree may hold the entries before the failing one.
pub fn extract<R: Read>(
    root: &Root,
    dest: &str,
    input: R,
    opts: &ExtractOptions,
) -> Result<(), InRootError> {
    let dest = extraction_dir(root, dest, opts.resolve)?;
    let mut ex = Extractor {
        root,
        dest,
        opts,
        dir_times: Vec::new(),
        buf: vec![0u8; 128 * 1024],
    };
    let mut ar = tar::Archive::new(input);
    let entries = ar
        .entries()
        .map_err(|e| InRootError::Refused(format!("reading archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| InRootError::Refused(format!("reading archive: {e}")))?;
        ex.apply(&mut entry)?;
    }
    ex.finish_dir_times();
    Ok(())
}

/// Docker's checks on an extraction point, before anything else is done: `dest` exists
/// inside the root (symlinks followed inside it) and is a directory.
pub fn check_extraction_point(root: &Root, dest: &str) -> Result<(), InRootError> {
    extraction_dir(root, dest, Resolve::InRoot).map(drop)
}

/// [`check_extraction_point`] under `how`; the destination's components.
fn extraction_dir(root: &Root, dest: &str, how: Resolve) -> Result<Vec<OsString>, InRootError> {
    let comps = clean(dest);
    let fd = root
        .open_comps(&comps, OFlags::PATH, how)
        .map_err(|e| match e {
            Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::XDEV => {
                InRootError::NotFound(dest.to_string())
            }
            e => InRootError::io(dest, e),
        })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| InRootError::io(dest, e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(InRootError::NotADirectory);
    }
    Ok(comps)
}

/// An entry's owner, mode, time and attributes (pax records applied).
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: i64,
    xattrs: Vec<(String, Vec<u8>)>,
}

fn timestamps(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// An error of a system call on `shown`: refusals where the resolution policy said no.
fn sys_err(how: Resolve, shown: &str, what: &str, e: Errno) -> InRootError {
    match (how, e) {
        (Resolve::NoSymlinks, Errno::LOOP) => {
            InRootError::Refused(format!("{shown}: {what}: path goes through a symlink"))
        }
        (Resolve::NoSymlinks, Errno::XDEV) => {
            InRootError::Refused(format!("{shown}: {what}: path escapes the root"))
        }
        (_, e) => {
            let source = io::Error::from(e);
            InRootError::Io {
                path: shown.to_string(),
                source: io::Error::new(source.kind(), format!("{what}: {source}")),
            }
        }
    }
}

struct Extractor<'a> {
    root: &'a Root,
    dest: Vec<OsString>,
    opts: &'a ExtractOptions,
    dir_times: Vec<(Vec<OsString>, i64)>,
    buf: Vec<u8>,
}

impl Extractor<'_> {
    fn err(&self, shown: &str, what: &str, e: Errno) -> InRootError {
        sys_err(self.opts.resolve, shown, what, e)
    }

    fn apply<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), InRootError> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let rel = entry_components(&raw).ok_or_else(|| {
            InRootError::Refused(format!(
                "invalid archive entry {:?}: it escapes the destination (\"..\")",
                String::from_utf8_lossy(&raw)
            ))
        })?;
        let meta = self.meta(entry)?;
        let Some((base, parent_rel)) = rel.split_last() else {
            return Ok(()); // "." itself: the extraction point keeps its own metadata
        };
        let mut full = self.dest.clone();
        full.extend(parent_rel.iter().cloned());
        let shown = {
            let mut all = full.clone();
            all.push(base.clone());
            display(&all)
        };
        let parent = mkdir_all(self.root, &full, self.opts.resolve, 0o755, None)
            .map_err(|e| self.err(&shown, "open parent", e))?;

        if self.opts.whiteouts == Whiteouts::Overlay {
            if let Some(hidden) = base.as_bytes().strip_prefix(b".wh.") {
                return self.whiteout(&parent, hidden, &shown);
            }
        }

        let is_dir = kind == tar::EntryType::Directory
            || (kind == tar::EntryType::Regular && raw.ends_with(b"/"));
        self.make_room(&parent, base, is_dir, &shown, &raw)?;
        let (uid, gid) = self.opts.owner.unwrap_or((meta.uid, meta.gid));
        let owner = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
        let mode = Mode::from_raw_mode(meta.mode);
        let times = timestamps(meta.mtime);
        let name = base.as_os_str();
        let (how, shown_ref) = (self.opts.resolve, &shown);
        let err = move |what: &'static str| move |e: Errno| sys_err(how, shown_ref, what, e);
        match kind {
            _ if is_dir => {
                match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(err("mkdir")(e)),
                }
                let d = rustix::fs::openat(
                    &parent,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(err("open directory"))?;
                rustix::fs::fchown(&d, owner.0, owner.1).map_err(err("chown"))?;
                rustix::fs::fchmod(&d, mode).map_err(err("chmod"))?;
                self.fset_xattrs(d.as_fd(), &meta, &shown)?;
                let mut p = full.clone();
                p.push(base.clone());
                self.dir_times.push((p, meta.mtime));
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
                .map_err(err("create file"))?;
                let mut file = File::from(fd);
                let sparse = kind == tar::EntryType::GNUSparse;
                self.copy_data(entry, &mut file, sparse)
                    .map_err(|e| InRootError::io(&shown, e))?;
                rustix::fs::fchown(&file, owner.0, owner.1).map_err(err("chown"))?;
                rustix::fs::fchmod(&file, mode).map_err(err("chmod"))?;
                self.fset_xattrs(file.as_fd(), &meta, &shown)?;
                rustix::fs::futimens(&file, &times).map_err(err("set mtime"))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                rustix::fs::symlinkat(OsStr::from_bytes(&target), &parent, name)
                    .map_err(err("symlink"))?;
                rustix::fs::chownat(&parent, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(err("chown"))?;
                self.lset_xattrs(parent.as_fd(), name, &meta, &shown)?;
                rustix::fs::utimensat(&parent, name, &times, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(err("set mtime"))?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                let invalid = || {
                    InRootError::Refused(format!(
                        "hardlink target {:?} of {shown} escapes the destination",
                        String::from_utf8_lossy(&target)
                    ))
                };
                let trel = entry_components(&target).ok_or_else(invalid)?;
                let (tbase, tparent) = trel.split_last().ok_or_else(invalid)?;
                let mut tp = self.dest.clone();
                tp.extend(tparent.iter().cloned());
                let tdir = self
                    .root
                    .open_comps(&tp, OFlags::PATH | OFlags::DIRECTORY, self.opts.resolve)
                    .map_err(err("open hardlink target"))?;
                rustix::fs::linkat(&tdir, tbase.as_os_str(), &parent, name, AtFlags::empty())
                    .map_err(err("hardlink"))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let h = entry.header();
                let (ft, rdev) = match kind {
                    tar::EntryType::Char | tar::EntryType::Block => (
                        if kind == tar::EntryType::Char {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        },
                        rustix::fs::makedev(
                            h.device_major().ok().flatten().unwrap_or(0),
                            h.device_minor().ok().flatten().unwrap_or(0),
                        ),
                    ),
                    _ => (FileType::Fifo, 0),
                };
                rustix::fs::mknodat(&parent, name, ft, Mode::from_raw_mode(0o600), rdev)
                    .map_err(err("mknod"))?;
                let o = rustix::fs::openat(
                    &parent,
                    name,
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(err("open node"))?;
                let st = rustix::fs::fstat(&o).map_err(err("stat node"))?;
                if FileType::from_raw_mode(st.st_mode) != ft {
                    return Err(InRootError::Refused(format!(
                        "{shown} changed while extracting"
                    )));
                }
                rustix::fs::chownat(&o, "", owner.0, owner.1, AtFlags::EMPTY_PATH)
                    .map_err(err("chown"))?;
                // chmod and times through the descriptor's magic link: the inode just checked.
                rustix::fs::chmodat(CWD, proc_fd_path(&o), mode, AtFlags::empty())
                    .map_err(err("chmod"))?;
                self.lset_xattrs(parent.as_fd(), name, &meta, &shown)?;
                rustix::fs::utimensat(CWD, proc_fd_path(&o), &times, AtFlags::empty())
                    .map_err(err("set mtime"))?;
            }
            other => {
                return Err(InRootError::Refused(format!(
                    "{shown}: unsupported tar entry type {other:?}"
                )))
            }
        }
        Ok(())
    }

    /// A `.wh.` entry of an OCI layer, in overlayfs form.
    fn whiteout(&self, parent: &OwnedFd, hidden: &[u8], shown: &str) -> Result<(), InRootError> {
        if hidden == b".wh..opq" {
            let dir = rustix::fs::openat(
                parent,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| self.err(shown, "open directory", e))?;
            return rustix::fs::fsetxattr(&dir, OVERLAY_OPAQUE_XATTR, b"y", XattrFlags::empty())
                .map_err(|e| self.err(shown, "mark directory opaque", e));
        }
        if hidden.starts_with(b".wh.") {
            return Ok(()); // aufs bookkeeping (.wh..wh.plnk etc.)
        }
        if hidden.is_empty() || hidden == b"." || hidden == b".." || hidden.contains(&b'/') {
            return Err(InRootError::Refused(format!(
                "{shown}: invalid whiteout name"
            )));
        }
        let name = OsStr::from_bytes(hidden);
        match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => {}
            Err(e) => return Err(self.err(shown, "stat existing", e)),
            Ok(_) => remove_all_at(parent.as_fd(), name).map_err(|e| InRootError::io(shown, e))?,
        }
        rustix::fs::mknodat(parent, name, FileType::CharacterDevice, Mode::empty(), 0)
            .map_err(|e| self.err(shown, "create whiteout", e))
    }

    /// Removes what is at `name` unless it and the new entry are both directories (Docker's
    /// overwrite rules first, when asked).
    fn make_room(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        new_is_dir: bool,
        shown: &str,
        raw: &[u8],
    ) -> Result<(), InRootError> {
        let existing = match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(self.err(shown, "stat existing", e)),
            Ok(st) => st,
        };
        let ex_dir = FileType::from_raw_mode(existing.st_mode) == FileType::Directory;
        if self.opts.no_overwrite_dir_non_dir {
            let raw = String::from_utf8_lossy(raw);
            if ex_dir && !new_is_dir {
                return Err(InRootError::Refused(format!(
                    "cannot overwrite directory \"{shown}\" with non-directory \"{raw}\""
                )));
            }
            if !ex_dir && new_is_dir {
                return Err(InRootError::Refused(format!(
                    "cannot overwrite non-directory \"{shown}\" with directory \"{raw}\""
                )));
            }
        }
        if ex_dir && new_is_dir {
            return Ok(());
        }
        remove_all_at(parent.as_fd(), name).map_err(|e| InRootError::io(shown, e))
    }

    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>) -> Result<Meta, InRootError> {
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let bad = |m: &dyn std::fmt::Display| InRootError::Refused(format!("{name}: {m}"));
        let h = entry.header();
        // Like Go's archive/tar, an empty numeric field reads as 0.
        let id = |v: io::Result<u64>| u32::try_from(v.unwrap_or(0)).unwrap_or(u32::MAX);
        let mut meta = Meta {
            uid: id(h.uid()),
            gid: id(h.gid()),
            mode: h.mode().unwrap_or(0o644) & 0o7777,
            mtime: i64::try_from(h.mtime().unwrap_or(0)).unwrap_or(i64::MAX),
            xattrs: Vec::new(),
        };
        let Some(pax) = entry.pax_extensions().map_err(|e| bad(&e))? else {
            return Ok(meta);
        };
        for ext in pax {
            let ext = ext.map_err(|e| bad(&e))?;
            let Ok(key) = ext.key() else { continue };
            let value = ext.value_bytes();
            let num = || {
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.split('.').next()?.parse::<i64>().ok())
            };
            if let Some(xattr) = key.strip_prefix("SCHILY.xattr.") {
                meta.xattrs.push((xattr.to_string(), value.to_vec()));
            } else if key == "uid" || key == "gid" {
                let n = num()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| bad(&format!("bad pax {key}")))?;
                if key == "uid" {
                    meta.uid = n;
                } else {
                    meta.gid = n;
                }
            } else if key == "mtime" {
                meta.mtime = num().unwrap_or(meta.mtime);
            }
        }
        Ok(meta)
    }

    fn fset_xattrs(&self, fd: BorrowedFd<'_>, meta: &Meta, shown: &str) -> Result<(), InRootError> {
        if !self.opts.xattrs {
            return Ok(());
        }
        for (k, v) in &meta.xattrs {
            rustix::fs::fsetxattr(fd, k.as_str(), v, XattrFlags::empty())
                .map_err(|e| self.err(shown, &format!("set xattr {k}"), e))?;
        }
        Ok(())
    }

    /// Extended attributes of a symlink or device node: through the parent's descriptor
    /// (`/proc/self/fd/<parent>/<name>`, the last name not followed).
    fn lset_xattrs(
        &self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), InRootError> {
        if !self.opts.xattrs || meta.xattrs.is_empty() {
            return Ok(());
        }
        let mut path = OsString::from(proc_fd_path(&parent));
        path.push("/");
        path.push(name);
        for (k, v) in &meta.xattrs {
            rustix::fs::lsetxattr(&path, k.as_str(), v, XattrFlags::empty())
                .map_err(|e| self.err(shown, &format!("set xattr {k}"), e))?;
        }
        Ok(())
    }

    /// Copies an entry's data; runs of zeros in a sparse entry become holes.
    fn copy_data(&mut self, src: &mut impl Read, file: &mut File, sparse: bool) -> io::Result<()> {
        let mut len = 0u64;
        let mut hole = false;
        loop {
            let n = match src.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io::Error::new(e.kind(), format!("reading archive: {e}"))),
            };
            let chunk = &self.buf[..n];
            if sparse && chunk.iter().all(|b| *b == 0) {
                file.seek(SeekFrom::Current(i64::try_from(n).unwrap_or(i64::MAX)))?;
                hole = true;
            } else {
                file.write_all(chunk)?;
            }
            len += n as u64;
        }
        if hole {
            file.set_len(len)?;
        }
        Ok(())
    }

    /// Directory times last: extracting their children changed them.
    fn finish_dir_times(&mut self) {
        for (comps, mtime) in std::mem::take(&mut self.dir_times).into_iter().rev() {
            if let Ok(d) =
                self.root
                    .open_comps(&comps, OFlags::PATH | OFlags::DIRECTORY, self.opts.resolve)
            {
                let _ = rustix::fs::utimensat(
                    CWD,
                    proc_fd_path(&d),
                    &timestamps(mtime),
                    AtFlags::empty(),
                );
            }
        }
    }
}
