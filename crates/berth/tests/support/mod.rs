//! Helpers for the runtime's integration tests: a busybox bundle in a TempDir with its own
//! state root, a spec editable as JSON, and `berth runtime` (or runc) commands against it.
#![allow(dead_code)]

pub mod conformance;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_testkit::{berth_bin, busybox, unique_name, TempDir};
use serde_json::{json, Value};

/// The runtime a bundle's commands go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rt {
    /// `berth runtime`.
    Berth,
    /// runc, the reference.
    Runc,
}

impl Rt {
    pub fn name(self) -> &'static str {
        match self {
            Rt::Berth => "berth-runtime",
            Rt::Runc => "runc",
        }
    }
}

/// A bundle with a busybox rootfs; containers it created are force-deleted on drop.
pub struct Bundle {
    pub dir: TempDir,
    pub spec: Value,
    pub rt: Rt,
    ids: std::cell::RefCell<Vec<String>>,
}

impl Bundle {
    /// A bundle whose process runs `args`, without a terminal, with a writable root.
    pub fn new(args: &[&str]) -> Bundle {
        Bundle::on(Rt::Berth, args)
    }

    /// The same, driven by `rt`.
    pub fn on(rt: Rt, args: &[&str]) -> Bundle {
        let dir = TempDir::new("berth-rt-");
        busybox::make_rootfs(&dir.path().join("rootfs"));
        let mut spec = berth_runtime::default_spec(false);
        spec["process"]["terminal"] = json!(false);
        spec["process"]["args"] = json!(args);
        spec["root"]["readonly"] = json!(false);
        Bundle {
            dir,
            spec,
            rt,
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

    /// `berth runtime --root <state> <args…>` (or `runc --root <state> <args…>`).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = match self.rt {
            Rt::Berth => {
                let mut c = Command::new(berth_bin());
                c.arg("runtime");
                c
            }
            Rt::Runc => Command::new(berth_testkit::which("runc").expect("runc installed")),
        };
        c.arg("--root").arg(self.state_root()).args(args);
        c
    }

    /// Runs `<runtime> <args>` and returns its output.
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
        self.try_create()
            .unwrap_or_else(|e| panic!("create failed: {e}"))
    }

    /// Writes the spec and creates a container; the error is what create printed. The
    /// container's stdio is a log file (`log(id)`).
    pub fn try_create(&self) -> Result<String, String> {
        self.write();
        let id = self.new_id();
        let bundle = self.path().to_str().unwrap().to_string();
        // The container inherits create's stdio: never hand it a pipe we wait on.
        let log = self.log_path(&id);
        let file = std::fs::File::create(&log).unwrap();
        let status = self
            .cmd(&["create", "--bundle", &bundle, &id])
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .status()
            .unwrap();
        if status.success() {
            Ok(id)
        } else {
            Err(self.log(&id))
        }
    }

    fn log_path(&self, id: &str) -> PathBuf {
        self.path().join(format!("{id}.create.log"))
    }

    /// What the container `id` (made by `try_create`) wrote so far.
    pub fn log(&self, id: &str) -> String {
        std::fs::read_to_string(self.log_path(id)).unwrap_or_default()
    }

    /// `state`'s status of `id`, or the error.
    pub fn status(&self, id: &str) -> Result<String, String> {
        let out = self.berth(&["state", id]);
        if !out.status.success() {
            return Err(stderr(&out));
        }
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        Ok(v["status"].as_str().unwrap_or_default().to_string())
    }

    /// Waits (bounded) until `id` is stopped; the last status otherwise.
    pub fn wait_stopped(&self, id: &str) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..1000 {
            match self.status(id) {
                Ok(s) if s == "stopped" => return Ok(()),
                Ok(s) => last = s,
                Err(e) => return Err(format!("state: {e}")),
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Err(format!("{id} still {last}"))
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
