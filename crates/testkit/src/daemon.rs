//! A private `berth daemon` for end-to-end tests and benches, driven with the real docker
//! CLI (or berth's own).
//!
//! Each [`Daemon`] has its own socket, data root, exec root, pidfile and `daemon.json` under
//! a temporary directory, and its own networking ([`TestNet`]: default bridge, nftables table
//! and a free `10.x.y.0/20`), so parallel test daemons — and other helpers' — never share
//! anything. The daemon is started as a process (the `berth` binary this build made), so
//! tests of any crate can use it without linking the engine.
//!
//! ```no_run
//! use berth_testkit::daemon::{self, stdout, Daemon};
//! if !daemon::need("my_test", &[]) {
//!     return;
//! }
//! let d = Daemon::start();
//! d.load_busybox();
//! let out = d.docker(&["run", "--rm", "busybox", "echo", "hi"]);
//! assert_eq!(stdout(&out), "hi\n");
//! // dropping `d` removes its containers, networks, mounts, bridge and nft table
//! ```

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::TempDir;

/// The docker CLI (v28) the tests drive daemons with.
pub const DOCKER_CLI: &str = "/usr/local/bin/docker";

/// A daemon's private networking: its own default bridge, nftables table and address
/// block (a /20 for the default bridge's /24 and user networks' /24s), so parallel test
/// daemons never share `berth0`, the `berth` table or a subnet.
#[derive(Debug, Clone)]
pub struct TestNet {
    /// The default bridge's name (`bt<unique>`).
    pub bridge: String,
    /// The daemon's nftables table (`inet`).
    pub table: String,
    /// `10.A.B.0/20`.
    pub block: String,
    /// `10.A.B.1/24`.
    pub bip: String,
    /// `10.A.B.0/24` (the default bridge's subnet).
    pub bridge_subnet: String,
    /// `(A, B)` of the block, for user networks created with `--subnet`.
    pub prefix: (u8, u8),
}

impl TestNet {
    /// A fresh bridge name, table name and a /20 no host route overlaps.
    pub fn pick() -> TestNet {
        let tag = crate::unique_name("");
        let seed = std::process::id() as usize * 31 + usize::from_str_radix(&tag, 16).unwrap_or(0);
        let (a, b) =
            crate::subnet::free_block_20(seed).expect("no free 10.x.y.0/20 for a test daemon");
        TestNet {
            bridge: format!("bt{tag}"),
            table: format!("berth_t{tag}"),
            block: format!("10.{a}.{b}.0/20"),
            bip: format!("10.{a}.{b}.1/24"),
            bridge_subnet: format!("10.{a}.{b}.0/24"),
            prefix: (a, b),
        }
    }

    /// The n-th (1..15) /24 of the block, for `network create --subnet`.
    pub fn subnet(&self, n: u8) -> String {
        format!("10.{}.{}.0/24", self.prefix.0, self.prefix.1 + n)
    }

    /// Removes the bridge and the nftables table (both outlive a daemon by design, like
    /// docker0; a test daemon's are its own). Missing ones are fine.
    pub fn remove(&self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", &self.table])
            .stderr(Stdio::null())
            .status();
    }
}

/// How to start a [`Daemon`]; [`Daemon::start`] and friends cover the usual cases.
#[derive(Debug, Clone, Default)]
pub struct DaemonOptions {
    bin: Option<PathBuf>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    temp_base: Option<PathBuf>,
    log: Option<PathBuf>,
    netns: Option<PathBuf>,
    wrapper: Vec<String>,
    no_live_restore: bool,
}

impl DaemonOptions {
    /// The build's `berth`, under the system temp dir, logging to the test's stderr.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `bin` (its helpers `berth-shim` and `berth-runtime` must sit next to it).
    pub fn bin(mut self, bin: impl Into<PathBuf>) -> Self {
        self.bin = Some(bin.into());
        self
    }

    /// Extra `berth daemon` flags for the first start.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Extra environment variables for the first start.
    pub fn env(mut self, env: &[(&str, &str)]) -> Self {
        self.env
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Puts the daemon's directory under `base` instead of the system temp dir.
    pub fn temp_base(mut self, base: impl Into<PathBuf>) -> Self {
        self.temp_base = Some(base.into());
        self
    }

    /// Sends the daemon's stdout and stderr to `file` (appending) instead of inheriting the
    /// test's stderr.
    pub fn log(mut self, file: impl Into<PathBuf>) -> Self {
        self.log = Some(file.into());
        self
    }

    /// Runs the daemon inside the network namespace at `path` (`nsenter --net`, which
    /// execs it: the pid stays the daemon's): its bridges, nft table, sysctls and published
    /// ports live there, and go with the namespace. The API socket is reachable as usual.
    pub fn netns(mut self, path: impl Into<PathBuf>) -> Self {
        self.netns = Some(path.into());
        self
    }

    /// Starts the daemon through `wrapper` (a program and its arguments, followed by the
    /// daemon's command line), e.g. [`crate::systemd::Manager::enter`]. The daemon's pid
    /// may then not be the child's.
    pub fn wrapper(mut self, wrapper: Vec<String>) -> Self {
        self.wrapper = wrapper;
        self
    }

    /// Runs the daemon without `--live-restore` (Docker's default: a stop of the daemon
    /// stops the containers). Test daemons run with it unless told so, as the tests restart
    /// them with containers running.
    pub fn without_live_restore(mut self) -> Self {
        self.no_live_restore = true;
        self
    }

    /// Starts the daemon and waits until it answers `/_ping`.
    pub fn start(self) -> Daemon {
        let bin = self.bin.unwrap_or_else(crate::berth_bin);
        // The daemon runs its helpers from next to its binary: make sure the tests exercise
        // the lean ones, not the `berth shim` / `berth runtime` fallback.
        for helper in ["berth-shim", "berth-runtime"] {
            let p = bin.with_file_name(helper);
            assert!(
                p.is_file(),
                "{} not built: cargo build --release -p berth -p berth-shim",
                p.display()
            );
        }
        let dir = match &self.temp_base {
            Some(base) => TempDir::new_in(base, "berth-daemon"),
            None => TempDir::new("berth-daemon"),
        };
        let mut d = Daemon {
            dir,
            child: None,
            net: TestNet::pick(),
            bin,
            log: self.log,
            netns: self.netns,
            wrapper: self.wrapper,
            live_restore: !self.no_live_restore,
        };
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        d.spawn_with(&env, &args);
        d
    }
}

/// A daemon on a private socket, data root and exec root; on drop its containers are
/// removed, it is killed, and its mounts, bridge and nftables table are removed.
pub struct Daemon {
    /// The daemon's directory (socket, data and exec roots, pidfile, docker CLI config).
    pub dir: TempDir,
    /// The running daemon, if any.
    pub child: Option<Child>,
    /// Its private networking.
    pub net: TestNet,
    /// The `berth` binary the daemon runs (its helpers `berth-shim`, `berth-runtime` sit
    /// next to it).
    pub bin: PathBuf,
    log: Option<PathBuf>,
    netns: Option<PathBuf>,
    wrapper: Vec<String>,
    /// Started with `--live-restore` (the default of test daemons).
    live_restore: bool,
}

impl Daemon {
    /// The build's daemon with default flags.
    pub fn start() -> Daemon {
        DaemonOptions::new().start()
    }

    /// A daemon started with extra flags (they apply to this first start only).
    pub fn start_with(args: &[&str]) -> Daemon {
        DaemonOptions::new().args(args).start()
    }

    /// A daemon running `bin` (a copy of the build's binaries, say).
    pub fn start_from(bin: PathBuf) -> Daemon {
        DaemonOptions::new().bin(bin).start()
    }

    /// The daemon's directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The daemon's API socket.
    pub fn sock(&self) -> PathBuf {
        self.root().join("b.sock")
    }

    /// `unix://<socket>`, for `-H` / `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.sock().display())
    }

    /// Starts the daemon again (after [`Daemon::kill9`] or [`Daemon::wait_gone`]).
    pub fn spawn(&mut self) {
        self.spawn_env(&[]);
    }

    /// Starts the daemon with extra environment variables (e.g. `BERTH_TEST_CRASH_AT`).
    pub fn spawn_env(&mut self, env: &[(&str, &str)]) {
        self.spawn_with(env, &[]);
    }

    /// Starts the daemon with extra environment variables and extra flags.
    pub fn spawn_with(&mut self, env: &[(&str, &str)], args: &[&str]) {
        let r = self.root().to_path_buf();
        let (stdout, stderr) = match &self.log {
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
                let g = f.try_clone().expect("clone log file");
                (Stdio::from(f), Stdio::from(g))
            }
            None => (Stdio::null(), Stdio::inherit()),
        };
        let mut command = match (&self.netns, self.wrapper.split_first()) {
            (_, Some((program, args))) => {
                let mut c = Command::new(program);
                c.args(args).arg(&self.bin);
                c
            }
            (Some(ns), None) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", ns.display())).arg(&self.bin);
                c
            }
            (None, None) => Command::new(&self.bin),
        };
        let child = command
            .envs(env.iter().copied())
            .arg("daemon")
            .args(args)
            .arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(r.join("data"))
            .arg("--exec-root")
            .arg(r.join("exec"))
            .arg("--pidfile")
            .arg(r.join("berth.pid"))
            .arg("--config-file")
            .arg(r.join("daemon.json"))
            .arg("--bridge")
            .arg(&self.net.bridge)
            .arg("--bip")
            .arg(&self.net.bip)
            .arg("--nft-table")
            .arg(&self.net.table)
            .arg("--default-address-pool")
            .arg(format!("base={},size=24", self.net.block))
            .args(self.live_restore.then_some("--live-restore"))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("spawn berth daemon");
        self.child = Some(child);
        for _ in 0..400 {
            if self.ping() {
                return;
            }
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("berth daemon exited while starting: {st}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("berth daemon did not come up");
    }

    /// True when the daemon answers `GET /_ping` with 200.
    pub fn ping(&self) -> bool {
        let Ok(mut conn) = UnixStream::connect(self.sock()) else {
            return false;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let request = "GET /_ping HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n";
        if conn.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        conn.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
    }

    /// kill -9 of the daemon (shims and containers keep running).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the daemon as a service manager does (SIGTERM) and waits until it is gone;
    /// returns how it ended.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.pid().expect("daemon running");
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        self.wait_gone()
    }

    /// Waits (up to 2 minutes) for a daemon that is expected to end by itself; returns how.
    pub fn wait_gone(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon running");
        for _ in 0..1200 {
            if let Some(st) = c.try_wait().expect("try_wait") {
                return st;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = c.kill();
        let _ = c.wait();
        panic!("the daemon did not end by itself");
    }

    /// The daemon's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A `Command` for `program` pointed at this daemon (`-H`, a private `DOCKER_CONFIG`,
    /// stdin from /dev/null); add the arguments.
    pub fn cli_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.arg("-H")
            .arg(self.host())
            .env("DOCKER_CONFIG", self.root().join("docker-config"))
            .stdin(Stdio::null());
        c
    }

    /// The docker CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_stdin(args, None)
    }

    /// The docker CLI against this daemon, with `input` as its stdin.
    pub fn docker_stdin(&self, args: &[&str], input: Option<&[u8]>) -> Output {
        run(self.cli_command(DOCKER_CLI).args(args), input)
    }

    /// The berth CLI (the daemon's own binary) against this daemon.
    pub fn berth(&self, args: &[&str]) -> Output {
        run(self.cli_command(&self.bin).args(args), None)
    }

    /// Loads a busybox image (`busybox:latest`) made from the host's static busybox
    /// ([`crate::image_tar::busybox_archive`]).
    pub fn load_busybox(&self) {
        let tar = self.root().join("busybox.tar");
        crate::image_tar::busybox_archive(&tar, &["busybox:latest"]);
        let tar = tar.to_str().expect("utf8");
        let out = if Path::new(DOCKER_CLI).exists() {
            self.docker(&["load", "-i", tar])
        } else {
            self.berth(&["load", "-i", tar])
        };
        assert!(
            out.status.success(),
            "load: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The CLI cleanup uses: the docker CLI where installed, else berth's.
    fn cleanup_cli(&self, args: &[&str]) -> Output {
        if Path::new(DOCKER_CLI).exists() {
            self.docker(args)
        } else {
            self.berth(args)
        }
    }
}

/// Runs `cmd` with stdout and stderr captured and `input` (if any) as stdin.
fn run(cmd: &mut Command, input: Option<&[u8]>) -> Output {
    let mut c = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    if let Some(i) = input {
        let mut s = c.stdin.take().expect("stdin");
        s.write_all(i).expect("write stdin");
    }
    c.wait_with_output().expect("CLI output")
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Stop every container first (their shims outlive the daemon by design).
        if self.child.is_some() {
            let out = self.cleanup_cli(&["ps", "-aq"]);
            let ids = String::from_utf8_lossy(&out.stdout).into_owned();
            let ids: Vec<&str> = ids.split_whitespace().collect();
            for chunk in ids.chunks(50) {
                let mut args = vec!["rm", "-f"];
                args.extend(chunk);
                let _ = self.cleanup_cli(&args);
            }
            let _ = self.cleanup_cli(&["network", "prune", "-f"]);
        }
        self.kill9();
        self.net.remove();
        unmount_under(self.root());
    }
}

/// Lazily unmounts every mount point at or under `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    let prefix = dir.to_string_lossy().into_owned();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").args(["-l", p]).status();
    }
}

/// A CLI's stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A CLI's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `o`, after asserting that the command (`what`) succeeded; its output is in the message.
pub fn ok(what: &str, o: Output) -> Output {
    assert!(o.status.success(), "{what}: {}\n{}", stdout(&o), stderr(&o));
    o
}

/// Whether an end-to-end daemon test can run here: root, the docker CLI v28 at
/// [`DOCKER_CLI`], and `extra` programs (paths, or names looked up in PATH). Otherwise
/// reports the skip (which fails under CI) and returns false.
pub fn need(test: &str, extra: &[&str]) -> bool {
    if !crate::is_root() {
        crate::skip(test, "needs root");
        return false;
    }
    for p in std::iter::once(&DOCKER_CLI).chain(extra) {
        let found = if p.contains('/') {
            Path::new(p).exists()
        } else {
            crate::which(p).is_some()
        };
        if !found {
            crate::skip(test, &format!("needs {p}"));
            return false;
        }
    }
    true
}

/// Whether a side-by-side test with Docker's daemon and docker-py can run: [`need`] with
/// `dockerd` and `python3`, and `import docker` working (python3-docker).
pub fn need_peer_docker_py(test: &str) -> bool {
    if !need(test, &["dockerd", "python3"]) {
        return false;
    }
    let docker_py = Command::new("python3")
        .args(["-c", "import docker"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !docker_py {
        crate::skip(test, "needs python3-docker");
    }
    docker_py
}

/// A berth daemon and Docker's own (a private dockerd, [`crate::dockerd::Dockerd`]), both
/// with busybox loaded: (berth, docker).
pub fn with_dockerd() -> (Daemon, crate::dockerd::Dockerd) {
    let berth = Daemon::start();
    berth.load_busybox();
    let docker = crate::dockerd::Dockerd::start();
    docker.load_busybox();
    (berth, docker)
}

/// Runs one case of a side-by-side docker-py script against both daemons
/// (`python3 <script> <case> <berth host> <docker host>`, with a unique
/// `BERTH_TEST_PREFIX` for the names it makes) and asserts that it passed: exit 0 and
/// `<case>: all passed` on its stdout.
pub fn docker_py_case(script: &Path, case: &str, berth: &Daemon, docker: &crate::dockerd::Dockerd) {
    let o = Command::new("python3")
        .arg(script)
        .arg(case)
        .arg(berth.host())
        .arg(docker.host())
        .env("BERTH_TEST_PREFIX", crate::unique_name("fid"))
        .output()
        .expect("python3");
    assert!(
        o.status.success() && stdout(&o).contains(&format!("{case}: all passed")),
        "docker-py case {case} of {} failed:\n{}\n{}",
        script.display(),
        stdout(&o),
        stderr(&o)
    );
}
