//! A task's exit: the record's state, cleanup, and the restart policy.
//!
//! As dockerd 20.10's `handleContainerExit`, the exit is recorded and `die` sent *before*
//! the cleanup (unmount, endpoints, the record's fsync): a `stop` returns at the `die`.
//! The cleanup holds `Live::cleanup`; every later operation on the container waits for it
//! (`Live::lock_op`), and removing a network waits for its endpoints' release.

use std::sync::Arc;
use std::time::Duration;

use super::task::{Output, Signal};
use super::Containers;
use crate::shim::ExitRecord;

impl Containers {
    /// The shim reported an exit: record it, notify, clean up, auto-remove or restart.
    pub async fn on_exit(self: &Arc<Self>, id: &str, exit: ExitRecord) {
        let live = self.live(id);
        let Ok(mut rec) = self.get(id) else {
            let _ = live.output.send(Output::Exit(exit.exit_code));
            return;
        };
        // Taken before the exit is visible, so whoever sees it also waits for the cleanup.
        let cleanup = live.cleanup.lock().await;
        rec.state.status = "exited".into();
        rec.state.running = false;
        rec.state.paused = false;
        rec.state.pid = 0;
        rec.state.exit_code = exit.exit_code;
        rec.state.finished_at = exit.finished_at.clone();
        rec.state.oom_killed = exit.oom_killed;
        let restart = !rec.host_config.auto_remove
            && !rec.manually_stopped
            && !self.restarts_suppressed()
            && rec.policy_restarts();
        let delay = 100u64 << rec.restart_count.clamp(0, 10);
        if restart {
            // Docker's `SetRestarting`, before the `die`.
            rec.restart_count += 1;
            rec.state.status = "restarting".into();
            rec.state.restarting = true;
        }
        let release = self.networks.detach(id).await;
        // Made durable below, once the cleanup is done.
        let _ = self.save_unsynced(&rec).await;
        let _ = live.output.send(Output::Exit(exit.exit_code));
        if exit.oom_killed {
            // Docker's order: `oom`, then `die`.
            self.event("oom", &rec, &[]);
        }
        self.event("die", &rec, &[("exitCode", exit.exit_code.to_string())]);
        let _ = live.signals.send(Signal::Exited(exit.exit_code));
        self.finish_release(id, release).await;
        let _ = self.records.sync(id).await;
        drop(cleanup);
        if rec.host_config.auto_remove {
            let _ = self.remove_now(rec, true).await;
            return;
        }
        if restart {
            let this = self.clone();
            let id = id.to_string();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay.min(60_000))).await;
                let live = this.live(&id);
                let _op = live.lock_op().await;
                let Ok(mut rec) = this.get(&id) else { return };
                if rec.manually_stopped || !rec.state.restarting || this.restarts_suppressed() {
                    return;
                }
                rec.state.restarting = false;
                let _ = this.start_locked(rec, &live).await;
            });
        }
    }
}
