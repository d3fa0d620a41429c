//! End to end against berth's daemon (a private test daemon): the course's project with
//! busybox stand-ins — a counter server for `redis-app` (`nc`, state in a named volume) and
//! an HTTP app (`httpd` + CGI) reaching it by service name on the project network, answering
//! on the published port 4001 — through `berth compose`.
#![cfg(test)]

mod support;

use std::process::Command;

use berth_testkit::daemon::{self, stderr};
use support::{free_port, http_line, leftovers, ok, Setup};

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

fn visits(port: u16) -> String {
    http_line(port, "/cgi-bin/visits", "Number of visits is ")
}

#[test]
fn course_project_up_down_volumes_and_idempotence() {
    let Some(s) = Setup::start("course_project_up_down_volumes_and_idempotence", &[]) else {
        return;
    };
    let port = free_port();
    let env = format!("PORT={port}\n");
    let app = s.project("course", &[("docker-compose.yml", COURSE), (".env", &env)]);

    let out = s.compose(&app, &["up", "-d"]);
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
    let inspect = ok(s.d.docker(&["inspect", "-f", "{{index .Config.Labels \"com.docker.compose.project\"}} {{index .Config.Labels \"com.docker.compose.service\"}} {{index .Config.Labels \"com.docker.compose.container-number\"}} {{index .Config.Labels \"com.docker.compose.oneoff\"}}", "course-node-app-1"]));
    assert_eq!(inspect.trim(), "course node-app 1 False");
    ok(s.d.docker(&["volume", "inspect", "course_data"]));

    // ps
    let ps = ok(s.compose(
        &app,
        &["ps", "--format", "{{.Name}} {{.Service}} {{.State}}"],
    ));
    assert_eq!(
        ps,
        "course-node-app-1 node-app running\ncourse-redis-app-1 redis-app running\n"
    );

    // an unchanged up changes nothing
    let id_before =
        ok(s.d.docker(&["inspect", "-f", "{{.Id}}", "course-node-app-1"]));
    let out = s.compose(&app, &["up", "-d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Recreate"), "{}", stderr(&out));
    assert_eq!(
        ok(s.d.docker(&["inspect", "-f", "{{.Id}}", "course-node-app-1"])),
        id_before
    );

    // a changed service is recreated, the other is left alone
    let redis_before =
        ok(s.d.docker(&["inspect", "-f", "{{.Id}}", "course-redis-app-1"]));
    std::fs::write(
        app.join("docker-compose.yml"),
        COURSE.replace("exec httpd -f", "export X=1; exec httpd -f"),
    )
    .unwrap();
    let out = s.compose(&app, &["up", "-d"]);
    assert!(
        stderr(&out).contains(" Container course-node-app-1 Recreated"),
        "{}",
        stderr(&out)
    );
    assert_ne!(
        ok(s.d.docker(&["inspect", "-f", "{{.Id}}", "course-node-app-1"])),
        id_before
    );
    assert_eq!(
        ok(s.d.docker(&["inspect", "-f", "{{.Id}}", "course-redis-app-1"])),
        redis_before
    );
    assert_eq!(visits(port), "Number of visits is 3");

    // the volume survives down/up
    ok(s.compose(&app, &["down"]));
    assert!(ok(s.d.docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=com.docker.compose.project=course"
    ]))
    .is_empty());
    ok(s.d.docker(&["volume", "inspect", "course_data"]));
    ok(s.compose(&app, &["up", "-d"]));
    assert_eq!(visits(port), "Number of visits is 4");

    // run --rm, scale, logs
    let out = ok(s.compose(&app, &["run", "--rm", "-T", "redis-app", "cat", "/data/n"]));
    assert_eq!(out.trim(), "4");
    assert!(ok(s.d.docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=com.docker.compose.oneoff=True"
    ]))
    .is_empty());
    ok(s.compose(
        &app,
        &["up", "-d", "--scale", "redis-app=3", "--no-recreate"],
    ));
    let ps = ok(s.compose(&app, &["ps", "-q", "redis-app"]));
    assert_eq!(ps.lines().count(), 3, "{ps}");

    // down -v removes the volume and the network
    ok(s.compose(&app, &["down", "-v"]));
    assert!(!s
        .d
        .docker(&["volume", "inspect", "course_data"])
        .status
        .success());
    assert!(!s
        .d
        .docker(&["network", "inspect", "course_default"])
        .status
        .success());
}

#[test]
fn failures_leave_nothing_behind() {
    let Some(s) = Setup::start("failures_leave_nothing_behind", &[]) else {
        return;
    };
    let leftovers = |project: &str| leftovers(&s.d, project);
    // an unknown image
    let p = s.project(
        "unknown",
        &[(
            "compose.yaml",
            "services:\n  a:\n    image: busybox\n    command: sleep 60\n    volumes: [v:/v]\n  b:\n    image: no-such-image-here:1\n    pull_policy: never\nvolumes:\n  v: {}\n",
        )],
    );
    let out = s.compose(&p, &["up", "-d"]);
    assert!(!out.status.success());
    assert_eq!(leftovers("unknown"), "");
    // a port already taken
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let p = s.project(
        "taken",
        &[(
            "compose.yaml",
            &format!("services:\n  a:\n    image: busybox\n    command: sleep 60\n    ports: [\"127.0.0.1:{port}:80\"]\n"),
        )],
    );
    let out = s.compose(&p, &["up", "-d"]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert_eq!(leftovers("taken"), "");
    // a cycle is refused before anything is made
    let p = s.project(
        "cycle",
        &[(
            "compose.yaml",
            "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
        )],
    );
    let out = s.compose(&p, &["up", "-d"]);
    assert!(
        stderr(&out).contains("dependency cycle detected"),
        "{}",
        stderr(&out)
    );
    assert_eq!(leftovers("cycle"), "");
    // a service exiting during --wait
    let p = s.project(
        "exits",
        &[(
            "compose.yaml",
            "services:\n  a:\n    image: busybox\n    command: sh -c 'sleep 1; exit 3'\n    healthcheck:\n      test: [CMD, 'true']\n      interval: 30s\n    volumes: [v:/v]\nvolumes:\n  v: {}\n",
        )],
    );
    let out = s.compose(&p, &["up", "-d", "--wait"]);
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
    let Some(s) = Setup::start("profiles_and_plugin_link", &[]) else {
        return;
    };
    let p = s.project(
        "prof",
        &[(
            "compose.yaml",
            "services:\n  web:\n    image: busybox\n    command: sleep 60\n  debug:\n    image: busybox\n    command: sleep 60\n    profiles: [debug]\n",
        )],
    );
    ok(s.compose(&p, &["up", "-d"]));
    assert_eq!(ok(s.compose(&p, &["ps", "--services"])), "web\n");
    ok(s.compose(&p, &["--profile", "debug", "up", "-d"]));
    assert_eq!(ok(s.compose(&p, &["ps", "--services"])), "debug\nweb\n");
    // the docker CLI runs berth as its compose plugin
    let plugins = s.d.root().join("docker-config/cli-plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(&s.d.bin, plugins.join("docker-compose")).unwrap();
    let out = Command::new(daemon::DOCKER_CLI)
        .args(["compose", "ps", "--format", "{{.Name}}"])
        .current_dir(&p)
        .env("DOCKER_HOST", s.d.host())
        .env("DOCKER_CONFIG", s.d.root().join("docker-config"))
        .output()
        .unwrap();
    // as Compose v2, `ps` lists every container of the project, profiles or not
    assert_eq!(ok(out), "prof-debug-1\nprof-web-1\n");
    let out = Command::new(daemon::DOCKER_CLI)
        .args(["compose", "--profile", "debug", "down"])
        .current_dir(&p)
        .env("DOCKER_HOST", s.d.host())
        .env("DOCKER_CONFIG", s.d.root().join("docker-config"))
        .output()
        .unwrap();
    ok(out);
    assert!(ok(s.d.docker(&["ps", "-aq"])).is_empty());
}
