//! Building the container's filesystem view inside its new mount namespace: the spec's
//! mounts (targets resolved inside the rootfs), /dev, pivot_root, masked and read-only paths.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

use crate::error::{invalid, Context, Error, Result};
use crate::mount_options::{self, MountOptions};
use berth_inroot::{create_in_root, open_in_root, proc_fd_path};

/// The spec's `linux.rootfsPropagation`, if any.
pub(crate) fn requested_propagation(spec: &Spec) -> Result<Option<MountPropagationFlags>> {
    match spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
    {
        None | Some("") => Ok(None),
        Some(p) => mount_options::propagation(p)
            .map(Some)
            .ok_or_else(|| invalid("linux.rootfsPropagation", format!("unknown value {p:?}"))),
    }
}

/// Mounts everything the spec lists onto `rootfs`, in order, plus the default devices and
/// the process's cwd.
///
/// Propagation first, as runc does: every mount of the namespace becomes a slave (mounts
/// never propagate back to the host, and nothing is shared, which pivot_root refuses), or
/// private when the spec asks for it; the requested rootfs propagation is applied to the
/// new root after the switch ([`switch_root`]).
pub(crate) fn mount_all(spec: &Spec, rootfs: &Path, bundle: &Path, cgroup_v2: bool) -> Result<()> {
    let slave = MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC;
    let base = match requested_propagation(spec)? {
        Some(p) if p.contains(MountPropagationFlags::PRIVATE) => p | MountPropagationFlags::REC,
        _ => slave,
    };
    rustix::mount::mount_change("/", base).sys(|| "make / a slave mount".into())?;
    // The rootfs must be a mount point for pivot_root.
    rustix::mount::mount_bind_recursive(rootfs, rootfs)
        .sys(|| format!("bind mount rootfs {}", rootfs.display()))?;
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .sys(|| format!("open rootfs {}", rootfs.display()))?;
    let label = spec.linux().as_ref().and_then(|l| l.mount_label().clone());
    let mut dev_bound = false;
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        mount_one(&root, m, bundle, cgroup_v2, label.as_deref()).map_err(|e| {
            prefix_field(e, &format!("mounts[{i}] ({})", m.destination().display()))
        })?;
        if m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("bind") {
            dev_bound = true;
        }
    }
    if !dev_bound {
        crate::devices::create_devices(&root, spec)?;
    }
    // runc creates a missing working directory; so do we (inside the root, after mounts).
    if let Some(p) = spec.process() {
        create_in_root(&root, p.cwd(), true)
            .map_err(|e| invalid("process.cwd", format!("create in rootfs: {e}")))?;
    }
    Ok(())
}

fn prefix_field(e: Error, field: &str) -> Error {
    match e {
        Error::InvalidSpec { message, .. } => invalid(field, message),
        other => invalid(field, other.to_string()),
    }
}

fn mount_one(
    root: &OwnedFd,
    m: &Mount,
    bundle: &Path,
    cgroup_v2: bool,
    label: Option<&str>,
) -> Result<()> {
    let mut opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
    let typ = m.typ().as_deref().unwrap_or("");
    let dest = m.destination();
    if typ == "bind" || opts.bind {
        return bind_mount(root, m, &opts, bundle);
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(root, dest, &opts, cgroup_v2);
    }
    if let Some(label) = label.filter(|_| matches!(typ, "tmpfs" | "devpts" | "mqueue")) {
        // SELinux: the filesystems runc labels get the spec's mount label.
        let ctx = format!("context=\"{label}\"");
        opts.data = if opts.data.is_empty() {
            ctx
        } else {
            format!("{},{ctx}", opts.data)
        };
    }
    let target = create_in_root(root, dest, true).sys(|| "create mount point".into())?;
    let source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| typ.to_string());
    let data = CString::new(opts.data.clone()).map_err(|_| invalid("options", "NUL byte"))?;
    let res = rustix::mount::mount(
        source.as_str(),
        proc_fd_path(&target).as_str(),
        typ,
        opts.flags,
        Some(data.as_c_str()),
    );
    match res {
        Ok(()) => {}
        // sysfs cannot be mounted in a user namespace that does not own the network
        // namespace: bind the host's instead (read-only when asked).
        Err(rustix::io::Errno::PERM) if typ == "sysfs" => {
            rustix::mount::mount(
                "/sys",
                proc_fd_path(&target).as_str(),
                "",
                MountFlags::BIND | MountFlags::REC,
                None,
            )
            .sys(|| "bind /sys".into())?;
            remount_bind(root, dest, opts.flags)?;
        }
        Err(e) => {
            return Err(e).sys(|| format!("mount {typ} {source:?} with {:?}", opts.data));
        }
    }
    apply_propagation(root, dest, &opts)
}

fn bind_mount(root: &OwnedFd, m: &Mount, opts: &MountOptions, bundle: &Path) -> Result<()> {
    let src = m
        .source()
        .as_ref()
        .ok_or_else(|| invalid("source", "a bind mount needs a source"))?;
    let src = if src.is_absolute() {
        src.clone()
    } else {
        bundle.join(src)
    };
    let meta = std::fs::metadata(&src).sys(|| format!("bind source {}", src.display()))?;
    let target =
        create_in_root(root, m.destination(), meta.is_dir()).sys(|| "create mount point".into())?;
    let mut flags = MountFlags::BIND;
    if opts.recursive {
        flags |= MountFlags::REC;
    }
    rustix::mount::mount(
        src.as_path(),
        proc_fd_path(&target).as_str(),
        "",
        flags,
        None,
    )
    .sys(|| format!("bind {}", src.display()))?;
    if !opts.flags.is_empty() {
        remount_bind(root, m.destination(), opts.flags)?;
    }
    apply_propagation(root, m.destination(), opts)
}

/// Re-applies per-mount flags to the bind mount now at `dest`, keeping the locked flags
/// (nosuid, nodev, noexec) the mount already has.
fn remount_bind(root: &OwnedFd, dest: &Path, flags: MountFlags) -> Result<()> {
    let fd = open_in_root(root, dest).sys(|| "reopen mount point".into())?;
    remount_fd(&fd, flags)
}

/// Bind-remounts the mount whose root `fd` is with `flags` plus the flags it must keep.
fn remount_fd(fd: &OwnedFd, flags: MountFlags) -> Result<()> {
    berth_inroot::remount_bind(fd, flags).sys(|| format!("remount with {:?}", flags))
}

fn apply_propagation(root: &OwnedFd, dest: &Path, opts: &MountOptions) -> Result<()> {
    if opts.propagation.is_empty() {
        return Ok(());
    }
    let fd = open_in_root(root, dest).sys(|| "reopen mount point".into())?;
    for p in &opts.propagation {
        rustix::mount::mount_change(proc_fd_path(&fd).as_str(), *p)
            .sys(|| "change propagation".into())?;
    }
    Ok(())
}

/// `type: cgroup` mounts: cgroup2 on a unified host; on a v1 host a tmpfs with one cgroup
/// mount per hierarchy (inside a cgroup namespace these show the container's own cgroup).
fn mount_cgroup(root: &OwnedFd, dest: &Path, opts: &MountOptions, v2: bool) -> Result<()> {
    let target = create_in_root(root, dest, true).sys(|| "create mount point".into())?;
    let flags = opts.flags & !MountFlags::RDONLY;
    if v2 {
        return rustix::mount::mount(
            "cgroup2",
            proc_fd_path(&target).as_str(),
            "cgroup2",
            opts.flags,
            None,
        )
        .sys(|| "mount cgroup2".into());
    }
    rustix::mount::mount(
        "tmpfs",
        proc_fd_path(&target).as_str(),
        "tmpfs",
        flags,
        Some(c"mode=755"),
    )
    .sys(|| "mount tmpfs for cgroup v1".into())?;
    let own = own_v1_cgroups();
    for (dir, data) in v1_hierarchies() {
        let sub = dest.join(&dir);
        let fd = create_in_root(root, &sub, true).sys(|| format!("mkdir {}", sub.display()))?;
        // Without a cgroup namespace the container sees only its own cgroup, bound from the
        // host's hierarchy (as runc does), so /sys/fs/cgroup/memory/memory.limit_in_bytes is
        // its limit. In a cgroup namespace (own path "/") a fresh mount shows the namespace
        // root. A hierarchy that cannot be mounted here (e.g. v1 inside a user namespace) is
        // left out rather than failing the container.
        let mounted = match own_path(&own, &data).filter(|p| p.as_str() != "/") {
            Some(path) => {
                let source = format!("/sys/fs/cgroup/{dir}{path}");
                rustix::mount::mount_bind(source.as_str(), proc_fd_path(&fd).as_str()).is_ok()
                    && remount_bind(
                        root,
                        &sub,
                        opts.flags | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
                    )
                    .is_ok()
            }
            None => {
                let data = CString::new(data).unwrap_or_default();
                rustix::mount::mount(
                    "cgroup",
                    proc_fd_path(&fd).as_str(),
                    "cgroup",
                    opts.flags,
                    Some(data.as_c_str()),
                )
                .is_ok()
            }
        };
        if !mounted {
            continue;
        }
        // cpu,cpuacct → also reachable as cpu and cpuacct.
        if dir.contains(',') {
            let parent = open_in_root(root, dest).sys(|| "reopen cgroup dir".into())?;
            for part in dir.split(',') {
                let _ = rustix::fs::symlinkat(dir.as_str(), &parent, part);
            }
        }
    }
    if opts.flags.contains(MountFlags::RDONLY) {
        remount_bind(root, dest, opts.flags)?;
    }
    Ok(())
}

/// This process's v1 cgroups: (controllers of the hierarchy, path), from /proc/self/cgroup.
fn own_v1_cgroups() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    parse_proc_cgroup(&text)
}

/// Parses /proc/<pid>/cgroup lines `id:controllers:path` of v1 hierarchies.
fn parse_proc_cgroup(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
            (!controllers.is_empty()).then(|| (controllers.to_string(), path.to_string()))
        })
        .collect()
}

/// The path of the hierarchy mounted with `data` (e.g. "cpu,cpuacct" or "xattr,name=systemd").
fn own_path(own: &[(String, String)], data: &str) -> Option<String> {
    let opts: Vec<&str> = data.split(',').collect();
    own.iter()
        .find(|(controllers, _)| controllers.split(',').all(|c| opts.contains(&c)))
        .map(|(_, p)| p.clone())
}

/// The host's cgroup v1 hierarchies: (directory name under /sys/fs/cgroup, mount data).
fn v1_hierarchies() -> Vec<(String, String)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = Vec::new();
    for line in info.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut post = post.split(' ');
        if post.next() != Some("cgroup") {
            continue;
        }
        let super_opts = post.nth(1).unwrap_or("");
        let Some(mountpoint) = pre.split(' ').nth(4) else {
            continue;
        };
        let Some(name) = mountpoint.strip_prefix("/sys/fs/cgroup/") else {
            continue;
        };
        let data: Vec<&str> = super_opts
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .collect();
        out.push((name.to_string(), data.join(",")));
    }
    out
}

/// Switches the root to `rootfs` (pivot_root, or MS_MOVE + chroot with `no_pivot`), then
/// gives the new root the spec's rootfs propagation.
pub(crate) fn switch_root(spec: &Spec, rootfs: &Path, no_pivot: bool) -> Result<()> {
    rustix::process::chdir(rootfs).sys(|| format!("chdir {}", rootfs.display()))?;
    if no_pivot {
        rustix::mount::mount_move(".", "/").sys(|| "move rootfs to /".into())?;
        rustix::process::chroot(".").sys(|| "chroot".into())?;
    } else {
        rustix::process::pivot_root(".", ".").sys(|| "pivot_root".into())?;
        // The old root is now stacked under the new one: detach it without propagating.
        rustix::mount::mount_change(
            ".",
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
        )
        .sys(|| "make old root a slave".into())?;
        rustix::mount::unmount(".", UnmountFlags::DETACH).sys(|| "detach old root".into())?;
    }
    rustix::process::chdir("/").sys(|| "chdir /".into())?;
    // Only now, on the container's own root mount: a shared root gets a peer group of its
    // own, never the host's.
    if let Some(p) = requested_propagation(spec)? {
        rustix::mount::mount_change("/", p)
            .map_err(|e| invalid("linux.rootfsPropagation", format!("apply to /: {e}")))?;
    }
    Ok(())
}

/// After the switch: masked paths, read-only paths, and a read-only root when asked.
pub(crate) fn finish(spec: &Spec) -> Result<()> {
    let root = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .sys(|| "open /".into())?;
    if let Some(linux) = spec.linux() {
        for (i, p) in linux.readonly_paths().iter().flatten().enumerate() {
            readonly_path(&root, Path::new(p))
                .map_err(|e| prefix_field(e, &format!("linux.readonlyPaths[{i}]")))?;
        }
        for (i, p) in linux.masked_paths().iter().flatten().enumerate() {
            mask_path(&root, Path::new(p))
                .map_err(|e| prefix_field(e, &format!("linux.maskedPaths[{i}]")))?;
        }
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        remount_fd(&root, MountFlags::RDONLY).map_err(|e| prefix_field(e, "root.readonly"))?;
    }
    Ok(())
}

fn readonly_path(root: &OwnedFd, path: &Path) -> Result<()> {
    let fd = match open_in_root(root, path) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).sys(|| format!("open {}", path.display())),
    };
    let p = proc_fd_path(&fd);
    rustix::mount::mount(
        p.as_str(),
        p.as_str(),
        "",
        MountFlags::BIND | MountFlags::REC,
        None,
    )
    .sys(|| format!("bind {}", path.display()))?;
    remount_bind(
        root,
        path,
        MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
    )
}

fn mask_path(root: &OwnedFd, path: &Path) -> Result<()> {
    let fd = match open_in_root(root, path) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).sys(|| format!("open {}", path.display())),
    };
    let st = rustix::fs::fstat(&fd).sys(|| format!("stat {}", path.display()))?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        rustix::mount::mount(
            "tmpfs",
            proc_fd_path(&fd).as_str(),
            "tmpfs",
            MountFlags::RDONLY,
            None,
        )
        .sys(|| format!("mask {}", path.display()))
    } else {
        rustix::mount::mount(
            "/dev/null",
            proc_fd_path(&fd).as_str(),
            "",
            MountFlags::BIND,
            None,
        )
        .sys(|| format!("mask {}", path.display()))
    }
}

/// Writes each `linux.sysctl` entry under /proc/sys (after /proc is the container's).
pub(crate) fn apply_sysctl(spec: &Spec) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for (key, value) in sysctl {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value.as_bytes()).map_err(|e| {
            invalid(
                format!("linux.sysctl.{key}"),
                format!("write {}: {e}", path.display()),
            )
        })?;
    }
    Ok(())
}

/// The device type letter for mknod.
pub(crate) fn device_file_type(t: LinuxDeviceType) -> Option<FileType> {
    match t {
        LinuxDeviceType::C | LinuxDeviceType::U => Some(FileType::CharacterDevice),
        LinuxDeviceType::B => Some(FileType::BlockDevice),
        LinuxDeviceType::P => Some(FileType::Fifo),
        LinuxDeviceType::A => None,
    }
}

/// Helper for [`crate::devices`]: binds host `src` onto `target` (for user namespaces).
pub(crate) fn bind_host_file(src: &Path, target: &impl AsFd) -> Result<()> {
    let t = target.as_fd().try_clone_to_owned().sys(|| "dup".into())?;
    rustix::mount::mount(src, proc_fd_path(&t).as_str(), "", MountFlags::BIND, None)
        .sys(|| format!("bind {}", src.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_v1_paths_match_their_hierarchy() {
        let own = parse_proc_cgroup(
            "12:memory:/berth/abc\n4:cpu,cpuacct:/berth/abc\n1:name=systemd:/init.scope\n0::/berth/abc\n",
        );
        assert_eq!(own.len(), 3, "{own:?}");
        assert_eq!(own_path(&own, "memory").as_deref(), Some("/berth/abc"));
        assert_eq!(own_path(&own, "cpu,cpuacct").as_deref(), Some("/berth/abc"));
        assert_eq!(
            own_path(&own, "xattr,name=systemd").as_deref(),
            Some("/init.scope")
        );
        assert_eq!(own_path(&own, "pids"), None);
    }
}
