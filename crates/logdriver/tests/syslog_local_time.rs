//! Docker's syslog driver writes times in the daemon's local zone (Go's `time.Local`: `TZ`,
//! else /etc/localtime). A process of its own (a test binary): `TZ` is set before the
//! driver first reads it.
#![cfg(test)]

use std::net::UdpSocket;
use std::time::Duration;

use berth_logdriver::{open, ContainerInfo, LogConfig, Message, Stream};
use berth_testkit::TempDir;
use berth_units::Timestamp;

fn config(dir: &std::path::Path, format: &str, addr: &str) -> LogConfig {
    LogConfig {
        driver: "syslog".into(),
        opts: [
            ("syslog-address", addr),
            ("syslog-format", format),
            ("cache-disabled", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        container: ContainerInfo {
            id: "4f1c9a7e2b3d".repeat(5) + "5f6a",
            name: "web".into(),
            image_name: "busybox:latest".into(),
            tag: "4f1c9a7e2b3d".into(),
            attrs: Default::default(),
        },
        dir: dir.to_path_buf(),
        json_path: dir.join("unused-json.log"),
        journal_namespace: None,
    }
}

#[test]
fn syslog_times_are_in_the_local_zone() {
    // A POSIX rule: 5 h 30 min east of UTC, no database needed.
    std::env::set_var("TZ", "IST-5:30");
    let dir = TempDir::new("berth-logdrv-tz");
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = format!("udp://{}", server.local_addr().unwrap());
    let mut buf = vec![0u8; 65536];
    let mut recv = || {
        let n = server.recv(&mut buf).expect("syslog datagram");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    // 2023-11-14T22:13:20Z is 2023-11-15T03:43:20+05:30.
    let at = Timestamp::new(1_700_000_000, 0);
    for (format, want) in [
        ("rfc5424", "<30>1 2023-11-15T03:43:20+05:30 "),
        ("rfc3164", "<30>Nov 15 03:43:20 "),
        ("", "<30>Nov 15 03:43:20 4f1c9a7e2b3d["),
    ] {
        let mut d = open(&config(dir.path(), format, &addr)).expect("open");
        d.log(&Message::from_output(Stream::Stdout, b"hi\n", at))
            .expect("log");
        let got = recv();
        assert!(got.starts_with(want), "{format:?}: {got}");
    }
}
