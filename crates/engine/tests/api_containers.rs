//! Containers as real clients see them (issue 11), side by side with Docker's own daemon
//! (Debian's dockerd 20.10 on a private socket): start errors and their exit codes, exec
//! framing and exit codes, create options (log driver, runtime, GroupAdd, StorageOpt),
//! removing a restarting container, and `docker diff` without the init layer's files.
#![cfg(test)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::dockerd::Dockerd;

/// Runs one case of tests/docker_py/fidelity.py against both daemons.
fn docker_py_case(case: &str, berth: &Daemon, docker: &Dockerd) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/docker_py/fidelity.py");
    daemon::docker_py_case(&script, case, berth, docker);
}

/// The same docker CLI call on both: (berth, docker).
fn both(b: &Daemon, d: &Dockerd, args: &[&str]) -> (Output, Output) {
    (b.docker(args), d.docker(args))
}

#[test]
fn peer_start_errors_exit_127_and_126_as_docker() {
    if !daemon::need_peer_docker_py("peer_start_errors_exit_127_and_126_as_docker") {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
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
    if !daemon::need_peer_docker_py("peer_exec_framing_and_exit_codes_as_docker") {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
    docker_py_case("exec", &berth, &docker);
}

#[test]
fn peer_create_options_as_docker() {
    if !daemon::need_peer_docker_py("peer_create_options_as_docker") {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
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
    if !daemon::need_peer_docker_py("peer_removing_a_restarting_container_needs_force_as_docker") {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
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
    if !daemon::need_peer_docker_py("peer_diff_hides_the_init_layer_as_docker") {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
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

#[test]
fn peer_archive_of_a_stopped_container_reaches_every_mount_as_docker() {
    if !daemon::need_peer_docker_py(
        "peer_archive_of_a_stopped_container_reaches_every_mount_as_docker",
    ) {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
    let tmp = berth_testkit::TempDir::new("archive-mounts");
    let mut seen = Vec::new();
    for (side, run) in [
        (
            "berth",
            &(|a: &[&str]| berth.docker(a)) as &dyn Fn(&[&str]) -> Output,
        ),
        ("docker", &|a: &[&str]| docker.docker(a)),
    ] {
        let dir = tmp.path().join(side);
        let host = dir.join("hostdir");
        std::fs::create_dir_all(&host).unwrap();
        let bind = format!("{}:/hb", host.display());
        let o = run(&[
            "run",
            "--name",
            "ar",
            "-v",
            "named:/named",
            "-v",
            "/anon",
            "-v",
            &bind,
            "--mount",
            "type=volume,src=named2,dst=/m2",
            "busybox",
            "sh",
            "-c",
            "echo n > /named/f; echo a > /anon/f; echo m > /m2/f; echo h > /hb/f",
        ]);
        assert!(o.status.success(), "{side}: {}", stderr(&o));
        let mut got = Vec::new();
        for p in ["/named/f", "/anon/f", "/m2/f", "/hb/f"] {
            let out = dir.join("out");
            let _ = std::fs::remove_file(&out);
            let o = run(&["cp", &format!("ar:{p}"), out.to_str().unwrap()]);
            got.push((
                p,
                o.status.code(),
                std::fs::read_to_string(&out).unwrap_or_default(),
            ));
        }
        // Into the anonymous volume of the stopped container, then seen by a new one.
        let src = dir.join("in");
        std::fs::write(&src, "put\n").unwrap();
        let o = run(&["cp", src.to_str().unwrap(), "ar:/anon/in"]);
        got.push(("cp in", o.status.code(), stderr(&o)));
        let o = run(&["start", "-a", "ar"]);
        assert!(o.status.success(), "{side}: {}", stderr(&o));
        let o = run(&["cp", "ar:/anon/in", dir.join("back").to_str().unwrap()]);
        got.push((
            "back",
            o.status.code(),
            std::fs::read_to_string(dir.join("back")).unwrap_or_default(),
        ));
        let _ = run(&["rm", "-f", "-v", "ar"]);
        let _ = run(&["volume", "rm", "named", "named2"]);
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1], "berth (left) and Docker (right)");
    assert_eq!(seen[0][0].2, "n\n");
}

#[test]
fn volume_subpath_mounts_a_directory_of_the_volume() {
    if !daemon::need("volume_subpath_mounts_a_directory_of_the_volume", &[]) {
        return;
    }
    let berth = Daemon::start();
    berth.load_busybox();
    let o = berth.docker(&[
        "run",
        "--rm",
        "-v",
        "sv:/v",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /v/sub && echo in > /v/sub/f",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = berth.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=sv,dst=/s,volume-subpath=sub",
        "busybox",
        "sh",
        "-c",
        "cat /s/f; touch /s/new; ls /s",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "in\nf\nnew\n");
    let o = berth.docker(&[
        "run", "--rm", "-v", "sv:/v", "busybox", "ls", "/v", "/v/sub",
    ]);
    assert_eq!(stdout(&o), "/v:\nsub\n\n/v/sub:\nf\nnew\n");
    // A missing subpath fails the start; one leaving the volume is refused at create.
    let o = berth.docker(&[
        "run",
        "--name",
        "sp",
        "--mount",
        "type=volume,src=sv,dst=/s,volume-subpath=nope",
        "busybox",
        "true",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no such file or directory"),
        "{}",
        stderr(&o)
    );
    let _ = berth.docker(&["rm", "-f", "sp"]);
    let o = berth.docker(&[
        "create",
        "--mount",
        "type=volume,src=sv,dst=/s,volume-subpath=../x",
        "busybox",
        "true",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("subpath must be a relative path within the volume"),
        "{}",
        stderr(&o)
    );
    let o = berth.docker(&["ps", "-aq"]);
    assert_eq!(stdout(&o), "");
}

#[test]
fn peer_refused_image_loads_report_in_the_stream_as_docker() {
    if !daemon::need_peer_docker_py("peer_refused_image_loads_report_in_the_stream_as_docker") {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
    let tar = std::fs::read(berth.root().join("busybox.tar")).expect("busybox.tar");
    let dir = berth_testkit::TempDir::new("bad-loads");
    let truncated = dir.path().join("truncated.tar");
    std::fs::write(&truncated, &tar[..tar.len() * 2 / 3]).unwrap();
    let garbage = dir.path().join("garbage.tar");
    std::fs::write(&garbage, b"this is not an image archive\n".repeat(100)).unwrap();
    let images = |o: Output| stdout(&o);
    let blobs_dir = berth.root().join("data/content/blobs/sha256");
    let blobs = || std::fs::read_dir(&blobs_dir).map_or(0, |d| d.count());
    let blobs_before = blobs();
    let (bi, di) = (
        images(berth.docker(&["images", "-q"])),
        images(docker.docker(&["images", "-q"])),
    );
    for bad in [&truncated, &garbage] {
        let (b, d) = both(&berth, &docker, &["load", "-i", bad.to_str().unwrap()]);
        assert_eq!(b.status.code(), d.status.code(), "{}", stderr(&b));
        assert!(!b.status.success());
        // docker-py's load raises ImageLoadError from the stream on both.
        let script = format!(
            "import docker,sys\nfor h in sys.argv[1:]:\n  c=docker.DockerClient(base_url=h, version='1.41')\n  try:\n    c.images.load(open({:?},'rb').read())\n    print('loaded')\n  except docker.errors.ImageLoadError as e:\n    print('ImageLoadError')\n",
            bad.to_str().unwrap()
        );
        let o = Command::new("python3")
            .args(["-c", &script, &berth.host(), &docker.host()])
            .output()
            .expect("python3");
        assert_eq!(
            stdout(&o),
            "ImageLoadError\nImageLoadError\n",
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(images(berth.docker(&["images", "-q"])), bi);
    assert_eq!(images(docker.docker(&["images", "-q"])), di);
    // Nothing of the refused archives stays in berth's content store.
    assert_eq!(blobs(), blobs_before, "blobs left behind by refused loads");
}

/// `POST /containers/{id}/attach?logs=1&stream=0` over a hijacked connection, read as
/// Python's http.client (and docker-py) reads it: the headers through a buffer, then the
/// raw socket. The log replay must reach the raw reads, as with Docker.
fn replay_after_buffered_headers(sock: &Path, name: &str) -> (String, Vec<u8>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut conn = std::os::unix::net::UnixStream::connect(sock).expect("connect");
    write!(
        conn,
        "POST /v1.41/containers/{name}/attach?logs=1&stream=0&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("send");
    let mut headers = BufReader::with_capacity(8192, conn);
    let mut status = String::new();
    headers.read_line(&mut status).expect("status line");
    loop {
        let mut line = String::new();
        if headers.read_line(&mut line).expect("header") <= 2 {
            break;
        }
    }
    // What the buffer holds beyond the headers is lost to such a client.
    let mut raw = headers.into_inner();
    let mut rest = Vec::new();
    raw.read_to_end(&mut rest).expect("read the raw socket");
    let code = status
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (code, rest)
}

#[test]
fn peer_attach_log_replay_reaches_a_raw_socket_client_as_docker() {
    if !daemon::need_peer_docker_py("peer_attach_log_replay_reaches_a_raw_socket_client_as_docker")
    {
        return;
    }
    let (berth, docker) = daemon::with_dockerd();
    let args = [
        "run",
        "--name",
        "replay",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo one; echo two",
    ];
    let (b, d) = both(&berth, &docker, &args);
    assert!(b.status.success() && d.status.success(), "{}", stderr(&b));
    let frame = |s: &str| {
        let mut f = vec![1u8, 0, 0, 0, 0, 0, 0, u8::try_from(s.len()).expect("short")];
        f.extend_from_slice(s.as_bytes());
        f
    };
    let want = [frame("one\n"), frame("two\n")].concat();
    // Docker gets the replay there because reading the log takes it longer than the
    // client takes to read the headers (a race it usually wins); berth waits until the
    // client has read them, so every round must see it.
    let (code, replay) = replay_after_buffered_headers(&docker.sock(), "replay");
    assert_eq!(code, "101", "dockerd");
    assert!(replay == want || replay.is_empty(), "dockerd: {replay:?}");
    for _ in 0..5 {
        assert_eq!(
            replay_after_buffered_headers(&berth.sock(), "replay"),
            ("101".to_string(), want.clone()),
            "berth"
        );
    }
}
