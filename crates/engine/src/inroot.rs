//! Files inside a container's root, reached only through descriptors (`docker cp` and the
//! archive endpoints).
//!
//! Every lookup starts from a descriptor of the container's `/` and goes through `openat2`
//! with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`, so `..`, absolute and relative symlinks
//! all stay inside the root — also while the container swaps a directory for a symlink, since
//! the kernel resolves each lookup atomically against the root. Below a resolved directory,
//! single names are opened with `O_NOFOLLOW` relative to the held descriptor; regular files
//! are re-opened through `/proc/self/fd/<n>` (the inode already found, never a new lookup).
//! Nothing from the container is executed or loaded on the host.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use berth_api_types::ContainerPathStat;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat, Timespec, Timestamps, CWD};
use rustix::io::Errno;

/// What can go wrong inside a root.
#[derive(Debug, thiserror::Error)]
pub enum InRootError {
    /// The path does not exist (or a parent is not a directory).
    #[error("no such file or directory: {0}")]
    NotFound(String),
    /// `PUT` into something that is not a directory.
    #[error("extraction point is not a directory")]
    NotADirectory,
    /// The archive is not acceptable (breakout, overwrite rules).
    #[error("{0}")]
    Refused(String),
    /// A system call failed.
    #[error("{path}: {source}")]
    Io {
        /// In-container path.
        path: String,
        /// Cause.
        source: io::Error,
    },
}

fn io_err(path: &str) -> impl FnOnce(Errno) -> InRootError + '_ {
    move |e| InRootError::Io {
        path: path.to_string(),
        source: e.into(),
    }
}

/// Opens `dir` (a host path: the mounted rootfs or `/proc/<pid>/root`) as the root descriptor.
pub fn open_root(dir: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Lexically cleaned components of an in-container path (`filepath.Join("/", p)`: `..` stops
/// at the root, `.` dropped).
pub fn clean(path: &str) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn joined(comps: &[OsString]) -> PathBuf {
    if comps.is_empty() {
        PathBuf::from(".")
    } else {
        comps.iter().collect()
    }
}

fn display(comps: &[OsString]) -> String {
    if comps.is_empty() {
        "/".to_string()
    } else {
        format!("/{}", joined(comps).display())
    }
}

/// `openat2(root, comps, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`.
fn open_in_root(root: BorrowedFd<'_>, comps: &[OsString], flags: OFlags) -> Result<OwnedFd, Errno> {
    rustix::fs::openat2(
        root,
        joined(comps),
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
}

fn proc_fd(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Kernel filesystems a running container has mounted (`/proc`, `/sys`, cgroups, `/dev/pts`,
/// `/dev/mqueue`): not part of its files. Docker's copy sees the image's empty directories
/// there, so their contents are neither archived nor found.
fn is_pseudo_fs(fd: BorrowedFd<'_>) -> bool {
    const SYSFS: u64 = 0x6265_6572;
    const CGROUP: u64 = 0x0027_e0eb;
    const CGROUP2: u64 = 0x6367_7270;
    const DEVPTS: u64 = 0x1cd1;
    const MQUEUE: u64 = 0x1980_0202;
    const PROC: u64 = 0x9fa0;
    rustix::fs::fstatfs(fd).is_ok_and(|st| {
        matches!(
            st.f_type as u64,
            PROC | SYSFS | CGROUP | CGROUP2 | DEVPTS | MQUEUE
        )
    })
}

/// A path found inside the root: an `O_PATH` descriptor of the object itself (never followed
/// when it is a symlink named without a trailing `/` or `/.`), its stat and Docker's names.
pub struct Located {
    fd: OwnedFd,
    /// Its stat (lstat semantics).
    pub stat: Stat,
    /// The name the archive uses for it (`filepath.Base` of the request path; `.` for `/.`).
    pub name: String,
    /// In-container path of the parent (for the symlink target text).
    parent: Vec<OsString>,
}

/// Finds `path` inside `root` the way Docker's `ResolvePath` does: parents are resolved
/// (symlinks followed, inside the root), the last element is not followed unless the path ends
/// with `/` or `/.`.
pub fn locate(root: &OwnedFd, path: &str) -> Result<Located, InRootError> {
    let comps = clean(path);
    let follow = path.ends_with('/') || path.ends_with("/.") || path == ".";
    let not_found = |e: Errno| match e {
        Errno::NOENT | Errno::NOTDIR | Errno::LOOP => InRootError::NotFound(path.to_string()),
        e => io_err(path)(e),
    };
    let (fd, parent) = match comps.split_last() {
        None => (
            open_in_root(root.as_fd(), &[], OFlags::PATH).map_err(not_found)?,
            Vec::new(),
        ),
        Some((_, parent)) if follow => (
            open_in_root(root.as_fd(), &comps, OFlags::PATH).map_err(not_found)?,
            parent.to_vec(),
        ),
        Some((last, parent)) => {
            let dir = open_in_root(root.as_fd(), parent, OFlags::PATH | OFlags::DIRECTORY)
                .map_err(not_found)?;
            let fd = rustix::fs::openat(
                &dir,
                last.as_os_str(),
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(not_found)?;
            (fd, parent.to_vec())
        }
    };
    let stat = rustix::fs::fstat(&fd).map_err(io_err(path))?;
    if is_pseudo_fs(fd.as_fd()) && FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
        return Err(InRootError::NotFound(path.to_string()));
    }
    let name = if comps.is_empty() {
        "/".to_string()
    } else if path.ends_with("/.") || path == "." {
        ".".to_string()
    } else {
        comps[comps.len() - 1].to_string_lossy().into_owned()
    };
    Ok(Located {
        fd,
        stat,
        name,
        parent,
    })
}

const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_DEVICE: u32 = 1 << 26;
const GO_PIPE: u32 = 1 << 25;
const GO_SOCKET: u32 = 1 << 24;
const GO_SETUID: u32 = 1 << 23;
const GO_SETGID: u32 = 1 << 22;
const GO_CHARDEV: u32 = 1 << 21;
const GO_STICKY: u32 = 1 << 20;

/// A unix `st_mode` as Go's `os.FileMode` (what `X-Docker-Container-Path-Stat` carries).
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    m |= match FileType::from_raw_mode(st_mode) {
        FileType::Directory => GO_DIR,
        FileType::Symlink => GO_SYMLINK,
        FileType::BlockDevice => GO_DEVICE,
        FileType::CharacterDevice => GO_DEVICE | GO_CHARDEV,
        FileType::Fifo => GO_PIPE,
        FileType::Socket => GO_SOCKET,
        _ => 0,
    };
    if st_mode & 0o4000 != 0 {
        m |= GO_SETUID;
    }
    if st_mode & 0o2000 != 0 {
        m |= GO_SETGID;
    }
    if st_mode & 0o1000 != 0 {
        m |= GO_STICKY;
    }
    m
}

/// RFC 3339 with nanoseconds, trailing zeros trimmed (Go's `time.Time` JSON).
fn go_time(secs: i64, nanos: u32) -> String {
    berth_units::Timestamp::new(secs, nanos).to_rfc3339(berth_units::SubSeconds::Trimmed)
}

/// The in-container path a symlink finally points at (resolved inside the root), for `linkTarget`.
fn link_target(root: &OwnedFd, parent: &[OsString], link: &[u8]) -> String {
    let mut comps: Vec<OsString> = if link.starts_with(b"/") {
        Vec::new()
    } else {
        parent.to_vec()
    };
    let mut pending: Vec<OsString> = clean_rel(link);
    pending.reverse();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            comps.pop();
            continue;
        }
        comps.push(c);
        let Ok(dir) = open_in_root(
            root.as_fd(),
            &comps[..comps.len() - 1],
            OFlags::PATH | OFlags::DIRECTORY,
        ) else {
            break;
        };
        let last = comps[comps.len() - 1].clone();
        let Ok(target) = rustix::fs::readlinkat(&dir, last.as_os_str(), Vec::new()) else {
            continue;
        };
        hops += 1;
        if hops > 40 {
            break;
        }
        comps.pop();
        let bytes = target.as_bytes();
        if bytes.starts_with(b"/") {
            comps.clear();
        }
        let mut more = clean_rel(bytes);
        more.reverse();
        pending.extend(more);
    }
    display(&comps)
}

/// Components of a link text, keeping `..` (resolved by the caller), dropping `.` and `/`.
fn clean_rel(text: &[u8]) -> Vec<OsString> {
    Path::new(OsStr::from_bytes(text))
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Docker's `ContainerPathStat` of a located path.
pub fn path_stat(root: &OwnedFd, loc: &Located) -> ContainerPathStat {
    let st = &loc.stat;
    let link = if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        rustix::fs::readlinkat(&loc.fd, "", Vec::new())
            .map(|t| link_target(root, &loc.parent, t.as_bytes()))
            .unwrap_or_default()
    } else {
        String::new()
    };
    ContainerPathStat {
        name: loc.name.clone(),
        size: st.st_size,
        mode: go_file_mode(st.st_mode),
        mtime: go_time(st.st_mtime, st.st_mtime_nsec as u32),
        link_target: link,
    }
}

/// Writes a tar of `loc` (recursively for a directory) to `out`, named as Docker's
/// `TarResourceRebase` names them: `name/…` for a path, `./…` for `dir/.`, `/…` for the root.
pub fn write_tar<W: Write>(loc: &Located, out: W) -> io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut links = HashMap::new();
    let top: &[u8] = if loc.name == "/" {
        b""
    } else {
        loc.name.as_bytes()
    };
    add_entry(&mut b, loc.fd.as_fd(), &loc.stat, top, &mut links)?;
    b.into_inner()?.flush()
}

fn header_for(st: &Stat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    h
}

/// A GNU long-name (`L`) or long-link (`K`) record for `text`.
fn long_record<W: Write>(b: &mut tar::Builder<W>, kind: u8, text: &[u8]) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_mode(0o644);
    h.set_size(text.len() as u64 + 1);
    h.set_cksum();
    b.append(&h, text.chain(&[0u8][..]))
}

/// Appends an entry named exactly `name` (the tar crate's path setters would normalise the
/// `./` and `/` prefixes Docker's clients rely on), with `link` as its link name.
fn append_named<W: Write, R: Read>(
    b: &mut tar::Builder<W>,
    mut h: tar::Header,
    name: &[u8],
    link: Option<&[u8]>,
    data: R,
) -> io::Result<()> {
    if name.len() > 100 {
        long_record(b, b'L', name)?;
    }
    let n = name.len().min(100);
    h.as_old_mut().name = [0; 100];
    h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
    if let Some(link) = link {
        if link.len() > 100 {
            long_record(b, b'K', link)?;
        }
        let n = link.len().min(100);
        h.as_old_mut().linkname = [0; 100];
        h.as_old_mut().linkname[..n].copy_from_slice(&link[..n]);
    }
    h.set_cksum();
    b.append(&h, data)
}

fn child_name(parent: &[u8], child: &[u8]) -> Vec<u8> {
    let mut v = parent.to_vec();
    v.push(b'/');
    v.extend_from_slice(child);
    v
}

fn add_entry<W: Write>(
    b: &mut tar::Builder<W>,
    fd: BorrowedFd<'_>,
    st: &Stat,
    name: &[u8],
    links: &mut HashMap<(u64, u64), Vec<u8>>,
) -> io::Result<()> {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            let h = header_for(st, tar::EntryType::Directory);
            append_named(b, h, &child_name(name, b""), None, io::empty())?;
            if is_pseudo_fs(fd) {
                return Ok(());
            }
            // A readable descriptor of the same directory ("." cannot be a symlink).
            let readable = rustix::fs::openat(
                fd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let mut dir = rustix::fs::Dir::new(readable)?;
            let mut names: Vec<Vec<u8>> = Vec::new();
            while let Some(e) = dir.read() {
                let e = e?;
                let n = e.file_name().to_bytes();
                if n != b"." && n != b".." {
                    names.push(n.to_vec());
                }
            }
            names.sort();
            for child in names {
                let cfd = match rustix::fs::openat(
                    fd,
                    OsStr::from_bytes(&child),
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(f) => f,
                    Err(Errno::NOENT) => continue, // removed meanwhile
                    Err(e) => return Err(e.into()),
                };
                let cst = rustix::fs::fstat(&cfd)?;
                add_entry(b, cfd.as_fd(), &cst, &child_name(name, &child), links)?;
            }
        }
        FileType::RegularFile => {
            if st.st_nlink > 1 {
                let key = (st.st_dev, st.st_ino);
                if let Some(first) = links.get(&key) {
                    let h = header_for(st, tar::EntryType::Link);
                    return append_named(b, h, name, Some(first), io::empty());
                }
                links.insert(key, name.to_vec());
            }
            // Re-open the inode already found (the magic link names it, no new lookup).
            let file = std::fs::File::open(proc_fd(fd))?;
            let size = st.st_size.max(0) as u64;
            let mut h = header_for(st, tar::EntryType::Regular);
            h.set_size(size);
            // Exactly `size` bytes even if the file changes while it is read.
            let data = file.take(size).chain(io::repeat(0)).take(size);
            append_named(b, h, name, None, data)?;
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(fd, "", Vec::new())?;
            let h = header_for(st, tar::EntryType::Symlink);
            append_named(b, h, name, Some(target.as_bytes()), io::empty())?;
        }
        t @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
            let kind = match t {
                FileType::CharacterDevice => tar::EntryType::Char,
                FileType::BlockDevice => tar::EntryType::Block,
                _ => tar::EntryType::Fifo,
            };
            let mut h = header_for(st, kind);
            if kind != tar::EntryType::Fifo {
                h.set_device_major(rustix::fs::major(st.st_rdev))?;
                h.set_device_minor(rustix::fs::minor(st.st_rdev))?;
            }
            append_named(b, h, name, None, io::empty())?;
        }
        _ => {} // sockets are not archived (as Docker)
    }
    Ok(())
}

/// The contents of a small regular file (`/etc/passwd`), symlinks followed inside the root;
/// `None` when missing, not a regular file, or larger than 4 MiB.
pub fn read_small(root: &OwnedFd, path: &str) -> Option<String> {
    let fd = open_in_root(root.as_fd(), &clean(path), OFlags::PATH).ok()?;
    let st = rustix::fs::fstat(&fd).ok()?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile || st.st_size > 4 << 20 {
        return None;
    }
    std::fs::read_to_string(proc_fd(fd.as_fd())).ok()
}

/// Creates the directory `path` and its missing parents inside the root (mode 0755, owned
/// by root), following symlinks only inside it: Docker creates a missing working directory
/// this way before it starts a container.
pub fn make_dir_all(root: &OwnedFd, path: &str) -> io::Result<()> {
    mkdir_all(root, &clean(path))
        .map(drop)
        .map_err(io::Error::from)
}

/// Options of [`extract`].
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// Refuse to replace a directory with a non-directory and vice versa.
    pub no_overwrite_dir_non_dir: bool,
    /// Owner of everything extracted (`copyUIDGID`); the archive's owners when `None`.
    pub owner: Option<(u32, u32)>,
}

/// Opens the directory `dest` inside the root for extraction (Docker's checks: it must exist
/// and be a directory, symlinks followed inside the root).
pub fn extraction_dir(root: &OwnedFd, dest: &str) -> Result<Vec<OsString>, InRootError> {
    let comps = clean(dest);
    let fd = open_in_root(root.as_fd(), &comps, OFlags::PATH).map_err(|e| match e {
        Errno::NOENT | Errno::NOTDIR | Errno::LOOP => InRootError::NotFound(dest.to_string()),
        e => io_err(dest)(e),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(io_err(dest))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Err(InRootError::NotADirectory);
    }
    Ok(comps)
}

/// Extracts the tar `input` into `dest` (from [`extraction_dir`]) inside the root.
pub fn extract<R: Read>(
    root: &OwnedFd,
    dest: &[OsString],
    input: R,
    opts: &ExtractOptions,
) -> Result<(), InRootError> {
    let mut ar = tar::Archive::new(input);
    let mut dir_times: Vec<(Vec<OsString>, i64)> = Vec::new();
    let entries = ar.entries().map_err(|e| InRootError::Io {
        path: display(dest),
        source: e,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|e| InRootError::Refused(format!("reading archive: {e}")))?;
        let raw = entry.path_bytes().into_owned();
        let rel = entry_components(&raw)?;
        let Some((base, parent_rel)) = rel.split_last() else {
            continue; // "." itself: the extraction point stays as it is
        };
        let mut full = dest.to_vec();
        full.extend(parent_rel.iter().cloned());
        let shown = {
            let mut all = full.clone();
            all.push(base.clone());
            display(&all)
        };
        let parent = mkdir_all(root, &full).map_err(io_err(&shown))?;
        let kind = entry.header().entry_type();
        let is_dir = kind.is_dir();
        if let Ok(ex) = rustix::fs::statat(&parent, base.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            let ex_dir = FileType::from_raw_mode(ex.st_mode) == FileType::Directory;
            if opts.no_overwrite_dir_non_dir {
                if ex_dir && !is_dir {
                    return Err(InRootError::Refused(format!(
                        "cannot overwrite directory \"{shown}\" with non-directory \"{}\"",
                        String::from_utf8_lossy(&raw)
                    )));
                }
                if !ex_dir && is_dir {
                    return Err(InRootError::Refused(format!(
                        "cannot overwrite non-directory \"{shown}\" with directory \"{}\"",
                        String::from_utf8_lossy(&raw)
                    )));
                }
            }
            if !(ex_dir && is_dir) {
                remove_all_at(parent.as_fd(), base).map_err(io_err(&shown))?;
            }
        }
        let h = entry.header();
        let mode = Mode::from_raw_mode(h.mode().unwrap_or(0o644) & 0o7777);
        let (uid, gid) = opts
            .owner
            .unwrap_or((h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32));
        let mtime = h.mtime().unwrap_or(0) as i64;
        let times = Timestamps {
            last_access: Timespec {
                tv_sec: mtime,
                tv_nsec: 0,
            },
            last_modification: Timespec {
                tv_sec: mtime,
                tv_nsec: 0,
            },
        };
        let owner = (
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        );
        let name = base.as_os_str();
        match kind {
            tar::EntryType::Directory => {
                match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(io_err(&shown)(e)),
                }
                let d = rustix::fs::openat(
                    &parent,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(io_err(&shown))?;
                rustix::fs::fchown(&d, owner.0, owner.1).map_err(io_err(&shown))?;
                rustix::fs::fchmod(&d, mode).map_err(io_err(&shown))?;
                let mut p = full.clone();
                p.push(base.clone());
                dir_times.push((p, mtime));
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
                .map_err(io_err(&shown))?;
                let mut f = std::fs::File::from(fd);
                io::copy(&mut entry, &mut f).map_err(|e| InRootError::Io {
                    path: shown.clone(),
                    source: e,
                })?;
                rustix::fs::fchown(&f, owner.0, owner.1).map_err(io_err(&shown))?;
                rustix::fs::fchmod(&f, mode).map_err(io_err(&shown))?;
                rustix::fs::futimens(&f, &times).map_err(io_err(&shown))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                rustix::fs::symlinkat(OsStr::from_bytes(&target), &parent, name)
                    .map_err(io_err(&shown))?;
                rustix::fs::chownat(&parent, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(io_err(&shown))?;
                let _ = rustix::fs::utimensat(&parent, name, &times, AtFlags::SYMLINK_NOFOLLOW);
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                let trel = entry_components(&target)?;
                let Some((tbase, tparent)) = trel.split_last() else {
                    return Err(InRootError::Refused(format!(
                        "invalid hardlink target for {shown}"
                    )));
                };
                let mut tp = dest.to_vec();
                tp.extend(tparent.iter().cloned());
                let tdir = open_in_root(root.as_fd(), &tp, OFlags::PATH | OFlags::DIRECTORY)
                    .map_err(io_err(&shown))?;
                rustix::fs::linkat(&tdir, tbase.as_os_str(), &parent, name, AtFlags::empty())
                    .map_err(io_err(&shown))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let (ft, dev) = match kind {
                    tar::EntryType::Char => (FileType::CharacterDevice, true),
                    tar::EntryType::Block => (FileType::BlockDevice, true),
                    _ => (FileType::Fifo, false),
                };
                let rdev = if dev {
                    rustix::fs::makedev(
                        h.device_major().ok().flatten().unwrap_or(0),
                        h.device_minor().ok().flatten().unwrap_or(0),
                    )
                } else {
                    0
                };
                rustix::fs::mknodat(&parent, name, ft, Mode::from_raw_mode(0o600), rdev)
                    .map_err(io_err(&shown))?;
                let o = rustix::fs::openat(
                    &parent,
                    name,
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(io_err(&shown))?;
                let st = rustix::fs::fstat(&o).map_err(io_err(&shown))?;
                if FileType::from_raw_mode(st.st_mode) != ft {
                    return Err(InRootError::Refused(format!(
                        "{shown} changed while extracting"
                    )));
                }
                rustix::fs::chownat(&o, "", owner.0, owner.1, AtFlags::EMPTY_PATH)
                    .map_err(io_err(&shown))?;
                // chmod through the descriptor's magic link: the inode just checked.
                rustix::fs::chmodat(CWD, proc_fd(o.as_fd()), mode, AtFlags::empty())
                    .map_err(io_err(&shown))?;
                let _ = rustix::fs::utimensat(CWD, proc_fd(o.as_fd()), &times, AtFlags::empty());
            }
            _ => {} // pax/gnu metadata entries are consumed by the tar reader
        }
    }
    // Directory times last: extracting their children changed them.
    for (comps, mtime) in dir_times.into_iter().rev() {
        if let Ok(d) = open_in_root(root.as_fd(), &comps, OFlags::PATH | OFlags::DIRECTORY) {
            let t = Timespec {
                tv_sec: mtime,
                tv_nsec: 0,
            };
            let _ = rustix::fs::utimensat(
                CWD,
                proc_fd(d.as_fd()),
                &Timestamps {
                    last_access: t,
                    last_modification: t,
                },
                AtFlags::empty(),
            );
        }
    }
    Ok(())
}

/// The components of an archive entry name, refusing names that leave the extraction point.
fn entry_components(raw: &[u8]) -> Result<Vec<OsString>, InRootError> {
    let mut out: Vec<OsString> = Vec::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::ParentDir if out.pop().is_none() => {
                return Err(InRootError::Refused(format!(
                    "invalid archive entry {:?}: it would be extracted outside the destination",
                    String::from_utf8_lossy(raw)
                )));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Resolves (creating missing directories, mode 0755) `comps` inside the root.
fn mkdir_all(root: &OwnedFd, comps: &[OsString]) -> Result<OwnedFd, Errno> {
    match open_in_root(root.as_fd(), comps, OFlags::PATH | OFlags::DIRECTORY) {
        Ok(fd) => Ok(fd),
        Err(Errno::NOENT) if !comps.is_empty() => {
            let (last, parent) = comps.split_last().expect("not empty");
            let p = mkdir_all(root, parent)?;
            match rustix::fs::mkdirat(&p, last.as_os_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e),
            }
            open_in_root(root.as_fd(), comps, OFlags::PATH | OFlags::DIRECTORY)
        }
        Err(e) => Err(e),
    }
}

/// `rm -rf parent/name` through descriptors (never following symlinks).
fn remove_all_at(parent: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    match rustix::fs::unlinkat(parent, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR) | Err(Errno::PERM) => {}
        Err(e) => return Err(e),
    }
    let dir = rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    let mut it = rustix::fs::Dir::read_from(&dir)?;
    while let Some(e) = it.read() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    for n in names {
        remove_all_at(dir.as_fd(), &n)?;
    }
    rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes() {
        assert_eq!(go_file_mode(0o040755), GO_DIR | 0o755);
        assert_eq!(go_file_mode(0o120777), GO_SYMLINK | 0o777);
        assert_eq!(go_file_mode(0o104755), GO_SETUID | 0o755);
        assert_eq!(go_file_mode(0o100644), 0o644);
    }

    #[test]
    fn cleaning_stays_at_root() {
        assert_eq!(clean("/../../etc/./passwd"), vec!["etc", "passwd"]);
        assert!(clean("/").is_empty());
        assert!(entry_components(b"../x").is_err());
        assert_eq!(entry_components(b"./a/../b").unwrap(), vec!["b"]);
    }

    #[test]
    fn times_like_go() {
        assert_eq!(go_time(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(go_time(1, 500_000_000), "1970-01-01T00:00:01.5Z");
    }

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "berth-inroot-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let base = tmp("sym");
        let root_dir = base.join("root");
        std::fs::create_dir_all(root_dir.join("etc")).unwrap();
        std::fs::write(root_dir.join("etc/marker"), "inside").unwrap();
        std::fs::write(base.join("marker"), "outside").unwrap();
        std::os::unix::fs::symlink("../../../../..", root_dir.join("up")).unwrap();
        std::os::unix::fs::symlink("/etc", root_dir.join("abs")).unwrap();
        let root = open_root(&root_dir).unwrap();
        // A link read through stays inside.
        let loc = locate(&root, "/up/etc/marker").unwrap();
        let f = std::fs::read_to_string(proc_fd(loc.fd.as_fd())).unwrap();
        assert_eq!(f, "inside");
        let st = path_stat(&root, &locate(&root, "/abs").unwrap());
        assert_eq!(st.link_target, "/etc");
        assert_eq!(st.mode & GO_SYMLINK, GO_SYMLINK);
        assert!(matches!(
            locate(&root, "/nope"),
            Err(InRootError::NotFound(_))
        ));
        // Extracting through a link lands inside the root.
        let mut t = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        t.append_data(&mut h, "marker2", &b"new"[..]).unwrap();
        let data = t.into_inner().unwrap();
        let dest = extraction_dir(&root, "/up/").unwrap();
        extract(&root, &dest, &data[..], &ExtractOptions::default()).unwrap();
        assert_eq!(
            std::fs::read_to_string(root_dir.join("marker2")).unwrap(),
            "new"
        );
        assert!(!base.join("marker2").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_link_swapped_for_a_directory_never_escapes() {
        let base = tmp("race");
        let root_dir = base.join("root");
        let outside = base.join("outside");
        std::fs::create_dir_all(&root_dir).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let sw = root_dir.join("sw");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let sw2 = sw.clone();
        let swapper = std::thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_dir_all(&sw2);
                let _ = std::fs::remove_file(&sw2);
                let _ = std::fs::create_dir(&sw2);
                let _ = std::fs::remove_dir_all(&sw2);
                // Followed on the host, this would land in `outside`.
                let _ = std::os::unix::fs::symlink("../outside", &sw2);
            }
        });
        let root = open_root(&root_dir).unwrap();
        for i in 0..300 {
            let mut t = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            t.append_data(&mut h, format!("sub/f{i}"), &b"x"[..])
                .unwrap();
            let data = t.into_inner().unwrap();
            if let Ok(dest) = extraction_dir(&root, "/sw/") {
                let _ = extract(&root, &dest, &data[..], &ExtractOptions::default());
            }
            if let Ok(loc) = locate(&root, "/sw/.") {
                let _ = write_tar(&loc, io::sink());
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        swapper.join().unwrap();
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
