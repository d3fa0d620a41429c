//! What a container mounts, the way Docker decides it:
//! 1. at create, [`plan`] turns `HostConfig.VolumesFrom`, `Binds`, `Mounts` and the
//!    config's `Volumes` (the image's `VOLUME` plus `-v /path`) into [`ContainerMount`]s,
//!    checking everything first; [`Volumes::commit`] then creates the missing volumes and
//!    references them (undone by [`Volumes::rollback`] when the record cannot be written);
//! 2. at start, [`Volumes::oci_mounts`] resolves host paths (a device volume is mounted,
//!    an empty volume gets the image's content, a missing `-v` bind source directory is
//!    created) and [`apply`] puts them into `config.json` over the default mounts;
//! 3. at removal, [`Volumes::container_removed`] drops the references and, for `rm -v` and
//!    `--rm`, the container's anonymous volumes.

use std::collections::{BTreeMap, HashSet};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::mount_spec::{self, parse_bind};
use crate::error::{EngineError, Result};
use berth_api_types::{ContainerConfig, HostConfig, Labels, MountPoint};
use berth_volume::{anonymous_name, MountSpec, MountType, VolumeStore};
use oci_spec::runtime::Mount;

use crate::spec::mounts::{bind, tmpfs};

use super::Volumes;
use crate::record::{ContainerMount, ContainerRecord, ContainerStore};

impl ContainerMount {
    /// The `Mounts` entry of inspect and list.
    pub fn to_api(&self, store: &VolumeStore) -> MountPoint {
        let volume = self.is_volume();
        MountPoint {
            kind: self.kind.clone(),
            name: self.name.clone(),
            source: if volume {
                store.data_path(&self.name).display().to_string()
            } else {
                self.source.clone()
            },
            destination: self.destination.clone(),
            driver: if volume {
                "local".into()
            } else {
                String::new()
            },
            mode: self.mode.clone(),
            rw: self.rw,
            propagation: self.propagation.clone(),
        }
    }
}

/// A volume [`plan`] needs that may not exist yet.
#[derive(Debug, Clone)]
struct NewVolume {
    name: String,
    labels: Labels,
    options: Labels,
    anonymous: bool,
}

/// The outcome of [`plan`]: the mounts to record and the volumes to make.
#[derive(Debug, Default)]
pub struct Plan {
    /// In destination order.
    pub mounts: Vec<ContainerMount>,
    volumes: Vec<NewVolume>,
}

/// Docker's `path.Clean` of an absolute container path.
pub fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
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

/// The host directory a volume mount shows: the volume's data, or its `subpath` there
/// (which must exist and, symlinks resolved, stay inside the volume).
pub fn volume_source(data: &Path, subpath: &str) -> Result<PathBuf> {
    if subpath.is_empty() {
        return Ok(data.to_path_buf());
    }
    let joined = data.join(subpath);
    let real = std::fs::canonicalize(&joined).map_err(|e| {
        EngineError::invalid(format!(
            "cannot access path {}: lstat {}: {}",
            joined.display(),
            joined.display(),
            match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                _ => e.to_string(),
            }
        ))
    })?;
    let root = std::fs::canonicalize(data).map_err(EngineError::internal)?;
    if !real.starts_with(&root) {
        return Err(EngineError::invalid(format!(
            "cannot access path {}: the subpath leaves the volume",
            joined.display()
        )));
    }
    Ok(real)
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

const TMPFS_FLAGS: &[(&str, &str)] = &[
    ("ro", "rw"),
    ("exec", "noexec"),
    ("suid", "nosuid"),
    ("dev", "nodev"),
    ("sync", "async"),
    ("atime", "noatime"),
    ("diratime", "nodiratime"),
    ("relatime", "norelatime"),
    ("strictatime", "nostrictatime"),
    ("mand", "nomand"),
    ("dirsync", ""),
];

/// Docker's tmpfs options: `noexec,nosuid,nodev` unless overridden, then the user's
/// (`size=64m,mode=1777,exec,…`); an unknown flag is an error.
pub fn tmpfs_options(user: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = ["noexec", "nosuid", "nodev"].map(String::from).to_vec();
    for o in user.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if let Some((k, _)) = o.split_once('=') {
            out.retain(|x| !x.starts_with(&format!("{k}=")));
            out.push(o.to_string());
            continue;
        }
        let Some((a, b)) = TMPFS_FLAGS.iter().find(|(a, b)| *a == o || *b == o) else {
            return Err(EngineError::invalid(format!(
                "invalid tmpfs option [\"{o}\"]"
            )));
        };
        out.retain(|x| x != a && x != b);
        out.push(o.to_string());
    }
    Ok(out)
}

impl Volumes {
    /// Creates the plan's missing volumes and references every volume the container mounts.
    /// Returns the names it created (for [`rollback`](Self::rollback)).
    pub fn commit(&self, plan: &Plan, container: &str) -> Result<Vec<String>> {
        let mut created = Vec::new();
        let res = (|| -> Result<()> {
            for v in &plan.volumes {
                if self.store.inspect(&v.name).is_ok() {
                    continue;
                }
                self.store
                    .create_with(
                        &v.name,
                        "local",
                        v.labels.clone(),
                        v.options.clone(),
                        v.anonymous,
                    )
                    .map_err(EngineError::from)?;
                created.push(v.name.clone());
            }
            for m in plan.mounts.iter().filter(|m| m.is_volume()) {
                self.store
                    .add_ref(&m.name, container)
                    .map_err(EngineError::from)?;
            }
            Ok(())
        })();
        match res {
            Ok(()) => {
                for n in &created {
                    self.event("create", n, &[]);
                }
                Ok(created)
            }
            Err(e) => {
                self.rollback(plan, container, &created);
                Err(e)
            }
        }
    }

    /// Undoes [`commit`](Self::commit): drops the references and the volumes it created.
    pub fn rollback(&self, plan: &Plan, container: &str, created: &[String]) {
        for m in plan.mounts.iter().filter(|m| m.is_volume()) {
            self.store.remove_ref(&m.name, container);
        }
        for n in created {
            let _ = self.store.remove(n, true);
        }
    }

    /// The container's mounts as `config.json` entries, with host paths ready: device
    /// volumes mounted, empty volumes filled from the image (`rootfs`), `-v` bind sources
    /// created. On error nothing stays mounted for it.
    pub fn oci_mounts(&self, rec: &ContainerRecord, rootfs: &Path) -> Result<Vec<Mount>> {
        let res = self.oci_mounts_inner(rec, rootfs);
        if res.is_err() {
            self.store.unmount_container(&rec.id);
        }
        res
    }

    fn oci_mounts_inner(&self, rec: &ContainerRecord, rootfs: &Path) -> Result<Vec<Mount>> {
        let mut out = Vec::new();
        let bind_as = |dest: &str, src: &Path, prop: &str, rw: bool| {
            let prop = if prop.is_empty() { "rprivate" } else { prop };
            bind(dest, src, &[prop, if rw { "rw" } else { "ro" }])
        };
        for m in &rec.mounts {
            match m.kind.as_str() {
                "volume" => {
                    let path = self
                        .store
                        .mount(&m.name, &rec.id)
                        .map_err(EngineError::from)?;
                    if m.copy_data && m.subpath.is_empty() {
                        self.copy_up(&m.name, rootfs, &m.destination)?;
                    }
                    let path = volume_source(&path, &m.subpath)?;
                    out.push(bind_as(&m.destination, &path, &m.propagation, m.rw));
                }
                "bind" => {
                    let src = PathBuf::from(&m.source);
                    if !src.exists() {
                        if !m.create_host_path {
                            return Err(EngineError::invalid(format!(
                                "invalid mount config for type \"bind\": bind source path does not exist: {}",
                                m.source
                            )));
                        }
                        std::fs::create_dir_all(&src).map_err(|e| {
                            EngineError::internal(format!(
                                "error while creating mount source path '{}': {e}",
                                m.source
                            ))
                        })?;
                    }
                    out.push(bind_as(&m.destination, &src, &m.propagation, m.rw));
                }
                _ => {
                    let mut opts = tmpfs_options(&m.tmpfs_data)?;
                    if !m.rw {
                        opts.push("ro".into());
                    }
                    out.push(tmpfs(&m.destination, opts));
                }
            }
        }
        let taken: HashSet<String> = rec.mounts.iter().map(|m| m.destination.clone()).collect();
        for (dest, data) in rec.host_config.tmpfs.iter().flatten() {
            let dest = clean(dest);
            if taken.contains(&dest) {
                continue;
            }
            out.push(tmpfs(&dest, tmpfs_options(data)?));
        }
        Ok(out)
    }

    /// Copies the image's directory at `dest` into the volume if the volume is empty. The
    /// directory is looked up inside `rootfs` with `openat2(RESOLVE_IN_ROOT)`, so a symlink
    /// in the image cannot make berth copy host files into the volume.
    fn copy_up(&self, name: &str, rootfs: &Path, dest: &str) -> Result<()> {
        let root = std::fs::File::open(rootfs).map_err(|e| EngineError::internal(e.to_string()))?;
        let Ok(dir) = berth_inroot::open_in_root(&root, Path::new(dest)) else {
            return Ok(()); // nothing at that path in the image
        };
        let via = PathBuf::from(format!("/proc/self/fd/{}/.", dir.as_raw_fd()));
        self.store.copy_up(name, &via).map_err(EngineError::from)?;
        Ok(())
    }

    /// The container record is gone: drop its references; with `remove_anonymous`
    /// (`rm -v`, `--rm`) also remove its anonymous volumes no other container uses.
    pub fn container_removed(&self, rec: &ContainerRecord, remove_anonymous: bool) {
        self.store.unmount_container(&rec.id);
        for m in rec.mounts.iter().filter(|m| m.is_volume()) {
            self.store.remove_ref(&m.name, &rec.id);
        }
        if !remove_anonymous {
            return;
        }
        for m in rec.mounts.iter().filter(|m| m.is_volume()) {
            if self.store.is_anonymous(&m.name).unwrap_or(false)
                && self.store.remove(&m.name, false).is_ok()
            {
                self.event("destroy", &m.name, &[]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_paths_and_merges_tmpfs_options() {
        assert_eq!(clean("/a//b/./c/"), "/a/b/c");
        assert_eq!(clean("/a/../b"), "/b");
        assert_eq!(clean("/"), "/");
        assert_eq!(
            tmpfs_options("size=64m,exec").unwrap(),
            ["nosuid", "nodev", "size=64m", "exec"]
        );
        assert_eq!(tmpfs_options("").unwrap(), ["noexec", "nosuid", "nodev"]);
        assert!(tmpfs_options("bogus").is_err());
    }
}
