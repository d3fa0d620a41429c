//! What the compose end-to-end tests share: a daemon (berth's, or Docker's own on a private
//! socket) with busybox loaded, project directories, and compose clients (`berth compose`,
//! Compose v2's binary, docker-compose v1) pointed at it.

#![allow(dead_code)] // each test file uses its part

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use berth_testkit::daemon::{self, stderr, stdout, Daemon};
use berth_testkit::dockerd::Dockerd;
use berth_testkit::TempDir;

/// A daemon a compose client can be pointed at.
pub trait Endpoint {
    /// `DOCKER_HOST`.
    fn host(&self) -> String;
    /// `DOCKER_CONFIG`.
    fn config(&self) -> PathBuf;
    /// The docker CLI against it.
    fn docker(&self, args: &[&str]) -> Output;
}

impl Endpoint for Daemon {
    fn host(&self) -> String {
        Daemon::host(self)
    }
    fn config(&self) -> PathBuf {
        self.root().join("docker-config")
    }
    fn docker(&self, args: &[&str]) -> Output {
        Daemon::docker(self, args)
    }
}

impl Endpoint for Dockerd {
    fn host(&self) -> String {
        Dockerd::host(self)
    }
    fn config(&self) -> PathBuf {
        self.root().join("docker-config")
    }
    fn docker(&self, args: &[&str]) -> Output {
        Dockerd::docker(self, args)
    }
}

/// A compose client.
#[derive(Debug, Clone)]
pub enum Client {
    /// `berth compose`, the binary of the daemon under test.
    Berth(PathBuf),
    /// Compose v2's Go binary.
    V2(PathBuf),
    /// Debian's docker-compose v1.
    V1,
}

impl Client {
    /// `<client> <args>` in `dir` against `on`, plain progress, no project/file variables
    /// from the caller's environment.
    pub fn cmd(&self, on: &dyn Endpoint, dir: &Path, args: &[&str]) -> Command {
        let mut c = match self {
            Client::Berth(bin) => {
                let mut c = Command::new(bin);
                c.arg("compose");
                c
            }
            Client::V2(bin) => Command::new(bin),
            Client::V1 => Command::new("/usr/bin/docker-compose"),
        };
        c.args(args)
            .current_dir(dir)
            .env("DOCKER_HOST", on.host())
            .env("DOCKER_CONFIG", on.config())
            .env("COMPOSE_PROGRESS", "plain")
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_FILE")
            .stdin(Stdio::null());
        c
    }

    /// Runs it to completion.
    pub fn run(&self, on: &dyn Endpoint, dir: &Path, args: &[&str]) -> Output {
        self.cmd(on, dir, args).output().expect("run compose")
    }
}

/// The Compose v2 binary, if installed (`COMPOSE_V2`, scripts/install-deps.sh's path, or
/// get-compose-v2.sh's).
pub fn compose_v2() -> Option<PathBuf> {
    let candidates = [
        std::env::var("COMPOSE_V2").ok().map(PathBuf::from),
        Some(PathBuf::from("/usr/local/lib/compose-v2/docker-compose")),
        Some(PathBuf::from("/tmp/compose-v2/docker-compose")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// Compose v2 when the test can run (root, the docker CLI, `extra`, and v2 installed;
/// under CI a missing one is a failure).
pub fn need_v2(test: &str, extra: &[&str]) -> Option<PathBuf> {
    if !daemon::need(test, extra) {
        return None;
    }
    let found = compose_v2();
    if found.is_none() {
        berth_testkit::skip(
            test,
            "Compose v2 is not installed (scripts/install-deps.sh)",
        );
    }
    found
}

/// A private berth daemon with busybox loaded, and a directory for projects.
pub struct Setup {
    /// The daemon.
    pub d: Daemon,
    /// Where the projects live.
    pub dir: TempDir,
}

impl Setup {
    /// Starts it when the test can run here (see [`daemon::need`]).
    pub fn start(test: &str, extra: &[&str]) -> Option<Setup> {
        if !daemon::need(test, extra) {
            return None;
        }
        Some(Setup::new(test))
    }

    /// Starts it (the caller checked the requirements).
    pub fn new(test: &str) -> Setup {
        let d = Daemon::start();
        d.load_busybox();
        Setup {
            d,
            dir: TempDir::new(&format!("compose-{test}")),
        }
    }

    /// `berth compose` as a [`Client`].
    pub fn berth(&self) -> Client {
        Client::Berth(self.d.bin.clone())
    }

    /// A project directory `name` holding `files`.
    pub fn project(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        write_project(&self.dir.path().join(name), files)
    }

    /// `berth compose <args>` in `dir`.
    pub fn compose_cmd(&self, dir: &Path, args: &[&str]) -> Command {
        self.berth().cmd(&self.d, dir, args)
    }

    /// `berth compose <args>` in `dir`, to completion.
    pub fn compose(&self, dir: &Path, args: &[&str]) -> Output {
        self.berth().run(&self.d, dir, args)
    }
}

/// Writes `files` (relative paths) under `dir`; returns `dir`.
pub fn write_project(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create project dir");
        std::fs::write(&path, text).expect("write project file");
    }
    std::fs::create_dir_all(dir).expect("create project dir");
    dir.to_path_buf()
}

/// Asserts success; the output.
pub fn ok_output(o: Output) -> Output {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    o
}

/// Asserts success; stdout.
pub fn ok(o: Output) -> String {
    stdout(&ok_output(o))
}

/// Asserts success; stdout then stderr (compose's progress goes to stderr).
pub fn ok_all(o: Output) -> String {
    let o = ok_output(o);
    stdout(&o) + &stderr(&o)
}

/// `label=com.docker.compose.project=<project>`.
pub fn project_filter(project: &str) -> String {
    format!("label=com.docker.compose.project={project}")
}

/// The ids of the project's containers (all states).
pub fn container_ids(on: &dyn Endpoint, project: &str) -> String {
    stdout(&on.docker(&[
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        &project_filter(project),
    ]))
}

/// The project's containers, networks and volumes (ids and names), empty when none is left.
pub fn leftovers(on: &dyn Endpoint, project: &str) -> String {
    let f = project_filter(project);
    let c = stdout(&on.docker(&["ps", "-aq", "--filter", &f]));
    let n = stdout(&on.docker(&["network", "ls", "-q", "--filter", &f]));
    let v = stdout(&on.docker(&["volume", "ls", "-q", "--filter", &f]));
    format!("{c}{n}{v}")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `GET path` on 127.0.0.1:port, retried until it answers with a line starting `prefix`
/// (panics after 30 s); that line.
pub fn http_line(port: u16, path: &str, prefix: &str) -> String {
    use std::io::{Read, Write};
    let start = std::time::Instant::now();
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            let mut out = String::new();
            if write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").is_ok()
                && s.read_to_string(&mut out).is_ok()
            {
                if let Some(line) = out
                    .lines()
                    .find(|l| l.starts_with(prefix) && l.len() > prefix.len())
                {
                    return line.to_string();
                }
            }
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "nothing answered on {port}{path}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
