//! A private `berth daemon` for end-to-end tests, driven with the real docker CLI.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use berth_testkit::TempDir;

/// A daemon on a private socket, data root and exec root; killed (and its containers'
/// mounts cleaned) on drop.
pub struct Daemon {
    pub dir: TempDir,
    pub child: Option<Child>,
    pub net: TestNet,
    /// The `berth` binary the daemon runs (its helpers `berth-shim`, `berth-runtime` sit
    /// next to it).
    pub bin: PathBuf,
}

/// A daemon's private networking: its own default bridge, nftables table and address
/// block (a /20 for the default bridge's /24 and user networks' /24s), so parallel test
/// daemons never share `berth0`, the `berth` table or a subnet.
#[derive(Debug, Clone)]
pub struct TestNet {
    pub bridge: String,
    pub table: String,
    /// `10.A.B.0/20`.
    pub block: String,
    /// `10.A.B.1/24`.
    pub bip: String,
    /// `10.A.B.0/24` (the default bridge's subnet).
    pub bridge_subnet: String,
    /// A free /24 of the block for user networks created with `--subnet`: `10.A.(B+n).0/24`.
    pub prefix: (u8, u8),
}

impl TestNet {
    pub fn pick() -> TestNet {
        let tag = berth_testkit::unique_name("");
        let seed =
            std::process::id() as usize * 31 + u32::from_str_radix(&tag, 16).unwrap_or(0) as usize;
        let (a, b) = berth_testkit::subnet::free_block_20(seed)
            .expect("no free 10.x.y.0/20 for a test daemon");
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
}

impl Daemon {
    pub fn start() -> Daemon {
        Daemon::start_from(berth_testkit::berth_bin())
    }

    /// A daemon started with extra flags (they apply to this first start only).
    pub fn start_with(args: &[&str]) -> Daemon {
        Daemon::start_from_with(berth_testkit::berth_bin(), args)
    }

    /// A daemon running `bin` (a copy of the build's binaries, say).
    pub fn start_from(bin: PathBuf) -> Daemon {
        Daemon::start_from_with(bin, &[])
    }

    fn start_from_with(bin: PathBuf, args: &[&str]) -> Daemon {
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
        let dir = TempDir::new("berth-daemon");
        let mut d = Daemon {
            dir,
            child: None,
            net: TestNet::pick(),
            bin,
        };
        d.spawn_with(&[], args);
        d
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn sock(&self) -> PathBuf {
        self.root().join("b.sock")
    }

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
        let child = Command::new(&self.bin)
            .envs(env.iter().copied())
            .arg("daemon")
            .args(args)
            .arg("-H")
            .arg(format!("unix://{}", self.sock().display()))
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
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn berth daemon");
        self.child = Some(child);
        for _ in 0..200 {
            if self.docker(&["version"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("berth daemon did not come up");
    }

    /// kill -9 of the daemon (shims and containers keep running).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
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

    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_stdin(args, None)
    }

    pub fn docker_stdin(&self, args: &[&str], input: Option<&[u8]>) -> Output {
        let mut c = Command::new("/usr/local/bin/docker")
            .arg("-H")
            .arg(format!("unix://{}", self.sock().display()))
            .args(args)
            .env("DOCKER_CONFIG", self.root().join("docker-config"))
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run docker");
        if let Some(i) = input {
            use std::io::Write;
            let mut s = c.stdin.take().expect("stdin");
            s.write_all(i).expect("write stdin");
        }
        c.wait_with_output().expect("docker output")
    }

    /// The berth CLI against this daemon.
    pub fn berth(&self, args: &[&str]) -> Output {
        Command::new(berth_testkit::berth_bin())
            .arg("-H")
            .arg(format!("unix://{}", self.sock().display()))
            .args(args)
            .env("DOCKER_CONFIG", self.root().join("docker-config"))
            .stdin(Stdio::null())
            .output()
            .expect("run berth")
    }

    /// Loads a busybox image (`busybox:latest`) made from the host's static busybox.
    pub fn load_busybox(&self) {
        let tar = self.root().join("busybox.tar");
        write_busybox_archive(&self.dir, &tar);
        let out = self.docker(&["load", "-i", tar.to_str().expect("utf8")]);
        assert!(
            out.status.success(),
            "load: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Stop every container first (their shims outlive the daemon by design).
        let _ = self.docker(&["rm", "-f", "lr", "web", "t1"]);
        let out = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        let _ = self.docker(&["network", "prune", "-f"]);
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The default bridge and the table outlive a daemon by design (like docker0);
        // a test daemon's are its own, so remove them.
        let _ = Command::new("ip")
            .args(["link", "del", &self.net.bridge])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", &self.net.table])
            .stderr(Stdio::null())
            .status();
        let root = self.root().display().to_string();
        if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
            let mut targets: Vec<&str> = info
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|t| t.starts_with(&root))
                .collect();
            targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
            for t in targets {
                let _ = Command::new("umount").arg("-l").arg(t).status();
            }
        }
    }
}

/// A classic `docker save` archive of a one-layer busybox image tagged busybox:latest.
pub fn write_busybox_archive(tmp: &TempDir, out: &Path) {
    let rootfs = tmp.path().join("bb-rootfs");
    berth_testkit::busybox::make_rootfs(&rootfs);
    let mut layer = tar::Builder::new(Vec::new());
    layer.follow_symlinks(false);
    layer.append_dir_all(".", &rootfs).expect("layer tar");
    let layer = layer.into_inner().expect("layer bytes");
    let diff_id = berth_content::Digest::of(&layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.as_str()]},
        "created": "2024-01-01T00:00:00Z",
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "berth test"}],
    });
    let config = serde_json::to_vec(&config).expect("config");
    let cid = berth_content::Digest::of(&config);
    let manifest = serde_json::json!([{
        "Config": format!("{}.json", cid.hex()),
        "RepoTags": ["busybox:latest"],
        "Layers": ["layer/layer.tar"],
    }]);
    let mut t = tar::Builder::new(std::fs::File::create(out).expect("archive"));
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, data).expect("append");
    };
    add(&format!("{}.json", cid.hex()), &config);
    add("layer/layer.tar", &layer);
    add(
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("manifest"),
    );
    t.finish().expect("finish archive");
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether an end-to-end daemon test can run here: root, the docker CLI v28 at
/// /usr/local/bin/docker, and `extra` programs (paths, or names looked up in PATH). Otherwise
/// reports the skip (which fails under CI) and returns false.
pub fn need(test: &str, extra: &[&str]) -> bool {
    if !berth_testkit::is_root() {
        berth_testkit::skip(test, "needs root");
        return false;
    }
    for p in std::iter::once(&"/usr/local/bin/docker").chain(extra) {
        let found = if p.contains('/') {
            Path::new(p).exists()
        } else {
            berth_testkit::which(p).is_some()
        };
        if !found {
            berth_testkit::skip(test, &format!("needs {p}"));
            return false;
        }
    }
    true
}
