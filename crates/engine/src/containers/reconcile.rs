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
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::leftovers::is_container_id;
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

        // 2. Tasks. A container runs when its record says so and its shim is alive.
        let procs = self.tasks.leftover_ids();
        let runs_by_record =
            |r: &ContainerRecord| r.state.running || r.state.paused || r.state.restarting;
        let live: BTreeSet<String> = records
            .values()
            .filter(|r| runs_by_record(r) && procs.contains(&r.id))
            .map(|r| r.id.clone())
            .collect();
        let mut leftovers: BTreeSet<String> = procs;
        leftovers.extend(
            self.tasks
                .state_ids()
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
            if self.tasks.end_leftover(id).await {
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
        let mut stale: Vec<PathBuf> = self
            .tasks
            .mount_points()
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
            if self.tasks.detach(&m) {
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
        let mounts = self.tasks.mount_points();
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
