//! `RUN --mount=type=cache|bind|tmpfs|secret|ssh` through berth's daemon, with the docker
//! v28 CLI (classic path) and `berth build`. Debian's dockerd is no reference here: its
//! classic builder refuses `--mount` ("the --mount option requires BuildKit"), which the
//! last test checks so the comparison stays honest.
#![cfg(test)]

use berth_testkit::build::{assert_no_build_leftovers, berth_build, write_files};
use berth_testkit::daemon::{self, ok, stderr, stdout, Daemon};

fn cat(d: &Daemon, image: &str, script: &str) -> String {
    stdout(&ok(
        "run",
        d.docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            image,
            "sh",
            "-c",
            script,
        ]),
    ))
}

/// cache, bind (context and `from=` a stage) and tmpfs mounts with the docker CLI: what the
/// RUN saw, and that none of the mounted content lands in the image.
#[test]
fn peer_build_run_mounts_cache_bind_tmpfs() {
    if !daemon::need("peer_build_run_mounts_cache_bind_tmpfs", &[]) {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();
    let ctx = d.root().join("mounts");
    write_files(
        &ctx,
        &[
            ("data/input.txt", "from the context\n"),
            (
                "Dockerfile",
                "FROM busybox AS tools\n\
                 RUN mkdir /out && echo from the stage > /out/made\n\
                 FROM busybox\n\
                 RUN --mount=type=cache,target=/var/cache/app echo run >> /var/cache/app/log && wc -l < /var/cache/app/log > /cache-count\n\
                 RUN --mount=type=bind,source=data,target=/src cat /src/input.txt > /bound && (touch /src/new 2>/dev/null && echo rw || echo ro) > /bind-mode\n\
                 RUN --mount=type=bind,from=tools,source=/out,target=/o cp /o/made /from-stage\n\
                 RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/f && grep ' /scratch tmpfs ' /proc/mounts | cut -d' ' -f3 > /tmpfs-type\n",
            ),
        ],
    );
    let ctx_s = ctx.to_str().unwrap();
    ok("build", d.docker(&["build", "-t", "m1", ctx_s]));
    let seen = cat(
        &d,
        "m1",
        "cat /cache-count /bound /bind-mode /from-stage /tmpfs-type; ls -A /var/cache/app /src /o /scratch 2>&1 | grep -v '^$' | tr '\\n' ' '",
    );
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("1"), "{seen}");
    assert_eq!(lines.next(), Some("from the context"), "{seen}");
    assert_eq!(lines.next(), Some("ro"), "{seen}");
    assert_eq!(lines.next(), Some("from the stage"), "{seen}");
    assert_eq!(lines.next(), Some("tmpfs"), "{seen}");
    // The mount points are empty (or absent) in the image: no cache, context, stage or
    // tmpfs content was committed.
    let rest = lines.next().unwrap_or("");
    assert!(
        !rest.contains("log") && !rest.contains("input.txt") && !rest.contains("made"),
        "{seen}"
    );
    assert!(!rest.contains(" f ") && !rest.ends_with('f'), "{seen}");
    // The cache mount outlives the build: a rebuild without the layer cache appends to
    // the same directory (docker CLI and berth build share it).
    ok(
        "rebuild",
        d.docker(&["build", "--no-cache", "-t", "m2", ctx_s]),
    );
    assert_eq!(cat(&d, "m2", "cat /cache-count"), "2\n");
    ok(
        "berth build",
        berth_build(&d, &ctx, &["--no-cache", "-t", "m3"]),
    );
    assert_eq!(cat(&d, "m3", "cat /cache-count"), "3\n");
    // A plain rebuild is all cache: the RUN with a cache mount is not run again.
    let cached = ok("cached", d.docker(&["build", "-t", "m4", ctx_s]));
    assert!(
        !stdout(&cached).contains("Running in"),
        "{}",
        stdout(&cached)
    );
    // Cache mounts live in the data root: they survive a daemon restart, and an unfiltered
    // `builder prune` empties them (as BuildKit prunes its cache mounts).
    d.stop();
    d.spawn();
    ok(
        "rebuild after a restart",
        d.docker(&["build", "--no-cache", "-t", "m5", ctx_s]),
    );
    assert_eq!(cat(&d, "m5", "cat /cache-count"), "4\n");
    ok("builder prune", d.docker(&["builder", "prune", "-f"]));
    ok(
        "rebuild after a prune",
        d.docker(&["build", "--no-cache", "-t", "m6", ctx_s]),
    );
    assert_eq!(cat(&d, "m6", "cat /cache-count"), "1\n");
    assert_no_build_leftovers(&d);
}

/// secret and ssh mounts with `berth build --secret/--ssh` (the classic protocol has no
/// room for them, so the docker CLI cannot send any): the RUN sees them, the image keeps
/// nothing of them; a required secret that was not sent fails the build with the CLI too.
#[test]
fn peer_build_run_mounts_secret_and_ssh() {
    if !daemon::need("peer_build_run_mounts_secret_and_ssh", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let ctx = d.root().join("secrets");
    write_files(
        &ctx,
        &[(
            "Dockerfile",
            "FROM busybox\n\
             RUN --mount=type=secret,id=token sha256sum < /run/secrets/token | cut -c1-64 > /secret-file\n\
             RUN --mount=type=secret,id=token,env=TOKEN,target=/tok test -f /tok && printf %s \"$TOKEN\" | sha256sum | cut -c1-64 > /secret-env\n\
             RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /ssh-sock\n",
        )],
    );
    let secret = d.root().join("token.txt");
    std::fs::write(&secret, "s3cret").unwrap();
    let agent_path = d.root().join("agent.sock");
    let _agent = std::os::unix::net::UnixListener::bind(&agent_path).unwrap();
    let built = berth_build(
        &d,
        &ctx,
        &[
            "-t",
            "sec",
            "--secret",
            &format!("id=token,src={}", secret.display()),
            "--ssh",
            &format!("default={}", agent_path.display()),
        ],
    );
    ok("berth build", built);
    let seen = cat(
        &d,
        "sec",
        "cat /secret-file /secret-env /ssh-sock; ls -A /run/secrets 2>/dev/null; test -e /tok && echo tok-left; grep -rl s3cret / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; true",
    );
    let sum = stdout(&ok(
        "sha256sum",
        std::process::Command::new("sha256sum")
            .arg(&secret)
            .output()
            .unwrap(),
    ))[..64]
        .to_string();
    assert_eq!(
        seen,
        format!("{sum}\n{sum}\n/run/buildkit/ssh_agent.0\n"),
        "the RUNs did not see the secret, or it or the socket reached the image"
    );
    let history = stdout(&ok(
        "history",
        d.docker(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", "sec"]),
    ));
    assert!(!history.contains("s3cret"), "{history}");
    // Through the docker CLI nothing can carry the secret: an optional one is absent, a
    // required one fails the build with a clear error.
    let ctx2 = d.root().join("secrets2");
    write_files(
        &ctx2,
        &[(
            "Dockerfile",
            "FROM busybox\nRUN --mount=type=secret,id=token,required=true cat /run/secrets/token\n",
        )],
    );
    let failed = d.docker(&["build", "-t", "nosec", ctx2.to_str().unwrap()]);
    assert!(!failed.status.success());
    assert!(
        stderr(&failed).contains("secret token not found"),
        "{}",
        stderr(&failed)
    );
    assert_eq!(
        stdout(&ok("images", d.docker(&["images", "-q", "nosec"]))),
        ""
    );
    assert_no_build_leftovers(&d);
}

/// Docker's own daemon refuses `RUN --mount` on its classic path (so the tests above have
/// no peer to compare with); berth accepts it on the same path.
#[test]
fn peer_build_run_mount_is_buildkit_syntax_on_dockerd() {
    if !daemon::need(
        "peer_build_run_mount_is_buildkit_syntax_on_dockerd",
        &["dockerd"],
    ) {
        return;
    }
    let dk = berth_testkit::dockerd::Dockerd::start();
    dk.load_busybox();
    let ctx = dk.root().join("m");
    write_files(
        &ctx,
        &[(
            "Dockerfile",
            "FROM busybox\nRUN --mount=type=tmpfs,target=/t true\n",
        )],
    );
    let o = dk.docker(&["build", ctx.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("the --mount option requires BuildKit"),
        "{}",
        stderr(&o)
    );
}
