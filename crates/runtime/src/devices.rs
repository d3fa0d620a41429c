//! /dev inside the container: the devices every container gets (null, zero, full, random,
//! urandom, tty), those `linux.devices` lists, and the usual symlinks.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, Spec};
use rustix::fs::{Gid, Mode, Uid};

use crate::error::{invalid, Context, Result};
use berth_inroot::{create_in_root, open_in_root};

struct Device {
    path: PathBuf,
    typ: rustix::fs::FileType,
    major: u32,
    minor: u32,
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
}

fn defaults() -> Vec<Device> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| Device {
        path: PathBuf::from("/dev").join(name),
        typ: rustix::fs::FileType::CharacterDevice,
        major,
        minor,
        mode: 0o666,
        uid: None,
        gid: None,
    })
    .collect()
}

/// Creates the default and the spec's devices under the rootfs, then the /dev symlinks.
pub fn create_devices(root: &OwnedFd, spec: &Spec) -> Result<()> {
    let mut devices = defaults();
    if let Some(list) = spec.linux().as_ref().and_then(|l| l.devices().as_ref()) {
        for (i, d) in list.iter().enumerate() {
            let typ = crate::rootfs::device_file_type(d.typ()).ok_or_else(|| {
                invalid(format!("linux.devices[{i}].type"), "must be c, b, u or p")
            })?;
            devices.retain(|x| x.path != *d.path());
            devices.push(Device {
                path: d.path().clone(),
                typ,
                major: u32::try_from(d.major())
                    .map_err(|_| invalid(format!("linux.devices[{i}].major"), "out of range"))?,
                minor: u32::try_from(d.minor())
                    .map_err(|_| invalid(format!("linux.devices[{i}].minor"), "out of range"))?,
                mode: d.file_mode().unwrap_or(0o666),
                uid: d.uid(),
                gid: d.gid(),
            });
        }
    }
    let old = rustix::process::umask(Mode::empty());
    let res = devices.iter().try_for_each(|d| make_device(root, d));
    rustix::process::umask(old);
    res?;
    let dev = create_in_root(root, Path::new("/dev"), true).sys(|| "mkdir /dev".into())?;
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let _ = rustix::fs::symlinkat(target, &dev, link);
    }
    if Path::new("/proc/kcore").exists() {
        let _ = rustix::fs::symlinkat("/proc/kcore", &dev, "core");
    }
    if open_in_root(root, Path::new("/dev/pts/ptmx")).is_ok() {
        let _ = rustix::fs::unlinkat(&dev, "ptmx", rustix::fs::AtFlags::empty());
        let _ = rustix::fs::symlinkat("pts/ptmx", &dev, "ptmx");
    }
    Ok(())
}

fn make_device(root: &OwnedFd, d: &Device) -> Result<()> {
    if open_in_root(root, &d.path).is_ok() {
        return Ok(());
    }
    let parent_path = d.path.parent().unwrap_or(Path::new("/dev"));
    let name = d.path.file_name().unwrap_or_default();
    let parent = create_in_root(root, parent_path, true)
        .sys(|| format!("mkdir {}", parent_path.display()))?;
    let dev = rustix::fs::makedev(d.major, d.minor);
    match rustix::fs::mknodat(&parent, name, d.typ, Mode::from_raw_mode(d.mode), dev) {
        Ok(()) => {
            if d.uid.is_some() || d.gid.is_some() {
                rustix::fs::chownat(
                    &parent,
                    name,
                    d.uid.map(Uid::from_raw),
                    d.gid.map(Gid::from_raw),
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                )
                .sys(|| format!("chown {}", d.path.display()))?;
            }
            Ok(())
        }
        // In a user namespace mknod is not allowed: bind the host's device instead.
        Err(rustix::io::Errno::PERM) => {
            let target = create_in_root(root, &d.path, false)
                .sys(|| format!("create {}", d.path.display()))?;
            crate::rootfs::bind_host_file(&d.path, &target)
        }
        Err(e) => Err(e).sys(|| format!("mknod {}", d.path.display())),
    }
}

/// The spec's device cgroup rules followed by the rules every container needs, as runc adds
/// them: the default devices, the spec's `linux.devices`, /dev/console, /dev/ptmx and ptys.
/// (A spec usually starts with "deny all"; later rules win.)
pub fn with_default_device_rules(
    mut resources: LinuxResources,
    devices: Option<&Vec<LinuxDevice>>,
) -> LinuxResources {
    let mut rules = resources.devices().clone().unwrap_or_default();
    let rule = |typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some("rwm".to_string()));
        r
    };
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        rules.push(rule(LinuxDeviceType::C, Some(major), Some(minor)));
    }
    rules.push(rule(LinuxDeviceType::C, Some(136), None));
    for d in devices.into_iter().flatten() {
        rules.push(rule(d.typ(), Some(d.major()), Some(d.minor())));
    }
    resources.set_devices(Some(rules));
    resources
}
