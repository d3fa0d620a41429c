//! The health monitor over the fakes (no root, milliseconds; probes every millisecond):
//! Docker's rules of `daemon/health.go` — a passing probe makes the container healthy,
//! `Retries` failures in a row unhealthy, failures while starting within the start period do
//! not count, a probe over its timeout is a failure, the log keeps the last five results,
//! each status change is a `health_status: …` event, and the monitor ends with the container.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_api_types::Health as HealthState;
use serde_json::json;

use super::test_harness::{until, Harness, IMAGE};
use crate::health::HealthMonitor;
use crate::processes::fake::Outcome;
use crate::processes::Stdio;

const MS: i64 = 1_000_000;

/// Waits (bounded) until `f` holds.
/// A running container named `name` with the health check `check`.
async fn with_check(h: &Harness, name: &str, check: serde_json::Value) -> String {
    let config = json!({"Image": IMAGE, "Cmd": ["sleep", "1000"], "Healthcheck": check});
    let id = h.create_with(name, config, json!({})).await.unwrap();
    h.containers.start(name).await.unwrap();
    id
}

fn health(h: &Harness, id: &str) -> HealthState {
    h.health.health_of(id).expect("a health")
}

fn status(h: &Harness, id: &str) -> String {
    h.health.health_of(id).map(|s| s.status).unwrap_or_default()
}

/// The `health_status: …` events so far.
fn health_events(
    rx: &mut tokio::sync::broadcast::Receiver<berth_api_types::EventMessage>,
) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if ev.action.starts_with("health_status") {
            out.push(ev.action);
        }
    }
    out
}

#[tokio::test]
async fn a_passing_probe_makes_the_container_healthy() {
    let h = Harness::new().await;
    h.processes.script(|_| Outcome::exit(0, "fine"));
    let (_, mut events) = h.events.subscribe(None);
    let check = json!({"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": MS});
    let id = with_check(&h, "web", check).await;
    until("healthy", || status(&h, &id) == "healthy").await;
    let hs = health(&h, &id);
    assert_eq!(hs.failing_streak, 0);
    assert_eq!(hs.log[0].exit_code, 0);
    assert_eq!(hs.log[0].output, "fine");
    assert_eq!(health_events(&mut events), ["health_status: healthy"]);
    // The probe: the container's process with the check's command, no terminal, no stdin.
    let probe = h.processes.launches().remove(0);
    assert_eq!(probe.container, id);
    assert_eq!(probe.stdio, Stdio::Pipes { stdin: false });
    let args = probe.process.args().clone().unwrap_or_default();
    assert_eq!(args, ["/bin/sh", "-c", "curl -f localhost"]);
    assert_eq!(probe.process.terminal(), Some(false));
    let env = probe.process.env().clone().unwrap_or_default();
    assert!(
        env.iter().any(|v| v == "PATH=/bin"),
        "the image's PATH: {env:?}"
    );
}

#[tokio::test]
async fn retries_failures_in_a_row_make_it_unhealthy() {
    let h = Harness::new().await;
    let n = Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    // Two failures, then a probe that runs until the test ends it, then probes that hang.
    h.processes
        .script(move |_| match count.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => Outcome::exit(1, "down"),
            _ => Outcome::Run,
        });
    let (_, mut events) = h.events.subscribe(None);
    let check = json!({"Test": ["CMD", "check"], "Interval": MS, "Retries": 3});
    let id = with_check(&h, "db", check).await;
    until("the third probe", || h.processes.launch_count() == 3).await;
    let hs = health(&h, &id);
    assert_eq!((hs.status.as_str(), hs.failing_streak), ("starting", 2));
    let third = h.processes.launches()[2].pid;
    assert!(h.processes.finish(third, 1));
    until("unhealthy", || status(&h, &id) == "unhealthy").await;
    let hs = health(&h, &id);
    assert_eq!(hs.failing_streak, 3);
    assert_eq!(hs.log.len(), 3);
    assert!(hs.log.iter().all(|r| r.exit_code == 1));
    assert_eq!(health_events(&mut events), ["health_status: unhealthy"]);
}

#[tokio::test]
async fn failures_in_the_start_period_do_not_count_until_it_was_healthy() {
    let h = Harness::new().await;
    let n = Arc::new(AtomicUsize::new(0));
    let pass = Arc::new(AtomicBool::new(false));
    let (count, passing) = (n.clone(), pass.clone());
    h.processes.script(move |_| {
        let i = count.fetch_add(1, Ordering::SeqCst);
        let code = if passing.load(Ordering::SeqCst) { 0 } else { 1 };
        Outcome::exit(code, &format!("probe {i}"))
    });
    let (_, mut events) = h.events.subscribe(None);
    let check = json!({"Test": ["CMD", "check"], "Interval": MS,
        "StartPeriod": 3_600_000 * MS, "StartInterval": MS, "Retries": 2});
    let id = with_check(&h, "slow", check).await;
    until("seven probes", || h.processes.launch_count() >= 7).await;
    let hs = health(&h, &id);
    assert_eq!((hs.status.as_str(), hs.failing_streak), ("starting", 0));
    // The log keeps the last five results, oldest first.
    assert_eq!(hs.log.len(), 5);
    let seq: Vec<usize> = hs
        .log
        .iter()
        .map(|r| r.output.trim_start_matches("probe ").parse().unwrap())
        .collect();
    assert!(seq[0] >= 1, "older results dropped: {seq:?}");
    assert!(seq.windows(2).all(|w| w[1] == w[0] + 1), "{seq:?}");

    pass.store(true, Ordering::SeqCst);
    until("healthy", || status(&h, &id) == "healthy").await;
    // Once healthy, failures count even within the start period (Docker's rule).
    pass.store(false, Ordering::SeqCst);
    until("unhealthy", || status(&h, &id) == "unhealthy").await;
    // probes go on every millisecond: the streak may have grown past Retries meanwhile
    let streak = health(&h, &id).failing_streak;
    assert!(streak >= 2, "failing streak {streak}");
    assert_eq!(
        health_events(&mut events),
        ["health_status: healthy", "health_status: unhealthy"]
    );
}

#[tokio::test]
async fn a_probe_over_its_timeout_is_killed_and_fails() {
    let h = Harness::new().await;
    h.processes.script(|_| Outcome::Run);
    let check = json!({"Test": ["CMD", "hang"], "Interval": MS, "Timeout": MS, "Retries": 1});
    let id = with_check(&h, "stuck", check).await;
    until("unhealthy", || status(&h, &id) == "unhealthy").await;
    let hs = health(&h, &id);
    assert_eq!(hs.log[0].exit_code, -1);
    assert_eq!(hs.log[0].output, "Health check exceeded timeout (1ms)");
    assert!(h.processes.kills() >= 1, "the probe was killed");
}

#[tokio::test]
async fn the_monitor_ends_when_the_container_stops() {
    let h = Harness::new().await;
    h.processes.script(|_| Outcome::exit(0, ""));
    let check = json!({"Test": ["CMD", "check"], "Interval": MS});
    let id = with_check(&h, "brief", check).await;
    until("healthy", || status(&h, &id) == "healthy").await;
    h.containers.stop("brief", None, None).await.unwrap();
    assert!(!h.containers.get(&id).unwrap().state.running);
    // At most a probe that had passed its check before the stop; then none.
    let at_stop = h.processes.launch_count();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let settled = h.processes.launch_count();
    assert!(settled <= at_stop + 1, "{at_stop} -> {settled}");
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(
        h.processes.launch_count(),
        settled,
        "no probe after the stop"
    );
    // The last health stays visible, as Docker's does.
    assert_eq!(status(&h, &id), "healthy");
    // A container without a check has no monitor and no health.
    let plain = h.create("plain", IMAGE, json!({})).await.unwrap();
    h.containers.start("plain").await.unwrap();
    assert!(h.health.health_of(&plain).is_none());
}
