//! Issue 12, "security settings silently dropped": each `docker run` flag below is honoured
//! by berth as by Docker. Where Debian's dockerd is installed, the same commands run on a
//! private dockerd too and must print the same.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_testkit::daemon::{self as daemon_support, stderr, stdout, Daemon};
use berth_testkit::dockerd::Dockerd;
use berth_testkit::TempDir;

/// Docker's own daemon on a private socket with busybox loaded, where Debian's dockerd is
/// installed (the comparisons are skipped otherwise).
fn reference_dockerd() -> Option<Dockerd> {
    berth_testkit::which("dockerd")?;
    let d = Dockerd::start();
    d.load_busybox();
    Some(d)
}

/// A cgroup made by `--cgroup-parent`, removed from every hierarchy when dropped.
struct CgroupParent(String);

impl Drop for CgroupParent {
    fn drop(&mut self) {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join(&self.0))
            .collect();
        dirs.push(Path::new("/sys/fs/cgroup").join(&self.0));
        for d in dirs.iter().filter(|d| d.is_dir()) {
            // Children first (a container's cgroup left by a failed run).
            for child in std::fs::read_dir(d).into_iter().flatten().flatten() {
                if child.path().is_dir() {
                    let _ = std::fs::remove_dir(child.path());
                }
            }
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// One `docker run --rm --network none …` case: berth must print `expected`, and Docker
/// (when there) the same.
struct Case<'a> {
    what: &'a str,
    flags: Vec<String>,
    script: &'a str,
    expected: String,
}

fn run(docker: impl Fn(&[&str]) -> Output, case: &Case<'_>) -> (bool, String, String) {
    let mut args: Vec<&str> = vec!["run", "--rm", "--network", "none"];
    args.extend(case.flags.iter().map(String::as_str));
    args.extend(["busybox", "sh", "-c", case.script]);
    let out = docker(&args);
    (out.status.success(), stdout(&out), stderr(&out))
}

#[test]
fn peer_security_settings_are_honoured_as_docker_does() {
    if !daemon_support::need("peer_security_settings_are_honoured_as_docker_does", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dockerd = reference_dockerd();
    let tmp = TempDir::new("berth-sec-settings-");
    let profile = tmp.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .unwrap();
    let parent = CgroupParent(format!("berth-sec-parent-{}", std::process::id()));
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases = [
        Case {
            what: "a custom seccomp profile applies (it blocks mkdir)",
            flags: s(&["--security-opt", &format!("seccomp={}", profile.display())]),
            script: "mkdir /tmp/x 2>&1; echo rc=$?",
            expected: "mkdir: can't create directory '/tmp/x': Operation not permitted\nrc=1\n"
                .into(),
        },
        Case {
            what: "no-new-privileges:false",
            flags: s(&["--security-opt", "no-new-privileges:false"]),
            script: "grep NoNewPrivs /proc/self/status",
            expected: "NoNewPrivs:\t0\n".into(),
        },
        Case {
            what: "no-new-privileges",
            flags: s(&["--security-opt", "no-new-privileges"]),
            script: "grep NoNewPrivs /proc/self/status",
            expected: "NoNewPrivs:\t1\n".into(),
        },
        Case {
            what: "--read-only covers /etc/hosts, /etc/hostname and /etc/resolv.conf",
            flags: s(&["--read-only"]),
            script: "for f in /etc/hosts /etc/hostname /etc/resolv.conf /x; do \
                     if echo x >> $f 2>/dev/null; then echo $f rw; else echo $f ro; fi; done",
            expected: "/etc/hosts ro\n/etc/hostname ro\n/etc/resolv.conf ro\n/x ro\n".into(),
        },
        Case {
            what: "--oom-score-adj",
            flags: s(&["--oom-score-adj", "567"]),
            script: "cat /proc/1/oom_score_adj",
            expected: "567\n".into(),
        },
        Case {
            what: "--ulimit",
            flags: s(&["--ulimit", "nofile=512:1024", "--ulimit", "nproc=300:400"]),
            script: "ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu",
            expected: "512\n1024\n300\n400\n".into(),
        },
        Case {
            what: "--sysctl (namespaced ones)",
            flags: s(&[
                "--sysctl",
                "kernel.shmmax=123456789",
                "--sysctl",
                "net.ipv4.ip_unprivileged_port_start=99",
            ]),
            script: "cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_unprivileged_port_start",
            expected: "123456789\n99\n".into(),
        },
        Case {
            what: "--device, with its permissions",
            flags: s(&["--device", "/dev/zero:/dev/berth-zero:rw"]),
            script:
                "stat -c '%F %t:%T %a' /dev/berth-zero; head -c 3 /dev/berth-zero | od -An -tx1",
            expected: "character special file 1:5 666\n 00 00 00\n".into(),
        },
        Case {
            what: "the default device rules refuse an unknown device",
            flags: vec![],
            script: "mknod /tmp/d c 42 42; cat /tmp/d 2>&1; true",
            expected: "cat: can't open '/tmp/d': Operation not permitted\n".into(),
        },
        Case {
            what: "--device-cgroup-rule",
            flags: s(&["--device-cgroup-rule", "c 42:* rmw"]),
            script: "mknod /tmp/d c 42 42; cat /tmp/d 2>&1; true",
            expected: "cat: can't open '/tmp/d': No such device or address\n".into(),
        },
        Case {
            what: "--cgroup-parent",
            flags: s(&["--cgroup-parent", &format!("/{}", parent.0)]),
            script: "grep -c /proc/self/cgroup -e /$PARENT/",
            expected: String::new(),
        },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let script = case.script.replace("$PARENT", &parent.0);
        let c = Case {
            script: &script,
            flags: case.flags.clone(),
            what: case.what,
            expected: case.expected.clone(),
        };
        // --cgroup-parent: the count of hierarchies naming the parent, not a fixed text.
        let matches = |out: &(bool, String, String)| {
            if c.what == "--cgroup-parent" {
                out.0 && out.1.trim().parse::<u32>().unwrap_or(0) > 0
            } else {
                out.0 && out.1 == c.expected
            }
        };
        let berth = run(|a| d.docker(a), &c);
        if !matches(&berth) {
            failures.push(format!(
                "berth, {}: {:?} (stderr {:?})",
                c.what, berth.1, berth.2
            ));
        }
        if let Some(docker) = &dockerd {
            let theirs = run(|a| docker.docker(a), &c);
            if !matches(&theirs) {
                failures.push(format!(
                    "Docker, {}: {:?} (stderr {:?}), berth {:?}",
                    c.what, theirs.1, theirs.2, berth.1
                ));
            }
        }
    }

    // What Docker refuses, berth refuses (at create, 400, so nothing is left behind).
    // (A profile that does not decode is refused by the docker CLI itself; through the API,
    // `security_create.rs` checks berth's 400.) Docker refuses a missing device at start
    // (exit 127), berth at create (125): the message is the same.
    let refused: [(&[&str], &str); 1] = [(
        &["--device", "/dev/berth-no-such-device"],
        "error gathering device information while adding custom device \"/dev/berth-no-such-device\": no such file or directory",
    )];
    for (flags, message) in refused {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        let out = d.docker(&args);
        if out.status.code() != Some(127) || !stderr(&out).contains(message) {
            failures.push(format!(
                "berth, {flags:?}: {:?} {}",
                out.status,
                stderr(&out)
            ));
        }
        if let Some(docker) = &dockerd {
            let out = docker.docker(&args);
            if out.status.code() != Some(127) || !stderr(&out).contains(message) {
                failures.push(format!(
                    "Docker, {flags:?}: {:?} {}",
                    out.status,
                    stderr(&out)
                ));
            }
        }
    }
    // The docker CLI checks these itself; through the API berth refuses them with
    // runc's / moby's / go-units' words.
    for (host_config, message) in [
        (
            r#"{"Sysctls":{"kernel.panic":"1"}}"#,
            r#"sysctl \"kernel.panic\" is not in a separate kernel namespace"#,
        ),
        (
            r#"{"NetworkMode":"host","Sysctls":{"net.ipv4.ip_forward":"1"}}"#,
            r#"sysctl \"net.ipv4.ip_forward\" is not allowed in the hosts network namespace"#,
        ),
        (
            r#"{"DeviceCgroupRules":["c 1:3"]}"#,
            "invalid device cgroup rule format: 'c 1:3'",
        ),
        (
            r#"{"Ulimits":[{"Name":"bogus","Soft":1,"Hard":1}]}"#,
            "invalid ulimit type: bogus",
        ),
    ] {
        let body = format!(r#"{{"Image":"busybox","HostConfig":{host_config}}}"#);
        let out = Command::new("curl")
            .args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--unix-socket"])
            .arg(d.sock())
            .args(["-H", "Content-Type: application/json", "-d", &body])
            .arg("http://d/v1.47/containers/create")
            .output()
            .unwrap();
        let text = stdout(&out);
        if !text.ends_with("\n400") || !text.contains(message) {
            failures.push(format!("berth, create {host_config}: {text}"));
        }
    }
    let out = d.docker(&["ps", "-aq"]);
    if !stdout(&out).trim().is_empty() {
        failures.push(format!("containers left behind: {}", stdout(&out)));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `docker run -m 8m` of a process that allocates without end: the OOM killer kills it, and
/// inspect says `OOMKilled: true` (exit 137), with an `oom` event before `die` — on berth and,
/// where installed, on Docker. A container that exits by itself says `false`.
#[test]
fn peer_an_oom_killed_container_shows_oomkilled() {
    if !daemon_support::need("peer_an_oom_killed_container_shows_oomkilled", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dockerd = reference_dockerd();
    let check = |engine: &str, docker: &dyn Fn(&[&str]) -> Output| -> Vec<String> {
        let mut failures = Vec::new();
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        let start = now().to_string();
        // `tail` keeps the last "line" of /dev/zero, which never ends: it grows until killed.
        let out = docker(&[
            "run",
            "--name",
            "oom",
            "--network",
            "none",
            "-m",
            "8m",
            "--memory-swap",
            "8m",
            "busybox",
            "tail",
            "/dev/zero",
        ]);
        if out.status.code() != Some(137) {
            failures.push(format!("{engine}: run: {:?} {}", out.status, stderr(&out)));
        }
        let out = docker(&[
            "run",
            "--name",
            "fine",
            "--network",
            "none",
            "busybox",
            "true",
        ]);
        assert!(out.status.success(), "{engine}: {}", stderr(&out));
        for (name, expected) in [("oom", "true 137"), ("fine", "false 0")] {
            let out = docker(&[
                "inspect",
                "-f",
                "{{.State.OOMKilled}} {{.State.ExitCode}}",
                name,
            ]);
            if stdout(&out).trim() != expected {
                failures.push(format!("{engine}: {name}: {:?}", stdout(&out)));
            }
        }
        // A second past now: `docker events` returns once that has passed.
        let until = (now() + 1).to_string();
        let out = docker(&[
            "events",
            "--since",
            &start,
            "--until",
            &until,
            "--filter",
            "container=oom",
            "--filter",
            "type=container",
            "--format",
            "{{.Action}}",
        ]);
        let actions: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
        let oom = actions.iter().position(|a| a == "oom");
        let die = actions.iter().position(|a| a == "die");
        if !matches!((oom, die), (Some(o), Some(d)) if o < d) {
            failures.push(format!("{engine}: events {actions:?}"));
        }
        let _ = docker(&["rm", "-f", "oom", "fine"]);
        failures
    };
    let mut failures = check("berth", &|a| d.docker(a));
    if let Some(docker) = &dockerd {
        failures.extend(check("Docker", &|a| docker.docker(a)));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// daemon.json's `no-new-privileges` and `seccomp-profile` (here as the dockerd flags of the
/// same names; the test daemon's daemon.json is its own, and the keys' parsing is
/// unit-tested in `daemon::config`) apply to every container that does not say otherwise.
#[test]
fn peer_daemon_wide_no_new_privileges_and_seccomp_profile() {
    if !daemon_support::need(
        "peer_daemon_wide_no_new_privileges_and_seccomp_profile",
        &[],
    ) {
        return;
    }
    let tmp = TempDir::new("berth-sec-daemon-defaults-");
    let profile = tmp.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .unwrap();
    let d = Daemon::start_with(&[
        "--no-new-privileges",
        "--seccomp-profile",
        profile.to_str().unwrap(),
    ]);
    d.load_busybox();
    let script =
        "grep NoNewPrivs /proc/self/status; mkdir /tmp/x 2>/dev/null && echo made || echo refused";
    let run = |flags: &[&str]| {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend(flags);
        args.extend(["busybox", "sh", "-c", script]);
        let out = d.docker(&args);
        assert!(out.status.success(), "{flags:?}: {}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(run(&[]), "NoNewPrivs:\t1\nrefused\n");
    assert_eq!(
        run(&[
            "--security-opt",
            "no-new-privileges=false",
            "--security-opt",
            "seccomp=unconfined"
        ]),
        "NoNewPrivs:\t0\nmade\n"
    );
}
