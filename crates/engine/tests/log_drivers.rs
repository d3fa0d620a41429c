//! Log drivers end to end, through the real docker CLI against a berth daemon: each driver
//! writes a container's output and `docker logs` reads it back (local rotated and
//! compressed, journald through a journal the test starts, syslog through its dual-logging
//! cache while a loopback server receives the messages), `none` refuses `logs` as Docker
//! does, and daemon.json's `log-driver`/`log-opts` become a container's defaults.
#![cfg(test)]

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use berth_testkit::daemon::{self, stderr, stdout, Daemon, DaemonOptions};
use berth_testkit::journald::{self, Journald};

/// Runs `sh -c script` in a new container with `log_args`, waits for it, returns its id.
fn run(d: &Daemon, log_args: &[&str], script: &str) -> String {
    let mut args = vec!["run", "-d"];
    args.extend(log_args);
    args.extend(["busybox", "sh", "-c", script]);
    let o = d.docker(&args);
    assert!(o.status.success(), "run: {}", stderr(&o));
    let id = stdout(&o).trim().to_string();
    let w = d.docker(&["wait", &id]);
    assert_eq!(stdout(&w).trim(), "0", "{}", stderr(&w));
    id
}

fn logs(d: &Daemon, id: &str) -> (String, String) {
    let o = d.docker(&["logs", id]);
    assert!(o.status.success(), "logs: {}", stderr(&o));
    (stdout(&o), stderr(&o))
}

#[test]
fn local_driver_rotates_compresses_and_logs_reads_back() {
    if !daemon::need("local_driver_rotates_compresses_and_logs_reads_back", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let id = run(
        &d,
        &[
            "--log-driver",
            "local",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=3",
        ],
        "i=0; while [ $i -lt 100 ]; do echo out $i; i=$((i+1)); done",
    );
    let dir = d
        .root()
        .join("data/containers")
        .join(&id)
        .join("local-logs");
    assert!(
        dir.join("container.log.1.gz").exists(),
        "rotated and gzipped"
    );
    assert!(dir.join("container.log.2.gz").exists());
    assert!(
        !dir.join("container.log.3.gz").exists(),
        "max-file=3 files in all"
    );
    // (stderr is checked by the syslog and journald tests: which pipe the shim reads first
    // decides what rotation keeps, so this one writes stdout only.)
    let (out, _) = logs(&d, &id);
    assert!(out.ends_with("out 98\nout 99\n"), "{out}");
    assert!(!out.contains("out 0\n"), "the oldest were rotated away");
    let lines: Vec<&str> = out.lines().collect();
    let n = |l: &str| l[4..].parse::<u32>().unwrap();
    assert!(lines.windows(2).all(|w| n(w[1]) == n(w[0]) + 1), "{out}");
    let o = d.docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.LogConfig.Type}} {{json .HostConfig.LogConfig.Config}} [{{.LogPath}}]",
        &id,
    ]);
    assert_eq!(
        stdout(&o).trim(),
        r#"local {"max-file":"3","max-size":"1k"} []"#
    );
}

#[test]
fn none_driver_refuses_logs_and_unknown_driver_is_refused() {
    if !daemon::need(
        "none_driver_refuses_logs_and_unknown_driver_is_refused",
        &[],
    ) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let id = run(&d, &["--log-driver", "none"], "echo hidden");
    let o = d.docker(&["logs", &id]);
    assert!(!o.status.success());
    assert_eq!(
        stderr(&o).trim(),
        "Error response from daemon: configured logging driver does not support reading"
    );
    let o = d.docker(&["create", "--log-driver", "bogus", "busybox", "true"]);
    assert!(
        stderr(&o).contains("error looking up logging plugin bogus: plugin \"bogus\" not found"),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&[
        "create",
        "--log-driver",
        "local",
        "--log-opt",
        "tag=x",
        "busybox",
    ]);
    assert!(
        stderr(&o).contains("unknown log opt 'tag' for local log driver"),
        "{}",
        stderr(&o)
    );
    // Nothing was made by the refused creates.
    assert_eq!(stdout(&d.docker(&["ps", "-aq"])).lines().count(), 1);
}

#[test]
fn syslog_driver_sends_rfc5424_over_udp_and_logs_reads_the_cache() {
    if !daemon::need(
        "syslog_driver_sends_rfc5424_over_udp_and_logs_reads_the_cache",
        &[],
    ) {
        return;
    }
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let addr = format!("syslog-address=udp://{}", server.local_addr().unwrap());
    let d = Daemon::start();
    d.load_busybox();
    let id = run(
        &d,
        &[
            "--name",
            "sl",
            "--log-driver",
            "syslog",
            "--log-opt",
            &addr,
            "--log-opt",
            "syslog-format=rfc5424",
            "--log-opt",
            "tag={{.Name}}",
        ],
        "echo to-syslog; echo oops >&2",
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // The daemon's start check connects too (udp sends nothing until a message).
    while got.len() < 2 {
        let n = server.recv(&mut buf).expect("syslog message");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    got.sort();
    assert!(got[0].starts_with("<27>1 "), "daemon.err: {}", got[0]);
    assert!(got[0].ends_with(" sl - oops\n"), "{}", got[0]);
    assert!(got[1].starts_with("<30>1 "), "daemon.info: {}", got[1]);
    assert!(got[1].contains(" sl "), "tag is the name: {}", got[1]);
    assert!(got[1].ends_with(" sl - to-syslog\n"), "{}", got[1]);
    assert_eq!(logs(&d, &id), ("to-syslog\n".into(), "oops\n".into()));
}

#[test]
fn journald_driver_writes_docker_fields_and_logs_reads_back() {
    if !daemon::need(
        "journald_driver_writes_docker_fields_and_logs_reads_back",
        &["journalctl"],
    ) {
        return;
    }
    let Some(program) = journald::program() else {
        berth_testkit::skip(
            "journald_driver_writes_docker_fields_and_logs_reads_back",
            "needs systemd-journald (package systemd) to start a journal of its own",
        );
        return;
    };
    let journal = Journald::start(&program);
    let d = DaemonOptions::new()
        .env(&[("BERTH_JOURNAL_NAMESPACE", &journal.namespace)])
        .start();
    d.load_busybox();
    let id = run(
        &d,
        &[
            "--name",
            "jd",
            "--log-driver",
            "journald",
            "--label",
            "app=web",
            "--log-opt",
            "labels=app",
        ],
        "echo one; echo two >&2; printf partial",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let (out, err) = loop {
        let (out, err) = logs(&d, &id);
        if out.contains("partial") && err.contains("two") || Instant::now() > deadline {
            break (out, err);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!((out.as_str(), err.as_str()), ("one\npartial", "two\n"));
    let entries = journal.entries(&[&format!("CONTAINER_ID_FULL={id}")]);
    let first = entries
        .iter()
        .find(|e| e["MESSAGE"] == "one")
        .expect("an entry for the stdout line");
    for (k, v) in [
        ("MESSAGE", "one"),
        ("CONTAINER_ID", &id[..12]),
        ("CONTAINER_ID_FULL", &id),
        ("CONTAINER_NAME", "jd"),
        ("CONTAINER_TAG", &id[..12]),
        ("SYSLOG_IDENTIFIER", &id[..12]),
        ("IMAGE_NAME", "busybox"),
        ("PRIORITY", "6"),
        ("APP", "web"),
    ] {
        assert_eq!(first[k], v, "{k} in {first}");
    }
}

#[test]
fn daemon_json_log_driver_and_opts_are_the_defaults() {
    if !daemon::need("daemon_json_log_driver_and_opts_are_the_defaults", &[]) {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();
    d.kill9();
    std::fs::write(
        d.root().join("daemon.json"),
        r#"{"log-driver":"local","log-opts":{"max-size":"5m"}}"#,
    )
    .unwrap();
    d.spawn();
    let id = run(&d, &[], "echo hello");
    assert_eq!(logs(&d, &id).0, "hello\n");
    let o = d.docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.LogConfig.Type}} {{json .HostConfig.LogConfig.Config}}",
        &id,
    ]);
    assert_eq!(stdout(&o).trim(), r#"local {"max-size":"5m"}"#);
    // Another driver does not inherit the daemon's options (Docker's merge rule).
    let id = run(&d, &["--log-driver", "json-file"], "echo j");
    let o = d.docker(&[
        "inspect",
        "-f",
        "{{json .HostConfig.LogConfig.Config}}",
        &id,
    ]);
    assert_eq!(stdout(&o).trim(), "{}");
    let o = d.docker(&["info", "-f", "{{.LoggingDriver}} {{.Plugins.Log}}"]);
    assert_eq!(stdout(&o).trim(), "local [journald json-file local syslog]");
    // A daemon.json naming an unknown driver stops the daemon from starting.
    d.kill9();
    std::fs::write(d.root().join("daemon.json"), r#"{"log-driver":"bogus"}"#).unwrap();
    let o = std::process::Command::new(&d.bin)
        .args(["daemon", "--config-file"])
        .arg(d.root().join("daemon.json"))
        .arg("--data-root")
        .arg(d.root().join("data"))
        .arg("--exec-root")
        .arg(d.root().join("exec"))
        .arg("-H")
        .arg(format!("unix://{}", d.root().join("other.sock").display()))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("error looking up logging plugin bogus"),
        "{}",
        stderr(&o)
    );
}

/// The `attrs` of a container's first json-file line (read from its `LogPath`).
fn json_attrs(log_path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(log_path.trim()).expect("json-file log");
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("a log line")).expect("json line");
    first["attrs"].clone()
}

#[test]
fn peer_labels_regex_and_env_regex_pick_attributes_as_dockerd() {
    if !daemon::need(
        "peer_labels_regex_and_env_regex_pick_attributes_as_dockerd",
        &["dockerd"],
    ) {
        return;
    }
    let args = [
        "run",
        "--label",
        "com.example.a=1",
        "--label",
        "com.example.b=2",
        "--label",
        "other=3",
        "-e",
        "APP_X=x",
        "-e",
        "MY_APP_Y=y",
        "-e",
        "OTHER=o",
        "--log-driver",
        "json-file",
        "--log-opt",
        r"labels-regex=^com\.example\.",
        "--log-opt",
        "env-regex=APP_",
        "--log-opt",
        "labels=other",
        "busybox",
        "echo",
        "hi",
    ];
    let docker = berth_testkit::dockerd::Dockerd::start();
    docker.load_busybox();
    let o = docker.docker(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = docker.docker(&["ps", "-lq"]);
    let path = docker.docker(&["inspect", "-f", "{{.LogPath}}", stdout(&id).trim()]);
    let want = json_attrs(&stdout(&path));

    let d = Daemon::start();
    d.load_busybox();
    let o = d.docker(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = d.docker(&["ps", "-lq"]);
    let path = d.docker(&["inspect", "-f", "{{.LogPath}}", stdout(&id).trim()]);
    let got = json_attrs(&stdout(&path));
    assert_eq!(got, want);
    assert_eq!(
        got,
        serde_json::json!({"com.example.a": "1", "com.example.b": "2", "other": "3",
            "APP_X": "x", "MY_APP_Y": "y"})
    );
    // A regex that does not compile is refused, and nothing is made.
    let o = d.docker(&["create", "--log-opt", "env-regex=(", "busybox"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("failed to initialize logging driver: error parsing regexp"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&d.docker(&["ps", "-aq"])).lines().count(), 1);
}

/// `--log-driver` / `--log-opt` set the daemon's defaults as daemon.json does; both at once
/// are refused with dockerd's message.
#[test]
fn daemon_log_driver_flags_are_the_defaults_and_conflict_with_daemon_json() {
    if !daemon::need(
        "daemon_log_driver_flags_are_the_defaults_and_conflict_with_daemon_json",
        &[],
    ) {
        return;
    }
    let d = DaemonOptions::new()
        .args(&["--log-driver", "local", "--log-opt", "max-size=5m"])
        .start();
    d.load_busybox();
    let id = run(&d, &[], "echo hello");
    assert_eq!(logs(&d, &id).0, "hello\n");
    let o = d.docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.LogConfig.Type}} {{json .HostConfig.LogConfig.Config}}",
        &id,
    ]);
    assert_eq!(stdout(&o).trim(), r#"local {"max-size":"5m"}"#);
    std::fs::write(
        d.root().join("daemon.json"),
        r#"{"log-driver":"json-file"}"#,
    )
    .unwrap();
    let o = std::process::Command::new(&d.bin)
        .args(["daemon", "--log-driver", "local", "--config-file"])
        .arg(d.root().join("daemon.json"))
        .arg("--data-root")
        .arg(d.root().join("data2"))
        .arg("--exec-root")
        .arg(d.root().join("exec2"))
        .arg("-H")
        .arg(format!("unix://{}", d.root().join("other.sock").display()))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("the following directives are specified both as a flag and in the configuration file: log-driver: (from flag: local, from file: json-file)"),
        "{}",
        stderr(&o)
    );
}
