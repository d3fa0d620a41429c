//! Issue 12: bad input is refused with Docker's message and changes nothing — a create with
//! a bad value leaves no record, directory or snapshot; daemon.json with a key berth does not
//! know refuses the start; any name Docker takes works, and `rm -f` removes any record.
#![cfg(test)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::daemon::{self as daemon_support, stderr, stdout, Daemon};

/// One HTTP/1.0 request on the daemon's socket: (status, body).
fn request(sock: &Path, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::os::unix::net::UnixStream::connect(sock).expect("connect");
    // The daemon may answer (413) and close before the whole body is sent.
    let _ = write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    (status, body)
}

/// Everything a create could have left: records, directories, snapshots.
fn leftovers(d: &Daemon) -> Vec<String> {
    let mut found = Vec::new();
    for dir in [
        "data/metadata/records/container",
        "data/metadata/records/container-names",
        "data/containers",
        "data/snapshots/active",
        "exec/containers",
    ] {
        for e in std::fs::read_dir(d.root().join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            found.push(format!("{dir}/{}", e.file_name().to_string_lossy()));
        }
    }
    let ps = stdout(&d.docker(&["ps", "-aq"]));
    if !ps.trim().is_empty() {
        found.push(format!("ps -a: {ps}"));
    }
    found
}

#[test]
fn peer_bad_create_values_get_dockers_400_and_leave_nothing() {
    if !daemon_support::need(
        "peer_bad_create_values_get_dockers_400_and_leave_nothing",
        &[],
    ) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let garbage = d.root().join("garbage-profile.json");
    // Valid JSON (the docker CLI checks that), not a profile.
    std::fs::write(&garbage, r#"{"defaultAction": 5}"#).unwrap();
    let garbage = format!("seccomp={}", garbage.display());
    let cases: &[(&[&str], &str)] = &[
        (
            &["-w", "rel/dir"],
            "the working directory 'rel/dir' is invalid, it needs to be an absolute path",
        ),
        (
            &["--oom-score-adj=1001"],
            "Invalid value 1001, range for oom score adj is [-1000, 1000]",
        ),
        (
            &["--oom-score-adj=-1001"],
            "Invalid value -1001, range for oom score adj is [-1000, 1000]",
        ),
        (
            &["--cap-add=FOO"],
            r#"invalid CapAdd: unknown capability: "CAP_FOO""#,
        ),
        (
            &["--cap-drop=bar"],
            r#"invalid CapDrop: unknown capability: "CAP_BAR""#,
        ),
        (
            &["--security-opt=foo=bar"],
            r#"invalid --security-opt 2: "foo=bar""#,
        ),
        (
            &["--security-opt=no-new-privileges=maybe"],
            r#"invalid --security-opt 2: "no-new-privileges=maybe""#,
        ),
        (
            &["--security-opt", &garbage],
            "Decoding seccomp profile failed",
        ),
        (&["--log-opt=max-size=-5"], "invalid size: '-5'"),
        (&["--log-opt=max-file=0"], "max-file cannot be less than 1"),
        (
            &["--log-opt=foo=1"],
            "unknown log opt 'foo' for json-file log driver",
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec!["create", "--network", "none", "--name", "bad"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        let out = d.docker(&args);
        assert!(!out.status.success(), "{flags:?} was accepted");
        assert!(
            stderr(&out).contains(message),
            "{flags:?}: {}",
            stderr(&out)
        );
        assert!(
            leftovers(&d).is_empty(),
            "{flags:?} left {:?}",
            leftovers(&d)
        );
    }
    // Values the docker CLI refuses before sending, through the API.
    let api: &[(&str, &str)] = &[
        (r#""ShmSize":-1"#, "SHM size can not be less than 0"),
        (
            r#""SecurityOpt":["foo"]"#,
            r#"invalid --security-opt 1: \"foo\""#,
        ),
    ];
    for (host, message) in api {
        let body = format!(
            r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{{"NetworkMode":"none",{host}}}}}"#
        );
        let (status, text) = request(&d.sock(), "POST", "/v1.47/containers/create", &body);
        assert_eq!(status, 400, "{host}: {text}");
        assert!(text.contains(message), "{host}: {text}");
        assert!(leftovers(&d).is_empty(), "{host} left {:?}", leftovers(&d));
    }
    // Names outside Docker's pattern: 400 before anything is written.
    for name in ["-bad", "a b", "x", "ü1"] {
        let out = d.docker(&["create", "--network", "none", "--name", name, "busybox"]);
        assert!(
            stderr(&out).contains("Invalid container name"),
            "{name}: {}",
            stderr(&out)
        );
    }
    assert!(leftovers(&d).is_empty(), "{:?}", leftovers(&d));
}

#[test]
fn peer_any_docker_name_works_and_rm_f_removes_any_record() {
    if !daemon_support::need(
        "peer_any_docker_name_works_and_rm_f_removes_any_record",
        &[],
    ) {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();
    // Docker takes a name of any length matching its pattern.
    let long = "a".repeat(10_000);
    let out = d.docker(&[
        "create",
        "--network",
        "none",
        "--name",
        &long,
        "busybox",
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let out = d.docker(&["inspect", "-f", "{{.Name}}", &long]);
    assert_eq!(stdout(&out).trim(), format!("/{long}"));
    // A second container owns the name "keep"; a damaged record of a third claims it too.
    let out = d.docker(&[
        "create",
        "--network",
        "none",
        "--name",
        "keep",
        "busybox",
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let keep = stdout(&out).trim().to_string();
    let out = d.docker(&[
        "create",
        "--network",
        "none",
        "--name",
        "stuck",
        "busybox",
        "true",
    ]);
    let stuck = stdout(&out).trim().to_string();

    d.kill9();
    let records = d.root().join("data/metadata/records/container");
    // "stuck": marked removing, still "running", its name pointing at "keep"'s.
    let path = records.join(format!("{stuck}.json"));
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    rec["value"]["name"] = "/keep".into();
    rec["value"]["state"]["Running"] = true.into();
    rec["value"]["state"]["Pid"] = 999_999.into();
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    // A record this berth cannot decode.
    let odd = "0dd0000000000000000000000000000000000000000000000000000000000000";
    std::fs::write(
        records.join(format!("{odd}.json")),
        br#"{"generation":1,"value":{"id":5,"state":"??"}}"#,
    )
    .unwrap();
    d.spawn();

    // The long name survived the restart.
    let out = d.docker(&["inspect", "-f", "{{.Id}}", &long]);
    assert_eq!(stdout(&out).trim(), id, "{}", stderr(&out));
    for reference in [long.as_str(), &stuck, odd] {
        let started = Instant::now();
        let out = d.docker(&["rm", "-f", reference]);
        assert!(
            out.status.success(),
            "rm -f {}: {}",
            &reference[..12],
            stderr(&out)
        );
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    let out = d.docker(&["ps", "-aq", "--no-trunc"]);
    assert_eq!(stdout(&out).trim(), keep, "{}", stderr(&out));
    // "keep" still owns its name.
    let out = d.docker(&["inspect", "-f", "{{.Id}}", "keep"]);
    assert_eq!(stdout(&out).trim(), keep, "{}", stderr(&out));
    for gone in [&id, &stuck, &odd.to_string()] {
        assert!(!records.join(format!("{gone}.json")).exists());
        assert!(!d.root().join("data/containers").join(gone).exists());
        assert!(!d.root().join("data/snapshots/active").join(gone).exists());
    }
    let names = d.root().join("data/metadata/records/container-names");
    let left: Vec<String> = std::fs::read_dir(names)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["keep.json"]);
}

#[test]
fn peer_daemon_json_with_unknown_keys_refuses_to_start() {
    if !daemon_support::need("peer_daemon_json_with_unknown_keys_refuses_to_start", &[]) {
        return;
    }
    let tmp = berth_testkit::TempDir::new("berth-daemon-json-");
    let config = tmp.path().join("daemon.json");
    std::fs::write(
        &config,
        r#"{"debug": true, "bogus-key": 1, "debugg": false}"#,
    )
    .unwrap();
    let table = berth_testkit::unique_name("berth_t");
    let mut child = Command::new(berth_testkit::berth_bin())
        .arg("daemon")
        .arg("-H")
        .arg(format!("unix://{}", tmp.path().join("b.sock").display()))
        .arg("--data-root")
        .arg(tmp.path().join("data"))
        .arg("--exec-root")
        .arg(tmp.path().join("exec"))
        .arg("--config-file")
        .arg(&config)
        .arg("--bridge")
        .arg("none")
        .arg("--nft-table")
        .arg(&table)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = Command::new("nft")
        .args(["delete", "table", "inet", &table])
        .stderr(Stdio::null())
        .status();
    assert!(
        status.is_some_and(|s| !s.success()),
        "the daemon ran with unknown daemon.json keys: {err}"
    );
    assert!(
        err.contains(
            "the following directives don't match any configuration option: bogus-key, debugg"
        ),
        "{err}"
    );
    assert!(!tmp.path().join("b.sock").exists());
}

/// The daemon's peak resident memory (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// Sends `request_line` (`METHOD /path`) with a chunked body: `prefix`, then `fill` bytes repeated up to `total` bytes in
/// all (never held whole), from a thread; returns the response's status line (the daemon
/// may answer before the end).
fn send_chunked(
    sock: &Path,
    request_line: &str,
    prefix: Vec<u8>,
    fill: u8,
    total: usize,
) -> String {
    let s = std::os::unix::net::UnixStream::connect(sock).expect("connect");
    let mut w = s.try_clone().unwrap();
    let head = format!(
        "{request_line} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        w.write_all(head.as_bytes())?;
        write!(w, "{:x}\r\n", prefix.len())?;
        w.write_all(&prefix)?;
        w.write_all(b"\r\n")?;
        let chunk = vec![fill; 1 << 20];
        let mut sent = prefix.len();
        while sent < total {
            let n = chunk.len().min(total - sent);
            write!(w, "{n:x}\r\n")?;
            w.write_all(&chunk[..n])?;
            w.write_all(b"\r\n")?;
            sent += n;
        }
        w.write_all(b"0\r\n\r\n")
    });
    let mut r = std::io::BufReader::new(s);
    let mut status = String::new();
    let _ = std::io::BufRead::read_line(&mut r, &mut status);
    let _ = writer.join();
    status.trim().to_string()
}

#[test]
fn peer_request_bodies_have_a_limit_and_streams_are_streamed() {
    if !daemon_support::need(
        "peer_request_bodies_have_a_limit_and_streams_are_streamed",
        &[],
    ) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let pid = d.pid().unwrap();
    let before = peak_rss(pid);
    // A JSON body of 1 GiB, chunked: refused with 413 once past the limit, never buffered.
    let status = send_chunked(
        &d.sock(),
        "POST /v1.47/containers/create",
        b"{".to_vec(),
        b' ',
        1 << 30,
    );
    assert!(status.contains(" 413 "), "{status}");
    // Known too large by its Content-Length: refused before reading.
    let big = format!(
        r#"{{"Image":"busybox","Labels":{{"x":"{}"}}}}"#,
        "a".repeat(17 << 20)
    );
    let (code, text) = request(&d.sock(), "POST", "/v1.47/containers/create", &big);
    assert_eq!(code, 413, "{text}");
    drop(big);
    // An archive is a stream: 512 MiB into a container's /tmp costs no memory.
    let out = d.docker(&[
        "create",
        "--network",
        "none",
        "--name",
        "sink",
        "busybox",
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let size: usize = 512 << 20;
    let mut header = tar::Header::new_gnu();
    header.set_path("big").unwrap();
    header.set_size(size as u64);
    header.set_mode(0o644);
    header.set_cksum();
    // The header, the file's zeros, the two zero blocks that end an archive.
    let status = send_chunked(
        &d.sock(),
        "PUT /v1.47/containers/sink/archive?path=/tmp",
        header.as_bytes().to_vec(),
        0,
        512 + size + 1024,
    );
    assert!(status.contains(" 200 "), "{status}");
    let grown = peak_rss(pid).saturating_sub(before);
    assert!(
        grown < 128 << 20,
        "the daemon's peak memory grew by {} MiB",
        grown >> 20
    );
    let out = d.docker(&["start", "-a", "sink"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(d.docker(&["version"]).status.success());
}
