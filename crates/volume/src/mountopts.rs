//! `--opt type=… --opt device=… --opt o=…` of the local driver: turned into one mount(2).

use std::collections::BTreeMap;
use std::path::Path;

use rustix::mount::{MountFlags, UnmountFlags};

use crate::error::{Result, VolumeError};

/// Option keys the local driver accepts.
pub const VALID_KEYS: [&str; 4] = ["type", "device", "o", "size"];

/// Checks driver options like Docker's local driver.
pub fn validate(opts: &BTreeMap<String, String>) -> Result<()> {
    for k in opts.keys() {
        if !VALID_KEYS.contains(&k.as_str()) {
            return Err(VolumeError::InvalidArgument(format!(
                "invalid option key: {k:?}"
            )));
        }
    }
    if opts.contains_key("type") != opts.contains_key("device") {
        let missing = if opts.contains_key("type") {
            "device"
        } else {
            "type"
        };
        return Err(VolumeError::InvalidArgument(format!(
            "missing required option: {missing:?}"
        )));
    }
    if opts.contains_key("o") && !opts.contains_key("type") {
        return Err(VolumeError::InvalidArgument(
            "missing required option: \"type\"".into(),
        ));
    }
    Ok(())
}

/// True when the options ask for a mount.
pub fn needs_mount(opts: &BTreeMap<String, String>) -> bool {
    opts.contains_key("type") && opts.contains_key("device")
}

/// Splits `o=` into mount flags and the filesystem data string.
pub fn split_o(o: &str) -> (MountFlags, String) {
    let mut flags = MountFlags::empty();
    let mut data = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        match opt {
            "ro" => flags |= MountFlags::RDONLY,
            "rw" => {}
            "nosuid" => flags |= MountFlags::NOSUID,
            "nodev" => flags |= MountFlags::NODEV,
            "noexec" => flags |= MountFlags::NOEXEC,
            "sync" => flags |= MountFlags::SYNCHRONOUS,
            "noatime" => flags |= MountFlags::NOATIME,
            "nodiratime" => flags |= MountFlags::NODIRATIME,
            "relatime" => flags |= MountFlags::RELATIME,
            "bind" => flags |= MountFlags::BIND,
            "rbind" => flags |= MountFlags::BIND | MountFlags::REC,
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

/// Mounts the volume's device on `target`.
pub fn mount(opts: &BTreeMap<String, String>, target: &Path) -> Result<()> {
    let fstype = opts.get("type").map(String::as_str).unwrap_or("none");
    let device = opts.get("device").map(String::as_str).unwrap_or("none");
    let (flags, data) = split_o(opts.get("o").map(String::as_str).unwrap_or(""));
    let data = std::ffi::CString::new(data)
        .map_err(|_| VolumeError::InvalidArgument("mount options contain a NUL byte".into()))?;
    rustix::mount::mount(device, target, fstype, flags, Some(data.as_c_str()))
        .map_err(|e| VolumeError::io("mount", target, e.into()))
}

/// Unmounts `target` (lazily, so a busy mount does not fail container removal).
pub fn unmount(target: &Path) -> Result<()> {
    rustix::mount::unmount(target, UnmountFlags::DETACH)
        .map_err(|e| VolumeError::io("unmount", target, e.into()))
}

/// True when `path` is a mount point (from `/proc/self/mountinfo`).
pub fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validates_and_splits() {
        validate(&opts(&[
            ("type", "tmpfs"),
            ("device", "tmpfs"),
            ("o", "size=1m"),
        ]))
        .unwrap();
        validate(&opts(&[])).unwrap();
        assert_eq!(
            validate(&opts(&[("foo", "x")])).unwrap_err().to_string(),
            "invalid option key: \"foo\""
        );
        assert_eq!(
            validate(&opts(&[("type", "tmpfs")]))
                .unwrap_err()
                .to_string(),
            "missing required option: \"device\""
        );
        let (f, d) = split_o("ro,nosuid,size=10m,uid=1000");
        assert_eq!(f, MountFlags::RDONLY | MountFlags::NOSUID);
        assert_eq!(d, "size=10m,uid=1000");
    }
}
