//! Containers as real clients see them (issue 11), side by side with Docker's own daemon
//! (Debian's dockerd 20.10 on a private socket): start errors and their exit codes, exec
//! framing and exit codes, create options (log driver, runtime, GroupAdd, StorageOpt),
//! removing a restarting container, and `docker diff` without the init layer's files.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::dockerd::Dockerd;

fn need(test: &str) -> bool {
    daemon::need(test, &["dockerd", "python3"])
}

/// Both daemons with busybox loaded.
fn daemons() -> (Daemon, Dockerd) {
    let berth = Daemon::start();
    berth.load_busybox();
    let docker = Dockerd::start();
    docker.load_busybox();
    (berth, docker)
}

/// Runs one case of tests/docker_py/fidelity.py against both daemons.
fn docker_py_case(case: &str, berth: &Daemon, docker: &Dockerd) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/docker_py/fidelity.py");
    let o = Command::new("python3")
        .arg(&script)
        .arg(case)
        .arg(berth.host())
        .arg(docker.host())
        .env("BERTH_TEST_PREFIX", berth_testkit::unique_name("fid"))
        .output()
        .expect("python3");
    assert!(
        o.status.success() && stdout(&o).contains(&format!("fidelity {case}: all passed")),
        "docker-py case {case} failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
}

/// The same docker CLI call on both: (berth, docker).
fn both(b: &Daemon, d: &Dockerd, args: &[&str]) -> (Output, Output) {
    (b.docker(args), d.docker(args))
}

#[test]
fn peer_start_errors_exit_127_and_126_as_docker() {
    if !need("peer_start_errors_exit_127_and_126_as_docker") {
        return;
    }
    let (berth, docker) = daemons();
    for (prog, code, phrase) in [
        ("/nonexistent", 127, "no such file or directory"),
        ("nonexistent-in-path", 127, "executable file not found"),
        ("/etc", 126, "permission denied"),
    ] {
        let (b, d) = both(&berth, &docker, &["run", "--rm", "busybox", prog]);
        assert_eq!(b.status.code(), Some(code), "{prog}: {}", stderr(&b));
        assert_eq!(d.status.code(), Some(code), "{prog}: {}", stderr(&d));
        assert!(stderr(&b).contains(phrase), "{prog}: {}", stderr(&b));
        assert!(
            stderr(&b).contains(&format!("\"{prog}\"")),
            "{}",
            stderr(&b)
        );
    }
    // exec of a program that cannot start.
    for (name, o) in [
        (
            "berth",
            berth.docker(&["run", "-d", "--name", "ex", "busybox", "sleep", "600"]),
        ),
        (
            "docker",
            docker.docker(&["run", "-d", "--name", "ex", "busybox", "sleep", "600"]),
        ),
    ] {
        assert!(o.status.success(), "{name}: {}", stderr(&o));
    }
    for prog in ["/nonexistent", "/etc"] {
        let (b, d) = both(&berth, &docker, &["exec", "ex", prog]);
        assert_eq!(
            b.status.code(),
            d.status.code(),
            "exec {prog}: {}",
            stderr(&b)
        );
    }
}

#[test]
fn peer_exec_framing_and_exit_codes_as_docker() {
    if !need("peer_exec_framing_and_exit_codes_as_docker") {
        return;
    }
    let (berth, docker) = daemons();
    docker_py_case("exec", &berth, &docker);
}

#[test]
fn peer_create_options_as_docker() {
    if !need("peer_create_options_as_docker") {
        return;
    }
    let (berth, docker) = daemons();
    docker_py_case("create_options", &berth, &docker);
    // The docker CLI prints the same for an unknown log driver.
    let (b, d) = both(
        &berth,
        &docker,
        &["run", "--rm", "--log-driver", "nope", "busybox", "true"],
    );
    assert_eq!(b.status.code(), d.status.code());
    assert_eq!(stderr(&b), stderr(&d));
    // A size needs quota support overlay here does not have: refused, nothing made.
    let b = berth.docker(&["create", "--storage-opt", "size=10M", "busybox", "true"]);
    assert!(!b.status.success(), "{}", stderr(&b));
    assert!(
        stderr(&b).contains("--storage-opt is supported only for overlay over xfs"),
        "{}",
        stderr(&b)
    );
    assert_eq!(stdout(&berth.docker(&["ps", "-aq"])), "");
}

/// Waits until the container has restarted a few times and is between two runs.
fn wait_restarting(inspect: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = inspect();
        let mut it = s.split_whitespace();
        let (restarting, count) = (it.next(), it.next().and_then(|c| c.parse::<u32>().ok()));
        if restarting == Some("true") && count.is_some_and(|c| c >= 4) {
            return;
        }
        assert!(Instant::now() < deadline, "never restarting: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn peer_removing_a_restarting_container_needs_force_as_docker() {
    if !need("peer_removing_a_restarting_container_needs_force_as_docker") {
        return;
    }
    let (berth, docker) = daemons();
    let args = [
        "run",
        "-d",
        "--name",
        "rs",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ];
    let (b, d) = both(&berth, &docker, &args);
    assert!(b.status.success() && d.status.success(), "{}", stderr(&b));
    let fmt = "{{.State.Restarting}} {{.RestartCount}}";
    wait_restarting(|| stdout(&berth.docker(&["inspect", "-f", fmt, "rs"])));
    wait_restarting(|| stdout(&docker.docker(&["inspect", "-f", fmt, "rs"])));
    let (b, d) = both(&berth, &docker, &["rm", "rs"]);
    assert_eq!(b.status.code(), d.status.code(), "{}", stderr(&b));
    assert!(!b.status.success());
    // Docker 20.10 words it "You cannot remove a restarting container"; 25 and later as
    // berth does.
    assert!(stderr(&d).contains("restarting"), "{}", stderr(&d));
    assert!(
        stderr(&b).contains("cannot remove container \"/rs\": container is restarting: stop the container before removing or force remove"),
        "{}",
        stderr(&b)
    );
    let (b, d) = both(&berth, &docker, &["rm", "-f", "rs"]);
    assert!(b.status.success() && d.status.success(), "{}", stderr(&b));
    assert_eq!(stdout(&berth.docker(&["ps", "-aq"])), "");
}

#[test]
fn peer_diff_hides_the_init_layer_as_docker() {
    if !need("peer_diff_hides_the_init_layer_as_docker") {
        return;
    }
    let (berth, docker) = daemons();
    for (script, name) in [
        ("touch /tmp/x", "d1"),
        ("echo hi > /etc/motd; rm /etc/group", "d2"),
        ("true", "d3"),
    ] {
        let (b, d) = both(
            &berth,
            &docker,
            &["run", "--name", name, "busybox", "sh", "-c", script],
        );
        assert!(b.status.success() && d.status.success(), "{}", stderr(&b));
        // Docker's order depends on its storage driver's diff (overlay2's native walk or
        // the naive tree comparison); the set of changes does not.
        let sorted = |o: &Output| {
            let mut v: Vec<String> = stdout(o).lines().map(str::to_string).collect();
            v.sort();
            v
        };
        let (b, d) = both(&berth, &docker, &["diff", name]);
        assert_eq!(sorted(&b), sorted(&d), "diff after {script}");
    }
}
