//! At start: the record's mounts as OCI mounts, host paths resolved (device volumes
//! mounted, empty volumes filled from the image, missing bind sources created).

use std::collections::HashSet;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{EngineError, Result};
use oci_spec::runtime::Mount;

use crate::spec::mounts::{bind, tmpfs};

use super::super::Volumes;
use super::*;
use crate::record::ContainerRecord;

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
