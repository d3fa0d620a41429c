//! `live-restore` off (Docker's default) against Docker's own daemon: a stop of the daemon
//! stops the running containers (stop signal, SIGKILL after the stop timeout) and records
//! them exited; the next start starts those whose restart policy says so. With
//! `live-restore` on they keep running (`daemon_docker_cli::peer_live_restore_after_kill9`,
//! `crash_safety`).
#![cfg(test)]

use std::process::Output;

use berth_testkit::daemon::{self, stderr, stdout, Daemon, DaemonOptions};
use berth_testkit::dockerd::Dockerd;

fn need() -> bool {
    daemon::need("daemon_live_restore", &["dockerd"])
}

/// `sleep` as pid 1 ignores SIGTERM: it ends by the SIGKILL after the stop timeout (137).
/// `trap` ends on SIGTERM with the code it is given.
const CONTAINERS: &[(&str, &[&str], &[&str])] = &[
    ("always", &["--restart", "always"], &["sleep", "1000"]),
    (
        "unless",
        &["--restart", "unless-stopped"],
        &["sleep", "1000"],
    ),
    ("onfail", &["--restart", "on-failure"], &["sleep", "1000"]),
    (
        "onfail0",
        &["--restart", "on-failure"],
        &["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"],
    ),
    ("none", &[], &["sleep", "1000"]),
    (
        "trap7",
        &[],
        &["sh", "-c", "trap 'exit 7' TERM; sleep 1000 & wait"],
    ),
    (
        "alwaysstopped",
        &["--restart", "always"],
        &["sleep", "1000"],
    ),
    (
        "unlessstopped",
        &["--restart", "unless-stopped"],
        &["sleep", "1000"],
    ),
    (
        "onfailstopped",
        &["--restart", "on-failure"],
        &["sleep", "1000"],
    ),
];

/// Runs the containers, stops three of them by hand, creates one never started, restarts
/// the daemon (`restart`), and returns each container's state, exit code and restart count.
fn scenario<T>(t: &mut T, docker: fn(&T, &[&str]) -> Output, restart: fn(&mut T)) -> Vec<String> {
    for (name, opts, cmd) in CONTAINERS {
        let mut args = vec!["run", "-d", "--name", name, "--stop-timeout", "1"];
        args.extend_from_slice(opts);
        args.push("busybox");
        args.extend_from_slice(cmd);
        let o = docker(t, &args);
        assert!(o.status.success(), "run {name}: {}", stderr(&o));
    }
    let o = docker(
        t,
        &[
            "create",
            "--name",
            "created",
            "--restart",
            "always",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["alwaysstopped", "unlessstopped", "onfailstopped"] {
        let o = docker(t, &["stop", name]);
        assert!(o.status.success(), "stop {name}: {}", stderr(&o));
    }
    // The trap must be in place before the daemon's SIGTERM.
    std::thread::sleep(std::time::Duration::from_millis(500));
    restart(t);
    let mut names: Vec<&str> = CONTAINERS.iter().map(|c| c.0).collect();
    names.push("created");
    names
        .into_iter()
        .map(|name| {
            let o = docker(
                t,
                &[
                    "inspect",
                    "-f",
                    "{{.State.Status}} exit={{.State.ExitCode}} restarts={{.RestartCount}}",
                    name,
                ],
            );
            format!("{name}: {}", stdout(&o).trim())
        })
        .collect()
}

#[test]
fn peer_daemon_stop_without_live_restore_stops_containers_and_start_restarts_them_as_dockerd() {
    if !need() {
        return;
    }
    let mut docker = Dockerd::start();
    docker.load_busybox();
    let want = scenario(&mut docker, Dockerd::docker, Dockerd::restart);
    drop(docker);

    let mut berth = DaemonOptions::new().without_live_restore().start();
    berth.load_busybox();
    let info = berth.docker(&["info", "-f", "{{.LiveRestoreEnabled}}"]);
    assert_eq!(stdout(&info).trim(), "false", "{}", stderr(&info));
    let got = scenario(&mut berth, Daemon::docker, |d| {
        assert!(d.stop().success(), "the daemon's stop failed");
        d.spawn();
    });
    assert_eq!(
        got, want,
        "berth (left) and dockerd (right) after a daemon restart"
    );
    // What dockerd shows, spelled out.
    for line in [
        "always: running exit=0 restarts=0",
        "onfail: running exit=0 restarts=0",
        "none: exited exit=137 restarts=0",
        "trap7: exited exit=7 restarts=0",
        "unlessstopped: exited exit=137 restarts=0",
        "created: created exit=0 restarts=0",
    ] {
        assert!(got.iter().any(|l| l == line), "{line} not in {got:#?}");
    }
}

/// A daemon killed with containers running, restarted without live restore: as dockerd, it
/// stops what its predecessor left running, then starts it again if its policy says so.
#[test]
fn peer_start_without_live_restore_stops_containers_a_killed_daemon_left_running() {
    if !need() {
        return;
    }
    let mut d = DaemonOptions::new().without_live_restore().start();
    d.load_busybox();
    for (name, policy) in [("keep", "always"), ("gone", "no")] {
        let o = d.docker(&[
            "run",
            "-d",
            "--name",
            name,
            "--stop-timeout",
            "1",
            "--restart",
            policy,
            "busybox",
            "sleep",
            "1000",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let pid =
        |d: &Daemon, name: &str| stdout(&d.docker(&["inspect", "-f", "{{.State.Pid}}", name]));
    let (keep_pid, gone_pid) = (pid(&d, "keep"), pid(&d, "gone"));
    d.kill9();
    d.spawn();
    let state = |name: &str| {
        stdout(&d.docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            name,
        ]))
    };
    assert_eq!(state("gone"), "exited 137\n");
    assert_eq!(state("keep"), "running 0\n");
    assert_ne!(pid(&d, "keep"), keep_pid, "keep was started again");
    let alive = |p: &str| std::path::Path::new(&format!("/proc/{}", p.trim())).exists();
    assert!(
        !alive(&keep_pid) && !alive(&gone_pid),
        "the old processes are gone"
    );
}

/// With live restore (what the test daemons run with) `info` says so, and a stop of the
/// daemon leaves a running container running.
#[test]
fn peer_live_restore_keeps_containers_across_a_daemon_stop() {
    if !need() {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();
    let info = d.docker(&["info", "-f", "{{.LiveRestoreEnabled}}"]);
    assert_eq!(stdout(&info).trim(), "true", "{}", stderr(&info));
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "lr",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pid = stdout(&d.docker(&["inspect", "-f", "{{.State.Pid}}", "lr"]));
    assert!(d.stop().success());
    d.spawn();
    let after = d.docker(&["inspect", "-f", "{{.State.Pid}} {{.RestartCount}}", "lr"]);
    assert_eq!(stdout(&after), format!("{} 0\n", pid.trim()));
}
