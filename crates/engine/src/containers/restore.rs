//! Live restore at daemon start: shims of running containers reconnected, orphaned runtime state removed.

use std::sync::Arc;

use super::task::{self};
use super::Containers;
use crate::logfile;
use crate::record::{ContainerRecord, KIND};
use crate::shim::ExitRecord;

impl Containers {
    /// Daemon start: reconnects running containers to their shims and marks those whose
    /// shim is gone as exited with the recorded code (no restart yet: the policies are
    /// applied by [`Containers::start_by_policy`] once the networks are back). Without
    /// live restore the reconnected ones are stopped, as dockerd stops the containers a
    /// daemon that died without stopping them left running.
    pub async fn restore(self: &Arc<Self>) {
        let Ok(all) = self.store.list::<ContainerRecord>(KIND) else {
            return;
        };
        let known: std::collections::HashSet<String> =
            all.iter().map(|(_, r)| r.id.clone()).collect();
        self.delete_orphaned_runtime_state(&known).await;
        self.no_restarts
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut to_stop = Vec::new();
        for (_, rec) in all {
            if !(rec.state.running || rec.state.restarting) {
                continue;
            }
            let id = rec.id.clone();
            let state_dir = self.state_dir(&id);
            let live = self.live(&id);
            let this = self.clone();
            let cid = id.clone();
            let on_exit = Box::new(move |exit| {
                tokio::spawn(async move { this.on_exit(&cid, exit).await });
            });
            let connected = self.tasks.connect(&id, live, None, on_exit).await;
            if connected.is_err() {
                let exit = task::read_exit_record(&state_dir).unwrap_or(ExitRecord {
                    exit_code: 255,
                    finished_at: logfile::now(),
                    oom_killed: false,
                });
                self.on_exit(&id, exit).await;
            } else if self.live_restore {
                self.health_start(&rec);
            } else {
                to_stop.push(id);
            }
        }
        self.stop_all(to_stop.into_iter()).await;
    }

    /// Runtime state of containers that no longer exist, left by a shim that died between
    /// reporting the exit and deleting it: deleted at daemon start.
    pub(super) async fn delete_orphaned_runtime_state(
        &self,
        known: &std::collections::HashSet<String>,
    ) {
        for id in self.tasks.state_ids() {
            let is_container_id = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
            if !is_container_id || known.contains(&id) || self.tasks.shim_alive(&id) {
                continue;
            }
            let _ = self.tasks.delete(&id).await;
        }
    }
}
