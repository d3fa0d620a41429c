//! Where the cgroup hierarchies are mounted (from /proc/self/mountinfo) and which cgroup
//! this process is in (from /proc/self/cgroup).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{CgroupError, Result};

/// Which cgroup interface drives the controllers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    /// Legacy v1 hierarchies, one per controller (or co-mounted group). A v1/v2 hybrid
    /// (controllers on v1, an empty cgroup2 tree beside them) counts as V1.
    V1,
    /// The unified v2 hierarchy holds the controllers.
    V2,
}

/// One mounted v1 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V1Mount {
    /// Where it is mounted, e.g. /sys/fs/cgroup/memory.
    pub mount_point: PathBuf,
    /// The cgroup of the hierarchy shown at the mount point ("/" unless bind-mounted).
    pub root: String,
    /// Controllers bound to it ("cpu", "cpuacct", ..., or "name=systemd").
    pub controllers: Vec<String>,
}

/// The mounted cgroup2 tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnifiedMount {
    /// Where it is mounted, e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified.
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point ("/" unless bind-mounted).
    pub root: String,
}

/// The cgroup filesystems of a host (or a fake directory tree, for tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// V1 when any v1 controller hierarchy is mounted, else V2.
    pub version: Version,
    /// The v1 hierarchies (empty on pure v2).
    pub v1: Vec<V1Mount>,
    /// The cgroup2 tree, if mounted (pure v2, or the hybrid's unified tree).
    pub unified: Option<UnifiedMount>,
    /// On V2, whether `create` enables controllers in the ancestors' cgroup.subtree_control.
    pub enable_controllers: bool,
}

/// The v1 controllers berth knows; other mount options are ignored.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "pids",
    "blkio",
    "devices",
    "freezer",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
];

impl Layout {
    /// The layout of this host, parsed once from /proc/self/mountinfo and cached.
    pub fn host() -> Result<&'static Layout> {
        static HOST: OnceLock<Layout> = OnceLock::new();
        if let Some(l) = HOST.get() {
            return Ok(l);
        }
        let path = Path::new("/proc/self/mountinfo");
        let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Io {
            op: "read",
            path: path.into(),
            source,
        })?;
        let layout = Layout::from_mountinfo(&text).ok_or_else(|| CgroupError::NotMounted {
            mountinfo: path.into(),
        })?;
        Ok(HOST.get_or_init(|| layout))
    }

    /// Parses mountinfo text; `None` when no cgroup filesystem is mounted.
    pub fn from_mountinfo(text: &str) -> Option<Layout> {
        let mut v1: Vec<V1Mount> = Vec::new();
        let mut unified = None;
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let fields: Vec<&str> = left.split(' ').collect();
            let rfields: Vec<&str> = right.split(' ').collect();
            if fields.len() < 5 || rfields.len() < 3 {
                continue;
            }
            let root = unescape(fields[3]);
            let mount_point = PathBuf::from(unescape(fields[4]));
            match rfields[0] {
                "cgroup2" if unified.is_none() => {
                    unified = Some(UnifiedMount { mount_point, root })
                }
                "cgroup" => {
                    let controllers: Vec<String> = rfields[2]
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(String::from)
                        .collect();
                    let seen = v1
                        .iter()
                        .any(|m| m.controllers.iter().any(|c| controllers.contains(c)));
                    if !controllers.is_empty() && !seen {
                        v1.push(V1Mount {
                            mount_point,
                            root,
                            controllers,
                        });
                    }
                }
                _ => {}
            }
        }
        let has_v1_controllers = v1
            .iter()
            .any(|m| m.controllers.iter().any(|c| !c.starts_with("name=")));
        let version = if has_v1_controllers {
            Version::V1
        } else if unified.is_some() {
            v1.clear();
            Version::V2
        } else {
            return None;
        };
        Some(Layout {
            version,
            v1,
            unified,
            enable_controllers: true,
        })
    }

    /// A pure v2 layout whose unified tree is mounted at `mount_point`. Used for fake
    /// cgroupfs directories in tests and for the unified tree of a hybrid host.
    pub fn unified_at(mount_point: impl Into<PathBuf>) -> Layout {
        Layout {
            version: Version::V2,
            v1: Vec::new(),
            unified: Some(UnifiedMount {
                mount_point: mount_point.into(),
                root: "/".into(),
            }),
            enable_controllers: true,
        }
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroups a process is in, keyed by v1 controller ("memory", "name=systemd") and by
/// "" for the unified tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnCgroups(pub BTreeMap<String, String>);

impl OwnCgroups {
    /// Reads /proc/self/cgroup.
    pub fn current() -> Result<OwnCgroups> {
        let path = Path::new("/proc/self/cgroup");
        let text = std::fs::read_to_string(path).map_err(|source| CgroupError::Io {
            op: "read",
            path: path.into(),
            source,
        })?;
        Ok(OwnCgroups::parse(&text))
    }

    /// Parses /proc/<pid>/cgroup text ("id:controllers:path" lines).
    pub fn parse(text: &str) -> OwnCgroups {
        let mut map = BTreeMap::new();
        for line in text.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if ctrls.is_empty() {
                map.insert(String::new(), path.to_string());
            } else {
                for c in ctrls.split(',') {
                    map.insert(c.to_string(), path.to_string());
                }
            }
        }
        OwnCgroups(map)
    }

    /// The cgroup path for a v1 controller, or for the unified tree with `""`.
    pub fn get(&self, controller: &str) -> Option<&str> {
        self.0.get(controller).map(String::as_str)
    }
}

/// The cgroup version driving this host's controllers (cached; see [`Layout::host`]).
/// Falls back to V2 when nothing can be read, so callers fail later with a precise error.
pub fn detect() -> Version {
    Layout::host().map(|l| l.version).unwrap_or(Version::V2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_counts_as_v1_and_keeps_the_unified_tree() {
        let l = Layout::from_mountinfo(HYBRID).unwrap();
        assert_eq!(l.version, Version::V1);
        assert_eq!(l.v1.len(), 3);
        assert_eq!(l.v1[0].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(l.v1[0].mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(l.v1[2].controllers, vec!["name=systemd"]);
        assert_eq!(
            l.unified.unwrap().mount_point,
            Path::new("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn pure_v2_and_none() {
        let l = Layout::from_mountinfo(
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
        )
        .unwrap();
        assert_eq!(l.version, Version::V2);
        assert!(l.v1.is_empty());
        assert!(Layout::from_mountinfo("22 1 0:5 / /proc rw - proc proc rw\n").is_none());
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(unescape(r"/a\\"), r"/a\\");
    }

    #[test]
    fn own_cgroups_parse() {
        let own = OwnCgroups::parse("4:memory:/x/y\n2:cpu,cpuacct:/\n1:name=systemd:/s\n0::/u\n");
        assert_eq!(own.get("memory"), Some("/x/y"));
        assert_eq!(own.get("cpuacct"), Some("/"));
        assert_eq!(own.get("name=systemd"), Some("/s"));
        assert_eq!(own.get(""), Some("/u"));
    }

    #[test]
    fn this_host_is_detected() {
        // Any Linux host running the tests has cgroups mounted.
        let l = Layout::host().unwrap();
        assert_eq!(detect(), l.version);
    }
}
