//! End to end: a private `berth daemon` driven by the real docker CLI v28.
#![cfg(test)]

use berth_testkit::daemon::{self, stderr, stdout, Daemon};

fn need() -> bool {
    daemon::need("daemon_docker_cli", &[])
}

#[test]
fn peer_run_exit_codes_and_lifecycle() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();

    let o = d.docker(&["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(stdout(&o), "hi\n", "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));

    let o = d.docker(&["run", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(o.status.code(), Some(3));

    let o = d.docker(&["run", "busybox", "nosuch"]);
    assert_eq!(o.status.code(), Some(127));
    assert!(
        stderr(&o).contains("executable file not found"),
        "{}",
        stderr(&o)
    );

    let o = d.docker_stdin(&["run", "-i", "--rm", "busybox", "cat"], Some(b"piped\n"));
    assert_eq!(stdout(&o), "piped\n");

    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo started; while true; do sleep 1; done",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(stdout(&d.docker(&["logs", "web"])), "started\n");
    assert_eq!(stdout(&d.docker(&["exec", "web", "echo", "x"])), "x\n");
    assert_eq!(
        d.docker(&["exec", "web", "sh", "-c", "exit 5"])
            .status
            .code(),
        Some(5)
    );
    assert!(stdout(&d.docker(&["top", "web"])).contains("sleep"));
    assert!(d
        .docker(&["exec", "web", "touch", "/tmp/newfile"])
        .status
        .success());
    assert!(stdout(&d.docker(&["diff", "web"])).contains("A /tmp/newfile"));
    assert!(d.docker(&["pause", "web"]).status.success());
    assert!(stdout(&d.docker(&["ps"])).contains("(Paused)"));
    assert!(d.docker(&["unpause", "web"]).status.success());
    assert_eq!(
        stdout(&d.docker(&["inspect", "-f", "{{.State.Status}}", "web"])),
        "running\n"
    );
    assert!(d.docker(&["kill", "web"]).status.success());
    assert_eq!(
        stdout(&d.docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "web"
        ])),
        "exited 137\n"
    );
    assert!(!stdout(&d.docker(&["ps"])).contains("web"));
    assert!(stdout(&d.docker(&["ps", "-a"])).contains("web"));
    let o = d.docker(&["export", "web"]);
    assert!(o.stdout.windows(11).any(|w| w == b"bin/busybox"));
    let o = d.docker(&["commit", "web", "committed:1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&d.docker(&["images"])).contains("committed"));
    assert!(d.docker(&["restart", "web"]).status.success());
    assert_eq!(
        stdout(&d.docker(&["inspect", "-f", "{{.State.Running}}", "web"])),
        "true\n"
    );
    assert!(d.docker(&["rm", "-f", "web"]).status.success());
    assert!(!stdout(&d.docker(&["ps", "-a"])).contains("web"));
}

#[test]
fn peer_bad_requests_create_nothing() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let o = d.docker(&["create", "--pull", "never", "nosuchimage"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("No such image"), "{}", stderr(&o));
    let o = d.docker(&["create", "--name", "bad name!", "busybox"]);
    assert!(
        stderr(&o).contains("Invalid container name"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&d.docker(&["ps", "-aq"])), "");
}

#[test]
fn peer_live_restore_after_kill9() {
    if !need() {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "lr",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::thread::sleep(std::time::Duration::from_millis(500));
    d.kill9();
    std::thread::sleep(std::time::Duration::from_millis(600));
    d.spawn();
    assert_eq!(
        stdout(&d.docker(&["inspect", "-f", "{{.State.Running}}", "lr"])),
        "true\n"
    );
    let before = stdout(&d.docker(&["logs", "lr"])).lines().count();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let after = stdout(&d.docker(&["logs", "lr"])).lines().count();
    assert!(after > before, "logs keep flowing: {before} -> {after}");
    assert!(d.docker(&["stop", "-t", "1", "lr"]).status.success());
    assert_eq!(
        stdout(&d.docker(&["inspect", "-f", "{{.State.Running}}", "lr"])),
        "false\n"
    );
}

/// The daemon runs the lean `berth-shim` per container (which runs `berth-runtime`), found
/// once at start: replacing the binaries under a running daemon (a rebuild, an upgrade)
/// leaves it working, since it never re-executes its own, now deleted, executable.
#[test]
fn peer_replaced_binaries_do_not_break_a_running_daemon() {
    if !need() {
        return;
    }
    let bins = berth_testkit::TempDir::new("berth-bins");
    let names = ["berth", "berth-shim", "berth-runtime"];
    for name in names {
        let src = berth_testkit::berth_bin().with_file_name(name);
        std::fs::copy(&src, bins.path().join(name)).expect("copy binary");
    }
    let d = Daemon::start_from(bins.path().join("berth"));
    d.load_busybox();
    let o = d.docker(&["run", "-d", "--name", "lr", "busybox", "sleep", "300"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pid = stdout(&d.docker(&["inspect", "-f", "{{.State.Pid}}", "lr"]));
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    let ppid = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap()
        .trim()
        .to_string();
    let monitor = std::fs::read_link(format!("/proc/{ppid}/exe")).unwrap();
    assert_eq!(monitor, bins.path().join("berth-shim"));
    // Replace every binary by a new file at the same path, as cargo and package managers do.
    for name in names {
        let path = bins.path().join(name);
        let new = bins.path().join(format!("{name}.new"));
        std::fs::copy(&path, &new).unwrap();
        std::fs::rename(&new, &path).unwrap();
    }
    let o = d.docker(&["run", "--rm", "busybox", "echo", "hi"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hi\n");
    let o = d.docker(&["exec", "lr", "echo", "in"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "in\n");
    assert!(d.docker(&["rm", "-f", "lr"]).status.success());
}

/// The shim reports the exit before it deletes the runtime state: starting the container
/// again at once waits for that shim, never racing its delete; and after `run --rm` the
/// runtime state is gone (deleted by the shim, not left behind).
#[test]
fn peer_restart_right_after_exit_and_runtime_state_cleaned() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let o = d.docker(&["run", "--name", "again", "busybox", "echo", "run0"]);
    assert_eq!(stdout(&o), "run0\n", "{}", stderr(&o));
    for i in 1..=5 {
        let o = d.docker(&["start", "-a", "again"]);
        assert!(o.status.success(), "start {i}: {}", stderr(&o));
        assert_eq!(stdout(&o), "run0\n");
    }
    let o = d.docker(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.State.Running}}",
        "again",
    ]);
    assert_eq!(stdout(&o), "0 false\n");
    assert!(d.docker(&["rm", "again"]).status.success());
    let o = d.docker(&["run", "--rm", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let runtime_root = d.root().join("exec/runtime");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        // Container state directories; the runtime's own entries stay (`.empty`, its sealed
        // binary's overlay layer, and `.seccomp`, its compiled-program cache): their names
        // start with '.', which a container id cannot.
        let left: Vec<_> = std::fs::read_dir(&runtime_root)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name())
                    .filter(|n| !n.to_string_lossy().starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "runtime state left behind: {left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(stdout(&d.docker(&["ps", "-aq"])), "");
}

fn host_dev_null_ctime() -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata("/dev/null").unwrap();
    (m.ctime(), m.ctime_nsec())
}

/// Issue 12: the shim hands `create` and the engine hands `exec` the host's /dev/null as
/// stdin; container root could chmod or chown the host's node through /proc/self/fd/0. The
/// runtime reopens it on the container's own /dev/null: the host node's ctime stays. (The
/// container sets the mode and owner the node already has, so a failure harms no one.)
#[test]
fn peer_run_and_exec_never_reach_the_hosts_dev_null() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let touch = "chmod 666 /proc/self/fd/0 && chown 0:0 /proc/self/fd/0 && echo touched";
    let before = host_dev_null_ctime();
    let o = d.docker(&["run", "--rm", "busybox", "sh", "-c", touch]);
    assert_eq!(stdout(&o), "touched\n", "{}", stderr(&o));
    assert_eq!(
        host_dev_null_ctime(),
        before,
        "docker run reached the host's /dev/null"
    );
    let o = d.docker(&["run", "-d", "--name", "devnull", "busybox", "sleep", "100"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.docker(&["exec", "devnull", "sh", "-c", touch]);
    assert_eq!(stdout(&o), "touched\n", "{}", stderr(&o));
    assert_eq!(
        host_dev_null_ctime(),
        before,
        "docker exec reached the host's /dev/null"
    );
    assert!(d.docker(&["rm", "-f", "devnull"]).status.success());
}

/// An empty `StopSignal` (in the create body or the stop query) means SIGTERM, as in Docker:
/// the container's TERM trap runs (exit 3) instead of a SIGKILL after the whole timeout (137).
/// Compose v2 sends `"StopSignal": ""` for every service without `stop_signal`.
#[test]
fn peer_empty_stop_signal_is_sigterm() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let sock = d.sock();
    let api = |method: &str, path: &str, body: Option<&str>| {
        let mut c = std::process::Command::new("curl");
        c.args(["-sS", "--unix-socket"]).arg(&sock).args([
            "-X",
            method,
            "-H",
            "Content-Type: application/json",
        ]);
        if let Some(b) = body {
            c.args(["-d", b]);
        }
        let o = c.arg(format!("http://d/v1.47{path}")).output().unwrap();
        assert!(o.status.success(), "{method} {path}: {}", stderr(&o));
        stdout(&o)
    };
    let trap = r#"["sh","-c","trap 'exit 3' TERM; while true; do sleep 0.1; done"]"#;
    for (name, stop_signal, query) in [
        ("stopsig-config", r#","StopSignal":"""#, "t=30"),
        ("stopsig-query", "", "signal=&t=30"),
    ] {
        let body = format!(r#"{{"Image":"busybox","Cmd":{trap}{stop_signal}}}"#);
        api(
            "POST",
            &format!("/containers/create?name={name}"),
            Some(&body),
        );
        api("POST", &format!("/containers/{name}/start"), None);
        api("POST", &format!("/containers/{name}/stop?{query}"), None);
        let o = d.docker(&["inspect", "-f", "{{.State.ExitCode}}", name]);
        assert_eq!(stdout(&o).trim(), "3", "{name}: {}", stderr(&o));
        d.docker(&["rm", "-f", name]);
    }
}
