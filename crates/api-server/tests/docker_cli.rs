//! The real docker CLI (v28) against the API server with a fake engine.
#![cfg(test)]

use std::process::Output;

use berth_api_server::testing::{FakeEngine, TestServer};

async fn docker(server: &TestServer, args: &[&str]) -> Output {
    let host = format!("unix://{}", server.socket.display());
    let config = server.dir.path().join("docker-config");
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("docker")
            .arg("-H")
            .arg(&host)
            .args(&args)
            .env("DOCKER_CONFIG", &config)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env("DOCKER_CLI_HINTS", "false")
            .output()
            .expect("run docker")
    })
    .await
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_version_ps_images_info() {
    berth_testkit::require_program!("docker");
    let engine = FakeEngine::default();
    engine.add("web", "busybox", &["sleep", "100"], true);
    let server = TestServer::start(engine).await;

    let out = docker(
        &server,
        &[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "version failed: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).trim(), "0.1.0 1.47 1.24");

    let out = docker(&server, &["ps"]).await;
    assert!(out.status.success(), "ps failed: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("CONTAINER ID   IMAGE     COMMAND"),
        "{stdout}"
    );
    assert!(
        stdout.contains("abc012345678   busybox   \"sleep 100\""),
        "{stdout}"
    );
    assert!(stdout.contains("Up 5 minutes"), "{stdout}");
    assert!(stdout.trim_end().ends_with("web"), "{stdout}");

    let out = docker(
        &server,
        &["ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}"],
    )
    .await;
    assert_eq!(text(&out.stdout).trim(), "abc012345678 web Up 5 minutes");

    let out = docker(&server, &["images"]).await;
    assert!(out.status.success(), "images failed: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("busybox"), "{stdout}");
    assert!(stdout.contains("4.26MB"), "{stdout}");

    let out = docker(
        &server,
        &[
            "info",
            "--format",
            "{{.ServerVersion}} {{.OperatingSystem}} {{.NCPU}}",
        ],
    )
    .await;
    assert!(out.status.success(), "info failed: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "0.1.0 FakeOS 2");

    let out = docker(&server, &["info"]).await;
    assert!(out.status.success(), "info failed: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Server Version: 0.1.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_inspect_missing_container_fails_like_docker() {
    berth_testkit::require_program!("docker");
    let server = TestServer::start(FakeEngine::default()).await;
    let out = docker(&server, &["container", "inspect", "x"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("No such container: x"),
        "{}",
        text(&out.stderr)
    );

    let out = docker(&server, &["inspect", "x"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("Error: No such object: x") || err.contains("No such container: x"),
        "{err}"
    );

    let out = docker(&server, &["rm", "nothere"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("No such container: nothere"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_run_attaches_through_hijack_and_returns_exit_code() {
    berth_testkit::require_program!("docker");
    let server = TestServer::start(FakeEngine::default()).await;
    // create + attach (101 upgrade, multiplexed) + wait + start, as in the course's first example.
    let out = docker(
        &server,
        &["run", "--name", "ciao", "busybox", "echo", "Ciao", "!"],
    )
    .await;
    assert!(
        out.status.success(),
        "run failed: {} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "Ciao !\n");
    assert_eq!(text(&out.stderr), "to stderr\n");

    let out = docker(&server, &["run", "busybox", "false", "x"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    // stdin flows through the hijacked connection and the half-close ends it.
    let host = format!("unix://{}", server.socket.display());
    let config = server.dir.path().join("docker-config");
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("docker")
            .args(["-H", &host, "run", "-i", "busybox", "cat"])
            .env("DOCKER_CONFIG", &config)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"piped input\n")
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(text(&out.stdout), "piped input\n", "{}", text(&out.stderr));

    // A 404 at create makes the CLI pull; the fake's pull of `missing` is denied.
    let out = docker(&server, &["create", "missing"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("Unable to find image 'missing:latest' locally")
            && err.contains("pull access denied for missing"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_pull_logs_exec_login() {
    berth_testkit::require_program!("docker");
    let engine = FakeEngine::default();
    engine.add("app", "busybox", &["sh"], true);
    let server = TestServer::start(engine).await;

    let out = docker(&server, &["pull", "busybox"]).await;
    assert!(out.status.success(), "pull failed: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Status: Downloaded newer image for"),
        "{}",
        text(&out.stdout)
    );

    let out = docker(&server, &["logs", "app"]).await;
    assert!(out.status.success(), "logs failed: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out line\n");
    assert_eq!(text(&out.stderr), "err line\n");

    // The fake's exec process exits with 7: docker exec passes it on.
    let out = docker(&server, &["exec", "app", "echo"]).await;
    assert_eq!(out.status.code(), Some(7), "exec: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "exec output\n");

    let out = docker(
        &server,
        &["login", "-u", "me", "-p", "wrong", "localhost:5000"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bad credentials"),
        "{}",
        text(&out.stderr)
    );

    let out = docker(&server, &["top", "app"]).await;
    assert!(
        text(&out.stdout).contains("sleep 100"),
        "{}",
        text(&out.stderr)
    );

    let out = docker(&server, &["start", "app"]).await;
    assert!(
        out.status.success(),
        "start of a running container (304) must succeed: {}",
        text(&out.stderr)
    );
}
