//! End to end against berth's daemon (a private test daemon): the course's project with
//! busybox stand-ins — a counter server for `redis-app` (`nc`, state in a named volume) and
//! an HTTP app (`httpd` + CGI) reaching it by service name on the project network, answering
//! on the published port 4001 — through `berth compose`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::TempDir;

const COURSE: &str = r#"
version: '3'
services:
  redis-app:
    image: busybox
    command:
      - sh
      - -c
      - |
        printf '#!/bin/sh\nn=$$(cat /data/n 2>/dev/null || echo 0); n=$$((n+1)); echo $$n > /data/n; echo $$n\n' > /count
        chmod +x /count; touch /tmp/ready
        exec nc -ll -p 6379 -e /count
    volumes:
      - data:/data
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 1s
  node-app:
    image: busybox
    command:
      - sh
      - -c
      - |
        mkdir -p /www/cgi-bin
        printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\necho "Number of visits is $$(nc redis-app 6379 </dev/null)"\n' > /www/cgi-bin/visits
        chmod +x /www/cgi-bin/visits
        exec httpd -f -p 8081 -h /www
    ports:
      - "${PORT}:8081"
    depends_on:
      redis-app:
        condition: service_healthy
volumes:
  data:
"#;

fn compose(d: &Daemon, dir: &Path, args: &[&str]) -> Output {
    Command::new(&d.bin)
        .arg("compose")
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.root().join("docker-config"))
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE")
        .output()
        .expect("run berth compose")
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

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn visits(port: u16) -> String {
    let start = Instant::now();
    loop {
        if let Some(body) = http_get(port, "/cgi-bin/visits") {
            if let Some(line) = body.lines().find(|l| l.starts_with("Number of visits is ")) {
                if line.len() > "Number of visits is ".len() {
                    return line.to_string();
                }
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the app never answered on {port}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn course_project_up_down_volumes_and_idempotence() {
    if !daemon::need("course_project_up_down_volumes_and_idempotence", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dir = TempDir::new("compose-course");
    let app = dir.path().join("course");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("docker-compose.yml"), COURSE).unwrap();
    let port = free_port();
    std::fs::write(app.join(".env"), format!("PORT={port}\n")).unwrap();

    let out = compose(&d, &app, &["up", "-d"]);
    let err = stderr(&out);
    assert!(out.status.success(), "up: {err}");
    assert!(err.contains(" Network course_default Created"), "{err}");
    assert!(
        err.contains(" Container course-redis-app-1 Healthy")
            || err.contains(" Container course-redis-app-1 Started"),
        "{err}"
    );
    // healthy before the dependent starts
    let healthy = err
        .find("course-redis-app-1 Healthy")
        .expect("waited for health");
    let started = err
        .find("course-node-app-1 Started")
        .expect("node-app started");
    assert!(healthy < started, "{err}");
    assert_eq!(visits(port), "Number of visits is 1");
    assert_eq!(visits(port), "Number of visits is 2");

    // names and labels are Compose v2's
    let inspect = ok(d.docker(&["inspect", "-f", "{{index .Config.Labels \"com.docker.compose.project\"}} {{index .Config.Labels \"com.docker.compose.service\"}} {{index .Config.Labels \"com.docker.compose.container-number\"}} {{index .Config.Labels \"com.docker.compose.oneoff\"}}", "course-node-app-1"]));
    assert_eq!(inspect.trim(), "course node-app 1 False");
    ok(d.docker(&["volume", "inspect", "course_data"]));

    // ps
    let ps = ok(compose(
        &d,
        &app,
        &["ps", "--format", "{{.Name}} {{.Service}} {{.State}}"],
    ));
    assert_eq!(
        ps,
        "course-node-app-1 node-app running\ncourse-redis-app-1 redis-app running\n"
    );

    // an unchanged up changes nothing
    let id_before = ok(d.docker(&["inspect", "-f", "{{.Id}}", "course-node-app-1"]));
    let out = compose(&d, &app, &["up", "-d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Recreate"), "{}", stderr(&out));
    assert_eq!(
        ok(d.docker(&["inspect", "-f", "{{.Id}}", "course-node-app-1"])),
        id_before
    );

    // a changed service is recreated, the other is left alone
    let redis_before = ok(d.docker(&["inspect", "-f", "{{.Id}}", "course-redis-app-1"]));
    std::fs::write(
        app.join("docker-compose.yml"),
        COURSE.replace("exec httpd -f", "export X=1; exec httpd -f"),
    )
    .unwrap();
    let out = compose(&d, &app, &["up", "-d"]);
    assert!(
        stderr(&out).contains(" Container course-node-app-1 Recreated"),
        "{}",
        stderr(&out)
    );
    assert_ne!(
        ok(d.docker(&["inspect", "-f", "{{.Id}}", "course-node-app-1"])),
        id_before
    );
    assert_eq!(
        ok(d.docker(&["inspect", "-f", "{{.Id}}", "course-redis-app-1"])),
        redis_before
    );
    assert_eq!(visits(port), "Number of visits is 3");

    // the volume survives down/up
    ok(compose(&d, &app, &["down"]));
    assert!(ok(d.docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=com.docker.compose.project=course"
    ]))
    .is_empty());
    ok(d.docker(&["volume", "inspect", "course_data"]));
    ok(compose(&d, &app, &["up", "-d"]));
    assert_eq!(visits(port), "Number of visits is 4");

    // run --rm, scale, logs
    let out = ok(compose(
        &d,
        &app,
        &["run", "--rm", "-T", "redis-app", "cat", "/data/n"],
    ));
    assert_eq!(out.trim(), "4");
    assert!(ok(d.docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=com.docker.compose.oneoff=True"
    ]))
    .is_empty());
    ok(compose(
        &d,
        &app,
        &["up", "-d", "--scale", "redis-app=3", "--no-recreate"],
    ));
    let ps = ok(compose(&d, &app, &["ps", "-q", "redis-app"]));
    assert_eq!(ps.lines().count(), 3, "{ps}");

    // down -v removes the volume and the network
    ok(compose(&d, &app, &["down", "-v"]));
    assert!(!d
        .docker(&["volume", "inspect", "course_data"])
        .status
        .success());
    assert!(!d
        .docker(&["network", "inspect", "course_default"])
        .status
        .success());
}

#[test]
fn failures_leave_nothing_behind() {
    if !daemon::need("failures_leave_nothing_behind", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dir = TempDir::new("compose-fail");
    let leftovers = |project: &str| {
        let c = ok(d.docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
        ]));
        let n = ok(d.docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
        ]));
        let v = ok(d.docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
        ]));
        format!("{c}{n}{v}")
    };
    // an unknown image
    let p = dir.path().join("unknown");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("compose.yaml"), "services:\n  a:\n    image: busybox\n    command: sleep 60\n    volumes: [v:/v]\n  b:\n    image: no-such-image-here:1\n    pull_policy: never\nvolumes:\n  v: {}\n").unwrap();
    let out = compose(&d, &p, &["up", "-d"]);
    assert!(!out.status.success());
    assert_eq!(leftovers("unknown"), "");
    // a port already taken
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let p = dir.path().join("taken");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("compose.yaml"), format!("services:\n  a:\n    image: busybox\n    command: sleep 60\n    ports: [\"127.0.0.1:{port}:80\"]\n")).unwrap();
    let out = compose(&d, &p, &["up", "-d"]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert_eq!(leftovers("taken"), "");
    // a cycle is refused before anything is made
    let p = dir.path().join("cycle");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("compose.yaml"), "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n").unwrap();
    let out = compose(&d, &p, &["up", "-d"]);
    assert!(
        stderr(&out).contains("dependency cycle detected"),
        "{}",
        stderr(&out)
    );
    assert_eq!(leftovers("cycle"), "");
    // a service exiting during --wait
    let p = dir.path().join("exits");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("compose.yaml"), "services:\n  a:\n    image: busybox\n    command: sh -c 'sleep 1; exit 3'\n    healthcheck:\n      test: [CMD, 'true']\n      interval: 30s\n    volumes: [v:/v]\nvolumes:\n  v: {}\n").unwrap();
    let out = compose(&d, &p, &["up", "-d", "--wait"]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("container exits-a-1 exited (3)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(leftovers("exits"), "");
    drop(taken);
}

#[test]
fn profiles_and_plugin_link() {
    if !daemon::need("profiles_and_plugin_link", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dir = TempDir::new("compose-prof");
    let p = dir.path().join("prof");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("compose.yaml"), "services:\n  web:\n    image: busybox\n    command: sleep 60\n  debug:\n    image: busybox\n    command: sleep 60\n    profiles: [debug]\n").unwrap();
    ok(compose(&d, &p, &["up", "-d"]));
    assert_eq!(ok(compose(&d, &p, &["ps", "--services"])), "web\n");
    ok(compose(&d, &p, &["--profile", "debug", "up", "-d"]));
    assert_eq!(ok(compose(&d, &p, &["ps", "--services"])), "debug\nweb\n");
    // the docker CLI runs berth as its compose plugin
    let plugins = d.root().join("docker-config/cli-plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(&d.bin, plugins.join("docker-compose")).unwrap();
    let out = Command::new(daemon::DOCKER_CLI)
        .args(["compose", "ps", "--format", "{{.Name}}"])
        .current_dir(&p)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.root().join("docker-config"))
        .output()
        .unwrap();
    // as Compose v2, `ps` lists every container of the project, profiles or not
    assert_eq!(ok(out), "prof-debug-1\nprof-web-1\n");
    let out = Command::new(daemon::DOCKER_CLI)
        .args(["compose", "--profile", "debug", "down"])
        .current_dir(&p)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.root().join("docker-config"))
        .output()
        .unwrap();
    ok(out);
    assert!(ok(d.docker(&["ps", "-aq"])).is_empty());
}
