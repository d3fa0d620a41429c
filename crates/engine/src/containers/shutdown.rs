//! Without `live-restore` (Docker's default) containers do not outlive the daemon: a stop of
//! the daemon stops them (their stop signal, SIGKILL after their stop timeout) and records
//! them exited, and the next start starts again those whose restart policy says so. With
//! `live-restore: true` they keep running and the next start reconnects to them
//! ([`Containers::restore`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Containers;
use crate::record::{ContainerRecord, KIND};

impl ContainerRecord {
    /// Docker's restart manager after an exit with `state.exit_code` (a stop by the user
    /// aside): `always` and `unless-stopped` restart, `on-failure` on a non-zero code while
    /// retries are left.
    pub(crate) fn policy_restarts(&self) -> bool {
        let policy = &self.host_config.restart_policy;
        match policy.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                self.state.exit_code != 0
                    && (policy.maximum_retry_count == 0
                        || self.restart_count < policy.maximum_retry_count)
            }
            _ => false,
        }
    }

    /// Whether the daemon's start starts this stopped container, as dockerd's: it ran
    /// before and its policy restarts it; `unless-stopped` not after a stop by the user,
    /// `always` and `on-failure` regardless (Docker's "restarted when the daemon restarts").
    fn starts_with_daemon(&self) -> bool {
        let s = &self.state;
        let ran_before = !s.started_at.is_empty() && !s.started_at.starts_with("0001-");
        ran_before
            && !(s.running || s.restarting || s.paused || s.dead)
            && self.removing.is_none()
            && !(self.manually_stopped && self.host_config.restart_policy.name == "unless-stopped")
            && self.policy_restarts()
    }
}

impl Containers {
    /// True while exits must not start restart policies (the daemon stops its containers).
    pub(super) fn restarts_suppressed(&self) -> bool {
        self.no_restarts.load(Ordering::SeqCst)
    }

    /// Daemon stop: without live restore every running or paused container is stopped (in
    /// parallel, each with its own stop signal and timeout) and recorded exited; one waiting
    /// to be restarted by its policy is recorded exited. Not a stop by the user: the next
    /// start applies the restart policies ([`Containers::start_by_policy`]).
    pub async fn shutdown(self: &Arc<Self>) {
        if self.live_restore {
            return;
        }
        self.no_restarts.store(true, Ordering::SeqCst);
        let Ok(all) = self.store.list::<ContainerRecord>(KIND) else {
            return;
        };
        let ids = all
            .into_iter()
            .filter(|(_, r)| r.state.running || r.state.restarting)
            .map(|(_, r)| r.id);
        self.stop_all(ids).await;
    }

    /// Stops the containers `ids` in parallel, as a daemon stop does (restarts suppressed).
    pub(super) async fn stop_all(self: &Arc<Self>, ids: impl Iterator<Item = String>) {
        let mut stops = tokio::task::JoinSet::new();
        for id in ids {
            let this = self.clone();
            stops.spawn(async move {
                let live = this.live(&id);
                let _op = live.lock_op().await;
                let Ok(mut rec) = this.get(&id) else { return };
                if rec.state.running {
                    this.stop_task(&rec, &live, None, None).await;
                    // The daemon's network shutdown comes next: no endpoint may be left.
                    live.wait_cleanup().await;
                } else if rec.state.restarting {
                    rec.state.restarting = false;
                    rec.state.status = "exited".into();
                    let _ = this.save(&rec).await;
                }
            });
        }
        while stops.join_next().await.is_some() {}
    }

    /// Daemon start, after live restore and the networks: starts the stopped containers
    /// whose restart policy restarts them when the daemon starts (dockerd's restore), with
    /// no restart counted.
    pub async fn start_by_policy(self: &Arc<Self>) {
        self.no_restarts.store(false, Ordering::SeqCst);
        let Ok(all) = self.store.list::<ContainerRecord>(KIND) else {
            return;
        };
        let mut starts = tokio::task::JoinSet::new();
        for (_, rec) in all {
            if !rec.starts_with_daemon() {
                continue;
            }
            let this = self.clone();
            starts.spawn(async move {
                let live = this.live(&rec.id);
                let _op = live.lock_op().await;
                let Ok(rec) = this.get(&rec.id) else { return };
                if !rec.starts_with_daemon() {
                    return;
                }
                let name = rec.name.clone();
                let rec = super::start::reset_restart_policy(rec, &live);
                if let Err(e) = this.start_locked(rec, &live).await {
                    eprintln!("berth daemon: restarting container {name} at start: {e}");
                }
            });
        }
        while starts.join_next().await.is_some() {}
    }
}
