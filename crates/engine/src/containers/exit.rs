//! A task's exit: the record's state, cleanup, and the restart policy with Docker's
//! back-off ([`restart_delay`]).
//!
//! As dockerd 20.10's `handleContainerExit`, the exit is recorded and `die` sent *before*
//! the cleanup (unmount, endpoints, the record's fsync): a `stop` returns at the `die`.
//! The cleanup holds `Live::cleanup`; every later operation on the container waits for it
//! (`Live::lock_op`), and removing a network waits for its endpoints' release.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::task::{Output, Signal};
use super::Containers;
use crate::shim::ExitRecord;
use berth_units::time::parse_rfc3339;

impl Containers {
    /// The shim reported an exit: record it, notify, clean up, auto-remove or restart.
    pub async fn on_exit(self: &Arc<Self>, id: &str, exit: ExitRecord) {
        self.on_task_exit(id, exit, None).await;
    }

    /// [`on_exit`](Self::on_exit) of the task a start created. When that start failed in
    /// the runtime (`start_failed`, set before the start lets go of the cleanup lock), its
    /// record stays as it left it (the runtime's error, exit code 126 or 127, resources
    /// released): the exit of an init that never ran changes nothing but wakes the waiters.
    pub(super) async fn on_task_exit(
        self: &Arc<Self>,
        id: &str,
        exit: ExitRecord,
        start_failed: Option<&AtomicBool>,
    ) {
        let live = self.live(id);
        // Taken before the exit is visible, so whoever sees it also waits for the cleanup;
        // a start in flight holds it until it has saved the running state.
        let cleanup = live.cleanup.lock().await;
        if start_failed.is_some_and(|f| f.load(Ordering::SeqCst)) {
            let code = self.get(id).map_or(exit.exit_code, |r| r.state.exit_code);
            let _ = live.signals.send(Signal::Exited(code));
            drop(cleanup);
            return;
        }
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
        let restart = !rec.host_config.auto_remove
            && !rec.manually_stopped
            && !self.restarts_suppressed()
            && rec.policy_restarts();
        let mut delay = Duration::ZERO;
        if restart {
            delay = {
                let mut last = live.restart_delay.lock().unwrap_or_else(|e| e.into_inner());
                let ran = ran_for(&rec.state.started_at, &exit.finished_at);
                let delay = restart_delay(*last, ran);
                *last = Some(delay);
                delay
            };
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
                tokio::time::sleep(delay).await;
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

/// The first delay before a restart by policy.
const FIRST_RESTART_DELAY: Duration = Duration::from_millis(100);
/// The longest delay before a restart by policy.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long starts the back-off again from [`FIRST_RESTART_DELAY`].
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);

/// The delay before a restart by policy, as moby's `restartmanager`: 100 ms after the
/// first exit, doubled after each further one up to a minute, and 100 ms again after a
/// run of 10 s or more. `previous` is the delay of the last restart since the container
/// was started by the user (or the daemon started), `ran_for` how long this run lasted.
pub(crate) fn restart_delay(previous: Option<Duration>, ran_for: Duration) -> Duration {
    match previous {
        Some(last) if ran_for < BACKOFF_RESET_AFTER => {
            last.saturating_mul(2).min(MAX_RESTART_DELAY)
        }
        _ => FIRST_RESTART_DELAY,
    }
}

/// How long a run lasted, from its RFC 3339 start and finish times; zero when either
/// does not parse or the finish is not after the start (the back-off then goes on rather
/// than starting over: a record without times never makes a tight restart loop).
pub(crate) fn ran_for(started_at: &str, finished_at: &str) -> Duration {
    let (Some(start), Some(end)) = (parse_rfc3339(started_at), parse_rfc3339(finished_at)) else {
        return Duration::ZERO;
    };
    let nanos = end.as_nanos() - start.as_nanos();
    u64::try_from(nanos).map_or(Duration::ZERO, Duration::from_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn back_off_starts_at_100ms_and_doubles() {
        let mut last = None;
        let mut seen = Vec::new();
        for _ in 0..6 {
            let d = restart_delay(last, ms(5));
            seen.push(d.as_millis());
            last = Some(d);
        }
        assert_eq!(seen, [100, 200, 400, 800, 1600, 3200]);
    }

    #[test]
    fn back_off_stops_at_one_minute() {
        let mut last = None;
        for _ in 0..20 {
            last = Some(restart_delay(last, ms(1)));
        }
        assert_eq!(last, Some(Duration::from_secs(60)));
        // 51.2 s doubles past the cap: the cap, as moby clamps.
        assert_eq!(
            restart_delay(Some(ms(51_200)), ms(1)),
            Duration::from_secs(60)
        );
        assert_eq!(
            restart_delay(Some(Duration::MAX), ms(1)),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn a_run_of_ten_seconds_resets_the_back_off() {
        assert_eq!(restart_delay(Some(ms(12_800)), ms(9_999)), ms(25_600));
        assert_eq!(restart_delay(Some(ms(12_800)), ms(10_000)), ms(100));
        assert_eq!(
            restart_delay(Some(ms(60_000)), Duration::from_secs(3600)),
            ms(100)
        );
    }

    #[test]
    fn run_time_from_the_records_times() {
        assert_eq!(
            ran_for("2026-12-06T01:00:00.25Z", "2026-12-06T01:00:10.5Z"),
            ms(10_250)
        );
        assert_eq!(
            ran_for("2026-12-06T01:00:00+01:00", "2026-12-06T00:00:01Z"),
            ms(1_000)
        );
        // Unset (Go's zero time is parsed, an empty string is not), or backwards.
        assert_eq!(ran_for("", "2026-12-06T01:00:00Z"), Duration::ZERO);
        assert_eq!(
            ran_for("2026-12-06T01:00:05Z", "2026-12-06T01:00:00Z"),
            Duration::ZERO
        );
    }
}
