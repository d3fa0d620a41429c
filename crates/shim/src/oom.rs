//! Whether the OOM killer killed a process of the container, read from its cgroup before the
//! runtime removes it (`runtime delete` destroys the cgroup, so the daemon cannot look later).
//!
//! The cgroup is found once, right after `runtime create`, from `/proc/<pid>/cgroup` and the
//! shim's `/proc/self/mountinfo`: cgroup v1's memory hierarchy (`memory.oom_control`,
//! `oom_kill`) and the v2 hierarchy (`memory.events`, `oom_kill`). A hybrid host has both;
//! whichever has the memory controller counts.

use std::path::{Path, PathBuf};

/// The container's OOM counter files: (file, key whose value counts OOM kills).
#[derive(Debug, Default, Clone)]
pub(crate) struct OomCounter {
    files: Vec<PathBuf>,
}

impl OomCounter {
    /// The counter files of `pid`'s cgroups (none found: never reports a kill).
    pub(crate) fn of_pid(pid: i32) -> OomCounter {
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        OomCounter {
            files: counter_files(&cgroups, &mountinfo),
        }
    }

    /// How many processes the OOM killer killed in the container's cgroup so far.
    pub(crate) fn kills(&self) -> u64 {
        self.files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .map(|text| oom_kill_value(&text))
            .sum()
    }
}

/// The `oom_kill` line of a flat-keyed file (`memory.oom_control`, `memory.events`).
fn oom_kill_value(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The counter files for a process whose `/proc/<pid>/cgroup` is `cgroups`.
fn counter_files(cgroups: &str, mountinfo: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (fstype, file) = if controllers.is_empty() {
            ("cgroup2", "memory.events")
        } else if controllers.split(',').any(|c| c == "memory") {
            ("cgroup", "memory.oom_control")
        } else {
            continue;
        };
        if let Some(dir) = mounted_dir(mountinfo, fstype, path) {
            let f = dir.join(file);
            if f.exists() {
                files.push(f);
            }
        }
    }
    files
}

/// Where the cgroup `path` of a hierarchy of type `fstype` (v1: the memory one) is mounted.
fn mounted_dir(mountinfo: &str, fstype: &str, path: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut r = right.split_whitespace();
        if r.next()? != fstype {
            return None;
        }
        let super_opts = r.nth(1).unwrap_or("");
        if fstype == "cgroup" && !super_opts.split(',').any(|o| o == "memory") {
            return None;
        }
        let l: Vec<&str> = left.split_whitespace().collect();
        let (root, mount_point) = (*l.get(3)?, *l.get(4)?);
        let rel = path.strip_prefix(root)?.trim_start_matches('/');
        Some(Path::new(mount_point).join(rel))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
";

    #[test]
    fn v1_memory_hierarchy_is_found_on_a_hybrid_host() {
        let cgroups = "12:pids:/berth/abc\n5:memory:/berth/abc\n0::/berth/abc\n";
        let dir = mounted_dir(MOUNTINFO, "cgroup", "/berth/abc").unwrap();
        assert_eq!(dir, Path::new("/sys/fs/cgroup/memory/berth/abc"));
        let v2 = mounted_dir(MOUNTINFO, "cgroup2", "/berth/abc").unwrap();
        assert_eq!(v2, Path::new("/sys/fs/cgroup/unified/berth/abc"));
        // Files that do not exist on this machine are left out.
        let _ = counter_files(cgroups, MOUNTINFO);
    }

    #[test]
    fn a_mount_of_a_sub_tree_is_resolved_against_its_root() {
        let mi = "40 1 0:40 /outer /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            mounted_dir(mi, "cgroup2", "/outer/inner").unwrap(),
            Path::new("/sys/fs/cgroup/inner")
        );
        assert!(mounted_dir(mi, "cgroup2", "/elsewhere").is_none());
    }

    #[test]
    fn oom_kill_lines_are_read_from_both_formats() {
        assert_eq!(
            oom_kill_value("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"),
            3
        );
        assert_eq!(
            oom_kill_value("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n"),
            1
        );
        assert_eq!(oom_kill_value("oom_kill_disable 0\n"), 0);
    }
}
