//! The command tables of the course this product follows (../shared/seeds/001, "docker cli"),
//! walked through end to end twice against a private berth daemon: once with the real docker
//! CLI v28 and once with `berth`. Every row of the tables is exercised with the output a user
//! of the course would look at.
#![cfg(test)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::registry::{DockerRegistry, RegistryOptions, REGISTRY_BIN};

/// Which command-line client walks the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cli {
    Docker,
    Berth,
}

struct Walk<'a> {
    d: &'a Daemon,
    cli: Cli,
    /// Suffix that keeps the two walks' names apart.
    tag: &'static str,
}

impl Walk<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let bin = match self.cli {
            Cli::Docker => std::path::PathBuf::from("/usr/local/bin/docker"),
            Cli::Berth => berth_testkit::berth_bin(),
        };
        let mut c = Command::new(bin);
        c.arg("-H")
            .arg(format!("unix://{}", self.d.sock().display()))
            .args(args)
            .env("DOCKER_CONFIG", self.d.root().join("docker-config"))
            .env_remove("DOCKER_HOST")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run the CLI")
    }

    fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the CLI");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
        child.wait_with_output().expect("CLI output")
    }

    /// Runs and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{:?} {args:?} failed ({:?}): {}{}",
            self.cli,
            o.status.code(),
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    fn name(&self, base: &str) -> String {
        format!("{base}-{}", self.tag)
    }

    fn inspect(&self, format: &str, what: &str) -> String {
        self.ok(&["inspect", "--format", format, what])
            .trim()
            .to_string()
    }

    fn eventually(&self, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{:?}: timed out waiting for {what}", self.cli);
    }

    fn status(&self, c: &str) -> String {
        self.inspect("{{.State.Status}}", c)
    }
}

fn need() -> bool {
    daemon::need("walkthrough", &[])
}

/// "conteneurs": create/run, start -a, stop/kill/restart, pause/unpause, rm -f, ps, logs,
/// top, diff, inspect, attach, cp both ways, export, exec, wait, commit.
fn containers_table(w: &Walk) {
    // docker run busybox echo Ciao ! ; docker ps -a
    let ciao = w.name("ciao");
    let o = w.run(&["run", "--name", &ciao, "busybox", "echo", "Ciao", "!"]);
    assert_eq!(stdout(&o), "Ciao !\n", "{:?}: {}", w.cli, stderr(&o));
    let ps = w.ok(&["ps", "-a", "--no-trunc"]);
    let row = ps
        .lines()
        .find(|l| l.ends_with(&ciao))
        .unwrap_or_else(|| panic!("{:?}: {ciao} not in ps -a:\n{ps}", w.cli));
    assert!(row.contains("\"echo Ciao !\""), "{row}");
    assert!(row.contains("Exited (0)"), "{row}");
    assert!(w.ok(&["ps"]).lines().all(|l| !l.ends_with(&ciao)));

    // docker create busybox echo Coucou ! ; docker start -a <id> (twice) ; docker ps -a
    let id = w.ok(&["create", "busybox", "echo", "Coucou", "!"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let short = &id[..4];
    let ps = w.ok(&["ps", "-a"]);
    let row = ps
        .lines()
        .find(|l| l.starts_with(&id[..12]))
        .unwrap_or_else(|| panic!("{id} not in ps -a:\n{ps}"));
    assert!(row.contains("Created"), "{row}");
    for _ in 0..2 {
        let o = w.run(&["start", "-a", short]);
        assert_eq!(stdout(&o), "Coucou !\n", "{:?}: {}", w.cli, stderr(&o));
        assert_eq!(o.status.code(), Some(0));
    }
    assert_eq!(w.status(id), "exited");
    w.ok(&["rm", short]);

    // start/stop/kill/restart, pause/unpause, rm -f
    let svc = w.name("svc");
    w.ok(&[
        "run",
        "-d",
        "--name",
        &svc,
        "busybox",
        "sh",
        "-c",
        "trap 'echo got TERM; exit 0' TERM; echo up; echo oops >&2; while :; do sleep 0.2; done",
    ]);
    w.eventually("svc logs", || w.ok(&["logs", &svc]).contains("up"));
    w.ok(&["stop", &svc]);
    assert_eq!(w.status(&svc), "exited");
    assert_eq!(w.inspect("{{.State.ExitCode}}", &svc), "0");
    w.ok(&["start", &svc]);
    assert_eq!(w.status(&svc), "running");
    w.ok(&["kill", &svc]);
    w.eventually("kill", || w.status(&svc) == "exited");
    assert_eq!(w.inspect("{{.State.ExitCode}}", &svc), "137");
    w.ok(&["restart", &svc]);
    assert_eq!(w.status(&svc), "running");
    let pid1 = w.inspect("{{.State.Pid}}", &svc);
    w.ok(&["restart", "-t", "1", &svc]);
    assert_ne!(
        w.inspect("{{.State.Pid}}", &svc),
        pid1,
        "restart = stop + start"
    );
    w.ok(&["pause", &svc]);
    assert_eq!(w.status(&svc), "paused");
    assert!(w
        .ok(&["ps"])
        .lines()
        .any(|l| l.ends_with(&svc) && l.contains("(Paused)")));
    w.ok(&["unpause", &svc]);
    assert_eq!(w.status(&svc), "running");

    // ps (running only) vs ps -a
    let running = w.ok(&["ps", "--format", "{{.Names}}"]);
    assert!(running.lines().any(|l| l == svc), "{running}");
    assert!(!running.lines().any(|l| l == ciao), "{running}");
    let all = w.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(all.lines().any(|l| l == ciao), "{all}");

    // logs: stdout and stderr
    let o = w.run(&["logs", &svc]);
    assert!(stdout(&o).contains("up\n"), "{}", stdout(&o));
    assert!(stderr(&o).contains("oops\n"), "{}", stderr(&o));

    // top: the container's processes
    let top = w.ok(&["top", &svc]);
    assert!(top.lines().next().unwrap_or("").contains("PID"), "{top}");
    assert!(top.contains("sh -c trap"), "{top}");

    // exec
    assert_eq!(w.ok(&["exec", &svc, "echo", "from exec"]), "from exec\n");
    let o = w.run(&["exec", &svc, "sh", "-c", "exit 4"]);
    assert_eq!(o.status.code(), Some(4));

    // diff: changes against the image
    w.ok(&[
        "exec",
        &svc,
        "sh",
        "-c",
        "echo new > /added.txt && rm /bin/zcat && mkdir -p /tmp/d",
    ]);
    let diff = w.ok(&["diff", &svc]);
    for want in ["A /added.txt", "C /bin", "D /bin/zcat", "A /tmp/d"] {
        assert!(
            diff.lines().any(|l| l == want),
            "{:?}: {want} in\n{diff}",
            w.cli
        );
    }

    // inspect: low-level JSON
    let js = w.ok(&["inspect", &svc]);
    let v: serde_json::Value = serde_json::from_str(&js).expect("inspect JSON");
    assert_eq!(v[0]["Name"], format!("/{svc}"));
    assert_eq!(v[0]["State"]["Running"], true);
    assert_eq!(v[0]["Config"]["Image"], "busybox");

    // cp both ways
    let host = berth_testkit::TempDir::new("walk-cp");
    let src = host.path().join("to-ctr.txt");
    std::fs::write(&src, "from the host\n").expect("write");
    w.ok(&["cp", src.to_str().expect("utf8"), &format!("{svc}:/tmp/")]);
    assert_eq!(
        w.ok(&["exec", &svc, "cat", "/tmp/to-ctr.txt"]),
        "from the host\n"
    );
    let back = host.path().join("back.txt");
    w.ok(&[
        "cp",
        &format!("{svc}:/added.txt"),
        back.to_str().expect("utf8"),
    ]);
    assert_eq!(std::fs::read_to_string(&back).expect("read"), "new\n");

    // export: the container's filesystem as a tar
    let tar_path = host.path().join("export.tar");
    w.ok(&["export", "-o", tar_path.to_str().expect("utf8"), &svc]);
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(std::fs::File::open(&tar_path).expect("open export"));
    for e in ar.entries().expect("entries") {
        let e = e.expect("entry");
        names.push(
            e.path()
                .expect("path")
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string(),
        );
    }
    assert!(names.iter().any(|n| n == "added.txt"), "{names:?}");
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(!names.iter().any(|n| n == "bin/zcat"), "{names:?}");

    // commit: a new image from the container
    let img = format!("walk/committed-{}:v1", w.tag);
    let id = w.ok(&["commit", &svc, &img]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(w.ok(&["run", "--rm", &img, "cat", "/added.txt"]), "new\n");

    // stats (beside the tables): one sample of the cgroup's and the netns's counters
    let st = w.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}} {{.MemUsage}}",
        &svc,
    ]);
    let f: Vec<&str> = st.split_whitespace().collect();
    assert_eq!(f.first(), Some(&svc.as_str()), "{st}");
    assert!(
        f.get(1).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0) >= 1,
        "{st}"
    );
    assert!(st.contains(" / "), "{st}");

    // rm without -f refuses a running container; rm -f = kill + rm
    let o = w.run(&["rm", &svc]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("cannot remove container") || stderr(&o).contains("Stop the container"),
        "{}",
        stderr(&o)
    );
    w.ok(&["rm", "-f", &svc]);
    assert!(!w.run(&["inspect", &svc]).status.success());

    // attach: the terminal follows a running container's output until it exits
    let att = w.name("att");
    w.ok(&[
        "run",
        "-d",
        "--name",
        &att,
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6; do sleep 0.5; echo tick$i; done; exit 3",
    ]);
    let o = w.run(&["attach", "--no-stdin", &att]);
    assert!(
        stdout(&o).contains("tick6\n"),
        "{:?}: {}{}",
        w.cli,
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(3));

    // wait: blocks until the end, prints the exit code
    let wt = w.name("wt");
    w.ok(&[
        "run",
        "-d",
        "--name",
        &wt,
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 7",
    ]);
    assert_eq!(w.ok(&["wait", &wt]).trim(), "7");

    // stdin through run -i
    let o = w.run_stdin(
        &["run", "-i", "--rm", "busybox", "tr", "a-z", "A-Z"],
        b"piped\n",
    );
    assert_eq!(stdout(&o), "PIPED\n");

    // -w: a missing working directory is created; one that cannot be (a file) fails the
    // start with 125, and `run --rm` returns and removes the container
    assert_eq!(
        w.ok(&["run", "--rm", "-w", "/made/by/start", "busybox", "pwd"]),
        "/made/by/start\n"
    );
    let before = w.ok(&["ps", "-aq"]);
    let o = w.run(&["run", "--rm", "-w", "/bin/busybox", "busybox", "pwd"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("/bin/busybox"), "{}", stderr(&o));
    w.eventually("removal of the failed --rm container", || {
        w.ok(&["ps", "-aq"]) == before
    });

    w.ok(&["rm", &ciao, &att, &wt]);
    w.ok(&["rmi", &img]);
}

/// "images": images, history, inspect, tag, commit (above), import, rmi.
fn images_table(w: &Walk) {
    let images = w.ok(&["images"]);
    let header = images.lines().next().unwrap_or("");
    for col in ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        images
            .lines()
            .any(|l| l.starts_with("busybox ") && l.contains("latest")),
        "{images}"
    );
    let history = w.ok(&["history", "busybox"]);
    assert!(history.starts_with("IMAGE"), "{history}");
    assert!(history.contains("berth-testkit"), "{history}");
    let v: serde_json::Value =
        serde_json::from_str(&w.ok(&["image", "inspect", "busybox"])).expect("image JSON");
    assert_eq!(v[0]["RepoTags"][0], "busybox:latest");
    assert_eq!(v[0]["Config"]["Cmd"][0], "sh");

    let tagged = format!("walk/tagged-{}:1.0", w.tag);
    w.ok(&["tag", "busybox", &tagged]);
    assert_eq!(
        w.inspect("{{.Id}}", &tagged),
        w.inspect("{{.Id}}", "busybox"),
        "a tag names the same image"
    );

    // import: an image from a rootfs tarball
    let dir = berth_testkit::TempDir::new("walk-import");
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(&rootfs).expect("rootfs");
    berth_testkit::busybox::make_rootfs(&rootfs);
    std::fs::write(rootfs.join("imported.txt"), "imported\n").expect("write");
    let tar = dir.path().join("rootfs.tar");
    std::fs::write(&tar, berth_testkit::image_tar::layer_tar(&rootfs)).expect("tar");
    let imported = format!("walk/imported-{}:v1", w.tag);
    let id = w.ok(&["import", tar.to_str().expect("utf8"), &imported]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(
        w.ok(&["run", "--rm", &imported, "/bin/cat", "/imported.txt"]),
        "imported\n"
    );

    // rmi: untag, then delete; an unknown image is an error
    let o = w.ok(&["rmi", &tagged]);
    assert!(o.contains(&format!("Untagged: {tagged}")), "{o}");
    let o = w.ok(&["rmi", &imported]);
    assert!(o.contains("Deleted: sha256:"), "{o}");
    let o = w.run(&["rmi", "walk/never-was:v9"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("No such image"), "{}", stderr(&o));
}

/// "registres": pull, push, search, login, logout, save, load.
fn registry_table(w: &Walk, reg: &DockerRegistry, search: &str) {
    // login / logout (the registry asks for alice:s3cret)
    let o = w.run_stdin(
        &["login", "-u", "alice", "--password-stdin", &reg.host()],
        b"wrong",
    );
    assert!(!o.status.success(), "{:?}: a bad password logs in", w.cli);
    let o = w.run_stdin(
        &["login", "-u", "alice", "--password-stdin", &reg.host()],
        b"s3cret",
    );
    assert!(
        stdout(&o).contains("Login Succeeded"),
        "{:?}: {}{}",
        w.cli,
        stdout(&o),
        stderr(&o)
    );

    // push, rmi, pull
    let remote = format!("{}/walk/bb-{}:v1", reg.host(), w.tag);
    w.ok(&["tag", "busybox", &remote]);
    let push = w.ok(&["push", &remote]);
    assert!(push.contains("v1: digest: sha256:"), "{push}");
    w.ok(&["rmi", &remote]);
    let pull = w.ok(&["pull", &remote]);
    assert!(
        pull.contains(&format!("Status: Downloaded newer image for {remote}"))
            || pull.contains(&format!("Status: Image is up to date for {remote}")),
        "{pull}"
    );
    assert_eq!(
        w.ok(&["run", "--rm", &remote, "echo", "pulled"]),
        "pulled\n"
    );

    // logout: the credentials are gone, a push is refused again
    let o = w.ok(&["logout", &reg.host()]);
    assert!(o.contains("Removing login credentials"), "{o}");
    let o = w.run(&["push", &remote]);
    assert!(!o.status.success(), "{:?}: push after logout", w.cli);

    // search
    let found = w.ok(&["search", &format!("{search}/busy")]);
    assert!(found.starts_with("NAME"), "{found}");
    assert!(found.contains("library/busybox"), "{found}");
    assert!(found.contains("[OK]"), "{found}");

    // save / load
    let dir = berth_testkit::TempDir::new("walk-save");
    let saved = dir.path().join("saved.tar");
    w.ok(&["save", "-o", saved.to_str().expect("utf8"), &remote]);
    w.ok(&["rmi", &remote]);
    let loaded = w.ok(&["load", "-i", saved.to_str().expect("utf8")]);
    assert!(
        loaded.contains(&format!("Loaded image: {remote}")),
        "{loaded}"
    );
    w.ok(&["image", "inspect", &remote]);
    w.ok(&["rmi", &remote]);
}

/// A one-endpoint stand-in for a registry's v1 search API on 127.0.0.1 (Debian's registry
/// has no search): returns its address.
fn search_stand_in() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut l = String::new();
                match reader.read_line(&mut l) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if l == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            log.lock().expect("log").push(first.trim().to_string());
            let body = r#"{"query":"busy","num_results":1,"results":[{"name":"library/busybox","description":"tiny","star_count":10,"is_official":true,"is_automated":false}]}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, seen)
}

fn walk(cli: Cli, tag: &'static str) {
    if !need() {
        return;
    }
    if berth_testkit::which(REGISTRY_BIN).is_none() || berth_testkit::which("htpasswd").is_none() {
        assert!(
            !berth_testkit::in_ci(),
            "walkthrough needs {REGISTRY_BIN} and htpasswd"
        );
        berth_testkit::skip("walkthrough", "needs docker-registry and htpasswd");
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let w = Walk { d: &d, cli, tag };
    containers_table(&w);
    images_table(&w);
    let reg = DockerRegistry::start(&RegistryOptions {
        htpasswd: Some(("alice".into(), "s3cret".into())),
        ..Default::default()
    });
    let (search, seen) = search_stand_in();
    registry_table(&w, &reg, &search);
    assert!(
        seen.lock().expect("seen")[0].starts_with("GET /v1/search?q=busy"),
        "{seen:?}"
    );
}

#[test]
fn peer_walkthrough_course_tables_with_docker_cli() {
    walk(Cli::Docker, "d");
}

#[test]
fn peer_walkthrough_course_tables_with_berth_cli() {
    walk(Cli::Berth, "b");
}

/// `info` reports what Docker's does (swarm inactive, plugins, root dir, the host's OS) and
/// `system df -v` prints the same tables from both CLIs.
#[test]
fn peer_info_and_verbose_df_like_docker() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let docker = Walk {
        d: &d,
        cli: Cli::Docker,
        tag: "d",
    };
    let berth = Walk {
        d: &d,
        cli: Cli::Berth,
        tag: "b",
    };
    docker.ok(&["volume", "create", "dfvol"]);
    docker.ok(&["tag", "busybox", "walk/df:1"]);
    docker.ok(&[
        "run",
        "-d",
        "--name",
        "dfc",
        "-v",
        "dfvol:/data",
        "busybox",
        "sleep",
        "60",
    ]);
    let fields = "{{.Swarm.LocalNodeState}}|{{.DockerRootDir}}|{{json .Plugins.Volume}}|{{.InitBinary}}|{{.MemTotal}}";
    let info = docker.ok(&["info", "--format", fields]);
    let parts: Vec<&str> = info.trim().split('|').collect();
    assert_eq!(parts[0], "inactive", "{info}");
    assert_eq!(
        parts[1],
        d.root().join("data").display().to_string(),
        "{info}"
    );
    assert_eq!(parts[2], "[\"local\"]", "{info}");
    assert_eq!(parts[3], "docker-init", "{info}");
    assert!(parts[4].parse::<u64>().unwrap_or(0) > 0, "{info}");
    assert_eq!(berth.ok(&["info", "--format", fields]), info);
    let mut same = false;
    for _ in 0..3 {
        // A "N seconds ago" column may tick between the two commands: retry.
        let a = docker.ok(&["system", "df", "-v"]);
        let b = berth.ok(&["system", "df", "-v"]);
        if a == b {
            assert!(a.contains("SHARED SIZE"), "{a}");
            assert!(
                a.lines()
                    .any(|l| l.starts_with("dfvol ") && l.contains(" 1 ")),
                "{a}"
            );
            same = true;
            break;
        }
        eprintln!("docker:\n{a}\nberth:\n{b}");
    }
    assert!(same, "system df -v differs between docker and berth");
    docker.ok(&["rm", "-f", "dfc"]);
    docker.ok(&["volume", "rm", "dfvol"]);
}
