//! `docker build` (the v28 CLI on its classic path) and `berth build` against a private berth
//! daemon: the course's two examples with Debian/busybox stand-ins, the layer cache, and a
//! failing RUN that leaves nothing behind.
#![cfg(test)]

use std::io::{Read, Write};
use std::process::Output;

use berth_testkit::build::{assert_no_build_leftovers, docker_build, write_files};
use berth_testkit::daemon::{self, ok, stderr, stdout, Daemon};

fn need(test: &str) -> bool {
    daemon::need(test, &["debootstrap"])
}

fn http_get(port: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        match std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
            Ok(mut s) => {
                s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                if !out.is_empty() {
                    return out;
                }
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("no answer on port {port}: {last}");
}

/// The course's redis image (`FROM alpine / RUN apk add redis / RUN apk add bash / CMD
/// ["redis-server"]`) from a debootstrapped Debian with redis installed, built with
/// `docker build -t`, rebuilt from the cache, and run.
#[test]
fn peer_build_course_redis_with_docker_cli() {
    if !need("peer_build_course_redis_with_docker_cli") {
        return;
    }
    let debian = berth_testkit::debian::image_archive(&["redis-server"]);
    let d = Daemon::start();
    ok(
        "load",
        d.docker(&["load", "-i", debian.path.to_str().unwrap()]),
    );
    let ctx = d.root().join("redis");
    let dockerfile = format!(
        "FROM {}\nRUN redis-server --version > /redis-version\nRUN echo shell: $(command -v bash)\nCMD [\"redis-server\", \"--protected-mode\", \"no\"]\n",
        debian.tag
    );
    write_files(&ctx, &[("Dockerfile", &dockerfile)]);
    let first = ok("build", docker_build(&d, &ctx, &["-t", "course-redis"]));
    let out = stdout(&first);
    assert!(out.contains("Step 1/4 : FROM"), "{out}");
    assert!(out.contains(" ---> Running in "), "{out}");
    assert!(out.contains("shell: /bin/bash\n"), "{out}");
    assert!(
        out.contains("Successfully tagged course-redis:latest"),
        "{out}"
    );
    assert!(!out.contains("Using cache"), "{out}");
    // Each RUN that changed files is a layer on top of the base; CMD is metadata only.
    let layers = ok(
        "inspect",
        d.docker(&[
            "image",
            "inspect",
            "-f",
            "{{len .RootFS.Layers}} {{json .Config.Cmd}}",
            "course-redis",
        ]),
    );
    assert_eq!(
        stdout(&layers).trim(),
        "2 [\"redis-server\",\"--protected-mode\",\"no\"]"
    );
    // A rebuild is all cache and gives the same image.
    let id = stdout(&ok(
        "inspect",
        d.docker(&["image", "inspect", "-f", "{{.Id}}", "course-redis"]),
    ));
    let again = ok("rebuild", docker_build(&d, &ctx, &["-t", "course-redis"]));
    let out = stdout(&again);
    assert_eq!(out.matches(" ---> Using cache").count(), 3, "{out}");
    assert!(!out.contains("Running in"), "{out}");
    let id2 = stdout(&ok(
        "inspect",
        d.docker(&["image", "inspect", "-f", "{{.Id}}", "course-redis"]),
    ));
    assert_eq!(id, id2);
    assert_no_build_leftovers(&d);
    // The image runs: redis answers.
    ok(
        "run",
        d.docker(&["run", "-d", "--name", "course-r", "course-redis"]),
    );
    let mut pong = String::new();
    for _ in 0..100 {
        let o = d.docker(&["exec", "course-r", "redis-cli", "ping"]);
        pong = stdout(&o);
        if pong.trim() == "PONG" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(pong.trim(), "PONG");
    let v = ok(
        "cat",
        d.docker(&["exec", "course-r", "cat", "/redis-version"]),
    );
    assert!(stdout(&v).starts_with("Redis server v="), "{}", stdout(&v));
    ok("rm", d.docker(&["rm", "-f", "course-r"]));
}

/// The course's node/express server (`COPY index.js . / COPY package.json . / RUN npm
/// install / CMD ["node","index.js"]`, then `docker run --rm -p 3000:3000`) with busybox's
/// httpd standing in for node, built by `berth build` and by `docker build -f`.
#[test]
fn peer_build_course_web_server_and_run_it_published() {
    if !need("peer_build_course_web_server_and_run_it_published") {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let ctx = d.root().join("web");
    write_files(
        &ctx,
        &[
            ("index.html", "hello from the built image\n"),
            ("package.json", "{\"name\":\"app\"}\n"),
            (
                "web.Dockerfile",
                "FROM busybox\nWORKDIR /app\nCOPY index.html .\nCOPY package.json .\nRUN cp package.json installed.json\nEXPOSE 3000\nCMD [\"httpd\", \"-f\", \"-p\", \"3000\", \"-h\", \"/app\"]\n",
            ),
        ],
    );
    let built = ok(
        "berth build",
        d.cli_command(&d.bin)
            .current_dir(&ctx)
            .args([
                "build",
                "--progress=plain",
                "-t",
                "web",
                "-f",
                "web.Dockerfile",
                ".",
            ])
            .output()
            .unwrap(),
    );
    let err = stderr(&built);
    assert!(
        err.contains("[5/7] RUN cp package.json installed.json"),
        "{err}"
    );
    assert!(
        err.contains("naming to docker.io/library/web:latest"),
        "{err}"
    );
    // The docker CLI's build of the same context is all cache.
    let again = ok(
        "docker build -f",
        docker_build(&d, &ctx, &["-t", "web2", "-f", "web.Dockerfile"]),
    );
    assert_eq!(
        stdout(&again).matches("Using cache").count(),
        6,
        "{}",
        stdout(&again)
    );
    let cfg = ok(
        "inspect",
        d.docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Config.WorkingDir}} {{json .Config.ExposedPorts}}",
            "web",
        ]),
    );
    assert_eq!(stdout(&cfg).trim(), "/app {\"3000/tcp\":{}}");
    let run = ok(
        "run",
        d.docker(&[
            "run",
            "--rm",
            "-d",
            "--name",
            "web",
            "-p",
            "127.0.0.1::3000",
            "web",
        ]),
    );
    assert!(!stdout(&run).trim().is_empty());
    let port = stdout(&ok("port", d.docker(&["port", "web", "3000"])));
    let port = port.trim().rsplit(':').next().unwrap().to_string();
    let page = http_get(&port);
    assert!(page.contains("hello from the built image"), "{page}");
    ok("stop", d.docker(&["stop", "-t", "1", "web"]));
    let files = ok("run", d.docker(&["run", "--rm", "web", "ls", "/app"]));
    assert_eq!(stdout(&files), "index.html\ninstalled.json\npackage.json\n");
    assert_no_build_leftovers(&d);
}

/// A failing RUN: the CLI exits non-zero with the step's code, no image is tagged, and no
/// container, mount, snapshot or bundle is left; the steps before it stay cached, also
/// across a daemon restart.
#[test]
fn peer_build_failing_run_leaves_nothing() {
    if !need("peer_build_failing_run_leaves_nothing") {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let ctx = d.root().join("fail");
    write_files(
        &ctx,
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo first > /first\nRUN echo partial > /partial && echo failing now && exit 3\n",
        )],
    );
    let out = docker_build(&d, &ctx, &["-t", "broken"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("failing now"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("returned a non-zero code: 3"),
        "{}",
        stderr(&out)
    );
    let images = ok("images", d.docker(&["images", "-q", "broken"]));
    assert_eq!(stdout(&images), "");
    assert_no_build_leftovers(&d);
    // berth build: the same failure, exit 1 and BuildKit's message.
    let b = d
        .cli_command(&d.bin)
        .current_dir(&ctx)
        .args(["build", "--progress=plain", "-t", "broken", "."])
        .output()
        .unwrap();
    assert_eq!(b.status.code(), Some(1));
    let err = stderr(&b);
    assert!(err.contains("#5 CACHED") || err.contains("CACHED"), "{err}");
    assert!(
        err.contains("did not complete successfully: exit code: 3"),
        "{err}"
    );
    assert_no_build_leftovers(&d);
    // The cache survives a restart (here an unclean one): the step that succeeded is
    // reused although no image holds its layer.
    let mut d = d;
    d.kill9();
    d.spawn();
    write_files(
        &ctx,
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo first > /first\nRUN echo fixed > /partial\n",
        )],
    );
    let fixed = ok("rebuild", docker_build(&d, &ctx, &["-t", "fixed"]));
    let out = stdout(&fixed);
    assert_eq!(out.matches(" ---> Using cache").count(), 1, "{out}");
    let files = ok(
        "run",
        d.docker(&["run", "--rm", "fixed", "cat", "/first", "/partial"]),
    );
    assert_eq!(stdout(&files), "first\nfixed\n");
    assert_no_build_leftovers(&d);
}

/// What the comparison with Docker's daemon looks at: the config fields Docker's own build
/// tests compare, the layer count, and the files with their modes and owners.
fn observed(docker: &dyn Fn(&[&str]) -> Output, image: &str) -> String {
    let cfg = ok(
        "inspect",
        docker(&[
            "image",
            "inspect",
            "-f",
            "Cmd={{json .Config.Cmd}}\nEntrypoint={{json .Config.Entrypoint}}\nEnv={{json .Config.Env}}\nWorkingDir={{.Config.WorkingDir}}\nUser={{.Config.User}}\nExposedPorts={{json .Config.ExposedPorts}}\nLabels={{json .Config.Labels}}\nVolumes={{json .Config.Volumes}}\nStopSignal={{.Config.StopSignal}}\nHealthcheck={{json .Config.Healthcheck}}\nOnBuild={{json .Config.OnBuild}}\nShell={{json .Config.Shell}}\nLayers={{len .RootFS.Layers}}",
            image,
        ]),
    );
    let files = ok(
        "run",
        docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "/bin/sh",
            image,
            "-c",
            "cd /app && find . | sort | while read f; do stat -c '%n %A %u %g %s' \"$f\"; done",
        ]),
    );
    format!("{}{}", stdout(&cfg), stdout(&files))
}

/// The same context built by berth (docker CLI and berth CLI) and by Docker's own daemon
/// gives the same config, layer count, files, modes and owners: ARG/ENV/USER/WORKDIR/
/// HEALTHCHECK and the other metadata instructions, `.dockerignore`, `COPY --chown` with
/// names from the image's /etc/passwd, multi-stage with `--target`. (`COPY --chmod` is
/// BuildKit-only: dockerd's classic builder refuses it, so it is not compared here.)
#[test]
fn peer_build_matches_dockerd() {
    if !daemon::need("peer_build_matches_dockerd", &["dockerd"]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dk = berth_testkit::dockerd::Dockerd::start();
    dk.load_busybox();
    let ctx = d.root().join("cmp");
    write_files(
        &ctx,
        &[
            (".dockerignore", "secret.txt\n**/*.tmp\n!keep.tmp\n"),
            ("secret.txt", "no\n"),
            ("junk.tmp", "no\n"),
            ("keep.tmp", "kept\n"),
            ("app.sh", "#!/bin/sh\necho app\n"),
            (
                "Dockerfile",
                "ARG BASE=busybox\n\
                 FROM $BASE AS builder\n\
                 RUN mkdir -p /out && echo built > /out/artifact\n\
                 FROM $BASE\n\
                 ARG VERSION=1.0\n\
                 ENV APP_VERSION=$VERSION PATH=/app/bin:$PATH\n\
                 LABEL org.example.name=\"demo app\" version=$VERSION\n\
                 RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group\n\
                 WORKDIR /app\n\
                 COPY --chown=app:app . src/\n\
                 COPY app.sh bin/app\n\
                 RUN chmod 0750 bin/app\n\
                 COPY --from=builder /out/artifact ./artifact\n\
                 USER app\n\
                 EXPOSE 8080/tcp 53/udp\n\
                 VOLUME /data\n\
                 STOPSIGNAL SIGINT\n\
                 HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD [\"true\"]\n\
                 ONBUILD RUN echo child\n\
                 SHELL [\"/bin/sh\", \"-ec\"]\n\
                 ENTRYPOINT [\"/app/bin/app\"]\n\
                 CMD [\"--serve\"]\n",
            ),
        ],
    );
    let ctx_s = ctx.to_str().unwrap();
    let berth_docker = |a: &[&str]| d.docker(a);
    let dockerd = |a: &[&str]| dk.docker(a);
    ok("berth build", d.docker(&["build", "-t", "cmp", ctx_s]));
    ok("dockerd build", dk.docker(&["build", "-t", "cmp", ctx_s]));
    let ours = observed(&berth_docker, "cmp");
    let theirs = observed(&dockerd, "cmp");
    assert_eq!(ours, theirs);
    assert!(
        ours.contains("./src/keep.tmp -rw-r--r-- 1000 1000"),
        "{ours}"
    );
    assert!(
        !ours.contains("secret.txt") && !ours.contains("junk.tmp"),
        "{ours}"
    );
    // berth build gives the same image as the docker CLI on berth: all cache, same id.
    let b = d
        .cli_command(&d.bin)
        .args(["build", "-q", "-t", "cmp2", ctx_s])
        .output()
        .unwrap();
    let id = stdout(&ok(
        "inspect",
        d.docker(&["image", "inspect", "-f", "{{.Id}}", "cmp"]),
    ));
    assert_eq!(stdout(&b).trim(), id.trim(), "{}", stderr(&b));
    // --target: the first stage alone, on both engines.
    ok(
        "target",
        d.docker(&["build", "--target", "builder", "-t", "stage", ctx_s]),
    );
    ok(
        "target",
        dk.docker(&["build", "--target", "builder", "-t", "stage", ctx_s]),
    );
    let layers = |o: Output| stdout(&ok("inspect", o));
    assert_eq!(
        layers(d.docker(&[
            "image",
            "inspect",
            "-f",
            "{{len .RootFS.Layers}} {{json .Config.Cmd}}",
            "stage"
        ])),
        layers(dk.docker(&[
            "image",
            "inspect",
            "-f",
            "{{len .RootFS.Layers}} {{json .Config.Cmd}}",
            "stage"
        ]))
    );
    assert_no_build_leftovers(&d);
}
