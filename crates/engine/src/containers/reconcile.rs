//! Daemon start, before live restore: makes the container records and the host agree again
//! after a crash (`kill -9` of the daemon at any instant).
//!
//! The records (crash-safe, `berth-metadata`) are the truth for what *exists*; the shims
//! are the truth for what *runs*. Everything else a container owns — its snapshot, its
//! directories under the data and exec roots, its rootfs mount, its runtime state and
//! cgroup — is derived, and is repaired from those two:
//!
//! - a record marked `removing` (an `rm` cut short) is removed now, as Docker does;
//! - a shim (or runtime state, or cgroup) of a container that is not running by its record
//!   — or has no record — is killed and deleted (`runtime delete --force` kills what is
//!   left in the cgroup); a record that says running but whose shim is gone gets its
//!   leftover processes killed (live restore then records the exit);
//! - mounts under a container's state dir are unmounted unless the container runs (then
//!   only its `rootfs` stays), as are device volumes no running container uses;
//! - snapshots and directories without a record are deleted (never while something is
//!   still mounted below them); a record whose snapshot is gone becomes `dead`, so that
//!   `ps -a` shows it and `rm` removes it.
//!
//! Only what lies under this daemon's own roots, or is named by one of its container ids,
//! is touched: other daemons on the host (tests run several) are never affected.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Containers;
use crate::record::{ContainerRecord, KIND};

/// What a reconciliation repaired (printed by the daemon when not empty).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Containers whose interrupted removal was finished.
    pub finished_removals: Vec<String>,
    /// Containers marked dead (their snapshot is gone).
    pub marked_dead: Vec<String>,
    /// Container ids whose leftover shim, processes or runtime state were ended.
    pub stopped: Vec<String>,
    /// Cgroups removed (container ids).
    pub cgroups: Vec<String>,
    /// Mount points unmounted.
    pub unmounted: Vec<PathBuf>,
    /// Snapshots without a container (keys).
    pub orphan_snapshots: Vec<String>,
    /// Directories without a container.
    pub orphan_dirs: Vec<PathBuf>,
}

impl ReconcileReport {
    /// True when nothing needed repair.
    pub fn is_empty(&self) -> bool {
        *self == ReconcileReport::default()
    }
}

impl std::fmt::Display for ReconcileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |v: &[String]| {
            v.iter()
                .map(|s| s.chars().take(12).collect::<String>())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut parts = Vec::new();
        let mut add = |what: &str, n: usize, detail: String| {
            if n > 0 {
                parts.push(format!("{what} {n} [{detail}]"));
            }
        };
        add(
            "finished removals",
            self.finished_removals.len(),
            short(&self.finished_removals),
        );
        add(
            "marked dead",
            self.marked_dead.len(),
            short(&self.marked_dead),
        );
        add(
            "stopped leftovers",
            self.stopped.len(),
            short(&self.stopped),
        );
        add("removed cgroups", self.cgroups.len(), short(&self.cgroups));
        add(
            "unmounted",
            self.unmounted.len(),
            self.unmounted
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        add(
            "orphan snapshots",
            self.orphan_snapshots.len(),
            short(&self.orphan_snapshots),
        );
        add(
            "orphan directories",
            self.orphan_dirs.len(),
            self.orphan_dirs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        write!(f, "{}", parts.join("; "))
    }
}

/// True for a 64-hex-digit container id.
fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The mount points listed in `/proc/self/mountinfo` (octal escapes decoded).
pub fn mount_points() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .collect()
}

/// Decodes mountinfo's `\ooo` escapes (space, tab, newline, backslash).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            // Only bytes are escaped (\377 at most); anything larger is kept as written.
            match u8::try_from(v) {
                Ok(byte) => out.push(byte),
                Err(_) => out.extend_from_slice(&b[i..i + 4]),
            }
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Processes whose command line names a state dir `<exec-root>/containers/<id>` (shims and
/// runtime invocations for that container), by container id.
fn processes_by_container(exec_root: &Path) -> BTreeMap<String, Vec<i32>> {
    let prefix = exec_root.join("containers");
    let me = i32::try_from(std::process::id()).unwrap_or(-1);
    let mut out: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        for arg in cmdline.split(|b| *b == 0) {
            let arg = Path::new(std::ffi::OsStr::from_bytes(arg));
            let Ok(rest) = arg.strip_prefix(&prefix) else {
                continue;
            };
            let mut comps = rest.components();
            let (Some(first), None) = (comps.next(), comps.next()) else {
                continue;
            };
            let id = first.as_os_str().to_string_lossy();
            if is_container_id(&id) {
                out.entry(id.into_owned()).or_default().push(pid);
                break;
            }
        }
    }
    out
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // "pid (comm) S …": the state follows the last ')'.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

/// Names of the entries of `dir` (empty when it does not exist).
fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

impl Containers {
    /// Repairs what a crash left behind; see the module docs. Runs once at daemon start,
    /// before [`Containers::restore`], while no API request is served.
    pub async fn reconcile(self: &Arc<Self>) -> ReconcileReport {
        let mut report = ReconcileReport::default();
        let list = |c: &Containers| -> BTreeMap<String, ContainerRecord> {
            c.store
                .list::<ContainerRecord>(KIND)
                .map(|l| l.into_iter().collect())
                .unwrap_or_default()
        };

        // 1. Removals cut short: finish them (the record goes last, so this is safe to
        //    repeat from any point).
        for (id, rec) in list(self) {
            if let Some(r) = rec.removing {
                if self.remove_now(rec, r.volumes).await.is_ok() {
                    report.finished_removals.push(id);
                }
            }
        }
        let records = list(self);

        // 2. Processes. A container runs when its record says so and its shim is alive.
        let procs = processes_by_container(&self.exec_root);
        let shim_alive = |id: &str| procs.get(id).is_some_and(|p| p.iter().any(|&p| alive(p)));
        let runs_by_record =
            |r: &ContainerRecord| r.state.running || r.state.paused || r.state.restarting;
        let live: BTreeSet<String> = records
            .values()
            .filter(|r| runs_by_record(r) && shim_alive(&r.id))
            .map(|r| r.id.clone())
            .collect();
        let runtime_dir = self.exec_root.join("runtime");
        let mut leftovers: BTreeSet<String> = procs.keys().cloned().collect();
        leftovers.extend(
            entries(&runtime_dir)
                .into_iter()
                .filter(|n| is_container_id(n)),
        );
        // A record that says running without a shim: its container processes, if any,
        // have no monitor any more.
        leftovers.extend(
            records
                .values()
                .filter(|r| runs_by_record(r) && !live.contains(&r.id))
                .map(|r| r.id.clone()),
        );
        for id in leftovers.iter().filter(|id| !live.contains(*id)) {
            if self
                .end_leftover(id, procs.get(id).map(Vec::as_slice).unwrap_or(&[]))
                .await
            {
                report.stopped.push(id.clone());
            }
        }

        // 3. Cgroups of every container id this daemon knows that does not run.
        let mut known: BTreeSet<String> = records.keys().cloned().collect();
        known.extend(leftovers.iter().cloned());
        let snaps = self.images.images().snapshots.clone();
        let snapshot_keys: Vec<String> = snaps
            .actives()
            .map(|a| a.into_iter().map(|s| s.key).collect())
            .unwrap_or_default();
        known.extend(snapshot_keys.iter().filter(|k| is_container_id(k)).cloned());
        let containers_dirs = [
            self.exec_root.join("containers"),
            self.data_root.join("containers"),
        ];
        for d in &containers_dirs {
            known.extend(entries(d).into_iter().filter(|n| is_container_id(n)));
        }
        for id in known.iter().filter(|id| !live.contains(*id)) {
            let parent = records
                .get(id)
                .map(|r| r.host_config.resources.cgroup_parent.as_str())
                .unwrap_or_default();
            if remove_cgroup(&self.cgroup_driver, parent, id) {
                report.cgroups.push(id.clone());
            }
        }

        // 4. Mounts: a running container keeps its rootfs; everything else under a state
        //    dir goes, and device volumes that no running container uses.
        let live_volumes: BTreeSet<String> = records
            .values()
            .filter(|r| live.contains(&r.id))
            .flat_map(|r| {
                r.mounts
                    .iter()
                    .filter(|m| m.is_volume())
                    .map(|m| m.name.clone())
            })
            .collect();
        let volumes_dir = self.data_root.join("volumes");
        let mut stale: Vec<PathBuf> = mount_points()
            .into_iter()
            .filter(|m| {
                if let Ok(rest) = m.strip_prefix(&containers_dirs[0]) {
                    let id = rest
                        .components()
                        .next()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .unwrap_or_default();
                    return !(live.contains(&id) && m.starts_with(self.rootfs(&id)));
                }
                if let Ok(rest) = m.strip_prefix(&volumes_dir) {
                    let comps: Vec<_> = rest.components().collect();
                    return comps.len() == 2
                        && comps[1].as_os_str() == "_data"
                        && !live_volumes.contains(&*comps[0].as_os_str().to_string_lossy());
                }
                false
            })
            .collect();
        stale.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
        stale.dedup();
        for m in stale {
            if rustix::mount::unmount(&m, rustix::mount::UnmountFlags::DETACH).is_ok() {
                report.unmounted.push(m);
            }
        }

        // 5. Snapshots: without a record they go; a record without one is dead.
        for key in &snapshot_keys {
            if !records.contains_key(key) && snaps.remove(key).is_ok() {
                report.orphan_snapshots.push(key.clone());
            }
        }
        for rec in records.values() {
            if live.contains(&rec.id) || snapshot_keys.contains(&rec.id) || rec.state.dead {
                continue;
            }
            let mut r = rec.clone();
            r.state.status = "dead".into();
            r.state.dead = true;
            r.state.running = false;
            r.state.paused = false;
            r.state.restarting = false;
            r.state.pid = 0;
            r.state.error = "the container's filesystem snapshot is missing".into();
            if self.save(&r).await.is_ok() {
                report.marked_dead.push(r.id.clone());
            }
        }

        // 6. Directories without a record (never with a mount left below them).
        let mounts = mount_points();
        for d in &containers_dirs {
            for name in entries(d) {
                if records.contains_key(&name) {
                    continue;
                }
                let p = d.join(&name);
                if mounts.iter().any(|m| m.starts_with(&p)) {
                    continue;
                }
                if std::fs::remove_dir_all(&p).is_ok() {
                    report.orphan_dirs.push(p);
                }
            }
        }
        // Shim sockets (`<exec-root>/s/<id[..12]>.sock`) of containers that do not run.
        let sockets = self.exec_root.join("s");
        for name in entries(&sockets) {
            let short = name.split('.').next().unwrap_or_default();
            if !live.iter().any(|id| id.starts_with(short)) {
                let _ = std::fs::remove_file(sockets.join(&name));
            }
        }
        // A record's data dir holds its log and /etc files; recreate a lost one.
        for rec in records.values() {
            let _ = self.layout.traversable_dir(&self.data_dir(&rec.id));
        }
        report
    }

    /// Kills and deletes what is left of container `id` (its runtime state, the processes
    /// in its cgroup, its shim `pids`). True when there was anything to end.
    async fn end_leftover(&self, id: &str, pids: &[i32]) -> bool {
        let state = self.exec_root.join("runtime").join(id);
        let had_state = state.exists();
        let pids: Vec<i32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        if !had_state && pids.is_empty() {
            return false;
        }
        let _ = self
            .helpers
            .runtime
            .command()
            .arg("--root")
            .arg(self.exec_root.join("runtime"))
            .args(["delete", "--force", id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await;
        // A shim whose container died writes its exit record and ends by itself.
        let deadline = Instant::now() + Duration::from_secs(10);
        while pids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for p in pids.iter().filter(|p| alive(**p)) {
            if let Some(pid) = rustix::process::Pid::from_raw(*p) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        true
    }
}

/// Kills what is left in the cgroup `/berth/<id>` (or the scope `berth-<id>.scope`) and
/// removes it; true when it existed.
fn remove_cgroup(driver: &str, parent: &str, id: &str) -> bool {
    let path = super::resources::driver_cgroups_path(driver, parent, id);
    let Ok(cg) = berth_cgroups::Cgroup::new(Some(&path), id) else {
        return false;
    };
    if !cg.exists() {
        return false;
    }
    if !cg.kill_all().unwrap_or(false) {
        for p in cg.pids().unwrap_or_default() {
            if let Some(pid) = rustix::process::Pid::from_raw(p) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cg.pids().unwrap_or_default().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    cg.destroy().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_and_ids() {
        assert_eq!(unescape_mountinfo(r"/a\040b\134c"), r"/a b\c");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert!(is_container_id(&"ab".repeat(32)));
        assert!(!is_container_id("abc"));
    }

    #[test]
    fn report_summary_names_what_was_repaired() {
        let r = ReconcileReport {
            finished_removals: vec!["0123456789abcdef".into()],
            unmounted: vec![PathBuf::from("/x/rootfs")],
            ..Default::default()
        };
        assert!(!r.is_empty());
        let s = r.to_string();
        assert!(s.contains("finished removals 1 [0123456789ab]"), "{s}");
        assert!(s.contains("unmounted 1 [/x/rootfs]"), "{s}");
        assert!(ReconcileReport::default().is_empty());
    }
}
