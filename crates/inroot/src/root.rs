//! A root directory held by a descriptor, and lookups that cannot leave it.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Uid};
use rustix::io::Errno;

use crate::path::{clean, joined, relative};

/// How `openat2` resolves a path below the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolve {
    /// `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: symlinks and `..` are followed, clamped at
    /// the root, as the container itself would see them (`docker cp`, mounts, WORKDIR).
    #[default]
    InRoot,
    /// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: any symlink on the
    /// way is an error (`ELOOP`) and so is leaving the root (`EXDEV`); how layers unpack.
    NoSymlinks,
}

impl Resolve {
    fn flags(self) -> ResolveFlags {
        match self {
            Resolve::InRoot => ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            Resolve::NoSymlinks => {
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
            }
        }
    }
}

/// `openat2(root, path, flags | O_CLOEXEC, how)`.
pub(crate) fn openat2(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    how: Resolve,
) -> Result<OwnedFd, Errno> {
    rustix::fs::openat2(
        root,
        path,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        how.flags(),
    )
}

/// The `/proc/self/fd/<n>` path of a descriptor, for system calls that only take paths
/// (mount, `chmod` of a device node): it names the object already found, with no new lookup.
pub fn proc_fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Opens `path` inside `root` as an `O_PATH` descriptor ([`Resolve::InRoot`]).
pub fn open_in_root(root: impl AsFd, path: &Path) -> io::Result<OwnedFd> {
    let rel = relative(path);
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    Ok(openat2(root.as_fd(), &rel, OFlags::PATH, Resolve::InRoot)?)
}

/// Opens `path` inside `root`, creating it (and missing parents, mode 0755) first: a
/// directory, or an empty file (mode 0644) when `dir` is false. Everything is created
/// relative to descriptors resolved inside the root; a dangling symlink on the way gets its
/// target created, inside the root (a mount target in an image may be such a link).
pub fn create_in_root(root: impl AsFd, path: &Path, dir: bool) -> io::Result<OwnedFd> {
    create_depth(root.as_fd(), path, dir, 0)
}

fn create_depth(root: BorrowedFd<'_>, path: &Path, dir: bool, depth: u32) -> io::Result<OwnedFd> {
    if depth > 40 {
        return Err(Errno::LOOP.into());
    }
    if let Ok(fd) = open_in_root(root, path) {
        return Ok(fd);
    }
    let rel = relative(path);
    let mut parent = rustix::io::dup(root)?;
    let comps: Vec<_> = rel.components().collect();
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let name = comp.as_os_str();
        let next = openat2(
            parent.as_fd(),
            Path::new(name),
            OFlags::PATH,
            Resolve::InRoot,
        );
        // Resolve relative to `parent`, but never above the root: re-resolve the prefix
        // from the root so `..` and symlinks are clamped to it.
        let prefix: PathBuf = comps[..=i].iter().collect();
        let fd = match next {
            Ok(_) => open_in_root(root, &prefix)?,
            Err(Errno::NOENT) => {
                if last && !dir {
                    let f = rustix::fs::openat(
                        &parent,
                        name,
                        OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::WRONLY
                            | OFlags::CLOEXEC
                            | OFlags::NOFOLLOW,
                        Mode::from_raw_mode(0o644),
                    );
                    match f {
                        Ok(_) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                match open_in_root(root, &prefix) {
                    Ok(fd) => fd,
                    // A dangling symlink: create what it points to, resolved inside the root.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        let target = rustix::fs::readlinkat(&parent, name, Vec::new())?;
                        let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
                        let resolved = if target.is_absolute() {
                            target
                        } else {
                            Path::new("/")
                                .join(&prefix)
                                .parent()
                                .unwrap_or(Path::new("/"))
                                .join(target)
                        };
                        create_depth(root, &resolved, dir || !last, depth + 1)?;
                        open_in_root(root, &prefix)?
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e.into()),
        };
        parent = fd;
    }
    Ok(parent)
}

/// A directory tree's root, held by an `O_PATH` descriptor; every path given to its methods
/// is a path inside it (`/etc/passwd` and `etc/passwd` are the same file).
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
}

impl AsFd for Root {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Root {
    /// Opens the host directory `dir` (a mounted rootfs, `/proc/<pid>/root`, a layer's
    /// directory) as a root.
    pub fn open(dir: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    /// A root from a directory descriptor the caller already holds.
    pub fn from_fd(fd: OwnedFd) -> Root {
        Root { fd }
    }

    /// `O_PATH` descriptor of `path`, every symlink followed inside the root.
    pub fn open_path(&self, path: &str) -> io::Result<OwnedFd> {
        Ok(self.open_comps(&clean(path), OFlags::PATH, Resolve::InRoot)?)
    }

    pub(crate) fn open_comps(
        &self,
        comps: &[OsString],
        flags: OFlags,
        how: Resolve,
    ) -> Result<OwnedFd, Errno> {
        openat2(self.fd.as_fd(), &joined(comps), flags, how)
    }

    /// Whether `path` is a directory (symlinks followed inside the root); `false` when missing.
    pub fn is_dir(&self, path: &str) -> io::Result<bool> {
        match self.open_comps(&clean(path), OFlags::PATH, Resolve::InRoot) {
            Ok(fd) => {
                Ok(FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) == FileType::Directory)
            }
            Err(Errno::NOENT | Errno::NOTDIR) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The contents of a regular file of at most `limit` bytes (`/etc/passwd`), symlinks
    /// followed inside the root; `None` when missing, not a regular file, or larger.
    pub fn read_small(&self, path: &str, limit: u64) -> Option<Vec<u8>> {
        let fd = self.open_path(path).ok()?;
        let st = rustix::fs::fstat(&fd).ok()?;
        let size = u64::try_from(st.st_size).ok()?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile || size > limit {
            return None;
        }
        std::fs::read(proc_fd_path(&fd)).ok()
    }

    /// A small text file (`/etc/passwd`, `/etc/group`: at most 4 MiB, lossy UTF-8), symlinks
    /// followed inside the root; `None` when missing or not a regular file.
    pub fn read_text(&self, path: &str) -> Option<String> {
        self.read_small(path, 4 << 20)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// `mkdir -p path` inside the root, symlinks followed inside it: missing directories are
    /// made with `mode` and owned by `owner` (the caller's ids when `None`); existing ones are
    /// left as they are. Returns an `O_PATH` descriptor of the directory.
    pub fn mkdir_all(
        &self,
        path: &str,
        mode: u32,
        owner: Option<(u32, u32)>,
    ) -> io::Result<OwnedFd> {
        Ok(mkdir_all(self, &clean(path), Resolve::InRoot, mode, owner)?)
    }
}

/// Resolves `comps` under `how`, creating missing directories (`mode`, `owner`).
pub(crate) fn mkdir_all(
    root: &Root,
    comps: &[OsString],
    how: Resolve,
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<OwnedFd, Errno> {
    let flags = OFlags::PATH | OFlags::DIRECTORY;
    match root.open_comps(comps, flags, how) {
        Ok(fd) => Ok(fd),
        Err(Errno::NOENT) if !comps.is_empty() => {
            let (last, parent) = comps.split_last().ok_or(Errno::NOENT)?;
            let p = mkdir_all(root, parent, how, mode, owner)?;
            match rustix::fs::mkdirat(&p, last.as_os_str(), Mode::from_raw_mode(mode)) {
                Ok(()) => {
                    if let Some((uid, gid)) = owner {
                        rustix::fs::chownat(
                            &p,
                            last.as_os_str(),
                            Some(Uid::from_raw(uid)),
                            Some(Gid::from_raw(gid)),
                            AtFlags::SYMLINK_NOFOLLOW,
                        )?;
                    }
                }
                Err(Errno::EXIST) => {}
                Err(e) => return Err(e),
            }
            root.open_comps(comps, flags, how)
        }
        Err(e) => Err(e),
    }
}

/// `rm -rf parent/name` through descriptors, never following a symlink.
pub fn remove_all_at(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    Ok(remove_all(parent, name)?)
}

fn remove_all(parent: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    match rustix::fs::unlinkat(parent, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => {}
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
        remove_all(dir.as_fd(), &n)?;
    }
    rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_testkit::TempDir;

    #[test]
    fn lookups_stay_inside_and_create_through_dangling_links() {
        let tmp = TempDir::new("inroot-root");
        let dir = tmp.path().join("root");
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        std::fs::write(tmp.path().join("secret"), "host").unwrap();
        std::os::unix::fs::symlink("../../../secret", dir.join("up")).unwrap();
        std::os::unix::fs::symlink("/made/here", dir.join("dangling")).unwrap();
        let root = Root::open(&dir).unwrap();
        assert_eq!(
            root.read_small("/etc/../etc/passwd", 4096).unwrap(),
            b"root:x:0:0::/root:/bin/sh\n"
        );
        assert_eq!(root.read_small("/etc/passwd", 4), None);
        // "../../../secret" from the root is "/secret" inside it: missing.
        assert_eq!(root.read_small("/up", 4096), None);
        assert!(root.is_dir("etc").unwrap());
        assert!(!root.is_dir("nope").unwrap());
        create_in_root(&root, Path::new("/dangling/sub"), true).unwrap();
        assert!(dir.join("made/here/sub").is_dir());
        create_in_root(&root, Path::new("/a/b/file"), false).unwrap();
        assert!(dir.join("a/b/file").is_file());
        root.mkdir_all("/up/x/y", 0o750, None).unwrap_err();
        root.mkdir_all("/m/n", 0o750, None).unwrap();
        assert!(dir.join("m/n").is_dir());
        remove_all_at(root.as_fd(), OsStr::new("m")).unwrap();
        assert!(!dir.join("m").exists());
        assert_eq!(
            proc_fd_path(&root.fd),
            format!("/proc/self/fd/{}", root.fd.as_raw_fd())
        );
    }
}
