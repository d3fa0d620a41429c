//! `berth build` and `builder prune` against a real `ApiServer` whose fake engine streams a
//! tiny build; the docker v28 CLI (without buildx, as here) driven against the same server
//! shows that it takes the classic `POST /build` path.
#![cfg(test)]

mod support;

use support::{berth, docker, FakeEngine, TestServer};

fn context(dir: &std::path::Path, dockerfile: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join("src/app.txt"), "app").unwrap();
    std::fs::write(dir.join("ignored.txt"), "no").unwrap();
    std::fs::write(dir.join(".dockerignore"), "ignored.txt\nDockerfile\n").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_build_sends_the_context_and_draws_progress() {
    let s = TestServer::start(FakeEngine::default()).await;
    let ctx = s.dir.path().join("ctx");
    context(&ctx, "FROM busybox\nCOPY src /src\n");
    let ctx_s = ctx.display().to_string();
    let iid = s.dir.path().join("iid");
    let iid_s = iid.display().to_string();
    let out = berth(
        &s,
        &[
            "build",
            "--progress=plain",
            "-t",
            "app:1",
            "--build-arg",
            "A=1",
            "--label",
            "l=v",
            "--add-host",
            "h=1.2.3.4",
            "--iidfile",
            &iid_s,
            &ctx_s,
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    let builds = s.engine.builds.lock().unwrap().clone();
    let (opts, names) = &builds[0];
    assert_eq!(opts.tags, ["app:1"]);
    assert_eq!(opts.build_args.get("A"), Some(&Some("1".to_string())));
    assert_eq!(opts.labels.get("l").map(String::as_str), Some("v"));
    assert_eq!(opts.extra_hosts, ["h:1.2.3.4"]);
    assert!(opts.events && opts.remove);
    // .dockerignore applied, but the Dockerfile and the ignore file are always sent.
    assert!(names.contains(&"Dockerfile".to_string()), "{names:?}");
    assert!(names.contains(&"src/app.txt".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("ignored")), "{names:?}");
    let err = &out.stderr;
    assert!(
        err.contains("#1 [internal] load build definition from Dockerfile"),
        "{err}"
    );
    assert!(err.contains("#3 [1/2] FROM busybox\n#3 DONE 0.0s"), "{err}");
    assert!(err.contains("#4 [2/2] COPY src /src\n#4 CACHED"), "{err}");
    assert!(
        err.contains("naming to docker.io/library/app:1 done"),
        "{err}"
    );
    let id = std::fs::read_to_string(&iid).unwrap();
    assert!(id.starts_with("sha256:5f0c2a7d"), "{id}");
    // -q: only the id, on stdout.
    let out = berth(&s, &["build", "-q", &ctx_s]).await;
    assert_eq!((out.code, out.stdout.trim()), (0, id.as_str()), "{out:?}");
    assert_eq!(out.stderr, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_step_prints_its_output_and_exit_code() {
    let s = TestServer::start(FakeEngine::default()).await;
    let ctx = s.dir.path().join("ctx");
    context(&ctx, "FROM busybox\nRUN exit 3\n");
    let out = berth(
        &s,
        &["build", "--progress=plain", &ctx.display().to_string()],
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    let err = &out.stderr;
    assert!(
        err.contains("#4 0.000 boom") || err.contains(" boom"),
        "{err}"
    );
    assert!(err.contains(" > [2/2] RUN exit 3:\n"), "{err}");
    assert!(
        err.ends_with(
            "ERROR: failed to solve: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3\n"
        ),
        "{err}"
    );
    // A Dockerfile the daemon refuses before streaming.
    context(&ctx, "FORM busybox\n");
    let out = berth(
        &s,
        &["build", "--progress=plain", &ctx.display().to_string()],
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains(
        "ERROR: failed to solve: dockerfile parse error on line 1: unknown instruction: FORM (did you mean FROM?)"
    ), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rawjson_and_a_dockerfile_from_stdin() {
    let s = TestServer::start(FakeEngine::default()).await;
    let ctx = s.dir.path().join("ctx");
    context(&ctx, "FROM busybox\n");
    let out = support::berth_in(
        &s,
        &[
            "build",
            "--progress=rawjson",
            "-f",
            "-",
            &ctx.display().to_string(),
        ],
        b"FROM busybox\nRUN true\n",
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    let first: serde_json::Value =
        serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    assert!(first["vertexes"][0]["name"]
        .as_str()
        .unwrap()
        .starts_with("[internal]"));
    assert!(
        out.stdout.contains("\"name\":\"[2/2] RUN true\""),
        "{}",
        out.stdout
    );
    let builds = s.engine.builds.lock().unwrap().clone();
    let df = builds[0].0.dockerfile.clone().unwrap();
    assert!(df.starts_with(".dockerfile."), "{df}");
    assert!(builds[0].1.contains(&df));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builder_prune_prints_like_docker() {
    let s = TestServer::start(FakeEngine::default()).await;
    let b = berth(&s, &["builder", "prune", "-f"]).await;
    assert_eq!(
        b.stdout,
        "Deleted build cache objects:\nk1\n\nTotal reclaimed space: 1.024kB\n"
    );
    if std::path::Path::new("/usr/local/bin/docker").is_file() {
        for args in [
            &["builder", "prune", "-f"][..],
            &["builder", "prune", "-af"][..],
        ] {
            let b = berth(&s, args).await;
            let d = docker(&s, args).await;
            assert_eq!((b.code, &b.stdout), (d.code, &d.stdout), "{args:?}: {d:?}");
        }
    }
}

/// The docker v28 CLI without buildx: `docker build` warns that the legacy builder is
/// deprecated and uses `POST /build` — so does `DOCKER_BUILDKIT=0`; `DOCKER_BUILDKIT=1`
/// fails in the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_cli_takes_the_classic_path() {
    let docker_bin = std::path::Path::new("/usr/local/bin/docker");
    if !docker_bin.is_file() {
        assert!(
            std::env::var("CI").is_err(),
            "the docker CLI is required in CI"
        );
        return;
    }
    let s = TestServer::start(FakeEngine::default()).await;
    let ctx = s.dir.path().join("ctx");
    context(&ctx, "FROM busybox\nCOPY src /src\n");
    let home = s.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let run = |env: Option<&str>| {
        let mut c = std::process::Command::new(docker_bin);
        c.arg("-H")
            .arg(s.host())
            .args(["build", "-t", "app:2"])
            .arg(&ctx)
            .env("HOME", &home)
            .env_remove("DOCKER_CONFIG")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_BUILDKIT");
        if let Some(v) = env {
            c.env("DOCKER_BUILDKIT", v);
        }
        c.output().unwrap()
    };
    for env in [None, Some("0")] {
        let o = tokio::task::block_in_place(|| run(env));
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{env:?}: {stdout}{stderr}");
        assert!(
            stderr.contains("DEPRECATED: The legacy builder is deprecated"),
            "{stderr}"
        );
        assert!(stdout.contains("Step 1/2 : FROM busybox\n"), "{stdout}");
        assert!(stdout.contains("Successfully tagged app:2\n"), "{stdout}");
    }
    let o = tokio::task::block_in_place(|| run(Some("1")));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("BuildKit is enabled but the buildx component is missing"));
    let builds = s.engine.builds.lock().unwrap().clone();
    assert_eq!(builds.len(), 2, "the CLI sent two classic builds");
    assert!(
        !builds[0].0.events,
        "the docker CLI never asks for berth's events"
    );
    assert_eq!(builds[0].0.tags, ["app:2"]);
}
