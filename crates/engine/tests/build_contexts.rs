//! Build contexts through berth's daemon, each compared with Debian's dockerd building the
//! same thing: hostile contexts (a symlink to /etc/shadow, `../` in COPY, a context tar
//! with `..` entries, a huge file) and remote contexts (a git URL served by `git daemon`
//! and a tarball URL, both on 127.0.0.1).
#![cfg(test)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use berth_testkit::build::{assert_no_build_leftovers, write_files};
use berth_testkit::daemon::{self, ok, stderr, stdout, Daemon};
use berth_testkit::dockerd::Dockerd;

/// Names, types, modes, owners, sizes and link targets under `dir` of `image`.
fn tree(docker: &dyn Fn(&[&str]) -> Output, image: &str, dir: &str) -> String {
    let script = format!(
        "cd {dir} && find . | sort | while read f; do stat -c '%n %F %A %u %g %s %N' \"$f\"; done"
    );
    stdout(&ok(
        "run",
        docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            image,
            "sh",
            "-c",
            &script,
        ]),
    ))
}

/// A raw `POST <path>` with `body` on a daemon socket; the whole answer.
fn post(sock: &Path, path: &str, body: &[u8]) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

/// A symlink to /etc/shadow, a symlinked /etc and `../` in COPY: nothing of the host is
/// read, the errors are Docker's, and a copied symlink stays a symlink, as on dockerd.
#[test]
fn peer_build_hostile_symlinks_and_parent_paths() {
    if !daemon::need("peer_build_hostile_symlinks_and_parent_paths", &["dockerd"]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dk = Dockerd::start();
    dk.load_busybox();
    let base = d.root().join("hostile");
    let ctx = base.join("ctx");
    write_files(
        &base,
        &[("outside.txt", "outside\n"), ("ctx/inside.txt", "in\n")],
    );
    std::os::unix::fs::symlink("/etc/shadow", ctx.join("shadow")).unwrap();
    std::os::unix::fs::symlink("/etc", ctx.join("etcdir")).unwrap();
    let both = |dockerfile: &str| -> [Output; 2] {
        std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        let c = ctx.to_str().unwrap();
        [
            d.docker(&["build", "-t", "hostile", c]),
            dk.docker(&["build", "-t", "hostile", c]),
        ]
    };
    for (dockerfile, message) in [
        (
            "FROM busybox\nCOPY shadow /x\n",
            "not found in build context",
        ),
        (
            "FROM busybox\nCOPY etcdir/shadow /x\n",
            "not found in build context",
        ),
        (
            "FROM busybox\nCOPY ../outside.txt /x\n",
            "forbidden path outside the build context",
        ),
        (
            "FROM busybox\nCOPY inside.txt/../../outside.txt /x\n",
            "forbidden path outside the build context",
        ),
    ] {
        let [ours, theirs] = both(dockerfile);
        assert!(!theirs.status.success(), "dockerd built {dockerfile}");
        assert!(!ours.status.success(), "berth built {dockerfile}");
        assert!(
            stderr(&ours).contains(message),
            "{dockerfile}: {}",
            stderr(&ours)
        );
        assert!(
            stderr(&theirs).contains(message),
            "dockerd's words changed for {dockerfile}: {}",
            stderr(&theirs)
        );
    }
    assert_eq!(
        stdout(&ok("images", d.docker(&["images", "-q", "hostile"]))),
        ""
    );
    // Copying the whole context keeps the links as links (their targets are the image's
    // own paths, not the host's).
    let [ours, theirs] = both("FROM busybox\nCOPY . /ctx/\n");
    ok("berth", ours);
    ok("dockerd", theirs);
    let berth_docker = |a: &[&str]| d.docker(a);
    let dockerd = |a: &[&str]| dk.docker(a);
    let t = tree(&berth_docker, "hostile", "/ctx");
    assert_eq!(t, tree(&dockerd, "hostile", "/ctx"));
    assert!(t.contains("./shadow symbolic link"), "{t}");
    assert_no_build_leftovers(&d);
}

/// A context tar whose entries climb out with `..`: refused by both daemons, and nothing
/// is written outside (or inside) berth's directories.
#[test]
fn peer_build_context_tar_with_dotdot_entries() {
    if !daemon::need(
        "peer_build_context_tar_with_dotdot_entries",
        &["dockerd", "python3"],
    ) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dk = Dockerd::start();
    let marker = berth_testkit::unique_name("escaped");
    let tar_path = d.root().join("evil.tar");
    let py = format!(
        "import tarfile, io\n\
         t = tarfile.open('{}', 'w')\n\
         for name, data in [('Dockerfile', b'FROM busybox\\nCOPY . /c/\\n'), ('../{marker}', b'x'), ('a/../../../{marker}', b'x')]:\n    \
             i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))\n\
         t.close()\n",
        tar_path.display()
    );
    ok(
        "python",
        Command::new("python3").args(["-c", &py]).output().unwrap(),
    );
    let body = std::fs::read(&tar_path).unwrap();
    let ours = post(&d.sock(), "/v1.47/build?t=evil", &body);
    let theirs = post(&dk.sock(), "/v1.41/build?t=evil", &body);
    let failed = |a: &str| !a.starts_with("HTTP/1.1 200") || a.contains("errorDetail");
    assert!(failed(&theirs), "dockerd accepted it: {theirs}");
    assert!(failed(&ours), "berth accepted it: {ours}");
    assert!(!ours.contains("Successfully built"), "{ours}");
    let found = Command::new("find")
        .args(["/tmp", "/var/lib", "/root", "-xdev", "-name", &marker])
        .output()
        .unwrap();
    assert_eq!(stdout(&found), "", "an entry escaped");
    assert_eq!(
        stdout(&ok("images", d.docker(&["images", "-q", "evil"]))),
        ""
    );
    assert_no_build_leftovers(&d);
}

/// The daemon's peak memory (VmHWM) in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A 512 MiB file in the context is spooled and copied without being held in memory;
/// the image has it whole.
#[test]
fn peer_build_huge_file_in_the_context() {
    if !daemon::need("peer_build_huge_file_in_the_context", &[]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let ctx = d.root().join("huge");
    write_files(
        &ctx,
        &[(
            "Dockerfile",
            "FROM busybox\nCOPY big.bin /big.bin\nRUN stat -c %s /big.bin > /size && tail -c 5 /big.bin > /tail\n",
        )],
    );
    let size: u64 = 512 << 20;
    let f = std::fs::File::create(ctx.join("big.bin")).unwrap();
    f.set_len(size - 5).unwrap();
    drop(f);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(ctx.join("big.bin"))
        .unwrap();
    f.write_all(b"tail\n").unwrap();
    drop(f);
    ok(
        "build",
        d.docker(&["build", "-t", "huge", ctx.to_str().unwrap()]),
    );
    let seen = stdout(&ok(
        "run",
        d.docker(&["run", "--rm", "huge", "cat", "/size", "/tail"]),
    ));
    assert_eq!(seen, format!("{size}\ntail\n"));
    let peak = peak_kib(d.pid().unwrap());
    assert!(
        peak < 256 * 1024,
        "the daemon peaked at {peak} KiB for a {size} byte context"
    );
    ok("rmi", d.docker(&["rmi", "huge"]));
    ok("prune", d.docker(&["builder", "prune", "-af"]));
    assert_no_build_leftovers(&d);
}

/// `git daemon` serving one repository on 127.0.0.1; killed by PID on drop.
struct GitDaemon {
    child: Child,
    port: u16,
    repo: PathBuf,
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    ok(&format!("git {args:?}"), o);
}

fn serve_git(base: &Path) -> GitDaemon {
    let repo = base.join("repo.git");
    write_files(
        &repo,
        &[
            (
                "app/Dockerfile",
                "FROM busybox\nCOPY . /app/\nRUN cat /app/hello.txt > /hello\n",
            ),
            ("app/hello.txt", "hello from git\n"),
            ("app/bin/tool.sh", "#!/bin/sh\necho tool\n"),
            ("README", "not in the context\n"),
        ],
    );
    std::fs::set_permissions(
        repo.join("app/bin/tool.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("git")
        .args([
            "daemon",
            "--listen=127.0.0.1",
            "--export-all",
            "--reuseaddr",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let g = GitDaemon { child, port, repo };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return g;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("git daemon did not listen on {port}");
}

/// Serves `body` for every request on 127.0.0.1 until the process ends; the port.
fn serve_http(body: Vec<u8>) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && c.read(&mut b).unwrap_or(0) == 1 {
                head.push(b[0]);
            }
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = c.write_all(&body);
        }
    });
    port
}

/// A git URL (`#ref:subdir`) and a tarball URL as the context: berth fetches them itself
/// (`berth build <url>` sends `remote=`; docker-py and raw API clients do the same) and
/// builds the same files as dockerd does from the same URLs.
#[test]
fn peer_build_remote_git_and_tarball_contexts() {
    if !daemon::need(
        "peer_build_remote_git_and_tarball_contexts",
        &["dockerd", "git"],
    ) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let dk = Dockerd::start();
    dk.load_busybox();
    let served = serve_git(&d.root().join("git"));
    assert!(served.repo.join(".git").is_dir());
    let url = format!("git://127.0.0.1:{}/repo.git#main:app", served.port);
    ok(
        "berth build git",
        d.cli_command(&d.bin)
            .args(["build", "-q", "-t", "fromgit", &url])
            .output()
            .unwrap(),
    );
    // The docker CLI clones git URLs itself and sends a tar; dockerd builds that.
    ok(
        "dockerd build git",
        dk.docker(&["build", "-t", "fromgit", &url]),
    );
    let berth_docker = |a: &[&str]| d.docker(a);
    let dockerd = |a: &[&str]| dk.docker(a);
    let ours = tree(&berth_docker, "fromgit", "/app");
    assert_eq!(ours, tree(&dockerd, "fromgit", "/app"));
    assert!(
        ours.contains("./bin/tool.sh regular file -rwxr-xr-x"),
        "{ours}"
    );
    assert!(!ours.contains("README") && !ours.contains(".git"), "{ours}");
    // A gzip'd tarball URL, fetched by each daemon (`remote=` on the raw API).
    let tgz = d.root().join("ctx.tar.gz");
    let src = d.root().join("tarctx");
    write_files(
        &src,
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY . /t/\nCMD [\"cat\", \"/t/data.txt\"]\n",
            ),
            ("data.txt", "from a tarball\n"),
        ],
    );
    ok(
        "tar",
        Command::new("tar")
            .args(["--owner=0", "--group=0", "-czf"])
            .arg(&tgz)
            .arg("-C")
            .arg(&src)
            .arg(".")
            .output()
            .unwrap(),
    );
    let port = serve_http(std::fs::read(&tgz).unwrap());
    let tar_url = format!("http://127.0.0.1:{port}/ctx.tar.gz");
    ok(
        "berth build url",
        d.cli_command(&d.bin)
            .args(["build", "-q", "-t", "fromtar", &tar_url])
            .output()
            .unwrap(),
    );
    let theirs = post(
        &dk.sock(),
        &format!("/v1.41/build?t=fromtar&remote={tar_url}"),
        b"",
    );
    assert!(theirs.contains("Successfully tagged"), "{theirs}");
    let ours = tree(&berth_docker, "fromtar", "/t");
    assert_eq!(ours, tree(&dockerd, "fromtar", "/t"));
    let run = ok("run", d.docker(&["run", "--rm", "fromtar"]));
    assert_eq!(stdout(&run), "from a tarball\n");
    assert_no_build_leftovers(&d);
}
