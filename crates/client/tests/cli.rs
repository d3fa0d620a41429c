//! `berth` against a real `ApiServer` with a fake engine, compared with the docker CLI v28
//! (the oracle) on the same server where both print the same thing.
#![cfg(test)]

mod support;

use support::{berth, berth_in, docker, FakeEngine, TestServer};

fn has_docker() -> bool {
    std::path::Path::new("/usr/local/bin/docker").is_file()
}

async fn server_with_containers() -> TestServer {
    let f = FakeEngine::default();
    f.add("web", "busybox", &["sleep", "100"], true);
    f.add("old", "busybox", &["echo", "Ciao", "!"], false);
    TestServer::start(f).await
}

/// Runs the same command with both CLIs and asserts identical stdout, stderr and exit code.
async fn same_as_docker(s: &TestServer, args: &[&str]) -> support::Out {
    let b = berth(s, args).await;
    if has_docker() {
        let d = docker(s, args).await;
        assert_eq!(b.stdout, d.stdout, "stdout of {args:?}");
        assert_eq!(b.stderr, d.stderr, "stderr of {args:?}");
        assert_eq!(b.code, d.code, "exit code of {args:?}");
    } else {
        assert!(
            std::env::var("CI").is_err(),
            "the docker CLI oracle is required in CI"
        );
    }
    b
}

/// Like [`same_as_docker`] for image tables: docker prints images created in the same second
/// in Go-map order, so the header must match exactly and the rows as a set.
async fn same_rows_as_docker(s: &TestServer, args: &[&str]) -> support::Out {
    let b = berth(s, args).await;
    if has_docker() {
        let d = docker(s, args).await;
        let rows = |t: &str| {
            let mut l: Vec<String> = t.lines().map(str::to_string).collect();
            let head = if args.contains(&"--format") {
                String::new()
            } else {
                l.remove(0)
            };
            l.sort();
            (head, l)
        };
        assert_eq!(rows(&b.stdout), rows(&d.stdout), "stdout of {args:?}");
        assert_eq!(b.stderr, d.stderr, "stderr of {args:?}");
        assert_eq!(b.code, d.code, "exit code of {args:?}");
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ps_matches_docker() {
    let s = server_with_containers().await;
    let o = same_as_docker(&s, &["ps"]).await;
    assert!(
        o.stdout.starts_with("CONTAINER ID   IMAGE     COMMAND"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("0.0.0.0:8080->80/tcp   web"),
        "{}",
        o.stdout
    );
    let o = same_as_docker(&s, &["ps", "-a", "--format", "{{.ID}} {{.Names}}"]).await;
    assert_eq!(o.stdout, "abc012345678 web\nabd012345678 old\n");
    same_as_docker(&s, &["ps", "-a", "-q"]).await;
    same_as_docker(&s, &["ps", "-a", "--no-trunc"]).await;
    same_as_docker(
        &s,
        &["ps", "-a", "--format", "table {{.Names}}\t{{.Status}}"],
    )
    .await;
    let o = same_as_docker(
        &s,
        &["ps", "-a", "--filter", "name=ol", "--format", "{{.Names}}"],
    )
    .await;
    assert_eq!(o.stdout, "old\n");
    same_as_docker(&s, &["container", "ls", "-a"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_match_docker() {
    let s = server_with_containers().await;
    let o = same_rows_as_docker(&s, &["images"]).await;
    assert!(
        o.stdout
            .contains("localhost:5000/busybox   1         beae173ccac6"),
        "{}",
        o.stdout
    );
    // docker orders the tags of one image through a Go map: compare as sets.
    let o = berth(&s, &["images", "--format", "json"]).await;
    if has_docker() {
        let d = docker(&s, &["images", "--format", "json"]).await;
        let mut bl: Vec<&str> = o.stdout.lines().collect();
        let mut dl: Vec<&str> = d.stdout.lines().collect();
        bl.sort();
        dl.sort();
        assert_eq!(bl, dl);
    }
    assert!(
        o.stdout.lines().count() == 2 && o.stdout.contains("\"Repository\":\"busybox\""),
        "{}",
        o.stdout
    );
    same_as_docker(&s, &["images", "-q"]).await;
    same_rows_as_docker(&s, &["images", "--digests"]).await;
    same_rows_as_docker(
        &s,
        &[
            "image",
            "ls",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.Size}}",
        ],
    )
    .await;
    same_as_docker(&s, &["history", "busybox"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_and_errors_match_docker() {
    let s = server_with_containers().await;
    let o = same_as_docker(&s, &["inspect", "-f", "{{.State.Status}}", "web"]).await;
    assert_eq!(o.stdout, "running\n");
    same_as_docker(
        &s,
        &["inspect", "-f", "{{.Name}} {{.Config.Image}}", "web", "old"],
    )
    .await;
    let o = same_as_docker(&s, &["inspect", "nosuch"]).await;
    assert_eq!(o.code, 1);
    same_as_docker(&s, &["inspect", "--type", "container", "nosuch"]).await;
    let o = same_as_docker(&s, &["rm", "nosuch"]).await;
    assert_eq!(
        o.stderr,
        "Error response from daemon: No such container: nosuch\n"
    );
    assert_eq!(o.code, 1);
    let o = same_as_docker(&s, &["kill", "old"]).await;
    assert_eq!(o.code, 1);
    same_as_docker(&s, &["top", "web"]).await;
    same_as_docker(&s, &["diff", "web"]).await;
    same_as_docker(&s, &["stop", "web"]).await;
    // Full inspect JSON: same bytes as docker (key order kept from the daemon).
    same_as_docker(&s, &["inspect", "old"]).await;
    same_as_docker(&s, &["image", "inspect", "busybox"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_server_part_matches_docker() {
    let s = server_with_containers().await;
    let b = berth(&s, &["version"]).await;
    assert_eq!(b.code, 0, "{}", b.stderr);
    let server_part = |t: &str| t[t.find("\nServer:").expect("server part")..].to_string();
    assert!(
        b.stdout.contains(" API version:       1.47\n"),
        "{}",
        b.stdout
    );
    if has_docker() {
        let d = docker(&s, &["version"]).await;
        assert_eq!(server_part(&b.stdout), server_part(&d.stdout));
    }
    let o = same_as_docker(
        &s,
        &[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}}",
        ],
    )
    .await;
    assert_eq!(o.stdout, "0.1.0 1.47\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_output_and_exit_codes() {
    let s = TestServer::start(FakeEngine::default()).await;
    let o = berth(&s, &["run", "--rm", "busybox", "echo", "hi", "there"]).await;
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "hi there\n", "to stderr\n")
    );
    assert!(
        s.engine.containers.lock().unwrap().is_empty(),
        "--rm container is gone"
    );
    let req = s.engine.last_create.lock().unwrap().clone().unwrap();
    assert!(req.host_config.unwrap().auto_remove);
    assert!(req.config.attach_stdout && req.config.attach_stderr && !req.config.attach_stdin);

    for (args, code) in [
        (&["run", "busybox", "exit3"][..], 3),
        (&["run", "busybox", "nope"][..], 127),
        (&["run", "busybox", "noperm"][..], 126),
        (&["run", "missing"][..], 125),
    ] {
        let b = berth(&s, args).await;
        assert_eq!(b.code, code, "{args:?}: {}", b.stderr);
        if has_docker() {
            let d = docker(&s, args).await;
            assert_eq!(b.code, d.code, "{args:?}");
            assert_eq!(b.stdout, d.stdout, "{args:?}");
            assert_eq!(b.stderr.replace("berth", "docker"), d.stderr, "{args:?}");
        }
    }
    let b = berth(&s, &["run", "-d", "busybox", "echo"]).await;
    assert_eq!(b.code, 0);
    assert_eq!(b.stdout.trim().len(), 64);
    let b = berth_in(&s, &["run", "-i", "busybox", "cat"], b"piped input\n").await;
    assert_eq!(
        (b.code, b.stdout.as_str()),
        (0, "piped input\n"),
        "{}",
        b.stderr
    );
    // create + start -a (the course: run = create + start).
    let id = berth(
        &s,
        &["create", "--name", "c1", "busybox", "echo", "Coucou", "!"],
    )
    .await;
    assert_eq!(id.code, 0, "{}", id.stderr);
    let b = berth(&s, &["start", "-a", "c1"]).await;
    assert_eq!(
        (b.code, b.stdout.as_str()),
        (0, "Coucou !\n"),
        "{}",
        b.stderr
    );
    let b = berth(&s, &["exec", "c1", "ls"]).await;
    assert_eq!((b.code, b.stdout.as_str()), (7, "exec output\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_progress_plain_and_logs_demux() {
    let s = server_with_containers().await;
    let o = same_as_docker(&s, &["pull", "busybox"]).await;
    assert_eq!(
        o.stdout,
        "Using default tag: latest\nlatest: Pulling from library/busybox\na1b2c3d4e5f6: Pulling fs layer\na1b2c3d4e5f6: Download complete\na1b2c3d4e5f6: Pull complete\nDigest: sha256:0123\nStatus: Downloaded newer image for docker.io/library/busybox:latest\ndocker.io/library/busybox:latest\n"
    );
    let o = same_as_docker(&s, &["pull", "missing"]).await;
    assert_eq!(o.code, 1);
    let o = same_as_docker(&s, &["logs", "web"]).await;
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        ("out line\n", "err line\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_writes_config_and_logout_removes() {
    let s = server_with_containers().await;
    let o = berth_in(
        &s,
        &["login", "-u", "bob", "--password-stdin", "localhost:5000"],
        b"secret\n",
    )
    .await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "Login Succeeded\n");
    let home = s.dir.path().join("home-berth");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join(".docker/config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["auths"]["localhost:5000"]["auth"], "Ym9iOnNlY3JldA==");
    let seen = s.engine.seen_auth.lock().unwrap().clone().unwrap();
    assert_eq!(
        (seen.username.as_str(), seen.serveraddress.as_str()),
        ("bob", "localhost:5000")
    );
    // Stored credentials go with pulls from that registry.
    let o = berth(&s, &["pull", "-q", "localhost:5000/busybox:1"]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        s.engine.seen_auth.lock().unwrap().clone().unwrap().password,
        "secret"
    );
    let o = berth_in(
        &s,
        &["login", "-u", "bob", "--password-stdin", "localhost:5000"],
        b"wrong\n",
    )
    .await;
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            1,
            "Error response from daemon: login attempt failed: bad credentials\n"
        )
    );
    let o = berth(&s, &["logout", "localhost:5000"]).await;
    assert_eq!(o.stdout, "Removing login credentials for localhost:5000\n");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join(".docker/config.json")).unwrap())
            .unwrap();
    assert!(cfg["auths"].get("localhost:5000").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_both_directions() {
    let s = server_with_containers().await;
    let dst = s.dir.path().join("out");
    std::fs::create_dir(&dst).unwrap();
    let o = berth(&s, &["cp", "web:/etc/motd", dst.to_str().unwrap()]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        std::fs::read_to_string(dst.join("motd")).unwrap(),
        "hello\n"
    );
    let o = berth(
        &s,
        &["cp", dst.join("motd").to_str().unwrap(), "web:/tmp/renamed"],
    )
    .await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    let put = s.engine.archive_puts.lock().unwrap()[0].clone();
    let names: Vec<String> = tar::Archive::new(&put.data[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!((put.container.as_str(), put.path.as_str()), ("web", "/tmp"));
    assert_eq!(names, ["renamed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_host_env_is_honoured() {
    let s = server_with_containers().await;
    let out = tokio::task::spawn_blocking({
        let host = s.host();
        let home = s.dir.path().to_path_buf();
        move || {
            std::process::Command::new(berth_testkit::berth_bin())
                .args(["ps", "--format", "{{.Names}}"])
                .env("DOCKER_HOST", host)
                .env("HOME", home)
                .env_remove("DOCKER_CONTEXT")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "web\n");
    // Unreachable daemon: docker's message and exit 1.
    let out = std::process::Command::new(berth_testkit::berth_bin())
        .args(["-H", "unix:///nonexistent/berth.sock", "ps"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Cannot connect to the berth daemon at unix:///nonexistent/berth.sock. Is the berth daemon running?\n"
    );
    // `run` reports it as docker run does: "berth: …", the usage hint, status 125.
    let out = std::process::Command::new(berth_testkit::berth_bin())
        .args(["-H", "unix:///nonexistent/berth.sock", "run", "busybox"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "berth: Cannot connect to the berth daemon at unix:///nonexistent/berth.sock. Is the berth daemon running?\n\nRun 'berth run --help' for more information\n"
    );
}
