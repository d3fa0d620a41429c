//! A task's exit: the record's state, cleanup, and the restart policy.

use std::sync::Arc;
use std::time::Duration;

use super::task::{Output, Signal};
use super::Containers;
use crate::shim::ExitRecord;

impl Containers {
    /// The shim reported an exit: record it, clean up, notify, auto-remove or restart.
    pub async fn on_exit(self: &Arc<Self>, id: &str, exit: ExitRecord) {
        let live = self.live(id);
        let Ok(mut rec) = self.get(id) else {
            let _ = live.output.send(Output::Exit(exit.exit_code));
            return;
        };
        rec.state.status = "exited".into();
        rec.state.running = false;
        rec.state.paused = false;
        rec.state.pid = 0;
        rec.state.exit_code = exit.exit_code;
        rec.state.finished_at = exit.finished_at.clone();
        rec.state.oom_killed = exit.oom_killed;
        self.release_task_resources(id).await;
        let _ = self.save(&rec).await;
        let _ = live.output.send(Output::Exit(exit.exit_code));
        if exit.oom_killed {
            // Docker's order: `oom`, then `die`.
            self.event("oom", &rec, &[]);
        }
        self.event("die", &rec, &[("exitCode", exit.exit_code.to_string())]);
        let _ = live.signals.send(Signal::Exited(exit.exit_code));
        if rec.host_config.auto_remove {
            let _ = self.remove_now(rec, true).await;
            return;
        }
        let restart = !rec.manually_stopped && !self.restarts_suppressed() && rec.policy_restarts();
        if restart {
            let this = self.clone();
            let id = id.to_string();
            let delay = 100u64 << rec.restart_count.clamp(0, 10);
            rec.restart_count += 1;
            rec.state.status = "restarting".into();
            rec.state.restarting = true;
            let _ = self.save(&rec).await;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay.min(60_000))).await;
                let live = this.live(&id);
                let _op = live.op.lock().await;
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
