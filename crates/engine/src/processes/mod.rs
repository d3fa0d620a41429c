//! The seam between the services that run a process in a running container (`Execs`: `docker
//! exec`; `Health`: the probes) and what starts it: [`ProcessRuntime`]. The services build
//! the process as a typed `oci_spec` [`Process`] and say how its stdio is wired (pipes or a
//! pty); the runtime starts it, hands back its pid, stdio and pty, a future of its exit, and a
//! way to kill it. [`RuntimeExec`] is the real one (`berth-runtime exec`, exactly what the
//! services ran before the seam); unit tests use the in-memory fake of `processes/fake.rs`
//! (no root, no processes).

#[cfg(test)]
pub mod fake;
mod runtime_exec;

use std::future::Future;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::pin::Pin;

use oci_spec::runtime::Process;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{EngineError, Result};

pub use runtime_exec::RuntimeExec;

/// A boxed, `Send` future (the trait is used as `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A process's output (or the runtime's errors), read by the service.
pub type ProcessOutput = Box<dyn AsyncRead + Send + Unpin>;

/// A process's input, written by the service.
pub type ProcessInput = Box<dyn AsyncWrite + Send + Unpin>;

/// How the process's stdio is wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    /// Pipes: stdout and stderr, and stdin when `stdin` (else `/dev/null`).
    Pipes {
        /// A stdin pipe.
        stdin: bool,
    },
    /// A pty: the runtime hands its master over (stdout is then only the pty's; the
    /// runtime's own errors come on `stderr`).
    Tty,
}

/// What to start.
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    /// The running container (full id).
    pub container: &'a str,
    /// A unique id of this process (an exec's id; names its files).
    pub id: &'a str,
    /// The process, complete (args, env, user, cwd, terminal, capabilities …).
    pub process: &'a Process,
    /// Its stdio.
    pub stdio: Stdio,
    /// The process is killed when its [`Launched::exit`] future is dropped (a health probe
    /// that is given up); otherwise it runs on whoever waits.
    pub kill_on_drop: bool,
}

/// How a started process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessExit {
    /// Its exit code (None: unknown, e.g. waiting failed).
    pub code: Option<i64>,
    /// The program ran (false: the runtime could not start it: missing, not executable).
    pub ran: bool,
}

/// Kills a started process (inside the container, not only what launched it).
pub type Killer = Box<dyn Fn() + Send + Sync>;

/// A started process.
pub struct Launched {
    /// The host pid of what runs it (shown as the exec's `Pid`).
    pub pid: i64,
    /// Its stdin ([`Stdio::Pipes`] with `stdin`).
    pub stdin: Option<ProcessInput>,
    /// Its stdout ([`Stdio::Pipes`]).
    pub stdout: Option<ProcessOutput>,
    /// Its stderr with pipes; with a tty, the runtime's error messages.
    pub stderr: Option<ProcessOutput>,
    /// The pty master ([`Stdio::Tty`]).
    pub pty: Option<OwnedFd>,
    /// Resolves when the process has ended.
    pub exit: BoxFuture<'static, ProcessExit>,
    /// Kills the process.
    pub kill: Killer,
}

impl std::fmt::Debug for Launched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launched")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// What `Execs` and `Health` ask of whatever starts processes in running containers.
pub trait ProcessRuntime: Send + Sync + std::fmt::Debug {
    /// Starts `launch.process` in the running container; an error when it could not be
    /// started (the runtime's message when it has one).
    fn launch<'a>(&'a self, launch: Launch<'a>) -> BoxFuture<'a, Result<Launched>>;
}

/// `container`'s environment with `over` set on it: a variable of `over` replaces the
/// container's of the same name (and an earlier one of `over`), and comes last.
pub fn merge_env(container: &[String], over: &[String]) -> Vec<String> {
    let mut env = container.to_vec();
    for kv in over {
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    env
}

/// The part of a bundle's `config.json` a process in the container starts from.
#[derive(serde::Deserialize)]
struct Bundle {
    process: Option<Process>,
}

/// The container's own process, from its bundle (`<state_dir>/config.json`): what an exec or
/// a probe changes.
pub fn bundle_process(state_dir: &Path) -> Result<Process> {
    let bytes = std::fs::read(state_dir.join("config.json")).map_err(EngineError::internal)?;
    let bundle: Bundle = serde_json::from_slice(&bytes).map_err(EngineError::internal)?;
    bundle
        .process
        .ok_or_else(|| EngineError::internal("the container's bundle has no process"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn env_of_the_exec_wins_and_comes_last() {
        let c = strings(&["PATH=/bin", "A=1", "B=2"]);
        assert_eq!(
            merge_env(&c, &strings(&["A=3", "C=4", "C=5"])),
            strings(&["PATH=/bin", "B=2", "A=3", "C=5"])
        );
        assert_eq!(merge_env(&c, &[]), c);
        // A bare name is a variable too (the runtime passes it on as given).
        assert_eq!(
            merge_env(&c, &strings(&["B"])),
            strings(&["PATH=/bin", "A=1", "B"])
        );
    }

    #[test]
    fn the_process_comes_from_the_bundle() {
        let dir = berth_testkit::TempDir::new("berth-bundle-process-");
        assert!(bundle_process(dir.path()).is_err(), "no bundle");
        std::fs::write(dir.path().join("config.json"), br#"{"ociVersion":"1.0.2"}"#).unwrap();
        let err = bundle_process(dir.path()).unwrap_err();
        assert!(err.to_string().contains("no process"), "{err}");
        let spec = r#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/w","user":{"uid":1,"gid":2}}}"#;
        std::fs::write(dir.path().join("config.json"), spec).unwrap();
        let p = bundle_process(dir.path()).unwrap();
        assert_eq!(p.args().as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(p.cwd(), &std::path::PathBuf::from("/w"));
        assert_eq!((p.user().uid(), p.user().gid()), (1, 2));
    }
}
