//! `linux.devices` and their cgroup rules (moby's `WithDevices`): `--device` mappings
//! (libcontainer's `DeviceFromPath`, a directory giving every device under it),
//! `--device-cgroup-rule`, and every host device, all allowed, with `--privileged`.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_api_types::{DeviceMapping, HostConfig};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

use super::resources::device_rule;

/// moby's `deviceCgroupRuleRegex`: `c 1:3 rwm`, `a *:* m`, … as an OCI device rule.
pub fn device_cgroup_rule(rule: &str) -> Result<LinuxDeviceCgroup, String> {
    let bad = || format!("invalid device cgroup rule format: '{rule}'");
    let parts: Vec<&str> = rule.split(' ').collect();
    let [typ, numbers, access] = parts[..] else {
        return Err(bad());
    };
    let typ = match typ {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        _ => return Err(bad()),
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<Option<i64>, String> {
        if n == "*" {
            Ok(None)
        } else if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            n.parse().map(Some).map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (major, minor) = (number(major)?, number(minor)?);
    if access.is_empty() || access.len() > 3 || !access.bytes().all(|b| b"rwm".contains(&b)) {
        return Err(bad());
    }
    Ok(device_rule(true, Some(typ), major, minor, access))
}

/// `linux.devices` and the allow rules under `linux.resources.devices`.
#[derive(Debug, Default)]
pub struct Devices {
    /// Device nodes made in the container's /dev.
    pub nodes: Vec<LinuxDevice>,
    /// Device cgroup rules after the deny-all.
    pub rules: Vec<LinuxDeviceCgroup>,
}

/// The devices of `host`: every host device, all allowed, when privileged; else the
/// `--device` mappings and `--device-cgroup-rule`s.
pub fn devices(host: &HostConfig) -> Result<Devices, String> {
    let mut out = Devices::default();
    if host.privileged {
        out.nodes = host_devices(Path::new("/dev"));
        out.rules.push(device_rule(true, None, None, None, "rwm"));
        return Ok(out);
    }
    for d in host.resources.devices.iter().flatten() {
        let (nodes, rules) = devices_from_path(d)?;
        out.nodes.extend(nodes);
        out.rules.extend(rules);
    }
    for rule in host.resources.device_cgroup_rules.iter().flatten() {
        out.rules.push(device_cgroup_rule(rule)?);
    }
    Ok(out)
}

/// One host device as libcontainer's `DeviceFromPath` reads it, placed at `path`.
fn device_node(host_path: &Path, path: &Path) -> Result<LinuxDevice, String> {
    let meta = std::fs::symlink_metadata(host_path).map_err(|e| errno_text(&e))?;
    let ft = meta.file_type();
    let typ = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return Err("not a device node".into());
    };
    let rdev = meta.rdev();
    let mut d = LinuxDevice::default();
    d.set_path(path.to_path_buf())
        .set_typ(typ)
        .set_major(i64::from(rustix::fs::major(rdev)))
        .set_minor(i64::from(rustix::fs::minor(rdev)))
        .set_file_mode(Some(meta.mode() & 0o7777))
        .set_uid(Some(meta.uid()))
        .set_gid(Some(meta.gid()));
    Ok(d)
}

/// The rule allowing `node` with `access`.
fn node_rule(node: &LinuxDevice, access: &str) -> LinuxDeviceCgroup {
    device_rule(
        true,
        Some(node.typ()),
        Some(node.major()),
        Some(node.minor()),
        access,
    )
}

/// Go's text of an errno (`no such file or directory`).
fn errno_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    text.to_lowercase()
}

/// moby's `DevicesFromPath`: the device at `PathOnHost` (through a symlink), or every
/// device under it when it is a directory.
pub fn devices_from_path(
    d: &DeviceMapping,
) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>), String> {
    let on_host = PathBuf::from(&d.path_on_host);
    let resolved = match std::fs::symlink_metadata(&on_host) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(&on_host).unwrap_or(on_host.clone())
        }
        _ => on_host.clone(),
    };
    let in_container = if d.path_in_container.is_empty() {
        on_host.clone()
    } else {
        PathBuf::from(&d.path_in_container)
    };
    let access = if d.cgroup_permissions.is_empty() {
        "rwm"
    } else {
        d.cgroup_permissions.as_str()
    };
    let err = |e: String| {
        format!(
            "error gathering device information while adding custom device {:?}: {e}",
            d.path_on_host
        )
    };
    match device_node(&resolved, &in_container) {
        Ok(node) => {
            let r = node_rule(&node, access);
            Ok((vec![node], vec![r]))
        }
        Err(e) if e == "not a device node" && resolved.is_dir() => {
            let mut nodes = Vec::new();
            for entry in walk(&resolved) {
                let Ok(rel) = entry.strip_prefix(&resolved) else {
                    continue;
                };
                if let Ok(node) = device_node(&entry, &in_container.join(rel)) {
                    nodes.push(node);
                }
            }
            if nodes.is_empty() {
                return Err(err(e));
            }
            let rules = nodes.iter().map(|n| node_rule(n, access)).collect();
            Ok((nodes, rules))
        }
        Err(e) => Err(err(e)),
    }
}

/// Every path under `dir`, depth first, symlinks not followed.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(_) => out.push(p),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

/// libcontainer's `HostDevices`: the devices under /dev, except /dev/pts, /dev/shm,
/// /dev/fd, /dev/mqueue, /dev/.lxc, /dev/.udev and /dev/console.
fn host_devices(dev: &Path) -> Vec<LinuxDevice> {
    const SKIPPED_DIRS: &[&str] = &["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
    let mut stack = vec![dev.to_path_buf()];
    let mut found = Vec::new();
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            let name = entry.file_name();
            match entry.file_type() {
                Ok(t) if t.is_dir() && !SKIPPED_DIRS.iter().any(|s| name == *s) => stack.push(p),
                Ok(t) if (t.is_char_device() || t.is_block_device()) && name != "console" => {
                    found.push(p)
                }
                _ => {}
            }
        }
    }
    found.sort();
    found
        .iter()
        .filter_map(|p| device_node(p, p).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_cgroup_rules_as_docker_checks_them() {
        let r = device_cgroup_rule("c 42:* rm").unwrap();
        assert_eq!(
            (
                r.allow(),
                r.typ(),
                r.major(),
                r.minor(),
                r.access().as_deref()
            ),
            (true, Some(LinuxDeviceType::C), Some(42), None, Some("rm"))
        );
        let r = device_cgroup_rule("a *:* rwm").unwrap();
        assert_eq!((r.typ(), r.major()), (Some(LinuxDeviceType::A), None));
        for bad in [
            "c 1:3",
            "x 1:3 r",
            "c 1:3 rx",
            "c a:3 r",
            "c 1:3 rwmr",
            "c 1:3  r",
        ] {
            assert_eq!(
                device_cgroup_rule(bad).unwrap_err(),
                format!("invalid device cgroup rule format: '{bad}'")
            );
        }
    }

    #[test]
    fn devices_come_from_the_host_path() {
        let d = |host: &str, ctr: &str| DeviceMapping {
            path_on_host: host.into(),
            path_in_container: ctr.into(),
            cgroup_permissions: "rw".into(),
        };
        let (nodes, rules) = devices_from_path(&d("/dev/null", "/dev/mynull")).unwrap();
        assert_eq!(nodes[0].path(), Path::new("/dev/mynull"));
        assert_eq!(nodes[0].typ(), LinuxDeviceType::C);
        assert_eq!((nodes[0].major(), nodes[0].minor()), (1, 3));
        assert_eq!(rules[0].access().as_deref(), Some("rw"));
        assert_eq!(
            devices_from_path(&d("/dev/berth-no-such-device", "")).unwrap_err(),
            "error gathering device information while adding custom device \"/dev/berth-no-such-device\": no such file or directory"
        );
        assert_eq!(
            devices_from_path(&d("/etc/hostname", "")).unwrap_err(),
            "error gathering device information while adding custom device \"/etc/hostname\": not a device node"
        );
    }

    #[test]
    fn mappings_and_rules_of_a_host_config() {
        let mut host = HostConfig::default();
        host.resources.devices = Some(vec![DeviceMapping {
            path_on_host: "/dev/null".into(),
            path_in_container: String::new(),
            cgroup_permissions: String::new(),
        }]);
        host.resources.device_cgroup_rules = Some(vec!["b 8:0 r".into()]);
        let d = devices(&host).unwrap();
        assert_eq!(d.nodes[0].path(), Path::new("/dev/null"));
        assert_eq!(d.rules.len(), 2);
        assert_eq!(d.rules[0].access().as_deref(), Some("rwm"));
        assert_eq!(d.rules[1].typ(), Some(LinuxDeviceType::B));
    }
}
