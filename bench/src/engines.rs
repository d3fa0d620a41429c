//! berth's daemon and Docker's side by side, for the benches that time one against the other:
//! a private `berth daemon` (testkit) and a `dockerd` on a containerd of its own, all under one
//! temporary directory. dockerd changes no firewall rule or sysctl (`--iptables=false
//! --ip6tables=false --ip-masq=false --ip-forward=false`), keeps its containers under a cgroup
//! parent of its own and has no default bridge, or one this run creates ([`DockerNet`]).
//! Dropping [`Engines`] removes their containers, stops the daemons by pid, kills monitors
//! that outlived them, unmounts what is left under the directory and removes the bridge and
//! the cgroup directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use berth_testkit::daemon::{unmount_under, Daemon, DaemonOptions};

use crate::{wait_for, ChildGuard};

/// The docker CLI (v28, client only) the benches drive both daemons with.
pub const DOCKER_CLI: &str = "/usr/local/bin/docker";

/// dockerd's networking in a bench run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerNet {
    /// `--bridge=none`: no default bridge (benches that run `--network none` containers).
    None,
    /// A default bridge this run creates (unique name, a /24 of berth's free /20 that berth's
    /// default bridge does not use), removed on drop.
    Bridge,
}

/// The two engines of a bench run.
pub struct Engines {
    /// The private directory everything lives in.
    pub root: PathBuf,
    /// berth's daemon, with its own bridge, nftables table and address block.
    pub berth: Daemon,
    docker: Option<ChildGuard>,
    containerd: Option<ChildGuard>,
    /// dockerd's default bridge, when this run made one.
    docker_bridge: Option<String>,
    /// dockerd's `--cgroup-parent` (a directory under every hierarchy).
    docker_cgroup_parent: String,
}

impl Engines {
    /// Starts berth's daemon (`<bin_dir>/berth`), containerd and dockerd (without a default
    /// bridge) under `root`, and waits until both daemons answer `docker version`.
    pub fn start(root: &Path, bin_dir: &Path) -> Engines {
        Self::start_with(root, bin_dir, DockerNet::None)
    }

    /// [`Engines::start`] with dockerd's networking chosen by `net`.
    pub fn start_with(root: &Path, bin_dir: &Path, net: DockerNet) -> Engines {
        let log = |name: &str| std::fs::File::create(root.join(name)).expect("log file");
        let berth = DaemonOptions::new()
            .bin(bin_dir.join("berth"))
            .temp_base(root)
            .log(root.join("berth.log"))
            .start();
        let tag = berth_testkit::unique_name("");
        let (a, b) = berth.net.prefix;
        let mut engines = Engines {
            root: root.to_path_buf(),
            berth,
            docker: None,
            containerd: None,
            docker_bridge: None,
            docker_cgroup_parent: format!("berth-bench-{tag}"),
        };
        let bridge_flag = match net {
            DockerNet::None => "--bridge=none".to_string(),
            DockerNet::Bridge => {
                let name = format!("dbb{tag}");
                ip(&["link", "add", &name, "type", "bridge"]);
                engines.docker_bridge = Some(name.clone());
                // berth's default bridge has the block's first /24; its user networks (none
                // in a bench) would take the next ones.
                ip(&[
                    "addr",
                    "add",
                    &format!("10.{a}.{}.1/24", b + 8),
                    "dev",
                    &name,
                ]);
                ip(&["link", "set", &name, "up"]);
                format!("--bridge={name}")
            }
        };
        // containerd of our own: dockerd would otherwise use the host's when one runs.
        let ctrd = root.join("ctrd");
        std::fs::create_dir_all(&ctrd).expect("mkdir ctrd");
        let sock = engines.containerd_sock();
        let config = format!(
            "version = 2\nroot = \"{root}/root\"\nstate = \"{root}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n\
             [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
            root = ctrd.display(),
            sock = sock.display()
        );
        std::fs::write(ctrd.join("config.toml"), config).expect("containerd config");
        engines.containerd = Some(ChildGuard(
            Command::new("containerd")
                .arg("--config")
                .arg(ctrd.join("config.toml"))
                .stdin(Stdio::null())
                .stdout(log("containerd.log"))
                .stderr(log("containerd.log"))
                .spawn()
                .expect("spawn containerd"),
        ));
        wait_for("containerd", || sock.exists());
        std::fs::write(root.join("docker-daemon.json"), "{}").expect("daemon.json");
        engines.docker = Some(ChildGuard(
            Command::new("dockerd")
                .arg("--host")
                .arg(engines.docker_host())
                .arg("--containerd")
                .arg(&sock)
                .arg("--data-root")
                .arg(root.join("docker-data"))
                .arg("--exec-root")
                .arg(root.join("docker-exec"))
                .arg("--pidfile")
                .arg(root.join("docker.pid"))
                .arg("--config-file")
                .arg(root.join("docker-daemon.json"))
                .arg(bridge_flag)
                .arg(format!("--cgroup-parent=/{}", engines.docker_cgroup_parent))
                .args([
                    "--iptables=false",
                    "--ip6tables=false",
                    "--ip-masq=false",
                    "--ip-forward=false",
                ])
                .stdin(Stdio::null())
                .stdout(log("dockerd.log"))
                .stderr(log("dockerd.log"))
                .spawn()
                .expect("spawn dockerd"),
        ));
        for host in [engines.berth_host(), engines.docker_host()] {
            wait_for(&host, || docker_cli(&host, &["version"]).status.success());
        }
        engines
    }

    /// Loads a busybox image (`busybox:latest`, made from the host's static busybox) into
    /// both daemons.
    pub fn load_busybox(&self) {
        let tar = self.root.join("busybox.tar");
        berth_testkit::image_tar::busybox_archive(&tar, &["busybox:latest"]);
        let tar = tar.to_str().expect("utf-8 path");
        for host in [self.berth_host(), self.docker_host()] {
            let out = docker_cli(&host, &["load", "-q", "-i", tar]);
            assert!(
                out.status.success(),
                "load busybox into {host}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// dockerd's pid (while it runs).
    pub fn dockerd_pid(&self) -> Option<u32> {
        self.docker.as_ref().map(|c| c.0.id())
    }

    /// dockerd's socket.
    pub fn docker_sock(&self) -> PathBuf {
        self.root.join("docker.sock")
    }

    /// containerd's socket (dockerd's containerd).
    pub fn containerd_sock(&self) -> PathBuf {
        self.root.join("ctrd.sock")
    }

    /// `unix://<dockerd's socket>`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.docker_sock().display())
    }

    /// `unix://<berth's socket>`.
    pub fn berth_host(&self) -> String {
        format!("unix://{}", self.berth.sock().display())
    }

    /// dockerd's and containerd's pids (while they run).
    pub fn docker_pids(&self) -> Vec<i32> {
        [&self.docker, &self.containerd]
            .into_iter()
            .flatten()
            .filter_map(|c| i32::try_from(c.0.id()).ok())
            .collect()
    }

    /// The per-container monitors an engine started: berth-shims under berth's exec root, or
    /// containerd-shims of our containerd.
    pub fn monitor_pids(&self, docker: bool) -> Vec<i32> {
        let (name, marker) = if docker {
            ("containerd-shim", self.containerd_sock())
        } else {
            ("berth-shim", self.berth.root().join("exec"))
        };
        let marker = marker.display().to_string();
        processes()
            .into_iter()
            .filter(|(_, comm, cmdline)| comm.starts_with(name) && cmdline.contains(&marker))
            .map(|(pid, _, _)| pid)
            .collect()
    }
}

/// `docker -H <host> args…` with stdin closed.
pub fn docker_cli(host: &str, args: &[&str]) -> Output {
    Command::new(DOCKER_CLI)
        .args(["-H", host])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the docker CLI")
}

/// Removes every container of the daemon at `host` (`rm -f`, 50 at a time).
pub fn remove_all_containers(host: &str) {
    let ids = docker_cli(host, &["ps", "-aq"]);
    let ids = String::from_utf8_lossy(&ids.stdout).into_owned();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    for chunk in ids.chunks(50) {
        let mut args = vec!["rm", "-f"];
        args.extend(chunk);
        let _ = docker_cli(host, &args);
    }
}

impl Drop for Engines {
    fn drop(&mut self) {
        let docker = self.docker_host();
        if self.docker.is_some() {
            remove_all_containers(&docker);
            let _ = docker_cli(&docker, &["network", "prune", "-f"]);
        }
        remove_all_containers(&self.berth_host());
        // dockerd first (it talks to containerd), then containerd, each by pid (SIGTERM,
        // SIGKILL after 20 s); berth's daemon is stopped when the struct's fields drop (its
        // drop also removes its bridge and nft table).
        self.docker = None;
        self.containerd = None;
        // Monitors that outlived their daemon (a failed run): found by path, killed by pid.
        let mut monitors = self.monitor_pids(false);
        monitors.extend(self.monitor_pids(true));
        for pid in monitors {
            if let Some(p) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
        unmount_under(&self.root);
        if let Some(bridge) = &self.docker_bridge {
            let _ = Command::new("ip")
                .args(["link", "del", bridge])
                .stderr(Stdio::null())
                .status();
        }
        remove_cgroup_dirs(&self.docker_cgroup_parent);
    }
}

/// `ip args…`, which must succeed.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes `parent` (and its leftover children) under every mounted cgroup hierarchy (v2,
/// and each v1 controller).
fn remove_cgroup_dirs(parent: &str) {
    let root = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![root.join(parent)];
    if let Ok(hierarchies) = std::fs::read_dir(root) {
        dirs.extend(hierarchies.flatten().map(|h| h.path().join(parent)));
    }
    for dir in dirs.into_iter().filter(|d| d.is_dir()) {
        if let Ok(children) = std::fs::read_dir(&dir) {
            for child in children.flatten().filter(|c| c.path().is_dir()) {
                let _ = std::fs::remove_dir(child.path());
            }
        }
        let _ = std::fs::remove_dir(&dir);
    }
}

/// `(pid, comm, cmdline)` of every process.
pub fn processes() -> Vec<(i32, String, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some((pid, comm.trim().to_string(), cmdline))
        })
        .collect()
}
