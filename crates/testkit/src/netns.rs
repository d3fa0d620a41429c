//! Named network namespaces for tests: created with `ip netns add`, deleted on drop (which
//! also destroys every interface inside, e.g. the container end of a veth).

use std::path::PathBuf;
use std::process::{Command, Output};

/// A named netns (`/run/netns/<name>`) deleted when dropped.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates netns `name` (use [`crate::unique_name`]).
    pub fn new(name: &str) -> Self {
        let st = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .expect("run ip netns add");
        assert!(st.success(), "ip netns add {name} failed");
        NetNs {
            name: name.to_string(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its bind-mounted namespace file.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// Runs `argv` inside the namespace and returns its output.
    pub fn exec(&self, argv: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(argv)
            .output()
            .expect("run ip netns exec")
    }

    /// Spawns `argv` inside the namespace (kill it by PID when done, e.g. with [`KillOnDrop`]).
    pub fn spawn(&self, argv: &[&str]) -> std::process::Child {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(argv)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn in netns")
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A child process killed (by its PID) and reaped on drop.
#[derive(Debug)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Deletes host link `name` on drop (for bridges and veths a test created).
#[derive(Debug)]
pub struct LinkGuard(pub String);

impl Drop for LinkGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

/// Deletes `table inet <name>` on drop.
#[derive(Debug)]
pub struct NftTableGuard(pub String);

impl Drop for NftTableGuard {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", &self.0])
            .output();
    }
}
