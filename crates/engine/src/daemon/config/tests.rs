//! Unit tests of the daemon's configuration: flags, daemon.json and how they merge.

use super::*;
use clap::Parser;

#[test]
fn fd_hosts_are_socket_activation() {
    use crate::daemon::activation::FdHost;
    let parse = |h: &str| {
        let f = Flags::try_parse_from(["berth daemon", "-H", h, "--config-file", "/nonexistent"])
            .unwrap();
        resolve(&f)
    };
    let c = parse("fd://").unwrap();
    assert_eq!((c.fd_hosts, c.sockets.len()), (vec![FdHost::All], 0));
    assert_eq!(parse("fd://4").unwrap().fd_hosts, vec![FdHost::Fd(4)]);
    assert!(parse("fd://x").is_err());
}

#[test]
fn flags_override_file() {
    let f = Flags::try_parse_from([
        "berth daemon",
        "-H",
        "unix:///tmp/x.sock",
        "--data-root",
        "/d",
        "--config-file",
        "/nonexistent/daemon.json",
    ])
    .unwrap();
    let c = resolve(&f).unwrap();
    assert_eq!(c.sockets, vec![PathBuf::from("/tmp/x.sock")]);
    assert_eq!(c.data_root, PathBuf::from("/d"));
    assert_eq!(c.exec_root, PathBuf::from("/run/berth"));
    let f = Flags::try_parse_from([
        "berth daemon",
        "-H",
        "tcp://0.0.0.0:2375",
        "--config-file",
        "/nonexistent",
    ])
    .unwrap();
    assert!(resolve(&f).unwrap_err().contains("only with mutual TLS"));
}

#[test]
fn tcp_needs_tlsverify_and_takes_the_files() {
    let f = Flags::try_parse_from([
        "berth daemon",
        "-H",
        "tcp://127.0.0.1:2399",
        "-H",
        "unix:///tmp/y.sock",
        "--tlsverify",
        "--tlscacert",
        "/c/ca.pem",
        "--tlscert",
        "/c/cert.pem",
        "--tlskey",
        "/c/key.pem",
        "--config-file",
        "/nonexistent",
    ])
    .unwrap();
    let c = resolve(&f).unwrap();
    assert_eq!(c.tcp, vec!["127.0.0.1:2399".to_string()]);
    assert_eq!(c.sockets, vec![PathBuf::from("/tmp/y.sock")]);
    let tls = c.tls.unwrap();
    assert_eq!(tls.ca, PathBuf::from("/c/ca.pem"));
    assert_eq!(tls.key, PathBuf::from("/c/key.pem"));
    // --tls alone (no client verification) is not enough.
    let f = Flags::try_parse_from([
        "berth daemon",
        "-H",
        "tcp://127.0.0.1:2399",
        "--tls",
        "--config-file",
        "/nonexistent",
    ])
    .unwrap();
    assert!(resolve(&f).is_err());
    let f = Flags::try_parse_from([
        "berth daemon",
        "-H",
        "tcp://127.0.0.1:2399",
        "--tlsverify=false",
        "--config-file",
        "/nonexistent",
    ])
    .unwrap();
    assert!(resolve(&f).is_err());
    assert_eq!(tcp_address(":2376").as_deref(), Some("0.0.0.0:2376"));
    assert_eq!(tcp_address("10.0.0.1").as_deref(), Some("10.0.0.1:2376"));
    assert_eq!(tcp_address("[::1]:99").as_deref(), Some("[::1]:99"));
    assert_eq!(tcp_address("h:x"), None);
}

#[test]
fn unknown_daemon_json_keys_are_refused_with_dockers_message() {
    let dir = berth_testkit::TempDir::new("berth-daemon-json-");
    let path = dir.path().join("daemon.json");
    std::fs::write(
        &path,
        r#"{"debug": true, "mtu": 1400, "log-opts": {"max-size": "1m"}, "bogus-key": 1, "debugg": true}"#,
    )
    .unwrap();
    let e = read_file(&path).unwrap_err();
    assert!(
        e.ends_with(
            "the following directives don't match any configuration option: bogus-key, debugg"
        ),
        "{e}"
    );
    assert!(e.contains(&path.display().to_string()), "{e}");
    std::fs::write(
        &path,
        r#"{"debug": true, "mtu": 1400, "log-opts": {"max-size": "1m"}}"#,
    )
    .unwrap();
    let c = read_file(&path).unwrap();
    assert_eq!((c.debug, c.mtu), (Some(true), Some(1400)));
    assert_eq!(c.log_opts.unwrap()["max-size"], "1m");
}

#[test]
fn live_restore_from_flag_or_file_not_both() {
    let dir = berth_testkit::TempDir::new("berth-daemon-json-");
    let path = dir.path().join("daemon.json");
    let parse = |json: &str, args: &[&str]| {
        std::fs::write(&path, json).unwrap();
        let mut argv = vec!["berth daemon", "--config-file", path.to_str().unwrap()];
        argv.extend_from_slice(args);
        resolve(&Flags::try_parse_from(argv).unwrap())
    };
    assert!(!parse("{}", &[]).unwrap().live_restore);
    assert!(parse("{}", &["--live-restore"]).unwrap().live_restore);
    assert!(!parse("{}", &["--live-restore=false"]).unwrap().live_restore);
    assert!(
        parse(r#"{"live-restore": true}"#, &[])
            .unwrap()
            .live_restore
    );
    let e = parse(r#"{"live-restore": false}"#, &["--live-restore"]).unwrap_err();
    assert!(
        e.ends_with("the following directives are specified both as a flag and in the configuration file: live-restore: (from flag: true, from file: false)"),
        "{e}"
    );
}

#[test]
fn log_driver_and_opts_from_flags_or_file_not_both() {
    let dir = berth_testkit::TempDir::new("berth-daemon-json-");
    let path = dir.path().join("daemon.json");
    let parse = |json: &str, args: &[&str]| {
        std::fs::write(&path, json).unwrap();
        let mut argv = vec!["berth daemon", "--config-file", path.to_str().unwrap()];
        argv.extend_from_slice(args);
        resolve(&Flags::try_parse_from(argv).unwrap())
    };
    let c = parse(
        r#"{"debug": true}"#,
        &[
            "--log-driver",
            "local",
            "--log-opt",
            "max-size=1m",
            "--log-opt",
            "max-file=2",
        ],
    )
    .unwrap();
    assert_eq!(c.log.driver, "local");
    assert_eq!(c.log.opts["max-size"], "1m");
    assert_eq!(c.log.opts["max-file"], "2");
    let c = parse(r#"{"log-driver": "none"}"#, &[]).unwrap();
    assert_eq!(c.log.driver, "none");
    let e = parse(r#"{"log-driver": "json-file"}"#, &["--log-driver", "local"]).unwrap_err();
    assert!(
        e.ends_with("the following directives are specified both as a flag and in the configuration file: log-driver: (from flag: local, from file: json-file)"),
        "{e}"
    );
    let e = parse(
        r#"{"log-opts": {"max-size": "2m", "max-file": "3"}}"#,
        &["--log-opt", "max-size=1m"],
    )
    .unwrap_err();
    assert!(
        e.ends_with(
            "log-opts: (from flag: map[max-size:1m], from file: map[max-file:3 max-size:2m])"
        ),
        "{e}"
    );
    // All of them, in dockerd's order and words.
    let e = parse(
        r#"{"log-driver":"json-file","log-opts":{"max-size":"2m","max-file":"3"},"live-restore":false}"#,
        &["--log-driver", "local", "--log-opt", "max-size=1m", "--live-restore"],
    )
    .unwrap_err();
    assert!(
        e.ends_with("the following directives are specified both as a flag and in the configuration file: live-restore: (from flag: true, from file: false), log-driver: (from flag: local, from file: json-file), log-opts: (from flag: map[max-size:1m], from file: map[max-file:3 max-size:2m])"),
        "{e}"
    );
    // A bad option from the flag is refused as one from the file.
    assert!(parse("{}", &["--log-opt", "max-size=lots"]).is_err());
}

#[test]
fn exec_opts_cgroup_driver_as_dockerd() {
    assert_eq!(cgroup_driver(&[]).unwrap(), "cgroupfs");
    let one = |o: &str| cgroup_driver(&[o.to_string()]);
    assert_eq!(one("native.cgroupdriver=cgroupfs").unwrap(), "cgroupfs");
    assert_eq!(
        one("native.cgroupdriver=bogus").unwrap_err(),
        "native.cgroupdriver option bogus not supported"
    );
    assert!(one("native.cgroupdriver=none")
        .unwrap_err()
        .contains("internally used"));
    assert!(one("nonsense").unwrap_err().contains("unable to parse"));
    assert_eq!(one("Native.CgroupDriver=systemd").unwrap(), "systemd");
    let dir = berth_testkit::TempDir::new("berth-daemon-json-");
    let path = dir.path().join("daemon.json");
    std::fs::write(&path, r#"{"exec-opts": ["native.cgroupdriver=cgroupfs"]}"#).unwrap();
    let f = Flags::try_parse_from([
        "berth daemon",
        "--config-file",
        path.to_str().unwrap(),
        "--exec-opt",
        "native.cgroupdriver=systemd",
    ])
    .unwrap();
    assert!(resolve(&f).unwrap_err().ends_with(
        "exec-opts: (from flag: [native.cgroupdriver=systemd], from file: [native.cgroupdriver=cgroupfs])"
    ));
}

#[test]
fn daemon_json_tls_keys() {
    let c: FileConfig = serde_json::from_str(
        r#"{"hosts":["tcp://127.0.0.1:2400"],"tls":true,"tlsverify":true,"tlscacert":"/a","tlscert":"/b","tlskey":"/k"}"#,
    )
    .unwrap();
    assert_eq!(c.tlsverify, Some(true));
    assert_eq!(c.tlscacert, Some(PathBuf::from("/a")));
    assert_eq!(c.tlskey, Some(PathBuf::from("/k")));
}

#[test]
fn security_keys_of_daemon_json_are_read() {
    use crate::spec::seccomp::Seccomp;
    let dir = std::env::temp_dir().join(format!("berth-cfg-sec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("daemon.json");
    let profile = dir.join("p.json");
    std::fs::write(&profile, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let parse = |json: String| {
        std::fs::write(&file, json).unwrap();
        let f = Flags::try_parse_from(["berth daemon", "--config-file", file.to_str().unwrap()])
            .unwrap();
        resolve(&f)
    };
    let c = parse(format!(
        r#"{{"no-new-privileges": true, "seccomp-profile": "{}"}}"#,
        profile.display()
    ))
    .unwrap();
    assert!(c.security_defaults.no_new_privileges);
    assert!(matches!(
        c.security_defaults.seccomp,
        Some(Seccomp::Profile(_))
    ));
    let c = parse(r#"{"seccomp-profile": "unconfined"}"#.into()).unwrap();
    assert_eq!(c.security_defaults.seccomp, Some(Seccomp::Unconfined));
    let e = parse(r#"{"seccomp-profile": "/nonexistent/p.json"}"#.into()).unwrap_err();
    assert!(
        e.starts_with("opening seccomp profile (/nonexistent/p.json) failed"),
        "{e}"
    );
    std::fs::write(&profile, "{").unwrap();
    let e = parse(format!(r#"{{"seccomp-profile": "{}"}}"#, profile.display())).unwrap_err();
    assert!(e.starts_with("Decoding seccomp profile failed"), "{e}");
    let c = parse(r#"{"userns-remap": "default"}"#.into()).unwrap();
    assert_eq!(c.userns_remap.as_deref(), Some("default"));
    let _ = std::fs::remove_dir_all(&dir);
}
