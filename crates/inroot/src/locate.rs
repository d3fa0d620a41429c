//! Docker's `ResolvePath` and `ContainerPathStat` (`docker cp`, the archive endpoints).

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use berth_units::Timestamp;
use rustix::fs::{FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::path::{clean, clean_keep_dotdot, display};
use crate::root::{Resolve, Root};
use crate::InRootError;

/// Kernel filesystems a running container has mounted (`/proc`, `/sys`, cgroups, `/dev/pts`,
/// `/dev/mqueue`): not part of its files. Docker's copy sees the image's empty directories
/// there, so their contents are neither archived nor found.
pub(crate) fn is_pseudo_fs(fd: BorrowedFd<'_>) -> bool {
    const SYSFS: i64 = 0x6265_6572;
    const CGROUP: i64 = 0x0027_e0eb;
    const CGROUP2: i64 = 0x6367_7270;
    const DEVPTS: i64 = 0x1cd1;
    const MQUEUE: i64 = 0x1980_0202;
    const PROC: i64 = 0x9fa0;
    // `f_type`'s integer type differs between architectures.
    #[allow(clippy::useless_conversion)]
    rustix::fs::fstatfs(fd).is_ok_and(|st| {
        matches!(
            i64::from(st.f_type),
            PROC | SYSFS | CGROUP | CGROUP2 | DEVPTS | MQUEUE
        )
    })
}

/// A path found inside the root: an `O_PATH` descriptor of the object itself (never followed
/// when it is a symlink named without a trailing `/` or `/.`), its stat and Docker's names.
#[derive(Debug)]
pub struct Located {
    pub(crate) fd: OwnedFd,
    /// Its stat (lstat semantics).
    pub stat: Stat,
    /// The name the archive uses for it (`filepath.Base` of the request path; `.` for `/.`,
    /// `/` for the root).
    pub name: String,
    /// In-root path of the parent (for the symlink target text).
    parent: Vec<OsString>,
}

impl AsFd for Located {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Finds `path` inside `root` the way Docker's `ResolvePath` does: parents are resolved
/// (symlinks followed, inside the root), the last element is not followed unless the path ends
/// with `/` or `/.`.
pub fn locate(root: &Root, path: &str) -> Result<Located, InRootError> {
    let comps = clean(path);
    let follow = path.ends_with('/') || path.ends_with("/.") || path == ".";
    let not_found = |e: Errno| match e {
        Errno::NOENT | Errno::NOTDIR | Errno::LOOP => InRootError::NotFound(path.to_string()),
        e => InRootError::io(path, e),
    };
    let (fd, parent) = match comps.split_last() {
        None => (
            root.open_comps(&[], OFlags::PATH, Resolve::InRoot)
                .map_err(not_found)?,
            Vec::new(),
        ),
        Some((_, parent)) if follow => (
            root.open_comps(&comps, OFlags::PATH, Resolve::InRoot)
                .map_err(not_found)?,
            parent.to_vec(),
        ),
        Some((last, parent)) => {
            let dir = root
                .open_comps(parent, OFlags::PATH | OFlags::DIRECTORY, Resolve::InRoot)
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
    let stat = rustix::fs::fstat(&fd).map_err(|e| InRootError::io(path, e))?;
    if is_pseudo_fs(fd.as_fd()) && FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
        return Err(InRootError::NotFound(path.to_string()));
    }
    let name = match comps.last() {
        None => "/".to_string(),
        Some(_) if path.ends_with("/.") || path == "." => ".".to_string(),
        Some(last) => last.to_string_lossy().into_owned(),
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

/// Docker's `ContainerPathStat` of a located path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    /// [`Located::name`].
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go's `os.FileMode` ([`go_file_mode`]).
    pub mode: u32,
    /// Modification time.
    pub mtime: Timestamp,
    /// For a symlink, the in-root path it finally points at; empty otherwise.
    pub link_target: String,
}

/// The in-root path a symlink finally points at (resolved inside the root), for `linkTarget`.
fn link_target(root: &Root, parent: &[OsString], link: &[u8]) -> String {
    let mut comps: Vec<OsString> = if link.starts_with(b"/") {
        Vec::new()
    } else {
        parent.to_vec()
    };
    let mut pending: Vec<OsString> = clean_keep_dotdot(link);
    pending.reverse();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            comps.pop();
            continue;
        }
        comps.push(c);
        let Some((last, dir_comps)) = comps.split_last() else {
            continue;
        };
        let Ok(dir) = root.open_comps(dir_comps, OFlags::PATH | OFlags::DIRECTORY, Resolve::InRoot)
        else {
            break;
        };
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
        let mut more = clean_keep_dotdot(bytes);
        more.reverse();
        pending.extend(more);
    }
    display(&comps)
}

/// Docker's `ContainerPathStat` of a located path.
pub fn path_stat(root: &Root, loc: &Located) -> PathStat {
    let st = &loc.stat;
    let link = if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        rustix::fs::readlinkat(&loc.fd, "", Vec::new())
            .map(|t| link_target(root, &loc.parent, t.as_bytes()))
            .unwrap_or_default()
    } else {
        String::new()
    };
    PathStat {
        name: loc.name.clone(),
        size: st.st_size,
        mode: go_file_mode(st.st_mode),
        mtime: Timestamp::new(st.st_mtime, u32::try_from(st.st_mtime_nsec).unwrap_or(0)),
        link_target: link,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_testkit::TempDir;

    #[test]
    fn go_modes() {
        assert_eq!(go_file_mode(0o040755), GO_DIR | 0o755);
        assert_eq!(go_file_mode(0o120777), GO_SYMLINK | 0o777);
        assert_eq!(go_file_mode(0o104755), GO_SETUID | 0o755);
        assert_eq!(go_file_mode(0o100644), 0o644);
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let tmp = TempDir::new("inroot-locate");
        let dir = tmp.path().join("root");
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/marker"), "inside").unwrap();
        std::fs::write(tmp.path().join("marker"), "outside").unwrap();
        std::os::unix::fs::symlink("../../../../..", dir.join("up")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("abs")).unwrap();
        std::os::unix::fs::symlink("abs/../abs/marker", dir.join("rel")).unwrap();
        let root = Root::open(&dir).unwrap();
        let loc = locate(&root, "/up/etc/marker").unwrap();
        let f = std::fs::read_to_string(crate::proc_fd_path(&loc.fd)).unwrap();
        assert_eq!(f, "inside");
        assert_eq!(loc.name, "marker");
        let st = path_stat(&root, &locate(&root, "/abs").unwrap());
        assert_eq!(st.link_target, "/etc");
        assert_eq!(st.mode & GO_SYMLINK, GO_SYMLINK);
        assert_eq!(
            path_stat(&root, &locate(&root, "rel").unwrap()).link_target,
            "/etc/marker"
        );
        assert_eq!(locate(&root, "/abs/.").unwrap().name, ".");
        assert_eq!(locate(&root, "/").unwrap().name, "/");
        assert!(matches!(
            locate(&root, "/nope"),
            Err(InRootError::NotFound(_))
        ));
    }
}
