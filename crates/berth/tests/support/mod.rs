//! Helpers for the runtime's integration tests: a busybox bundle in a TempDir with its own
//! state root, a spec editable as JSON, and `berth runtime` commands against it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_testkit::{berth_bin, busybox, unique_name, TempDir};
use serde_json::{json, Value};

/// A bundle with a busybox rootfs; containers it created are force-deleted on drop.
pub struct Bundle {
    pub dir: TempDir,
    pub spec: Value,
    ids: std::cell::RefCell<Vec<String>>,
}

impl Bundle {
    /// A bundle whose process runs `args`, without a terminal, with a writable root.
    pub fn new(args: &[&str]) -> Bundle {
        let dir = TempDir::new("berth-rt-");
        busybox::make_rootfs(&dir.path().join("rootfs"));
        let mut spec = berth_runtime::features::default_spec(false);
        spec["process"]["terminal"] = json!(false);
        spec["process"]["args"] = json!(args);
        spec["root"]["readonly"] = json!(false);
        Bundle {
            dir,
            spec,
            ids: Default::default(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    pub fn state_root(&self) -> PathBuf {
        self.path().join("state")
    }

    /// Writes config.json from `self.spec`.
    pub fn write(&self) {
        std::fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&self.spec).unwrap(),
        )
        .unwrap();
    }

    /// A fresh container id, remembered for cleanup.
    pub fn new_id(&self) -> String {
        let id = unique_name("c");
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// `berth runtime --root <state> <args…>`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(berth_bin());
        c.arg("runtime")
            .arg("--root")
            .arg(self.state_root())
            .args(args);
        c
    }

    /// Runs `berth runtime <args>` and returns its output.
    pub fn berth(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run berth")
    }

    /// Writes the spec and runs the container in the foreground.
    pub fn run(&self) -> (String, Output) {
        self.write();
        let id = self.new_id();
        let bundle = self.path().to_str().unwrap().to_string();
        let out = self.berth(&["run", "--bundle", &bundle, &id]);
        (id, out)
    }

    /// Writes the spec and creates a container; panics on failure.
    pub fn create(&self) -> String {
        self.write();
        let id = self.new_id();
        let bundle = self.path().to_str().unwrap().to_string();
        // The container inherits create's stdio: never hand it a pipe we wait on.
        let log = self.path().join(format!("{id}.create.log"));
        let status = self
            .cmd(&["create", "--bundle", &bundle, &id])
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "create failed: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        id
    }

    /// The `state` document of `id`.
    pub fn state(&self, id: &str) -> Value {
        let out = self.berth(&["state", id]);
        assert!(out.status.success(), "state failed: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Adds a namespace entry.
    pub fn add_namespace(&mut self, typ: &str) {
        self.spec["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": typ}));
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self.berth(&["delete", "--force", id]);
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// True when some host mount's root or mount point mentions `needle`.
pub fn host_mounts_mention(needle: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let n = needle.to_string_lossy();
    info.lines().any(|l| l.contains(n.as_ref()))
}
