//! Docker's own daemon (Debian's dockerd 20.10) on a private socket: the reference that
//! berth's behaviour is compared with.
//!
//! Everything is private to the test: socket, data root and exec root under a [`TempDir`],
//! no default bridge (or one the test makes: [`Dockerd::start_with_default_bridge`]), no
//! iptables/ip6tables rules, and user networks drawn from a free
//! `10.x.y.0/20` ([`crate::subnet::free_block_20`]). On drop it removes its containers and
//! networks (their bridges), stops dockerd and the containerd it started, and unmounts
//! what is left under its directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// A running private dockerd.
#[derive(Debug)]
pub struct Dockerd {
    child: Option<Child>,
    dir: TempDir,
    /// A default bridge made for this daemon (removed on drop).
    bridge: Option<String>,
    /// The flags it was started with (and is restarted with).
    args: Vec<String>,
}

impl Dockerd {
    /// Starts dockerd and waits until it answers (panics after 60 s with its log).
    pub fn start() -> Dockerd {
        Self::start_with(&[])
    }

    /// Starts dockerd with extra flags.
    pub fn start_with(args: &[&str]) -> Dockerd {
        Self::launch(args, None)
    }

    /// Starts dockerd with a default bridge of its own: a bridge `dk…` this call creates
    /// with the first /24 of a free `10.x.y.0/20` (`--bridge`), for what only the default
    /// network shows (legacy links). The bridge is deleted on drop.
    pub fn start_with_default_bridge() -> Dockerd {
        let name = crate::unique_name("dk");
        let seed = std::process::id() as usize * 17 + name.len() * 7919;
        let (a, b) = crate::subnet::free_block_20(seed).expect("a free 10.x.y.0/20");
        let ip = |args: &[&str]| {
            let ok = Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ip {args:?}");
        };
        ip(&["link", "add", &name, "type", "bridge"]);
        Self::launch_guarded(&name, |name| {
            ip(&["addr", "add", &format!("10.{a}.{b}.1/24"), "dev", name]);
            ip(&["link", "set", name, "up"]);
            Self::launch(&[], Some(name))
        })
    }

    /// Runs `start`; deletes the bridge `name` if it panics.
    fn launch_guarded(name: &str, start: impl FnOnce(&str) -> Dockerd) -> Dockerd {
        struct Guard<'a>(&'a str, bool);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    let _ = Command::new("ip").args(["link", "del", self.0]).status();
                }
            }
        }
        let mut g = Guard(name, false);
        let d = start(name);
        g.1 = true;
        d
    }

    fn launch(args: &[&str], bridge: Option<&str>) -> Dockerd {
        let mut daemon = Dockerd {
            child: None,
            dir: TempDir::new("berth-dockerd-"),
            bridge: bridge.map(str::to_string),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        daemon.spawn();
        daemon
    }

    /// Starts dockerd over this daemon's directory and waits until it answers.
    fn spawn(&mut self) {
        let d = self.root().to_path_buf();
        let seed = std::process::id() as usize * 131 + d.as_os_str().len();
        let (a, b) = crate::subnet::free_block_20(seed).expect("a free 10.x.y.0/20 for dockerd");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("dockerd.log"))
            .expect("dockerd log");
        let child = Command::new(crate::which("dockerd").expect("dockerd installed"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("d.sock").display()))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("d.pid"))
            .arg(format!(
                "--bridge={}",
                self.bridge.as_deref().unwrap_or("none")
            ))
            .args(["--iptables=false", "--ip6tables=false", "--ip-masq=false"])
            .arg("--default-address-pool")
            .arg(format!("base=10.{a}.{b}.0/20,size=24"))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn dockerd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(self.sock().exists() && self.docker(&["version"]).status.success()) {
            assert!(
                Instant::now() < deadline,
                "dockerd did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops dockerd with SIGTERM (as `systemctl stop docker`), waits until it is gone (up
    /// to 2 minutes), and starts it again with the same flags and state.
    pub fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(120);
            while child.try_wait().ok().flatten().is_none() {
                assert!(Instant::now() < deadline, "dockerd did not stop");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.spawn();
    }

    /// The daemon's directory (socket, data, exec root, log).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The API socket.
    pub fn sock(&self) -> PathBuf {
        self.root().join("d.sock")
    }

    /// `unix://…` for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.sock().display())
    }

    /// dockerd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root().join("dockerd.log")).unwrap_or_default()
    }

    /// The docker CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        // The v28 CLI, not Debian's 20.10 client that comes with dockerd.
        Command::new(crate::daemon::DOCKER_CLI)
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env("DOCKER_CONFIG", self.root().join("docker-config"))
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    /// Loads `busybox:latest` made from the host's static busybox.
    pub fn load_busybox(&self) {
        let tar = self.root().join("busybox.tar");
        crate::image_tar::busybox_archive(&tar, &["busybox:latest"]);
        let out = self.docker(&["load", "-i", tar.to_str().expect("utf8 path")]);
        assert!(
            out.status.success(),
            "dockerd load: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let ids = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", "-v", id]);
        }
        // User networks are bridges on the host: remove them while dockerd can.
        let _ = self.docker(&["network", "prune", "-f"]);
        if let Some(mut child) = self.child.take() {
            // SIGTERM lets dockerd stop its own containerd; then make sure.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for pidfile in ["exec/containerd/containerd.pid", "exec/containerd.pid"] {
            if let Ok(pid) = std::fs::read_to_string(self.root().join(pidfile)) {
                let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
            }
        }
        crate::daemon::unmount_under(self.root());
        if let Some(bridge) = &self.bridge {
            let _ = Command::new("ip").args(["link", "del", bridge]).status();
        }
    }
}
