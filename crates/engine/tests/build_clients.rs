//! Builds from other clients and images, compared with Debian's dockerd: docker-py's
//! `images.build` (tests/docker_py/build.py), and ARG/USER/HEALTHCHECK on a debootstrapped
//! Debian (a real passwd, useradd, a home directory) run until healthy; the order of a RUN
//! step's output; a cached `COPY --from` that mounts nothing.
#![cfg(test)]

use std::path::Path;
use std::process::{Command, Output};

use berth_testkit::build::{docker_build, write_files};
use berth_testkit::daemon::{self, ok, stdout, Daemon};
use berth_testkit::dockerd::Dockerd;

/// The script's JSON summary (keys sorted, so two daemons compare as text).
fn docker_py(host: &str, ctx: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/docker_py/build.py");
    let o = Command::new("python3")
        .arg(script)
        .arg(ctx)
        .env("DOCKER_HOST", host)
        .output()
        .expect("python3");
    stdout(&ok(&format!("build.py on {host}"), o))
}

/// docker-py's `images.build`: a directory with build args and labels, a cached rebuild
/// with the same id, `target`, a bare Dockerfile, a gzip'd custom context, a failing RUN
/// raising `BuildError` — the same summary from berth and from dockerd.
#[test]
fn peer_build_with_docker_py() {
    if !daemon::need("peer_build_with_docker_py", &["dockerd", "python3"]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dk = Dockerd::start();
    dk.load_busybox();
    let ctx = d.root().join("py");
    write_files(
        &ctx,
        &[(
            "Dockerfile",
            "FROM busybox AS first\nRUN echo first > /first\n\
             FROM busybox\nARG GREETING=hello\nRUN echo \"$GREETING\" > /greeting\nWORKDIR /srv\nCMD [\"cat\", \"/greeting\"]\n",
        )],
    );
    let ours = docker_py(&d.host(), &ctx);
    let theirs = docker_py(&dk.host(), &ctx);
    assert_eq!(ours, theirs);
    assert!(ours.contains("\"greeting\": \"hi from py\\n\""), "{ours}");
    assert!(ours.contains("returned a non-zero code: 3"), "{ours}");
    let ps = ok("ps", d.docker(&["ps", "-aq"]));
    assert_eq!(stdout(&ps), "");
}

/// Config, layer count and the home directory's files as `docker image inspect` and `stat`
/// see them.
fn observed(docker: &dyn Fn(&[&str]) -> Output, image: &str) -> String {
    let cfg = ok(
        "inspect",
        docker(&[
            "image",
            "inspect",
            "-f",
            "User={{.Config.User}}\nWorkingDir={{.Config.WorkingDir}}\nEnv={{json .Config.Env}}\nHealthcheck={{json .Config.Healthcheck}}\nCmd={{json .Config.Cmd}}\nLayers={{len .RootFS.Layers}}",
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
            image,
            "sh",
            "-c",
            "cat whoami argseen; getent passwd svc; find /home/svc | sort | xargs stat -c '%n %A %U %G %s'",
        ]),
    );
    format!("{}{}", stdout(&cfg), stdout(&files))
}

/// ARG (defaults and `--build-arg`), USER by name, WORKDIR from an ARG and HEALTHCHECK on a
/// debootstrapped Debian: berth (docker CLI and `berth build`) and dockerd give the same
/// config, layers, users and files; the container berth runs turns healthy.
#[test]
fn peer_build_debian_arg_user_healthcheck() {
    if !daemon::need(
        "peer_build_debian_arg_user_healthcheck",
        &["dockerd", "debootstrap"],
    ) {
        return;
    }
    let debian = berth_testkit::debian::image_archive(&["redis-server"]);
    let archive = debian.path.to_str().unwrap();
    let d = Daemon::start();
    ok("load", d.docker(&["load", "-i", archive]));
    let dk = Dockerd::start();
    ok("load", dk.docker(&["load", "-i", archive]));
    let ctx = d.root().join("debian");
    let dockerfile = format!(
        "FROM {}\n\
         ARG APP_USER=svc\n\
         ARG APP_UID=1234\n\
         RUN groupadd -g \"$APP_UID\" \"$APP_USER\" && useradd -m -u \"$APP_UID\" -g \"$APP_USER\" -s /bin/bash \"$APP_USER\"\n\
         USER $APP_USER\n\
         WORKDIR /home/$APP_USER\n\
         RUN id -un > whoami && id -u >> whoami && echo \"$APP_USER:$APP_UID\" > argseen\n\
         ENV GREETING=hello\n\
         HEALTHCHECK --interval=1s --timeout=3s --start-period=1s --retries=3 CMD test -s /home/svc/whoami || exit 1\n\
         CMD [\"sleep\", \"60\"]\n",
        debian.tag
    );
    write_files(&ctx, &[("Dockerfile", &dockerfile)]);
    let c = ctx.to_str().unwrap();
    let args = ["build", "--build-arg", "APP_UID=2345", "-t", "deb-app", c];
    ok("berth build", d.docker(&args));
    ok("dockerd build", dk.docker(&args));
    let berth_docker = |a: &[&str]| d.docker(a);
    let dockerd = |a: &[&str]| dk.docker(a);
    let ours = observed(&berth_docker, "deb-app");
    assert_eq!(ours, observed(&dockerd, "deb-app"));
    assert!(ours.contains("User=svc\n"), "{ours}");
    assert!(ours.contains("svc\n2345\nsvc:2345\n"), "{ours}");
    assert!(
        ours.contains("/home/svc/whoami -rw-r--r-- svc svc"),
        "{ours}"
    );
    // berth build of the same context and args: all cache, the same image.
    let id = stdout(&ok(
        "inspect",
        d.docker(&["image", "inspect", "-f", "{{.Id}}", "deb-app"]),
    ));
    let b = ok(
        "berth build",
        d.cli_command(&d.bin)
            .args([
                "build",
                "-q",
                "--build-arg",
                "APP_UID=2345",
                "-t",
                "deb-app2",
                c,
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(stdout(&b).trim(), id.trim());
    // The healthcheck the image carries runs, as the built user.
    ok(
        "run",
        d.docker(&["run", "-d", "--name", "deb-health", "deb-app"]),
    );
    let mut status = String::new();
    for _ in 0..200 {
        status = stdout(&d.docker(&["inspect", "-f", "{{.State.Health.Status}}", "deb-health"]));
        if status.trim() == "healthy" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(status.trim(), "healthy");
    let who = ok("exec", d.docker(&["exec", "deb-health", "id", "-un"]));
    assert_eq!(stdout(&who), "svc\n");
    ok("rm", d.docker(&["rm", "-f", "deb-health"]));
    assert_eq!(stdout(&ok("ps", d.docker(&["ps", "-aq"]))), "");
}

/// A RUN step's stdout and stderr are one pipe (as `2>&1`), so the build stream shows its
/// output in the order it was written: 20 steps in a row, each writing a, b (stderr), c.
#[test]
fn peer_build_run_output_keeps_its_order() {
    if !daemon::need("peer_build_run_output_keeps_its_order", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let ctx = d.root().join("order");
    let mut df = String::from("FROM busybox\n");
    for i in 1..=20 {
        df.push_str(&format!("RUN echo a-{i}; echo b-{i} >&2; echo c-{i}\n"));
    }
    write_files(&ctx, &[("Dockerfile", &df)]);
    let out = stdout(&ok(
        "docker build",
        docker_build(&d, &ctx, &["--no-cache", "-t", "order"]),
    ));
    for i in 1..=20 {
        assert!(
            out.contains(&format!("\na-{i}\nb-{i}\nc-{i}\n")),
            "step {i} out of order:\n{out}"
        );
    }
}

/// A fully cached rebuild with `COPY --from` mounts nothing: the other stage's files come
/// from the export kept for (layer, path), no view or root snapshot is made (the snapshot
/// store's directory of active snapshots is not touched), and the kept export goes with
/// its layer on `builder prune`.
#[test]
fn peer_build_cached_copy_from_mounts_nothing() {
    if !daemon::need("peer_build_cached_copy_from_mounts_nothing", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let ctx = d.root().join("copy-from");
    write_files(
        &ctx,
        &[(
            "Dockerfile",
            "FROM busybox AS src\nRUN mkdir /out && echo hi > /out/f\n\
             FROM busybox\nCOPY --from=src /out /o\nCMD [\"cat\", \"/o/f\"]\n",
        )],
    );
    let first = stdout(&ok(
        "docker build",
        docker_build(&d, &ctx, &["-q", "-t", "cf"]),
    ));
    let exports = d.root().join("data/build/exports");
    let kept = || -> usize {
        std::fs::read_dir(&exports)
            .map(|r| r.flatten().count())
            .unwrap_or(0)
    };
    assert_eq!(kept(), 1, "one export kept");
    let active = d.root().join("data/snapshots/active");
    let mtime = || {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&active).unwrap();
        (m.mtime(), m.mtime_nsec())
    };
    let before = mtime();
    let again = stdout(&ok("docker build", docker_build(&d, &ctx, &["-t", "cf"])));
    assert_eq!(again.matches(" ---> Using cache").count(), 3, "{again}");
    assert_eq!(mtime(), before, "a cached rebuild made a snapshot");
    let id = stdout(&ok(
        "inspect",
        d.docker(&["image", "inspect", "-f", "{{.Id}}", "cf"]),
    ));
    assert_eq!(id.trim(), first.trim());
    let run = ok("run", d.docker(&["run", "--rm", "cf"]));
    assert_eq!(stdout(&run), "hi\n");
    ok("prune", d.docker(&["builder", "prune", "-af"]));
    assert_eq!(kept(), 0, "the export goes with the src stage's layer");
}
