//! A kill that arrives while the container's start is still in flight is delivered once the
//! start has finished (Docker holds the container's lock across start). `docker run`'s
//! sig-proxy sends one as soon as the container's first output arrives, which can be before
//! the start request has returned; berth answered it "not running" and lost the signal.
//!
//! The daemon holds the start at `start-before-save` (`BERTH_TEST_HOLD_AT`, the container
//! runs, its record says `created`) and notes `kill-waits-for-start` when the kill waits: the
//! test orders the requests by those files, not by sleeping.
#![cfg(test)]

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::daemon::{self as daemon_support, stderr, stdout, DaemonOptions};
use berth_testkit::TempDir;

/// Waits (with a generous deadline) until `cond` holds.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn exited(c: &mut Child) -> bool {
    matches!(c.try_wait(), Ok(Some(_)))
}

#[test]
fn peer_a_kill_during_start_waits_for_the_start_and_is_delivered() {
    if !daemon_support::need(
        "peer_a_kill_during_start_waits_for_the_start_and_is_delivered",
        &[],
    ) {
        return;
    }
    let holds = TempDir::new("berth-kill-start-");
    let hold_dir = holds.path().to_str().unwrap().to_string();
    let d = DaemonOptions::new()
        .env(&[
            ("BERTH_TEST_HOLD_AT", "start-before-save"),
            ("BERTH_TEST_HOLD_DIR", &hold_dir),
        ])
        .start();
    d.load_busybox();
    let out = d.docker(&[
        "create",
        "--name",
        "kd",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done",
    ]);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let held = holds.path().join("start-before-save");
    let waiting = holds.path().join("kill-waits-for-start");
    let docker = |args: &[&str]| -> Child {
        d.cli_command("docker")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut start = docker(&["start", "kd"]);
    wait_for("the start to reach start-before-save", || {
        held.exists() || exited(&mut start)
    });
    assert!(held.exists(), "the start ended before the hold point");
    let mut kill = docker(&["kill", "-s", "TERM", "kd"]);
    wait_for("the kill to wait for the start (or to end)", || {
        waiting.exists() || exited(&mut kill)
    });
    let early = exited(&mut kill).then(|| kill.wait_with_output_now());
    // Release the start.
    std::fs::remove_file(&held).unwrap();
    let start = start.wait_with_output().unwrap();
    assert!(start.status.success(), "start: {}", stderr(&start));
    let kill = match early {
        Some(out) => panic!("the kill did not wait for the start: {out}"),
        None => kill.wait_with_output().unwrap(),
    };
    assert!(kill.status.success(), "kill: {}", stderr(&kill));
    let out = d.docker(&["wait", "kd"]);
    assert_eq!(stdout(&out).trim(), "7", "wait: {}", stderr(&out));
    let out = d.docker(&["logs", "kd"]);
    assert_eq!(stdout(&out), "ready\ngot TERM\n");
    let _ = d.docker(&["rm", "-f", "kd"]);
}

trait OutputNow {
    fn wait_with_output_now(&mut self) -> String;
}

impl OutputNow for Child {
    /// The status and stderr of a child that has exited.
    fn wait_with_output_now(&mut self) -> String {
        use std::io::Read;
        let status = self.wait().unwrap();
        let mut err = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        format!("{status}: {err}")
    }
}
