//! ADD's other sources against the fake engine: bzip2 and xz archives, git repositories
//! served on loopback by `git daemon`, `COPY --link`, and `--cache-from` images.
#![cfg(test)]

mod support;

use std::process::{Child, Command, Stdio};

use berth_build::{BuildRequest, Event};
use berth_testkit::{require_program, TempDir};
use support::context_tar_bytes;
use support::env::Env;

fn packed(tool: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(tool)
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out.stdout
}

fn small_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data, mode) in [
        ("pkg/bin/tool", "#!/bin/sh\n", 0o755),
        ("pkg/README", "hi\n", 0o644),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, path, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_extracts_bzip2_and_xz_archives() {
    require_program!("bzip2");
    require_program!("xz");
    let env = Env::new();
    let tar = small_tar();
    let bz = packed("bzip2", &tar);
    let xz = packed("xz", &tar);
    let df = b"FROM base\nADD a.tar.bz2 /opt/bz/\nADD a.tar.xz /opt/xz/\nCOPY a.tar.xz /kept/\n";
    let ctx = context_tar_bytes(&[
        ("Dockerfile", df, 0o644),
        ("a.tar.bz2", &bz, 0o644),
        ("a.tar.xz", &xz, 0o644),
    ]);
    let (r, _, text) = env.build_tar(ctx, BuildRequest::default()).await;
    let r = r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    let tree = env.fake.tree(&r.state);
    for dir in ["opt/bz", "opt/xz"] {
        assert_eq!(
            std::fs::read_to_string(tree.join(dir).join("pkg/README")).unwrap(),
            "hi\n"
        );
        let mode = std::fs::metadata(tree.join(dir).join("pkg/bin/tool"))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
            .unwrap();
        assert_eq!(mode & 0o777, 0o755, "{dir}");
    }
    // COPY never extracts.
    assert_eq!(std::fs::read(tree.join("kept/a.tar.xz")).unwrap(), xz);
}

/// `git daemon` serving a directory on 127.0.0.1; killed on drop.
struct GitDaemon {
    child: Child,
    port: u16,
    _dir: TempDir,
    repo: std::path::PathBuf,
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: `git daemon` runs `git-daemon` as a child and only passes
        // a catchable signal on to it; a killed `git` leaves it listening.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn serve_repo() -> GitDaemon {
    let dir = TempDir::new("berth-git-");
    let repo = dir.path().join("repo.git");
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("hello.txt"), "v1\n").unwrap();
    std::fs::write(repo.join("run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        repo.join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    std::fs::write(repo.join("sub/inner.txt"), "inner\n").unwrap();
    std::os::unix::fs::symlink("hello.txt", repo.join("link")).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    git(&repo, &["tag", "v1"]);
    std::fs::write(repo.join("hello.txt"), "v2\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "two"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("git")
        .args([
            "daemon",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            "--export-all",
            "--reuseaddr",
            "--informative-errors",
            &format!("--base-path={}", dir.path().display()),
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let d = GitDaemon {
        child,
        port,
        repo,
        _dir: dir,
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return d;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("git daemon did not listen on {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_of_a_git_repository() {
    require_program!("git");
    let served = serve_repo();
    let url = format!("git://127.0.0.1:{}/repo.git", served.port);
    let env = Env::new();
    let df = format!(
        "FROM base\nADD {url} /head/\nADD {url}#v1 /tagged\nADD {url}#main:sub /sub\nADD --keep-git-dir {url}#v1 /withgit\n"
    );
    let ctx = context_tar_bytes(&[("Dockerfile", df.as_bytes(), 0o644)]);
    let (r, _, text) = env.build_tar(ctx, BuildRequest::default()).await;
    let r = r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    let tree = env.fake.tree(&r.state);
    let read = |p: &str| std::fs::read_to_string(tree.join(p)).unwrap();
    assert_eq!(read("head/hello.txt"), "v2\n");
    assert_eq!(read("tagged/hello.txt"), "v1\n");
    assert_eq!(read("sub/inner.txt"), "inner\n");
    assert!(!tree.join("sub/hello.txt").exists());
    assert!(!tree.join("head/.git").exists());
    assert!(tree.join("withgit/.git").is_dir());
    assert_eq!(
        std::fs::read_link(tree.join("head/link")).unwrap().to_str(),
        Some("hello.txt")
    );
    // git's modes: 0755 for executables, 0644 for the rest, owned by root.
    let extracted = env.fake.extracted.lock().unwrap().clone();
    let find = |p: &str| extracted.iter().find(|e| e.0 == p).unwrap().clone();
    assert_eq!(find("/head/run.sh").3 & 0o777, 0o755);
    assert_eq!(find("/head/hello.txt").3 & 0o777, 0o644);
    assert_eq!(
        (find("/head/hello.txt").1, find("/head/hello.txt").2),
        (0, 0)
    );
    // --checksum names the commit.
    let head = git(&served.repo, &["rev-parse", "HEAD"]);
    let df = format!("FROM base\nADD --checksum={head} {url} /ok/\n");
    let (r, _, text) = env
        .build_tar(
            context_tar_bytes(&[("Dockerfile", df.as_bytes(), 0o644)]),
            BuildRequest::default(),
        )
        .await;
    r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    let df = format!("FROM base\nADD --checksum={head} {url}#v1 /bad/\n");
    let (r, _, _) = env
        .build_tar(
            context_tar_bytes(&[("Dockerfile", df.as_bytes(), 0o644)]),
            BuildRequest::default(),
        )
        .await;
    let e = r.unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("expected checksum to match {head}")),
        "{e}"
    );
    let df = format!("FROM base\nADD {url}#no-such-branch /x/\n");
    let (r, _, _) = env
        .build_tar(
            context_tar_bytes(&[("Dockerfile", df.as_bytes(), 0o644)]),
            BuildRequest::default(),
        )
        .await;
    let e = r.unwrap_err().to_string();
    assert!(e.starts_with(&format!("failed to fetch {url}")), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_link_layers_survive_a_changed_base() {
    let env = Env::new();
    env.fake.add_image("base2", &[("/etc/other", "x")], &[]);
    let files = |base: &str| {
        format!("FROM {base}\nCOPY --link app.txt /srv/app/\nCOPY --link --chown=7:8 app.txt /srv/named\n")
    };
    let df1 = files("base");
    let ctx = |df: &str| {
        context_tar_bytes(&[
            ("Dockerfile", df.as_bytes(), 0o644),
            ("app.txt", b"app\n", 0o640),
        ])
    };
    let (r, _, text) = env.build_tar(ctx(&df1), BuildRequest::default()).await;
    let first = r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    let tree = env.fake.tree(&first.state);
    assert_eq!(
        std::fs::read_to_string(tree.join("srv/app/app.txt")).unwrap(),
        "app\n"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("srv/named")).unwrap(),
        "app\n"
    );
    assert!(
        tree.join("etc/passwd").exists(),
        "the base is below the linked layers"
    );
    assert_eq!(first.state.layers.len(), 3);
    // Another base: the linked layers are the same diffs, stacked, nothing copied again.
    let copies = env.fake.extracted.lock().unwrap().len();
    let (r, _, text) = env
        .build_tar(ctx(&files("base2")), BuildRequest::default())
        .await;
    let second = r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(env.fake.extracted.lock().unwrap().len(), copies);
    assert_eq!(
        second.state.layers[1].diff_id,
        first.state.layers[1].diff_id
    );
    assert_ne!(
        second.state.layers[1].chain_id,
        first.state.layers[1].chain_id
    );
    let tree = env.fake.tree(&second.state);
    assert!(tree.join("etc/other").exists() && !tree.join("etc/passwd").exists());
    assert_eq!(
        std::fs::read_to_string(tree.join("srv/app/app.txt")).unwrap(),
        "app\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_from_uses_the_history_of_a_local_image() {
    let env = Env::new();
    let df = "FROM base\nENV A=1\nCOPY app.txt /app/\nRUN write /app/built yes\nCMD [\"run\"]\n";
    let ctx = || {
        context_tar_bytes(&[
            ("Dockerfile", df.as_bytes(), 0o644),
            ("app.txt", b"a\n", 0o644),
        ])
    };
    let (r, _, text) = env.build_tar(ctx(), BuildRequest::default()).await;
    let built = r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(env.fake.run_count(), 1);
    // As if it had been pushed and pulled elsewhere: an image in the store, an empty cache.
    env.fake.images.lock().unwrap().insert(
        "registry.local/app:1".into(),
        berth_build::BaseImage {
            id: built.image_id.clone(),
            state: built.state.clone(),
        },
    );
    let fresh = Env::with_fake(env.fake.clone());
    let req = BuildRequest {
        cache_from: vec!["registry.local/app:1".into(), "missing:1".into()],
        ..BuildRequest::default()
    };
    let (r, events, text) = fresh.build_tar(ctx(), req.clone()).await;
    let again = r.unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(env.fake.run_count(), 1, "no RUN ran: {text}");
    let cached = events
        .iter()
        .filter(|e| matches!(e, Event::Cached { .. }))
        .count();
    assert_eq!(cached, 4, "{text}");
    assert_eq!(again.image_id, built.image_id);
    // Without --cache-from the same empty cache runs everything.
    let fresh = Env::with_fake(env.fake.clone());
    let (r, _, _) = fresh.build_tar(ctx(), BuildRequest::default()).await;
    r.unwrap();
    assert_eq!(env.fake.run_count(), 2);
    // A changed file stops the match there: the RUN runs.
    let fresh = Env::with_fake(env.fake.clone());
    let changed = context_tar_bytes(&[
        ("Dockerfile", df.as_bytes(), 0o644),
        ("app.txt", b"b\n", 0o644),
    ]);
    let (r, _, _) = fresh.build_tar(changed, req).await;
    r.unwrap();
    assert_eq!(env.fake.run_count(), 3);
}
