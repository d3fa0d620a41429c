//! Every driver writes through [`berth_logdriver::open`] and is read back through
//! [`berth_logdriver::reader`] (or, for syslog, by the server it writes to): json-file,
//! local (rotated, compressed), none (refused), syslog (unix datagram, udp and tcp on
//! loopback; the dual-logging cache read back) and journald (a `systemd-journald` the test
//! starts in a namespace of its own, read back with `journalctl`).
#![cfg(test)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_logdriver::{open, reader, ContainerInfo, LogConfig, LogEntry, Message, Stream};
use berth_testkit::journald::Journald;
use berth_testkit::{require_program, require_root, TempDir};
use berth_units::Timestamp;

const ID: &str = "4f1c9a7e2b3d5f6a8c9e0b1d2f3a4c5e6b7d8f9a0c1e2b3d4f5a6c7e8b9d0f1a";

fn config(dir: &Path, driver: &str, opts: &[(&str, &str)]) -> LogConfig {
    LogConfig {
        driver: driver.into(),
        opts: opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        container: ContainerInfo {
            id: ID.into(),
            name: "web".into(),
            image_name: "busybox:latest".into(),
            tag: "4f1c9a7e2b3d".into(),
            attrs: Default::default(),
        },
        dir: dir.to_path_buf(),
        json_path: dir.join(format!("{ID}-json.log")),
        journal_namespace: None,
    }
}

/// Logs "line 0".."line n-1" (odd ones on stderr) plus a partial "tail", one second apart.
fn write_lines(cfg: &LogConfig, n: i64) {
    let mut d = open(cfg).expect("open driver");
    for i in 0..n {
        let stream = if i % 2 == 1 {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let data = format!("line {i}\n");
        d.log(&Message::from_output(
            stream,
            data.as_bytes(),
            Timestamp::new(1_700_000_000 + i, 0),
        ))
        .expect("log");
    }
    d.log(&Message::from_output(
        Stream::Stdout,
        b"tail",
        Timestamp::new(1_700_000_000 + n, 0),
    ))
    .expect("log partial");
}

fn check_entries(entries: &[LogEntry], n: i64) {
    let n = usize::try_from(n).unwrap();
    assert_eq!(entries.len(), n + 1, "{entries:?}");
    for (i, e) in entries[..n].iter().enumerate() {
        assert_eq!(e.log, format!("line {i}\n"));
        assert_eq!(e.stream, if i % 2 == 1 { "stderr" } else { "stdout" });
        assert_eq!(
            berth_logdriver::rfc3339_nanos(&e.time),
            Some((1_700_000_000 + i as i128) * 1_000_000_000)
        );
    }
    assert_eq!(entries[n].log, "tail");
}

#[test]
fn json_file_writes_and_reads_back() {
    let dir = TempDir::new("berth-logdrv");
    let cfg = config(dir.path(), "json-file", &[]);
    write_lines(&cfg, 6);
    check_entries(&reader(&cfg).unwrap().read_new().unwrap(), 6);
}

#[test]
fn local_rotates_compresses_and_reads_back() {
    let dir = TempDir::new("berth-logdrv");
    let cfg = config(
        dir.path(),
        "local",
        &[("max-size", "1k"), ("max-file", "3")],
    );
    let mut r = reader(&cfg).unwrap();
    write_lines(&cfg, 20);
    check_entries(&r.read_new().unwrap(), 20);
    assert!(r.read_new().unwrap().is_empty());
    write_lines(&cfg, 100);
    let log = cfg.local_path();
    assert_eq!(log, dir.path().join("local-logs/container.log"));
    assert!(PathBuf::from(format!("{}.1.gz", log.display())).exists());
    assert!(PathBuf::from(format!("{}.2.gz", log.display())).exists());
    assert!(!PathBuf::from(format!("{}.3.gz", log.display())).exists());
    let all = reader(&cfg).unwrap().read_new().unwrap();
    assert!(all.len() < 121, "rotation dropped the oldest files");
    assert_eq!(all.last().unwrap().log, "tail");
    assert_eq!(all[all.len() - 2].log, "line 99\n");
}

#[test]
fn none_keeps_nothing_and_refuses_reading() {
    let dir = TempDir::new("berth-logdrv");
    let cfg = config(dir.path(), "none", &[]);
    write_lines(&cfg, 2);
    let err = reader(&cfg).err().expect("none cannot be read");
    assert_eq!(
        err.to_string(),
        "configured logging driver does not support reading"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

fn recv_all(socket: &UdpSocket, n: usize) -> Vec<String> {
    let mut buf = vec![0u8; 65536];
    (0..n)
        .map(|_| {
            let len = socket.recv(&mut buf).expect("syslog datagram");
            String::from_utf8_lossy(&buf[..len]).into_owned()
        })
        .collect()
}

#[test]
fn syslog_udp_rfc5424_and_cache_reads_back() {
    let dir = TempDir::new("berth-logdrv");
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = format!("udp://{}", server.local_addr().unwrap());
    let cfg = config(
        dir.path(),
        "syslog",
        &[
            ("syslog-address", &addr),
            ("syslog-format", "rfc5424"),
            ("syslog-facility", "local3"),
        ],
    );
    write_lines(&cfg, 2);
    let got = recv_all(&server, 3);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let pid = std::process::id();
    // local3 = 19 << 3 = 152; info = 6, err = 3.
    assert_eq!(
        got[0],
        format!(
            "<158>1 2023-11-14T22:13:20Z {} 4f1c9a7e2b3d {pid} 4f1c9a7e2b3d - line 0\n",
            host.trim()
        )
    );
    assert!(
        got[1].starts_with("<155>1 2023-11-14T22:13:21Z "),
        "{}",
        got[1]
    );
    assert!(got[2].ends_with(" - tail\n"), "{}", got[2]);
    // Docker's dual logging: `logs` reads the local cache.
    check_entries(&reader(&cfg).unwrap().read_new().unwrap(), 2);
    assert!(dir.path().join("container-cached.log").exists());
}

#[test]
fn syslog_tcp_rfc3164() {
    let dir = TempDir::new("berth-logdrv");
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", server.local_addr().unwrap());
    let cfg = config(
        dir.path(),
        "syslog",
        &[
            ("syslog-address", &addr),
            ("syslog-format", "rfc3164"),
            ("cache-disabled", "true"),
        ],
    );
    let writer = std::thread::spawn(move || write_lines(&cfg, 1));
    let (conn, _) = server.accept().unwrap();
    writer.join().unwrap();
    let lines: Vec<String> = BufReader::new(conn).lines().map(Result::unwrap).collect();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        lines,
        vec![
            format!(
                "<30>Nov 14 22:13:20 {} 4f1c9a7e2b3d[{}]: line 0",
                host.trim(),
                std::process::id()
            ),
            format!(
                "<30>Nov 14 22:13:21 {} 4f1c9a7e2b3d[{}]: tail",
                host.trim(),
                std::process::id()
            ),
        ]
    );
    let cfg = config(dir.path(), "syslog", &[("cache-disabled", "true")]);
    assert!(reader(&cfg).is_err(), "no cache, nothing to read");
}

#[test]
fn syslog_unixgram_default_format() {
    let dir = TempDir::new("berth-logdrv");
    let sock = dir.path().join("log.sock");
    let server = UnixDatagram::bind(&sock).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = format!("unixgram://{}", sock.display());
    let cfg = config(dir.path(), "syslog", &[("syslog-address", &addr)]);
    write_lines(&cfg, 1);
    let mut buf = vec![0u8; 4096];
    let n = server.recv(&mut buf).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&buf[..n]),
        format!(
            "<30>Nov 14 22:13:20 4f1c9a7e2b3d[{}]: line 0\n",
            std::process::id()
        )
    );
}

#[test]
fn journald_writes_docker_fields_and_reads_back() {
    require_root!();
    require_program!("journalctl");
    let Some(program) = berth_testkit::journald::program() else {
        berth_testkit::skip(
            module_path!(),
            "needs systemd-journald (package systemd) to start a journal of its own",
        );
        return;
    };
    let journal = Journald::start(&program);
    let dir = TempDir::new("berth-logdrv");
    let mut cfg = config(dir.path(), "journald", &[]);
    cfg.journal_namespace = Some(journal.namespace.clone());
    cfg.container
        .attrs
        .insert("com.example.app".into(), "web".into());
    let mut r = reader(&cfg).unwrap();
    write_lines(&cfg, 4);
    // journald stores datagrams as they come; wait until all are readable.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut entries = Vec::new();
    while entries.len() < 5 {
        assert!(Instant::now() < deadline, "journal has {entries:?}");
        entries.extend(r.read_new().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
    check_entries(&entries, 4);
    // The fields Docker sets, as journalctl shows them.
    let first = &journal.entries(&[&format!("CONTAINER_ID_FULL={ID}")])[0];
    for (k, v) in [
        ("MESSAGE", "line 0"),
        ("CONTAINER_ID", "4f1c9a7e2b3d"),
        ("CONTAINER_ID_FULL", ID),
        ("CONTAINER_NAME", "web"),
        ("CONTAINER_TAG", "4f1c9a7e2b3d"),
        ("IMAGE_NAME", "busybox:latest"),
        ("SYSLOG_IDENTIFIER", "4f1c9a7e2b3d"),
        ("PRIORITY", "6"),
        ("COM_EXAMPLE_APP", "web"),
    ] {
        assert_eq!(first[k], v, "{k} in {first}");
    }
}
