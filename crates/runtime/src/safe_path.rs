//! Resolving paths inside a root without escaping it: `openat2` with `RESOLVE_IN_ROOT` (symlinks,
//! `..` and absolute links are all resolved relative to the root) and
//! `RESOLVE_NO_MAGICLINKS` (no /proc/<pid>/fd tricks). Mount targets are opened this way and
//! mounted on through `/proc/self/fd/<n>`, so a malicious symlink in an image cannot redirect
//! a mount onto the host.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// Flags every lookup uses.
fn resolve() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

/// `path` made relative (leading `/` stripped, `.` dropped); `..` is left to openat2.
pub fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect()
}

/// Opens `path` inside `root` as an `O_PATH` descriptor.
pub fn open_in_root(root: impl AsFd, path: &Path) -> std::io::Result<OwnedFd> {
    let rel = relative(path);
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    Ok(rustix::fs::openat2(
        root,
        &rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        resolve(),
    )?)
}

/// Opens `path` inside `root`, creating it (and missing parents) first: a directory, or an
/// empty file when `dir` is false. Everything is created relative to descriptors resolved
/// inside the root.
pub fn create_in_root(root: impl AsFd, path: &Path, dir: bool) -> std::io::Result<OwnedFd> {
    create_depth(root.as_fd(), path, dir, 0)
}

fn create_depth(
    root: std::os::fd::BorrowedFd<'_>,
    path: &Path,
    dir: bool,
    depth: u32,
) -> std::io::Result<OwnedFd> {
    if depth > 40 {
        return Err(rustix::io::Errno::LOOP.into());
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
        let next = rustix::fs::openat2(
            &parent,
            name,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            resolve(),
        );
        // Resolve relative to `parent`, but never above the root: re-resolve the prefix
        // from the root so `..` and symlinks are clamped to it.
        let prefix: PathBuf = comps[..=i].iter().collect();
        let fd = match next {
            Ok(_) => open_in_root(root, &prefix)?,
            Err(rustix::io::Errno::NOENT) => {
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
                        Ok(_) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                match open_in_root(root, &prefix) {
                    Ok(fd) => fd,
                    // A dangling symlink: create what it points to, resolved inside the root.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let target = rustix::fs::readlinkat(&parent, name, Vec::new())?;
                        let target = PathBuf::from(target.to_string_lossy().into_owned());
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

/// The `/proc/self/fd/<n>` path of a descriptor, for syscalls that take paths (mount).
pub fn proc_fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}
