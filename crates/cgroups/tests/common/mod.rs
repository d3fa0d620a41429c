//! Shared pieces of the cgroups integration tests: a guard that always removes the test's
//! cgroup (thawing and killing its processes first), and helpers to start a child that
//! waits on stdin until it has been moved into the cgroup.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use berth_cgroups::Cgroup;

/// Owns a test cgroup and its children; Drop thaws, kills, reaps and destroys, even when
/// the test panicked, and then checks that no directory is left.
pub struct CgroupGuard {
    pub cg: Cgroup,
    pub children: Vec<Child>,
}

impl CgroupGuard {
    pub fn new(cg: Cgroup) -> Self {
        CgroupGuard {
            cg,
            children: Vec::new(),
        }
    }

    /// The directories this cgroup would leave behind.
    pub fn leftovers(&self) -> Vec<PathBuf> {
        self.cg
            .paths()
            .into_iter()
            .filter(|p| p.exists())
            .map(PathBuf::from)
            .collect()
    }

    /// Starts `/bin/busybox sh -c <script>` with piped stdio, moves it into the cgroup and
    /// lets it go by writing a line to its stdin (scripts start with `read go`).
    pub fn spawn_gated(&mut self, script: &str) -> usize {
        let mut child = Command::new("/bin/busybox")
            .args(["sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn busybox sh");
        self.cg
            .add_process(i32::try_from(child.id()).unwrap())
            .expect("add_process");
        let mut stdin: ChildStdin = child.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
        drop(stdin);
        self.children.push(child);
        self.children.len() - 1
    }

    /// Starts `sleep 1000` and moves it into the cgroup.
    pub fn spawn_sleep(&mut self) -> i32 {
        let child = Command::new("sleep")
            .arg("1000")
            .spawn()
            .expect("spawn sleep");
        let pid = i32::try_from(child.id()).unwrap();
        self.children.push(child);
        self.cg.add_process(pid).expect("add_process");
        pid
    }

    /// Kills and reaps every child, then kills whatever else is left in the cgroup
    /// (grandchildren a script put in the background) and waits until it is empty.
    pub fn kill_children(&mut self) {
        if self.cg.is_frozen().unwrap_or(false) {
            let _ = self.cg.thaw();
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.children.clear();
        for _ in 0..200 {
            let pids = self.cg.pids().unwrap_or_default();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        self.kill_children();
        let res = self.cg.destroy();
        if !std::thread::panicking() {
            res.expect("destroy");
            assert!(
                self.leftovers().is_empty(),
                "left behind: {:?}",
                self.leftovers()
            );
        }
    }
}

/// The state letter in /proc/<pid>/stat (after the parenthesised command name).
pub fn proc_state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.chars().next().unwrap()
}

/// Reads a file of the cgroup directory `dir`, trimmed.
pub fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// Builds LinuxResources from runtime-spec JSON (the form config.json has).
pub fn resources(json: &str) -> oci_spec::runtime::LinuxResources {
    serde_json::from_str(json).expect("resources json")
}
