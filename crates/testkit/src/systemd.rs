//! A real systemd manager for tests, where the host's init is not systemd: systemd runs as
//! pid 1 of its own pid, mount, cgroup, network, UTS and IPC namespaces, in a cgroup of its
//! own (`<cgroup2 mount>/berth-systemd-<unique>`), with a private /run, only a cgroup2 mount
//! of that cgroup at /sys/fs/cgroup (the host's cgroup mounts unmounted in its namespace) and /proc/sys read-only (net.* writable: its network
//! namespace is its own). Its unit path holds one empty target (`SYSTEMD_UNIT_PATH`,
//! `--unit=`), so it starts nothing of the host's. A daemon run through [`Manager::enter`]
//! sees it as the machine's systemd (`/run/systemd/system`, `/run/systemd/private`).
//! Dropping it kills systemd (and with it everything in its pid namespace) by pid and
//! removes its cgroups.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::tempdir::TempDir;

/// systemd's binary on Debian.
pub const SYSTEMD: &str = "/lib/systemd/systemd";

/// A systemd manager in namespaces of its own.
pub struct Manager {
    /// systemd's pid (host pid namespace).
    pub pid: i32,
    /// Its cgroup (the root of its cgroup namespace).
    pub cgroup: PathBuf,
    /// The unshare process (systemd's parent), reaped on drop.
    unshare: std::process::Child,
    _units: TempDir,
}

/// The host's cgroup2 mount: /sys/fs/cgroup on pure v2, /sys/fs/cgroup/unified on hybrid.
pub fn cgroup2_mount() -> Option<PathBuf> {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.subtree_control").exists())
}

impl Manager {
    /// Starts systemd and waits until it is running (`systemctl is-system-running`).
    /// None (with a skip message) where systemd or a cgroup2 mount is missing.
    pub fn start(test: &str) -> Option<Manager> {
        for p in [SYSTEMD, "/usr/bin/unshare", "/usr/bin/nsenter"] {
            if !Path::new(p).exists() {
                crate::skip(test, &format!("{p} is not installed"));
                return None;
            }
        }
        let Some(mount) = cgroup2_mount() else {
            crate::skip(test, "no cgroup2 mount");
            return None;
        };
        let units = TempDir::new("berth-systemd-units");
        std::fs::write(
            units.path().join("berth-test.target"),
            "[Unit]\nDescription=berth test target\n",
        )
        .expect("write berth-test.target");
        let cgroup = mount.join(crate::unique_name("berth-systemd"));
        std::fs::create_dir(&cgroup).expect("mkdir systemd's cgroup");
        let inner = format!(
            "mount -t tmpfs -o mode=755 tmpfs /run && \
             umount -R /sys/fs/cgroup && \
             mount -t cgroup2 cgroup2 /sys/fs/cgroup && \
             mount -t proc proc /proc && \
             mount --bind /proc/sys /proc/sys && \
             mount --bind /proc/sys/net /proc/sys/net && \
             mount -o remount,bind,ro /proc/sys && \
             exec env container=berth-test SYSTEMD_UNIT_PATH={units} {SYSTEMD} --system \
             --unit=berth-test.target --log-target=null --show-status=no",
            units = units.path().display()
        );
        // The shell joins the new cgroup first: unshare makes it the cgroup namespace's root.
        let outer = format!(
            "echo $$ > {}/cgroup.procs && exec unshare --pid --mount --uts --ipc --net --cgroup \
             --fork --propagation private sh -c '{inner}'",
            cgroup.display()
        );
        let child = Command::new("sh")
            .args(["-c", &outer])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn unshare");
        let unshare = i32::try_from(child.id()).expect("pids fit an i32");
        let mut m = Manager {
            pid: 0,
            cgroup,
            unshare: child,
            _units: units,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while m.pid == 0 {
            if let Ok(Some(st)) = m.unshare.try_wait() {
                panic!("systemd's namespaces could not be set up: {st}");
            }
            let kids = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
                .unwrap_or_default();
            m.pid = kids
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            assert!(Instant::now() < deadline, "systemd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        // systemd keeps its own pid 1 in init.scope; the unshare parent would stay in the
        // namespace root, where no process may sit once systemd delegates controllers.
        let keeper = m.cgroup.with_extension("keeper");
        let _ = std::fs::create_dir(&keeper);
        let _ = std::fs::write(keeper.join("cgroup.procs"), unshare.to_string());
        loop {
            let o = m.systemctl(&["is-system-running"]);
            let state = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if state == "running" || state == "degraded" {
                return Some(m);
            }
            assert!(Instant::now() < deadline, "systemd not running: {state}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A command inside systemd's namespaces (mount, pid, cgroup, network), run as root.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args([
            "-t",
            &self.pid.to_string(),
            "-m",
            "-p",
            "-C",
            "-n",
            "--",
            program,
        ]);
        c
    }

    /// `systemctl` against this manager.
    pub fn systemctl(&self, args: &[&str]) -> Output {
        self.command("systemctl")
            .args(args)
            .output()
            .expect("run systemctl")
    }

    /// `systemctl show -p <property> --value <unit>`.
    pub fn property(&self, unit: &str, property: &str) -> String {
        let o = self.systemctl(&["show", "-p", property, "--value", unit]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// The units whose names match `pattern`, any state.
    pub fn units(&self, pattern: &str) -> Vec<String> {
        let o = self.systemctl(&["list-units", "--all", "--plain", "--no-legend", pattern]);
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }

    /// A wrapper for [`crate::daemon::DaemonOptions::wrapper`]: the program runs in a cgroup
    /// below systemd's (so that systemd may move its children into scopes) and in
    /// systemd's mount, pid, cgroup and network namespaces.
    pub fn enter(&self) -> Vec<String> {
        let dir = self.cgroup.join(crate::unique_name("daemon"));
        std::fs::create_dir(&dir).expect("mkdir daemon cgroup");
        let script = format!(
            "echo $$ > {}/cgroup.procs && exec nsenter -t {} -m -p -C -n -- \"$@\"",
            dir.display(),
            self.pid
        );
        vec!["sh".into(), "-c".into(), script, "sh".into()]
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        // pid 1 of its namespace: SIGKILL ends every process in it.
        if self.pid > 0 {
            let _ = Command::new("kill")
                .args(["-9", &self.pid.to_string()])
                .status();
        }
        let _ = self.unshare.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        for dir in [self.cgroup.clone(), self.cgroup.with_extension("keeper")] {
            while dir.exists() && Instant::now() < deadline {
                remove_tree(&dir);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// rmdir of a cgroup tree, deepest first (a cgroup's files cannot be unlinked).
fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}
