//! [`Cgroup`]: one container's cgroup, resolved to a directory per hierarchy.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{CgroupError, Result};
use crate::layout::{Layout, OwnCgroups, Version};
use crate::path::{inner_path, CgroupsPath};
use crate::{fs, v1, v2};

/// A directory in one v1 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Dir {
    /// Controllers of the hierarchy ("cpu", "cpuacct", ... or "name=systemd").
    pub controllers: Vec<String>,
    /// The hierarchy's mount point.
    pub mount_point: PathBuf,
    /// The container's directory in it.
    pub path: PathBuf,
}

/// The container's directory in the cgroup2 tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct V2Dir {
    /// The tree's mount point.
    pub mount_point: PathBuf,
    /// The container's directory in it.
    pub path: PathBuf,
}

/// One container's cgroup: its resolved directories per hierarchy. Serialisable, so the
/// runtime stores it in state.json and later commands act on the same directories.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    /// Which interface drives the controllers.
    pub version: Version,
    /// V1 directories (empty on pure v2).
    pub v1: Vec<V1Dir>,
    /// The unified-tree directory (pure v2, or the hybrid's controller-less tree).
    pub unified: Option<V2Dir>,
    /// Pure v2: enable controllers in the ancestors' cgroup.subtree_control on create.
    #[serde(default)]
    pub enable_controllers: bool,
}

impl Cgroup {
    /// Resolves `linux.cgroupsPath` on this host (see [`crate::path`] for the forms).
    pub fn new(cgroups_path: Option<&str>, container_id: &str) -> Result<Cgroup> {
        let path = CgroupsPath::parse(cgroups_path, container_id)?;
        let own = match path {
            CgroupsPath::Relative(_) => OwnCgroups::current()?,
            CgroupsPath::Absolute(_) => OwnCgroups::default(),
        };
        Ok(Cgroup::with_layout(Layout::host()?, &path, &own))
    }

    /// Resolves a parsed path against an explicit layout and own-cgroup table (tests, fake
    /// cgroupfs trees, the unified tree of a hybrid host).
    pub fn with_layout(layout: &Layout, path: &CgroupsPath, own: &OwnCgroups) -> Cgroup {
        let pure_v2 = layout.version == Version::V2;
        let v1 = layout
            .v1
            .iter()
            .map(|m| {
                let own_path = m.controllers.iter().find_map(|c| own.get(c));
                let inner = inner_path(path, own_path, &m.root, false);
                V1Dir {
                    controllers: m.controllers.clone(),
                    mount_point: m.mount_point.clone(),
                    path: m.mount_point.join(inner),
                }
            })
            .collect();
        let unified = layout.unified.as_ref().map(|u| V2Dir {
            mount_point: u.mount_point.clone(),
            path: u
                .mount_point
                .join(inner_path(path, own.get(""), &u.root, pure_v2)),
        });
        Cgroup {
            version: layout.version,
            v1,
            unified,
            enable_controllers: pure_v2 && layout.enable_controllers,
        }
    }

    /// The directory of a v1 controller ("memory", "cpu", ..., "name=systemd").
    pub fn v1_path(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
            .map(|d| d.path.as_path())
    }

    /// The directory in the unified tree, if there is one.
    pub fn unified_path(&self) -> Option<&Path> {
        self.unified.as_ref().map(|u| u.path.as_path())
    }

    /// The unified directory, required on V2.
    pub(crate) fn v2_dir(&self) -> Result<&Path> {
        self.unified_path().ok_or_else(|| CgroupError::NotMounted {
            mountinfo: "/proc/self/mountinfo".into(),
        })
    }

    /// Every directory of this cgroup, each once.
    pub fn paths(&self) -> Vec<&Path> {
        let mut seen = BTreeSet::new();
        self.v1
            .iter()
            .map(|d| d.path.as_path())
            .chain(self.unified_path())
            .filter(|p| seen.insert(*p))
            .collect()
    }

    /// Creates the directories (mkdir -p) in every hierarchy. On v1 an empty cpuset gets its
    /// parent's cpus and mems; on pure v2 the ancestors delegate their controllers.
    pub fn create(&self) -> Result<()> {
        for d in &self.v1 {
            mkdir_all(&d.path)?;
            if d.controllers.iter().any(|c| c == "cpuset") {
                v1::cpuset::inherit_from_parents(&d.mount_point, &d.path)?;
            }
        }
        if let Some(u) = &self.unified {
            mkdir_all(&u.path)?;
            if self.version == Version::V2 && self.enable_controllers {
                v2::enable_controllers(&u.mount_point, &u.path)?;
            }
        }
        Ok(())
    }

    /// Moves process `pid` (and, on v1, all its threads) into the cgroup everywhere.
    pub fn add_process(&self, pid: i32) -> Result<()> {
        for p in self.paths() {
            fs::write(p, "cgroup.procs", pid.to_string())?;
        }
        Ok(())
    }

    /// Moves the calling thread into every v1 directory by writing `0` to its `tasks` file;
    /// for a single-threaded process (the runtime's init) that is the whole process. Writing
    /// a pid to `cgroup.procs` makes the kernel take the global threadgroup lock for writing,
    /// which waits for an RCU grace period (10-20 ms on some hosts); moving only the caller's
    /// own thread skips that lock on recent kernels (older ones are just slower). The unified
    /// tree refuses thread moves across domains: join it with [`Cgroup::unified_path`] and
    /// clone3(`CLONE_INTO_CGROUP`) or [`Cgroup::add_process_unified`].
    pub fn join_v1_as_current_thread(&self) -> Result<()> {
        let mut seen = BTreeSet::new();
        for d in self.v1.iter().filter(|d| seen.insert(d.path.as_path())) {
            fs::write(&d.path, "tasks", "0")?;
        }
        Ok(())
    }

    /// Moves process `pid` into the unified-tree directory only (no-op without one).
    pub fn add_process_unified(&self, pid: i32) -> Result<()> {
        match self.unified_path() {
            Some(p) => fs::write(p, "cgroup.procs", pid.to_string()),
            None => Ok(()),
        }
    }

    /// Applies `linux.resources` (also used for `runtime update`).
    pub fn apply_resources(&self, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
        match self.version {
            Version::V1 => v1::apply(self, r),
            Version::V2 => v2::apply(self.v2_dir()?, r),
        }
    }

    /// The processes in the cgroup and its descendants.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let dir = match self.version {
            Version::V2 => self.v2_dir()?,
            Version::V1 => ["pids", "freezer", "memory", "cpu", "devices"]
                .iter()
                .find_map(|c| self.v1_path(c))
                .or_else(|| self.paths().first().copied())
                .ok_or_else(|| CgroupError::NotMounted {
                    mountinfo: "/proc/self/mountinfo".into(),
                })?,
        };
        let mut pids = Vec::new();
        collect_pids(dir, &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// SIGKILLs every process in the cgroup and its descendants through the unified tree's
    /// `cgroup.kill` (Linux 5.14+; on a hybrid host too, since [`Cgroup::add_process`] puts
    /// processes there as well). Returns `false` when there is no `cgroup.kill`: the
    /// caller then signals [`Cgroup::pids`] itself (freeze first to stop forks racing it;
    /// on v1, thaw afterwards, as frozen tasks die only once thawed).
    pub fn kill_all(&self) -> Result<bool> {
        let Some(dir) = self.unified_path() else {
            return Ok(false);
        };
        if !dir.join("cgroup.kill").exists() {
            return Ok(false);
        }
        fs::write(dir, "cgroup.kill", "1")?;
        Ok(true)
    }

    /// Removes the directories (children first). Processes leaving a cgroup are released
    /// asynchronously, so EBUSY is retried briefly. Missing directories are fine.
    pub fn destroy(&self) -> Result<()> {
        let mut first_err = None;
        for p in self.paths() {
            if let Err(e) = remove_tree(p) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// True when any of the directories exists.
    pub fn exists(&self) -> bool {
        self.paths().iter().any(|p| p.exists())
    }
}

fn mkdir_all(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|source| CgroupError::Io {
        op: "mkdir",
        path: path.into(),
        source,
    })
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let text = match fs::read_opt(dir, "cgroup.procs")? {
        Some(t) => t,
        None => return Ok(()),
    };
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    for child in subdirs(dir)? {
        collect_pids(&child, out)?;
    }
    Ok(())
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CgroupError::Io {
                op: "read",
                path: dir.into(),
                source,
            })
        }
    };
    Ok(entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect())
}

fn remove_tree(dir: &Path) -> Result<()> {
    // The usual case has no child cgroups: try the directory itself before listing it.
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    for child in subdirs(dir)? {
        remove_tree(&child)?;
    }
    let mut delay = Duration::from_millis(5);
    for attempt in 0.. {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::ResourceBusy && attempt < 8 => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(100));
            }
            Err(source) => {
                return Err(CgroupError::Io {
                    op: "rmdir",
                    path: dir.into(),
                    source,
                })
            }
        }
    }
    unreachable!("the retry loop returns")
}
