//! A `systemd-journald` of a test's own: it serves a journal namespace
//! (`/run/systemd/journal.<ns>/socket`, read with `journalctl --namespace=<ns>`), runs without
//! systemd as PID 1, and on drop is stopped and its files removed, so tests never write into
//! the machine's journal.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the journal daemon.
pub fn program() -> Option<PathBuf> {
    [
        "/lib/systemd/systemd-journald",
        "/usr/lib/systemd/systemd-journald",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// A running journald serving a namespace of its own.
pub struct Journald {
    child: Child,
    /// The namespace (`journalctl --namespace=…`).
    pub namespace: String,
    created_var_log_journal: bool,
}

impl Journald {
    /// Starts `program` on a fresh namespace and waits for its socket (needs root).
    pub fn start(program: &Path) -> Journald {
        let namespace = crate::unique_name("berthlog");
        let created_var_log_journal = !Path::new("/var/log/journal").exists();
        let child = Command::new(program)
            .arg(&namespace)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start systemd-journald");
        let j = Journald {
            child,
            namespace,
            created_var_log_journal,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !j.socket().exists() {
            assert!(Instant::now() < deadline, "journald made no socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        j
    }

    /// Its native-protocol socket.
    pub fn socket(&self) -> PathBuf {
        PathBuf::from(format!("/run/systemd/journal.{}/socket", self.namespace))
    }

    /// `journalctl --output=json --all --namespace=<ns> <matches…>`: one JSON object per entry.
    pub fn entries(&self, matches: &[&str]) -> Vec<serde_json::Value> {
        let out = Command::new("journalctl")
            .args(["--output=json", "--all", "--no-pager", "--quiet"])
            .arg(format!("--namespace={}", self.namespace))
            .args(matches)
            .output()
            .expect("run journalctl");
        out.stdout
            .split(|b| *b == b'\n')
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect()
    }
}

impl Drop for Journald {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let machine = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
        let name = format!("{}.{}", machine.trim(), self.namespace);
        let _ = std::fs::remove_dir_all(format!("/run/systemd/journal.{}", self.namespace));
        let _ = std::fs::remove_dir_all(Path::new("/var/log/journal").join(&name));
        let _ = std::fs::remove_dir_all(Path::new("/run/log/journal").join(&name));
        if self.created_var_log_journal {
            let _ = std::fs::remove_dir("/var/log/journal");
        }
    }
}
