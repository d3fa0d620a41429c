//! The API over TCP with mutual TLS: `berth daemon -H tcp://127.0.0.1:<port> --tlsverify`
//! serves the real docker CLI and the berth CLI presenting a client certificate signed by
//! the CA; without a client certificate, with one from another CA, or in plain HTTP the
//! connection fails; plain TCP and bad certificate files are refused at daemon start.
//! Certificates are made with openssl in a temp dir; only 127.0.0.1 on a free port.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::registry::free_port;
use berth_testkit::TempDir;

fn need() -> bool {
    daemon::need("daemon_tls", &["openssl"])
}

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA (`<name>-ca.pem`, `<name>-ca-key.pem`) in `dir`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}-ca-key.pem"),
            "-out",
            &format!("{name}-ca.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=berth test {name} CA"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// A leaf `<name>-cert.pem`/`<name>-key.pem` signed by CA `ca` with these extensions.
fn make_leaf(dir: &Path, ca: &str, name: &str, ext: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    std::fs::write(dir.join(format!("{name}.ext")), ext).expect("ext file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}-ca.pem"),
            "-CAkey",
            &format!("{ca}-ca-key.pem"),
            "-CAcreateserial",
            "-out",
            &format!("{name}-cert.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

struct Certs {
    _dir: TempDir,
    path: PathBuf,
}

impl Certs {
    fn make() -> Certs {
        let dir = TempDir::new("berth-tls");
        let path = dir.path().to_path_buf();
        make_ca(&path, "good");
        make_ca(&path, "rogue");
        make_leaf(
            &path,
            "good",
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        make_leaf(&path, "good", "client", "extendedKeyUsage=clientAuth\n");
        make_leaf(&path, "rogue", "intruder", "extendedKeyUsage=clientAuth\n");
        // DOCKER_CERT_PATH layout for the client.
        let env_dir = path.join("docker-certs");
        std::fs::create_dir_all(&env_dir).expect("cert dir");
        for (from, to) in [
            ("good-ca.pem", "ca.pem"),
            ("client-cert.pem", "cert.pem"),
            ("client-key.pem", "key.pem"),
        ] {
            std::fs::copy(path.join(from), env_dir.join(to)).expect("copy cert");
        }
        std::fs::create_dir_all(path.join("empty")).expect("empty dir");
        Certs { _dir: dir, path }
    }

    fn p(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }
}

/// A CLI (`docker` or berth) against `host` with these flags and environment; a private,
/// empty DOCKER_CONFIG and DOCKER_CERT_PATH unless `env` says otherwise.
fn cli(bin: &Path, certs: &Certs, env: &[(&str, String)], args: &[&str]) -> Output {
    let mut c = Command::new(bin);
    c.env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env("DOCKER_CONFIG", certs.p("empty"))
        .env("DOCKER_CERT_PATH", certs.p("empty"))
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run cli")
}

#[test]
fn peer_tcp_needs_mutual_tls() {
    if !need() {
        return;
    }
    let certs = Certs::make();
    let port = free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let d = Daemon::start_with(&[
        "-H",
        &host,
        "--tlsverify",
        "--tlscacert",
        &certs.p("good-ca.pem"),
        "--tlscert",
        &certs.p("server-cert.pem"),
        "--tlskey",
        &certs.p("server-key.pem"),
    ]);
    d.load_busybox();
    let docker = PathBuf::from("/usr/local/bin/docker");
    let berth = berth_testkit::berth_bin();
    let client_flags = |host: &str| -> Vec<String> {
        [
            "-H",
            host,
            "--tlsverify",
            "--tlscacert",
            &certs.p("good-ca.pem"),
            "--tlscert",
            &certs.p("client-cert.pem"),
            "--tlskey",
            &certs.p("client-key.pem"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let with = |flags: &[String], rest: &[&str]| -> Vec<String> {
        flags
            .iter()
            .cloned()
            .chain(rest.iter().map(|s| s.to_string()))
            .collect()
    };

    // The docker CLI with a client certificate from the CA: everything works, hijacked
    // streams included.
    for bin in [&docker, &berth] {
        let args = with(
            &client_flags(&host),
            &["version", "-f", "{{.Server.Version}}"],
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = cli(bin, &certs, &[], &args);
        assert!(o.status.success(), "{bin:?} over TLS: {}", stderr(&o));
        assert!(!stdout(&o).trim().is_empty());
        let args = with(
            &client_flags(&host),
            &[
                "run", "--rm", "--pull", "never", "busybox", "echo", "over tls",
            ],
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = cli(bin, &certs, &[], &args);
        assert_eq!(stdout(&o), "over tls\n", "{bin:?}: {}", stderr(&o));
    }

    // DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH, as docker-machine sets them.
    let env = [
        ("DOCKER_HOST", host.clone()),
        ("DOCKER_TLS_VERIFY", "1".to_string()),
        ("DOCKER_CERT_PATH", certs.p("docker-certs")),
    ];
    for bin in [&docker, &berth] {
        let o = cli(bin, &certs, &env, &["ps", "-a"]);
        assert!(
            o.status.success(),
            "{bin:?} from the environment: {}",
            stderr(&o)
        );
        assert!(stdout(&o).starts_with("CONTAINER ID"), "{}", stdout(&o));
    }

    // A named context carries the TLS files (`--docker host=…,ca=…,cert=…,key=…`): one made
    // by berth and one made by docker, each used by both CLIs with no TLS flag.
    let ctx_env = [("DOCKER_CONFIG", certs.p("contexts"))];
    let endpoint = format!(
        "host={host},ca={},cert={},key={}",
        certs.p("good-ca.pem"),
        certs.p("client-cert.pem"),
        certs.p("client-key.pem")
    );
    for (maker, name) in [(&berth, "tls-by-berth"), (&docker, "tls-by-docker")] {
        let o = cli(
            maker,
            &certs,
            &ctx_env,
            &["context", "create", name, "--docker", &endpoint],
        );
        assert!(
            o.status.success(),
            "{maker:?} context create: {}",
            stderr(&o)
        );
        for bin in [&docker, &berth] {
            let o = cli(bin, &certs, &ctx_env, &["--context", name, "ps", "-a"]);
            assert!(
                o.status.success(),
                "{bin:?} --context {name}: {}",
                stderr(&o)
            );
            assert!(stdout(&o).starts_with("CONTAINER ID"), "{}", stdout(&o));
        }
    }
    // The same context without its client certificate is refused.
    let bare = format!("host={host},ca={}", certs.p("good-ca.pem"));
    let o = cli(
        &berth,
        &certs,
        &ctx_env,
        &["context", "create", "tls-no-cert", "--docker", &bare],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for bin in [&docker, &berth] {
        let o = cli(bin, &certs, &ctx_env, &["--context", "tls-no-cert", "ps"]);
        assert!(!o.status.success(), "{bin:?} without a client cert got in");
    }

    // No client certificate: the handshake fails.
    for bin in [&docker, &berth] {
        let o = cli(
            bin,
            &certs,
            &[],
            &[
                "-H",
                &host,
                "--tlsverify",
                "--tlscacert",
                &certs.p("good-ca.pem"),
                "version",
            ],
        );
        assert!(!o.status.success(), "{bin:?} without a client cert got in");
        assert!(!stdout(&o).contains("Server:"), "{}", stdout(&o));
    }
    // A client certificate from another CA: refused.
    for bin in [&docker, &berth] {
        let o = cli(
            bin,
            &certs,
            &[],
            &[
                "-H",
                &host,
                "--tlsverify",
                "--tlscacert",
                &certs.p("good-ca.pem"),
                "--tlscert",
                &certs.p("intruder-cert.pem"),
                "--tlskey",
                &certs.p("intruder-key.pem"),
                "ps",
            ],
        );
        assert!(
            !o.status.success(),
            "{bin:?} with a rogue client cert got in"
        );
    }
    // Plain HTTP to the TLS port: no API.
    for bin in [&docker, &berth] {
        let o = cli(bin, &certs, &[], &["-H", &host, "ps"]);
        assert!(!o.status.success(), "{bin:?} in plain HTTP got in");
    }
    // The daemon never verified a wrong client: the unix socket still works too.
    assert!(d.docker(&["ps"]).status.success());
}

#[test]
fn peer_plain_tcp_and_bad_certificates_are_refused_at_start() {
    if !need() {
        return;
    }
    let certs = Certs::make();
    let dir = TempDir::new("berth-tls-refuse");
    let port = free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let base = |extra: &[&str]| -> Output {
        let mut args = vec![
            "daemon".to_string(),
            "-H".into(),
            host.clone(),
            "--data-root".into(),
            dir.path().join("data").display().to_string(),
            "--exec-root".into(),
            dir.path().join("exec").display().to_string(),
            "--config-file".into(),
            dir.path().join("daemon.json").display().to_string(),
            "--bridge".into(),
            "none".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Command::new(berth_testkit::berth_bin())
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run berth daemon")
    };
    let o = base(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("only with mutual TLS"),
        "{}",
        stderr(&o)
    );
    let o = base(&["--tls"]);
    assert_eq!(o.status.code(), Some(1), "--tls without verification");
    let o = base(&[
        "--tlsverify",
        "--tlscacert",
        &certs.p("missing.pem"),
        "--tlscert",
        &certs.p("server-cert.pem"),
        "--tlskey",
        &certs.p("server-key.pem"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("could not read CA certificate"),
        "{}",
        stderr(&o)
    );
    // A key that does not belong to the certificate.
    let o = base(&[
        "--tlsverify",
        "--tlscacert",
        &certs.p("good-ca.pem"),
        "--tlscert",
        &certs.p("server-cert.pem"),
        "--tlskey",
        &certs.p("client-key.pem"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // Nothing was made: no socket, no data root.
    assert!(!dir.path().join("data").exists());
}
