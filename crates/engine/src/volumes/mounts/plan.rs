//! At create: [`plan`] checks `VolumesFrom`, `Binds`, `Mounts` and `Volumes` and turns
//! them into the mounts to record and the volumes to make.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::super::mount_spec::{self, parse_bind};
use crate::error::{EngineError, Result};
use berth_api_types::{ContainerConfig, HostConfig, Labels};
use berth_volume::{anonymous_name, MountSpec, MountType, VolumeStore};

use super::*;
use crate::record::{ContainerMount, ContainerStore};

/// A volume [`plan`] needs that may not exist yet.
#[derive(Debug, Clone)]
pub(super) struct NewVolume {
    pub(super) name: String,
    pub(super) labels: Labels,
    pub(super) options: Labels,
    pub(super) anonymous: bool,
}

/// The outcome of [`plan`]: the mounts to record and the volumes to make.
#[derive(Debug, Default)]
pub struct Plan {
    /// In destination order.
    pub mounts: Vec<ContainerMount>,
    pub(super) volumes: Vec<NewVolume>,
}

fn dup(dest: &str) -> EngineError {
    EngineError::invalid(format!("Duplicate mount point: {dest}"))
}

fn check_driver(driver: &str) -> Result<()> {
    VolumeStore::check_create("check", driver, &Labels::new()).map_err(EngineError::from)
}

/// Decides a new container's mounts; checks all of it and makes nothing.
pub fn plan(c: &ContainerStore, config: &ContainerConfig, host: &HostConfig) -> Result<Plan> {
    let mut plan = Plan::default();
    let mut by_dest: BTreeMap<String, ContainerMount> = BTreeMap::new();
    let mut wants: BTreeMap<String, NewVolume> = BTreeMap::new();
    let driver = host.volume_driver.as_str();

    for from in host.volumes_from.iter().flatten() {
        let (reference, mode) = match from.split_once(':') {
            Some((r, m)) => (r, m),
            None => (from.as_str(), ""),
        };
        let ro = match mode {
            "" | "rw" => false,
            "ro" => true,
            m if m.split(',').all(|o| matches!(o, "ro" | "rw" | "z" | "Z")) => {
                m.split(',').any(|o| o == "ro")
            }
            m => return Err(EngineError::invalid(format!("invalid mode: {m}"))),
        };
        let src = c.lookup(reference)?;
        for m in &src.mounts {
            let mut m = m.clone();
            m.rw = m.rw && !ro;
            m.copy_data = false;
            by_dest.insert(m.destination.clone(), m);
        }
    }

    let mut explicit: HashSet<String> = HashSet::new();
    for b in host.binds.iter().flatten() {
        if let [_, mode] = b.split(':').collect::<Vec<_>>()[..] {
            if is_mode(mode) {
                // A destination with a mode but no source: Docker refuses it.
                return Err(EngineError::invalid(format!(
                    "invalid volume specification: '{b}'"
                )));
            }
        }
        let spec = parse_bind(b)?;
        let dest = clean(&spec.target);
        if !explicit.insert(dest.clone()) {
            return Err(dup(&dest));
        }
        let mode = b.splitn(3, ':').nth(2).unwrap_or("").to_string();
        let m = match (spec.mount_type(), &spec.source) {
            (MountType::Bind, Some(src)) => ContainerMount {
                kind: "bind".into(),
                source: clean(src),
                destination: dest.clone(),
                mode,
                rw: !spec.read_only,
                propagation: spec
                    .propagation
                    .map(|p| p.as_str())
                    .unwrap_or("rprivate")
                    .into(),
                create_host_path: true,
                ..Default::default()
            },
            (_, source) => {
                check_driver(driver)?;
                let (name, anonymous) = match source {
                    Some(n) => (n.clone(), false),
                    None => (anonymous_name(), true),
                };
                wants.entry(name.clone()).or_insert(NewVolume {
                    name: name.clone(),
                    labels: Labels::new(),
                    options: Labels::new(),
                    anonymous,
                });
                ContainerMount {
                    kind: "volume".into(),
                    name,
                    destination: dest.clone(),
                    mode: if mode.is_empty() { "z".into() } else { mode },
                    rw: !spec.read_only,
                    copy_data: !spec.no_copy,
                    ..Default::default()
                }
            }
        };
        by_dest.insert(dest, m);
    }

    for api in host.mounts.iter().flatten() {
        let spec = mount_spec::from_api(api)?;
        let dest = clean(&spec.target);
        if !explicit.insert(dest.clone()) {
            return Err(dup(&dest));
        }
        let mut m = mount_from_spec(&spec, &dest, driver, &mut wants)?;
        let subpath = api.volume_options.as_ref().map(|o| o.subpath.as_str());
        if let Some(sub) = subpath.filter(|s| !s.is_empty()) {
            check_subpath(&m, sub)?;
            m.subpath = sub.to_string();
        }
        by_dest.insert(dest, m);
    }

    let tmpfs_dests: HashSet<String> = host.tmpfs.iter().flatten().map(|(d, _)| clean(d)).collect();
    for (dest, opts) in host.tmpfs.iter().flatten() {
        check_target(dest)?;
        tmpfs_options(opts)?;
    }
    for dest in config.volumes.iter().flat_map(|v| v.keys()) {
        check_target(dest)?;
        let dest = clean(dest);
        if by_dest.contains_key(&dest) || tmpfs_dests.contains(&dest) {
            continue;
        }
        check_driver(driver)?;
        let name = anonymous_name();
        wants.insert(
            name.clone(),
            NewVolume {
                name: name.clone(),
                labels: Labels::new(),
                options: Labels::new(),
                anonymous: true,
            },
        );
        by_dest.insert(
            dest.clone(),
            ContainerMount {
                kind: "volume".into(),
                name,
                destination: dest,
                rw: true,
                copy_data: true,
                ..Default::default()
            },
        );
    }
    for v in wants.values() {
        VolumeStore::check_create(&v.name, driver, &v.options).map_err(EngineError::from)?;
    }
    // Only volumes still mounted are made (a bind may have replaced a volumes-from one).
    let used: HashSet<&str> = by_dest
        .values()
        .filter(|m| m.is_volume())
        .map(|m| m.name.as_str())
        .collect();
    plan.volumes = wants
        .into_values()
        .filter(|v| used.contains(v.name.as_str()))
        .collect();
    plan.mounts = by_dest.into_values().collect();
    Ok(plan)
}

fn is_mode(s: &str) -> bool {
    s.split(',').all(|o| {
        matches!(
            o,
            "ro" | "rw"
                | "z"
                | "Z"
                | "nocopy"
                | "private"
                | "rprivate"
                | "shared"
                | "rshared"
                | "slave"
                | "rslave"
        )
    })
}

fn check_target(dest: &str) -> Result<()> {
    if !dest.starts_with('/') {
        return Err(EngineError::invalid(format!(
            "invalid mount path: '{dest}' mount path must be absolute"
        )));
    }
    if clean(dest) == "/" {
        return Err(EngineError::invalid(
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(())
}

/// A `VolumeOptions.Subpath` as Docker takes it: on a named volume, relative, inside it.
fn check_subpath(m: &ContainerMount, sub: &str) -> Result<()> {
    let bad = |why: &str| {
        EngineError::invalid(format!("invalid mount config for type \"volume\": {why}"))
    };
    if !m.is_volume() {
        return Err(bad("subpath is only for volume mounts"));
    }
    if m.name.is_empty() {
        return Err(bad("must not set Subpath when Source is empty"));
    }
    let p = Path::new(sub);
    if p.is_absolute() || p.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(bad("subpath must be a relative path within the volume"));
    }
    Ok(())
}

fn mount_from_spec(
    spec: &MountSpec,
    dest: &str,
    driver: &str,
    wants: &mut BTreeMap<String, NewVolume>,
) -> Result<ContainerMount> {
    Ok(match spec.mount_type() {
        MountType::Bind => ContainerMount {
            kind: "bind".into(),
            source: clean(spec.source.as_deref().unwrap_or("")),
            destination: dest.to_string(),
            rw: !spec.read_only,
            propagation: spec
                .propagation
                .map(|p| p.as_str())
                .unwrap_or("rprivate")
                .into(),
            create_host_path: spec.create_host_path,
            ..Default::default()
        },
        MountType::Volume => {
            let drv = spec.volume_driver.as_deref().unwrap_or(driver);
            check_driver(drv)?;
            let (name, anonymous) = match &spec.source {
                Some(n) => (n.clone(), false),
                None => (anonymous_name(), true),
            };
            let entry = wants.entry(name.clone()).or_insert(NewVolume {
                name: name.clone(),
                labels: Labels::new(),
                options: Labels::new(),
                anonymous,
            });
            entry.labels.extend(spec.volume_labels.clone());
            entry.options.extend(spec.volume_options.clone());
            ContainerMount {
                kind: "volume".into(),
                name,
                destination: dest.to_string(),
                mode: "z".into(),
                rw: !spec.read_only,
                copy_data: !spec.no_copy,
                ..Default::default()
            }
        }
        MountType::Tmpfs => {
            let mut data = Vec::new();
            if let Some(s) = spec.tmpfs_size {
                data.push(format!("size={s}"));
            }
            if let Some(m) = spec.tmpfs_mode {
                data.push(format!("mode={m:o}"));
            }
            ContainerMount {
                kind: "tmpfs".into(),
                destination: dest.to_string(),
                rw: !spec.read_only,
                tmpfs_data: data.join(","),
                ..Default::default()
            }
        }
    })
}
