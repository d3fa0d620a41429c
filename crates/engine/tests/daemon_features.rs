//! End to end, real docker CLI and berth CLI against a private `berth daemon`: `cp` and the
//! archive endpoints (both ways, directories, stopped containers, symlink escapes), health
//! checks, `--init`, and a docker-py module.
#![cfg(test)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use berth_testkit::daemon::{self, stderr, stdout, Daemon};

fn need() -> bool {
    daemon::need("daemon_features", &[])
}

fn berth(d: &Daemon, args: &[&str]) -> Output {
    Command::new(berth_testkit::berth_bin())
        .arg("-H")
        .arg(format!("unix://{}", d.sock().display()))
        .args(args)
        .output()
        .expect("run berth")
}

#[track_caller]
fn ok(o: Output) -> Output {
    assert!(o.status.success(), "failed: {}{}", stdout(&o), stderr(&o));
    o
}

/// Polls `f` (up to ~30 s) until it returns true.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("never happened: {what}");
}

fn inspect(d: &Daemon, fmt: &str, c: &str) -> String {
    stdout(&d.docker(&["inspect", "-f", fmt, c]))
        .trim()
        .to_string()
}

#[test]
fn peer_cp_both_ways_and_symlink_escapes() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let host = d.root().join("host");
    std::fs::create_dir_all(host.join("src/sub")).unwrap();
    std::fs::write(host.join("a.txt"), "hello\n").unwrap();
    std::fs::write(host.join("src/sub/b.txt"), "deep\n").unwrap();
    std::os::unix::fs::symlink("sub/b.txt", host.join("src/link")).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();

    ok(d.docker(&["run", "-d", "--name", "cpt", "busybox", "sleep", "1000"]));
    // Host → container: a file into a directory, a directory to a new name.
    ok(d.docker(&["cp", &s(&host.join("a.txt")), "cpt:/tmp/"]));
    assert_eq!(
        stdout(&ok(d.docker(&["exec", "cpt", "cat", "/tmp/a.txt"]))),
        "hello\n"
    );
    ok(d.docker(&["cp", &s(&host.join("src")), "cpt:/tmp/newdir"]));
    assert_eq!(
        stdout(&ok(d.docker(&[
            "exec",
            "cpt",
            "cat",
            "/tmp/newdir/sub/b.txt"
        ]))),
        "deep\n"
    );
    assert_eq!(
        stdout(&ok(d.docker(&[
            "exec",
            "cpt",
            "readlink",
            "/tmp/newdir/link"
        ]))),
        "sub/b.txt\n"
    );
    // Container → host: a directory to a new name, a file, a tar on stdout.
    let out = host.join("out");
    ok(d.docker(&["cp", "cpt:/tmp/newdir", &s(&out)]));
    assert_eq!(
        std::fs::read_to_string(out.join("sub/b.txt")).unwrap(),
        "deep\n"
    );
    assert_eq!(
        std::fs::read_link(out.join("link")).unwrap(),
        Path::new("sub/b.txt")
    );
    ok(d.docker(&["cp", "cpt:/tmp/a.txt", &s(&host.join("back.txt"))]));
    assert_eq!(
        std::fs::read_to_string(host.join("back.txt")).unwrap(),
        "hello\n"
    );
    let tar = ok(d.docker(&["cp", "cpt:/tmp/a.txt", "-"])).stdout;
    let mut ar = tar::Archive::new(&tar[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, vec!["a.txt"]);
    // The whole root: files, but not the kernel filesystems mounted in the container.
    let o = ok(d.docker(&["cp", "cpt:/", "-"]));
    let mut ar = tar::Archive::new(&o.stdout[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    // Named as docker names the root: "/", "/tmp/a.txt", …
    assert!(names.iter().any(|n| n == "/tmp/a.txt"), "{names:?}");
    assert!(names.iter().any(|n| n == "/bin/busybox"), "{names:?}");
    assert!(names.iter().any(|n| n == "/proc/"), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| (n.starts_with("/proc/") || n.starts_with("/sys/")) && n.len() > 6),
        "{names:?}"
    );
    // Missing paths: docker's message and exit code 1.
    let o = d.docker(&["cp", "cpt:/nonexistent", &s(&host)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Could not find the file /nonexistent in container cpt"),
        "{}",
        stderr(&o)
    );

    // Owners: kept from the archive by default, the container's user with -a.
    let owned = host.join("owned.txt");
    std::fs::write(&owned, "x").unwrap();
    std::os::unix::fs::chown(&owned, Some(1234), Some(4321)).unwrap();
    ok(d.docker(&["cp", &s(&owned), "cpt:/tmp/kept.txt"]));
    assert_eq!(
        stdout(&ok(d.docker(&[
            "exec",
            "cpt",
            "stat",
            "-c",
            "%u:%g",
            "/tmp/kept.txt"
        ]))),
        "1234:4321\n"
    );
    ok(d.docker(&["cp", "-a", &s(&owned), "cpt:/tmp/mapped.txt"]));
    assert_eq!(
        stdout(&ok(d.docker(&[
            "exec",
            "cpt",
            "stat",
            "-c",
            "%u:%g",
            "/tmp/mapped.txt"
        ]))),
        "0:0\n"
    );
    // A file never replaces a directory (docker sends noOverwriteDirNonDir).
    let clash = host.join("clash");
    std::fs::create_dir_all(&clash).unwrap();
    std::fs::write(clash.join("newdir"), "file").unwrap();
    let o = d.docker(&["cp", &s(&clash.join("newdir")), "cpt:/tmp/"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot overwrite directory"),
        "{}",
        stderr(&o)
    );
    ok(d.docker(&["exec", "cpt", "test", "-d", "/tmp/newdir"]));

    // Symlinks that point out of the root stay inside it, both ways.
    let marker = berth_testkit::unique_name("berth-escape-");
    std::fs::write(host.join(&marker), "inside\n").unwrap();
    ok(d.docker(&["exec", "cpt", "ln", "-s", "../../../../../../../..", "/esc"]));
    ok(d.docker(&["exec", "cpt", "ln", "-s", "/etc", "/etclink"]));
    ok(d.docker(&["cp", &s(&host.join(&marker)), "cpt:/esc/"]));
    assert!(
        !Path::new("/").join(&marker).exists(),
        "escaped to the host's /"
    );
    assert_eq!(
        stdout(&ok(d.docker(&[
            "exec",
            "cpt",
            "cat",
            &format!("/{marker}")
        ]))),
        "inside\n"
    );
    ok(d.docker(&["cp", &s(&host.join(&marker)), "cpt:/esc/etclink/"]));
    assert!(
        !Path::new("/etc").join(&marker).exists(),
        "escaped to the host's /etc"
    );
    ok(d.docker(&["exec", "cpt", "test", "-f", &format!("/etc/{marker}")]));
    // Reading through the escaping link gives the container's file, not the host's.
    let o = ok(d.docker(&["cp", "cpt:/esc/etc/hostname", "-"]));
    let mut ar = tar::Archive::new(&o.stdout[..]);
    let mut e = ar.entries().unwrap().next().unwrap().unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut e, &mut text).unwrap();
    let cid = inspect(&d, "{{.Id}}", "cpt");
    assert_eq!(text.trim(), &cid[..12]);
    // HEAD stat of a link: the link itself, its target resolved inside the root.
    let o = ok(d.docker(&["container", "cp", "cpt:/etclink", &s(&host.join("etclink"))]));
    drop(o);
    assert_eq!(
        std::fs::read_link(host.join("etclink")).unwrap(),
        Path::new("/etc")
    );

    // A stopped container: files go into its filesystem and come back out.
    ok(d.docker(&["create", "--name", "cps", "busybox", "cat", "/a.txt"]));
    ok(d.docker(&["cp", &s(&host.join("a.txt")), "cps:/a.txt"]));
    ok(d.docker(&["cp", "cps:/a.txt", &s(&host.join("from-stopped.txt"))]));
    assert_eq!(
        std::fs::read_to_string(host.join("from-stopped.txt")).unwrap(),
        "hello\n"
    );
    assert_eq!(stdout(&ok(d.docker(&["start", "-a", "cps"]))), "hello\n");

    // A stopped container's binds are mounted for the copy, as the container sees them.
    let vol = host.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("in-volume.txt"), "vol\n").unwrap();
    ok(d.docker(&[
        "create",
        "--name",
        "cpv",
        "-v",
        &format!("{}:/data", s(&vol)),
        "busybox",
        "true",
    ]));
    ok(d.docker(&["cp", &s(&host.join("a.txt")), "cpv:/data/"]));
    assert_eq!(
        std::fs::read_to_string(vol.join("a.txt")).unwrap(),
        "hello\n"
    );
    ok(d.docker(&[
        "cp",
        "cpv:/data/in-volume.txt",
        &s(&host.join("from-volume.txt")),
    ]));
    assert_eq!(
        std::fs::read_to_string(host.join("from-volume.txt")).unwrap(),
        "vol\n"
    );

    // The berth CLI, both ways.
    ok(berth(
        &d,
        &["cp", &s(&host.join("a.txt")), "cpt:/tmp/berth.txt"],
    ));
    assert_eq!(
        stdout(&ok(d.docker(&["exec", "cpt", "cat", "/tmp/berth.txt"]))),
        "hello\n"
    );
    ok(berth(
        &d,
        &["cp", "cpt:/tmp/newdir", &s(&host.join("berth-out"))],
    ));
    assert_eq!(
        std::fs::read_to_string(host.join("berth-out/sub/b.txt")).unwrap(),
        "deep\n"
    );
    let o = berth(&d, &["cp", "cpt:/nonexistent", &s(&host)]);
    assert_eq!(o.status.code(), Some(1));

    // docker's naming rules, the same with both CLIs: `dir/.` copies the contents, -L follows
    // a link and keeps the link's name, the root comes out as a directory.
    ok(d.docker(&["exec", "cpt", "ln", "-s", "/tmp/newdir", "/dirlink"]));
    // Both CLIs refuse to create a link that points out of the destination.
    for o in [
        d.docker(&["cp", "cpt:/esc", &s(&host.join("esc-d"))]),
        berth(&d, &["cp", "cpt:/esc", &s(&host.join("esc-b"))]),
    ] {
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("invalid symlink"), "{}", stderr(&o));
    }
    ok(d.docker(&["exec", "cpt", "rm", "/esc"]));
    for (i, cli) in ["docker", "berth"].iter().enumerate() {
        let run = |args: &[&str]| {
            if *cli == "docker" {
                d.docker(args)
            } else {
                berth(&d, args)
            }
        };
        let dot = host.join(format!("dot{i}"));
        ok(run(&["cp", "cpt:/tmp/newdir/.", &s(&dot)]));
        assert_eq!(
            std::fs::read_to_string(dot.join("sub/b.txt")).unwrap(),
            "deep\n"
        );
        let followed = host.join(format!("followed{i}"));
        ok(run(&["cp", "-L", "cpt:/dirlink", &s(&followed)]));
        assert_eq!(
            std::fs::read_to_string(followed.join("sub/b.txt")).unwrap(),
            "deep\n",
            "{cli}"
        );
        let whole = host.join(format!("whole{i}"));
        ok(run(&["cp", "cpt:/", &s(&whole)]));
        assert_eq!(
            std::fs::read_to_string(whole.join("tmp/a.txt")).unwrap(),
            "hello\n"
        );
        ok(run(&[
            "cp",
            &format!("{}/.", s(&host.join("src"))),
            &format!("cpt:/tmp/contents{i}"),
        ]));
        ok(d.docker(&[
            "exec",
            "cpt",
            "test",
            "-f",
            &format!("/tmp/contents{i}/sub/b.txt"),
        ]));
    }
}

#[test]
fn peer_health_checks() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ]));
    assert_eq!(
        inspect(&d, "{{json .Config.Healthcheck.Test}}", "hc"),
        r#"["CMD-SHELL","test -e /tmp/ok"]"#
    );
    eventually("unhealthy", || {
        inspect(&d, "{{.State.Health.Status}}", "hc") == "unhealthy"
    });
    assert!(stdout(&d.docker(&["ps"])).contains("(unhealthy)"));
    ok(d.docker(&["exec", "hc", "touch", "/tmp/ok"]));
    eventually("healthy", || {
        inspect(&d, "{{.State.Health.Status}}", "hc") == "healthy"
    });
    assert!(stdout(&d.docker(&["ps"])).contains("(healthy)"));
    assert_eq!(inspect(&d, "{{.State.Health.FailingStreak}}", "hc"), "0");
    let log_len: usize = inspect(&d, "{{len .State.Health.Log}}", "hc")
        .parse()
        .unwrap();
    assert!((1..=5).contains(&log_len), "{log_len}");
    assert_eq!(
        stdout(&d.docker(&["ps", "-q", "--filter", "health=healthy"])).trim(),
        &inspect(&d, "{{.Id}}", "hc")[..12]
    );
    // `--until` in whole seconds, a little ahead so this second's events are in.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let until = until.to_string();
    let ev = ok(d.docker(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--filter",
        "event=health_status",
        "--format",
        "{{.Action}}",
    ]));
    assert!(
        stdout(&ev).contains("health_status: healthy"),
        "{}",
        stdout(&ev)
    );
    assert!(
        stdout(&ev).contains("health_status: unhealthy"),
        "{}",
        stdout(&ev)
    );

    // A probe that hangs: killed at the timeout (the probe itself, not just the exec).
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "hto",
        "--health-cmd",
        "sleep 5",
        "--health-timeout",
        "200ms",
        "--health-interval",
        "300ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]));
    eventually("unhealthy after a timeout", || {
        inspect(&d, "{{.State.Health.Status}}", "hto") == "unhealthy"
    });
    let first = inspect(&d, "{{json (index .State.Health.Log 0)}}", "hto");
    assert!(
        first.contains(r#""ExitCode":-1"#)
            && first.contains("Health check exceeded timeout (200ms)"),
        "{first}"
    );
    std::thread::sleep(Duration::from_secs(2));
    let sleeping = proc_comms(&d, "hto")
        .iter()
        .filter(|(comm, state)| comm == "sleep" && *state != 'Z')
        .count();
    assert!(sleeping <= 2, "timed-out probes left running: {sleeping}");

    // The image's HEALTHCHECK (set with commit --change) is inherited; --no-healthcheck drops it.
    ok(d.docker(&[
        "commit",
        "--change",
        "HEALTHCHECK --interval=100ms --retries=2 CMD [\"true\"]",
        "hc",
        "bbhc:1",
    ]));
    assert_eq!(
        stdout(&ok(d.docker(&[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Healthcheck.Test}}",
            "bbhc:1"
        ])))
        .trim(),
        r#"["CMD","true"]"#
    );
    ok(d.docker(&["run", "-d", "--name", "fromimg", "bbhc:1", "sleep", "1000"]));
    eventually("healthy from the image's check", || {
        inspect(&d, "{{.State.Health.Status}}", "fromimg") == "healthy"
    });

    // Live restore: after kill -9 of the daemon the monitor starts again with the container.
    let mut d = d;
    d.kill9();
    d.spawn();
    eventually("healthy after a daemon restart", || {
        inspect(&d, "{{.State.Health.Status}}", "fromimg") == "healthy"
            && inspect(&d, "{{.State.Health.Status}}", "hc") == "healthy"
    });

    // --no-healthcheck: Test NONE, no Health.
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "nohc",
        "--no-healthcheck",
        "busybox",
        "sleep",
        "1000",
    ]));
    assert_eq!(
        inspect(&d, "{{json .Config.Healthcheck.Test}}", "nohc"),
        r#"["NONE"]"#
    );
    assert_eq!(inspect(&d, "{{json .State.Health}}", "nohc"), "null");

    // The berth CLI's flags.
    ok(berth(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "bhc",
            "--health-cmd",
            "true",
            "--health-interval",
            "100ms",
            "busybox",
            "sleep",
            "1000",
        ],
    ));
    eventually("berth healthy", || {
        stdout(&berth(&d, &["ps", "--filter", "name=bhc"])).contains("(healthy)")
    });
}

/// `(comm, state)` of every process in the container, from /proc.
fn proc_comms(d: &Daemon, c: &str) -> Vec<(String, char)> {
    let o = d.docker(&["exec", c, "sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null"]);
    stdout(&o)
        .lines()
        .filter_map(|l| {
            let (head, tail) = l.rsplit_once(") ")?;
            let comm = head.split_once(" (")?.1.to_string();
            Some((comm, tail.chars().next()?))
        })
        .collect()
}

/// `(pid, state)` of every process in the container, from /proc.
fn proc_states(d: &Daemon, c: &str) -> Vec<(String, char)> {
    let o = d.docker(&["exec", c, "sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null"]);
    stdout(&o)
        .lines()
        .filter_map(|l| {
            let pid = l.split(' ').next()?.to_string();
            let state = l.rsplit_once(") ")?.1.chars().next()?;
            Some((pid, state))
        })
        .collect()
}

#[test]
fn peer_init_reaps_zombies_and_forwards_stop() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    ok(d.docker(&[
        "run", "-d", "--init", "--name", "it", "busybox", "sleep", "1000",
    ]));
    ok(d.docker(&["run", "-d", "--name", "noinit", "busybox", "sleep", "1000"]));
    assert!(inspect(&d, "{{.HostConfig.Init}}", "it") == "true");
    let cmdline = stdout(&ok(d.docker(&["exec", "it", "cat", "/proc/1/cmdline"])));
    assert!(
        cmdline.starts_with("/sbin/docker-init\0--\0sleep"),
        "{cmdline:?}"
    );
    // Orphans re-parented to pid 1: reaped by the init, left as zombies by a bare `sleep`.
    for c in ["it", "noinit"] {
        ok(d.docker(&["exec", c, "sh", "-c", "sh -c 'sleep 0.2 &'"]));
    }
    eventually("no zombie under --init", || {
        std::thread::sleep(Duration::from_millis(300));
        !proc_states(&d, "it").iter().any(|(_, s)| *s == 'Z')
    });
    eventually("a zombie without --init", || {
        proc_states(&d, "noinit").iter().any(|(_, s)| *s == 'Z')
    });
    // stop: the init forwards SIGTERM to `sleep` (exit 143); a bare pid-1 `sleep` ignores it
    // and is killed after the timeout (137).
    ok(d.docker(&["stop", "it"]));
    assert_eq!(inspect(&d, "{{.State.ExitCode}}", "it"), "143");
    ok(d.docker(&["stop", "-t", "1", "noinit"]));
    assert_eq!(inspect(&d, "{{.State.ExitCode}}", "noinit"), "137");
}

#[test]
fn peer_docker_py_containers_and_images() {
    if !need() {
        return;
    }
    let have_docker_py = Command::new("python3")
        .args(["-c", "import docker"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have_docker_py {
        berth_testkit::skip("docker_py", "needs python3-docker");
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/docker_py/smoke.py");
    let o = Command::new("python3")
        .arg(&script)
        .env("DOCKER_HOST", format!("unix://{}", d.sock().display()))
        .env("BERTH_TEST_PREFIX", berth_testkit::unique_name("py"))
        .output()
        .expect("python3");
    assert!(
        o.status.success(),
        "docker-py module failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("docker-py: all passed"),
        "{}",
        stdout(&o)
    );
}
