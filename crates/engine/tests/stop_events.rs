//! The events of `docker stop` and `docker rm -f` on berth and on Docker's own daemon
//! (Debian's dockerd on a private socket): a `kill` event for every signal sent (the stop
//! signal, SIGKILL after the timeout), then `die` and `stop`. Needs root, the docker CLI and
//! dockerd.
#![cfg(test)]

use std::time::{SystemTime, UNIX_EPOCH};

use berth_testkit::daemon::{self, stderr, stdout};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The container events of `name` between `since` and `until`: "action signal" lines, sorted
/// (a `die` may be logged before or after the `kill` that caused it, on either daemon).
fn events(docker: &dyn Fn(&[&str]) -> std::process::Output, name: &str, since: u64) -> Vec<String> {
    let (since, until) = (since.to_string(), (now() + 1).to_string());
    let o = docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=container",
        "--filter",
        &format!("container={name}"),
        "--format",
        "{{.Action}} {{index .Actor.Attributes \"signal\"}}",
    ]);
    assert!(o.status.success(), "events: {}", stderr(&o));
    let mut lines: Vec<String> = stdout(&o)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| ["kill", "die", "stop", "destroy"].contains(&l.split(' ').next().unwrap_or("")))
        .collect();
    lines.sort();
    lines
}

/// Runs the three cases on one daemon and returns their events.
fn scenario(docker: &dyn Fn(&[&str]) -> std::process::Output, p: &str) -> Vec<Vec<String>> {
    let ok = |args: &[&str]| {
        let o = docker(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    };
    let stubborn = format!("{p}stubborn");
    let polite = format!("{p}polite");
    let forced = format!("{p}forced");
    let since = now().saturating_sub(1);
    ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &stubborn,
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; sleep 300",
    ]);
    ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &polite,
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; sleep 300 & wait",
    ]);
    ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &forced,
        "busybox",
        "sleep",
        "300",
    ]);
    ok(&["stop", "-t", "1", &stubborn]);
    ok(&["stop", &polite]);
    ok(&["rm", "-f", &forced]);
    let got = [&stubborn, &polite, &forced]
        .iter()
        .map(|n| events(docker, n, since))
        .collect();
    ok(&["rm", &stubborn, &polite]);
    got
}

#[test]
fn peer_stop_and_forced_rm_log_kill_events_as_docker() {
    if !daemon::need_peer_docker_py("peer_stop_and_forced_rm_log_kill_events_as_docker") {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
    let p = berth_testkit::unique_name("stev");
    let b = scenario(&|a| berth.docker(a), &p);
    let d = scenario(&|a| docker.docker(a), &p);
    assert_eq!(b, d, "berth vs dockerd");
    assert_eq!(b[0], ["die", "kill 15", "kill 9", "stop"], "{b:?}");
}
