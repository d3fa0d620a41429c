//! Runtime conformance cases run side by side: each case is a function of the runtime
//! that returns Ok or what went wrong. berth-runtime must pass every case; runc (the
//! reference, Debian's 1.1.5) must pass those the table in docs/runtime.md says it passes.

use std::process::Output;

use super::{stderr, stdout, Bundle, Rt};

/// A case's outcome: Ok, or what differed from the spec.
pub type Outcome = Result<(), String>;

/// What runc does on a case, as docs/runtime.md records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runc {
    /// runc passes the case.
    Passes,
    /// runc 1.1.5 does not, or not every time (the table says how); not asserted.
    Fails,
}

/// Runs `case` on berth-runtime and on runc.
pub fn both(name: &str, runc: Runc, case: impl Fn(Rt) -> Outcome) {
    let ours = case(Rt::Berth);
    let theirs = case(Rt::Runc);
    let word = |o: &Outcome| if o.is_ok() { "pass" } else { "FAIL" };
    eprintln!(
        "conformance {name}: berth-runtime {} | runc {}",
        word(&ours),
        word(&theirs)
    );
    if let Err(e) = &ours {
        panic!("berth-runtime fails {name}: {e}");
    }
    if let (Runc::Passes, Err(e)) = (runc, &theirs) {
        panic!("runc fails {name} (the table says it passes): {e}");
    }
}

/// Ok when `cond`, else the message.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// Ok when the command succeeded, else its stderr.
pub fn succeeded(what: &str, out: &Output) -> Outcome {
    ensure(out.status.success(), || {
        format!("{what} failed ({}): {}", out.status, stderr(out))
    })
}

/// Ok when the command failed, else a message.
pub fn refused(what: &str, out: &Output) -> Outcome {
    ensure(!out.status.success(), || format!("{what} succeeded"))
}

/// Runs the bundle in the foreground; its stdout when it exited 0.
pub fn run_ok(b: &Bundle) -> Result<String, String> {
    let (_, out) = b.run();
    succeeded("run", &out)?;
    Ok(stdout(&out))
}

/// Creates, starts and waits for the container; what it wrote (stdout and stderr).
pub fn create_start_wait(b: &Bundle) -> Result<String, String> {
    let id = b.try_create()?;
    succeeded("start", &b.berth(&["start", &id]))?;
    b.wait_stopped(&id)?;
    Ok(b.log(&id))
}

/// Adds a capability to the bounding, effective and permitted sets.
pub fn grant(b: &mut Bundle, cap: &str) {
    for set in ["bounding", "effective", "permitted"] {
        b.spec["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(cap.into());
    }
}

/// Replaces (or adds) the namespace of type `typ` with one joined by `path`.
pub fn join_namespace(b: &mut Bundle, typ: &str, path: &str) {
    let list = b.spec["linux"]["namespaces"].as_array_mut().unwrap();
    list.retain(|n| n["type"] != typ);
    list.push(serde_json::json!({"type": typ, "path": path}));
}

/// A process in namespaces of its own (`unshare` flags), killed and reaped on drop: the
/// thing a container joins by path.
pub struct NsHolder(std::process::Child);

impl NsHolder {
    pub fn new(unshare_flags: &[&str]) -> NsHolder {
        let child = std::process::Command::new("unshare")
            .args(unshare_flags)
            .args(["sleep", "1000"])
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("unshare");
        let holder = NsHolder(child);
        // unshare execs sleep once the namespaces exist: wait for that exec.
        let pid = holder.pid();
        for _ in 0..500 {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "sleep" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        holder
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// `/proc/<pid>/ns/<file>`.
    pub fn ns(&self, file: &str) -> String {
        format!("/proc/{}/ns/{file}", self.pid())
    }

    /// The namespace's identity (`net:[4026532…]`).
    pub fn ns_id(&self, file: &str) -> String {
        std::fs::read_link(self.ns(file))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for NsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
