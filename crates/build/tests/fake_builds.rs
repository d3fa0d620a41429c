//! The builder's logic against a directory-backed fake engine: image config, layers, cache
//! behaviour, failures, multi-stage graphs, hostile contexts, the classic stream.
#![cfg(test)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_build::{build, prepare, BuildRequest, Context, Event};
use support::env::Env;

fn cached_steps(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Cached { .. }))
        .count()
}

const DOCKERFILE: &str = "FROM base
ARG VERSION=1.0
ENV APP=/app VERSION=$VERSION
WORKDIR $APP
COPY --chown=redis:redis conf.txt ./
COPY src/ ./src/
RUN write /app/built ok && echo building $VERSION
EXPOSE 80 53/udp
VOLUME /data
USER redis
LABEL org.example.version=\"${VERSION}\"
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s CMD [\"true\"]
ONBUILD RUN echo child
SHELL [\"/bin/bash\", \"-c\"]
ENTRYPOINT [\"redis-server\"]
CMD redis.conf --port 6379
";

fn files(conf: &str) -> Vec<(&'static str, String, u32)> {
    vec![
        ("Dockerfile", DOCKERFILE.to_string(), 0o644),
        ("conf.txt", conf.to_string(), 0o600),
        ("src/main.c", "int main(){}".to_string(), 0o644),
        ("src/run.sh", "#!/bin/sh".to_string(), 0o755),
    ]
}

fn as_refs<'a>(v: &'a [(&'static str, String, u32)]) -> Vec<(&'static str, &'a str, u32)> {
    v.iter().map(|(p, c, m)| (*p, c.as_str(), *m)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_layers_files_and_owners() {
    let env = Env::new();
    let (r, _, text) = env.build(&as_refs(&files("port 6379"))).await;
    let cc = r.state.config.config.clone().unwrap();
    assert_eq!(
        cc.env.unwrap(),
        ["PATH=/usr/bin:/bin", "APP=/app", "VERSION=1.0"]
    );
    assert_eq!(cc.working_dir.as_deref(), Some("/app"));
    assert_eq!(cc.user.as_deref(), Some("redis"));
    assert_eq!(
        cc.exposed_ports
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        ["53/udp", "80/tcp"]
    );
    assert!(cc.volumes.unwrap().contains_key("/data"));
    assert_eq!(cc.labels.unwrap()["org.example.version"], "1.0");
    assert_eq!(cc.stop_signal.as_deref(), Some("SIGQUIT"));
    let hc = cc.healthcheck.unwrap();
    assert_eq!(hc.test.unwrap(), ["CMD", "true"]);
    assert_eq!(hc.interval, Some(5_000_000_000));
    assert_eq!(cc.on_build.unwrap(), ["RUN echo child"]);
    assert_eq!(cc.shell.unwrap(), ["/bin/bash", "-c"]);
    assert_eq!(cc.entrypoint.unwrap(), ["redis-server"]);
    // Shell form through the SHELL in force.
    assert_eq!(
        cc.cmd.unwrap(),
        ["/bin/bash", "-c", "redis.conf --port 6379"]
    );
    // base + WORKDIR + 2 COPY + RUN
    assert_eq!(r.state.layers.len(), 5);
    assert_eq!(r.state.config.rootfs.diff_ids.len(), 5);
    assert_eq!(
        r.state
            .config
            .history
            .iter()
            .filter(|h| !h.empty_layer)
            .count(),
        4
    );
    let tree = env.fake.tree(&r.state);
    assert_eq!(
        std::fs::read_to_string(tree.join("app/conf.txt")).unwrap(),
        "port 6379"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("app/built")).unwrap(),
        "ok"
    );
    assert!(tree.join("app/src/main.c").exists());
    let extracted = env.fake.extracted.lock().unwrap().clone();
    let conf = extracted.iter().find(|e| e.0 == "/app/conf.txt").unwrap();
    assert_eq!((conf.1, conf.2, conf.3 & 0o7777), (100, 101, 0o600));
    let sh = extracted.iter().find(|e| e.0 == "/app/src/run.sh").unwrap();
    assert_eq!((sh.1, sh.2, sh.3 & 0o7777), (0, 0, 0o755));
    // RUN saw the build arg as environment.
    let run = env.fake.runs.lock().unwrap()[0].clone();
    assert!(run.env.contains(&"VERSION=1.0".to_string()));
    assert_eq!(run.workdir, "/app");
    assert_eq!(
        run.args,
        [
            "/bin/sh",
            "-c",
            "write /app/built ok && echo building $VERSION"
        ]
    );
    assert!(text.contains("Step 1/17 : FROM base\n"), "{text}");
    assert!(
        text.contains("Step 7/17 : RUN write /app/built ok"),
        "{text}"
    );
    assert!(text.contains("building $VERSION\n"), "{text}");
    assert_eq!(env.fake.tags.lock().unwrap()["app:latest"], r.image_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_rebuild_runs_nothing_and_gives_the_same_image() {
    let env = Env::new();
    let f = files("port 6379");
    let (first, _, _) = env.build(&as_refs(&f)).await;
    let runs = env.fake.run_count();
    let (second, events, text) = env.build(&as_refs(&f)).await;
    assert_eq!(
        env.fake.run_count(),
        runs,
        "a cached rebuild runs no container"
    );
    assert_eq!(cached_steps(&events), 16);
    assert_eq!(second.image_id, first.image_id);
    assert!(text.contains(" ---> Using cache\n"));
    assert!(env.fake.live_roots.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_copied_file_rebuilds_from_that_step() {
    let env = Env::new();
    env.build(&as_refs(&files("port 6379"))).await;
    let (_, events, _) = env.build(&as_refs(&files("port 6380"))).await;
    // ARG, ENV, WORKDIR cached; COPY conf.txt and everything after it rebuilt.
    assert_eq!(cached_steps(&events), 3);
    assert_eq!(env.fake.run_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtime_alone_keeps_the_cache_but_mode_does_not() {
    let env = Env::new();
    let df = "FROM base\nCOPY a /a\nRUN true\n";
    env.build(&[("Dockerfile", df, 0o644), ("a", "x", 0o644)])
        .await;
    // context_tar stamps a fixed mtime; a different tar with the same content is "touched".
    let (_, events, _) = env
        .build(&[("Dockerfile", df, 0o644), ("a", "x", 0o644)])
        .await;
    assert_eq!(cached_steps(&events), 2);
    let (_, events, _) = env
        .build(&[("Dockerfile", df, 0o644), ("a", "x", 0o755)])
        .await;
    assert_eq!(cached_steps(&events), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_args_invalidate_only_steps_that_use_them() {
    let env = Env::new();
    let df = "FROM base\nARG A=1\nRUN echo one\nARG B=2\nRUN echo $B\n";
    let files = [("Dockerfile", df, 0o644)];
    let run = |b: &str| BuildRequest {
        build_args: BTreeMap::from([("B".to_string(), Some(b.to_string()))]),
        ..BuildRequest::default()
    };
    env.build_with(&files, run("2")).await.0.unwrap();
    let (r, events, _) = env.build_with(&files, run("3")).await;
    r.unwrap();
    // ARG A and the first RUN are cached; ARG B and the RUN after it are not.
    assert_eq!(cached_steps(&events), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_leaves_nothing_but_the_cache_of_earlier_steps() {
    let env = Env::new();
    let df = "FROM base\nRUN write /ok 1\nRUN fail 3\nCMD x\n";
    let files = [("Dockerfile", df, 0o644)];
    let (r, _, text) = env
        .build_with(
            &files,
            BuildRequest {
                tags: vec!["broken".into()],
                ..BuildRequest::default()
            },
        )
        .await;
    let err = r.unwrap_err();
    assert_eq!(
        err.to_string(),
        "The command '/bin/sh -c fail 3' returned a non-zero code: 3"
    );
    assert_eq!(err.code(), 3);
    assert!(text.contains("failing\n"));
    assert!(env.fake.tags.lock().unwrap().is_empty());
    assert!(env.fake.written.lock().unwrap().is_empty());
    assert!(
        env.fake.live_roots.lock().unwrap().is_empty(),
        "the step's root is released"
    );
    let (_, events, _) = env.build_with(&files, BuildRequest::default()).await;
    assert_eq!(cached_steps(&events), 1, "the successful RUN stays cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_skips_unneeded_stages_and_stages_feed_each_other() {
    let env = Env::new();
    let df = "FROM base AS builder\nRUN write /out/bin built\n\
              FROM base AS broken\nRUN fail 9\n\
              FROM base AS other\nRUN write /other/x y\n\
              FROM scratch AS final\nCOPY --from=builder /out/bin /bin/app\nCOPY --from=other /other/ /o/\n\
              FROM final AS last\nRUN fail 1\n";
    let (r, events, text) = env
        .build_with(
            &[("Dockerfile", df, 0o644)],
            BuildRequest {
                target: Some("final".into()),
                ..BuildRequest::default()
            },
        )
        .await;
    let r = r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    let tree = env.fake.tree(&r.state);
    assert_eq!(
        std::fs::read_to_string(tree.join("bin/app")).unwrap(),
        "built"
    );
    assert_eq!(std::fs::read_to_string(tree.join("o/x")).unwrap(), "y");
    assert_eq!(r.state.layers.len(), 2, "scratch + two COPY layers");
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::Step { stage: 1 | 4, .. })));
    // Steps are numbered over the needed stages, in Dockerfile order.
    assert!(
        text.starts_with("Step 1/7 : FROM base AS builder\n"),
        "{text}"
    );
    assert!(
        text.contains("Step 5/7 : FROM scratch AS final\n"),
        "{text}"
    );
    let (r, _, _) = env
        .build_with(
            &[("Dockerfile", df, 0o644)],
            BuildRequest {
                target: Some("nope".into()),
                ..BuildRequest::default()
            },
        )
        .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "failed to reach build target nope in Dockerfile"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dockerignore_with_exceptions_and_double_star() {
    let env = Env::new();
    let df = "FROM base\nCOPY . /ctx/\n";
    let (r, _, _) = env
        .build(&[
            ("Dockerfile", df, 0o644),
            (
                ".dockerignore",
                "**/*.log\nsecret*\n!secret-ok\nDockerfile\n",
                0o644,
            ),
            ("a.log", "x", 0o644),
            ("deep/b/c.log", "x", 0o644),
            ("deep/b/keep.txt", "x", 0o644),
            ("secret.key", "x", 0o644),
            ("secret-ok", "x", 0o644),
        ])
        .await;
    let tree = env.fake.tree(&r.state).join("ctx");
    assert!(!tree.join("a.log").exists());
    assert!(!tree.join("deep/b/c.log").exists());
    assert!(tree.join("deep/b/keep.txt").exists());
    assert!(!tree.join("secret.key").exists());
    assert!(tree.join("secret-ok").exists());
    assert!(
        !tree.join("Dockerfile").exists(),
        "an ignored Dockerfile is read, not copied"
    );
    // <Dockerfile>.dockerignore beside the Dockerfile wins over .dockerignore.
    let (r, _, _) = env
        .build_with(
            &[
                ("build/app.Dockerfile", df, 0o644),
                ("build/app.Dockerfile.dockerignore", "x\n", 0o644),
                (".dockerignore", "y\n", 0o644),
                ("x", "x", 0o644),
                ("y", "y", 0o644),
            ],
            BuildRequest {
                dockerfile: Some("build/app.Dockerfile".into()),
                ..BuildRequest::default()
            },
        )
        .await;
    let tree = env.fake.tree(&r.unwrap().state).join("ctx");
    assert!(!tree.join("x").exists());
    assert!(tree.join("y").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_contexts_never_reach_outside() {
    let env = Env::new();
    // A symlink to /etc/shadow resolves inside the context, where there is no such file.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "shadow", "/etc/shadow").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "up", "../../../../etc").unwrap();
    let df = "FROM base\nCOPY shadow /x\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(df.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "Dockerfile", df.as_bytes()).unwrap();
    let tar = b.into_inner().unwrap();
    let ctx = Context::from_tar(tar.as_slice(), &env.work.path().join("hostile")).unwrap();
    assert_eq!(ctx.resolve("shadow", true).unwrap(), "etc/shadow");
    assert_eq!(ctx.resolve("up/passwd", true).unwrap(), "etc/passwd");
    let prepared = prepare(ctx, BuildRequest::default()).unwrap();
    let err = build(
        env.fake.clone(),
        env.cache.clone(),
        prepared,
        env.work.path().join("s"),
        Arc::new(|_e: Event| {}),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("file not found in build context"),
        "{err}"
    );

    // `../` in COPY.
    let (r, _, _) = env
        .build_with(
            &[("Dockerfile", "FROM base\nCOPY ../../etc/passwd /x\n", 0o644)],
            BuildRequest::default(),
        )
        .await;
    assert!(r
        .unwrap_err()
        .to_string()
        .contains("forbidden path outside the build context"));

    // A context tar whose entry climbs out is refused whole.
    let mut raw = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
    h.set_cksum();
    raw.append(&h, &b"x"[..]).unwrap();
    let tar = raw.into_inner().unwrap();
    let err = Context::from_tar(tar.as_slice(), &env.work.path().join("dotdot")).unwrap_err();
    assert!(err.to_string().contains("escapes the context"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heredocs_and_onbuild_triggers() {
    let env = Env::new();
    let df = "FROM base AS parent\nARG NAME=world\nCOPY <<EOF /greeting\nhello $NAME\nEOF\nONBUILD RUN write /triggered yes\n\
              FROM parent\nRUN <<EOT\nwrite /from-heredoc 1\nEOT\n";
    let (r, _, text) = env.build(&[("Dockerfile", df, 0o644)]).await;
    let tree = env.fake.tree(&r.state);
    assert_eq!(
        std::fs::read_to_string(tree.join("greeting")).unwrap(),
        "hello world\n"
    );
    assert!(tree.join("triggered").exists(), "{text}");
    assert!(tree.join("from-heredoc").exists());
    assert!(r.state.config.config.unwrap().on_build.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_before_and_during_the_build() {
    let env = Env::new();
    let (r, _, _) = env
        .build_with(&[("other", "", 0o644)], BuildRequest::default())
        .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "Cannot locate specified Dockerfile: Dockerfile"
    );
    let (r, _, _) = env
        .build_with(
            &[("Dockerfile", "FROM base\nFORM x\n", 0o644)],
            BuildRequest::default(),
        )
        .await;
    let e = r.unwrap_err();
    assert!(e.is_syntax());
    assert_eq!(
        e.to_string(),
        "dockerfile parse error on line 2: unknown instruction: FORM (did you mean FROM?)"
    );
    let (r, _, _) = env
        .build_with(
            &[("Dockerfile", "FROM nothere\n", 0o644)],
            BuildRequest::default(),
        )
        .await;
    assert!(r
        .unwrap_err()
        .to_string()
        .contains("pull access denied for nothere"));
    let (r, _, _) = env
        .build_with(
            &[
                ("Dockerfile", "FROM base\nCOPY a b /notadir\n", 0o644),
                ("a", "", 0o644),
                ("b", "", 0o644),
            ],
            BuildRequest::default(),
        )
        .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    );
    let (r, _, _) = env
        .build_with(
            &[
                ("Dockerfile", "FROM base\nCOPY --chown=nobody a /a\n", 0o644),
                ("a", "", 0o644),
            ],
            BuildRequest::default(),
        )
        .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "can't find uid for user nobody: no such user: nobody"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_build_args_are_reported_and_labels_added() {
    let env = Env::new();
    let (r, events, text) = env
        .build_with(
            &[("Dockerfile", "FROM base\nARG USED\n", 0o644)],
            BuildRequest {
                build_args: BTreeMap::from([
                    ("USED".to_string(), Some("1".to_string())),
                    ("UNUSED".to_string(), Some("2".to_string())),
                    ("HTTP_PROXY".to_string(), Some("http://p".to_string())),
                ]),
                labels: BTreeMap::from([("built.by".to_string(), "berth".to_string())]),
                ..BuildRequest::default()
            },
        )
        .await;
    let r = r.unwrap();
    assert!(events.contains(&Event::Warning(
        "One or more build-args [UNUSED] were not consumed".into()
    )));
    assert_eq!(
        r.state.config.config.unwrap().labels.unwrap()["built.by"],
        "berth"
    );
    assert!(
        text.contains("Step 3/3 : LABEL built.by=\"berth\"\n"),
        "{text}"
    );
}

/// A one-shot-per-connection HTTP server on 127.0.0.1: `/file.txt` → 200, `/moved` → 302 to
/// it, anything else → 404. Stops when the test ends (the thread is detached and idle).
fn serve_http(body: &'static str) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(16) {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap() == 0 || l == "\r\n" {
                    break;
                }
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_string();
            let response = match path.as_str() {
                "/file.txt" => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
                "/moved" => "HTTP/1.1 302 Found\r\nLocation: /file.txt\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
            };
            let _ = conn.write_all(response.as_bytes());
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_from_a_url_with_checksum() {
    let env = Env::new();
    let port = serve_http("remote content\n");
    let good = "sha256:".to_string()
        + &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"remote content\n"));
    let df = format!("FROM base\nADD --checksum={good} http://127.0.0.1:{port}/file.txt /dl/\n");
    let (r, _, text) = env
        .build_with(&[("Dockerfile", &df, 0o644)], BuildRequest::default())
        .await;
    let r = r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    let tree = env.fake.tree(&r.state);
    assert_eq!(
        std::fs::read_to_string(tree.join("dl/file.txt")).unwrap(),
        "remote content\n"
    );
    let extracted = env.fake.extracted.lock().unwrap().clone();
    let e = extracted.iter().find(|e| e.0 == "/dl/file.txt").unwrap();
    assert_eq!(e.3 & 0o7777, 0o600);
    // Redirects are followed; the file is named after the URL asked for.
    let df = format!("FROM base\nADD http://127.0.0.1:{port}/moved /m\n");
    let (r, _, _) = env
        .build_with(&[("Dockerfile", &df, 0o644)], BuildRequest::default())
        .await;
    let tree = env.fake.tree(&r.unwrap().state);
    assert_eq!(
        std::fs::read_to_string(tree.join("m")).unwrap(),
        "remote content\n"
    );
    let bad = format!("sha256:{}", "0".repeat(64));
    let df = format!("FROM base\nADD --checksum={bad} http://127.0.0.1:{port}/file.txt /dl/\n");
    let (r, _, _) = env
        .build_with(&[("Dockerfile", &df, 0o644)], BuildRequest::default())
        .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        format!("digest mismatch {bad}: {good}")
    );
    let df = format!("FROM base\nADD http://127.0.0.1:{port}/missing /x\n");
    let (r, _, _) = env
        .build_with(&[("Dockerfile", &df, 0o644)], BuildRequest::default())
        .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        format!("failed to GET http://127.0.0.1:{port}/missing with status 404 Not Found")
    );
    let (r, _, _) = env
        .build_with(
            &[(
                "Dockerfile",
                "FROM base\nCOPY http://127.0.0.1:1/x /x\n",
                0o644,
            )],
            BuildRequest::default(),
        )
        .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "COPY failed: source can't be a URL for COPY: http://127.0.0.1:1/x"
    );
}
