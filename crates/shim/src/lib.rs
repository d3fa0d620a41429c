//! berth-shim: one small single-threaded monitor per running container, and the pieces the
//! daemon shares with it (the socket protocol, its command line, the exit record). Logs go
//! through `berth_logdriver` (json-file, local, journald, syslog, none).
//!
//! The daemon starts `berth-shim` with the container's bundle; the shim
//! 1. becomes a session leader and child subreaper (it survives the daemon),
//! 2. binds its socket (a short path under the exec root, never abstract),
//! 3. runs `berth-runtime create` with the container's stdio as pipes, or a pty received
//!    through `--console-socket`, and prints `ok <pid>` or `err <message>` on stdout,
//! 4. serves one daemon connection at a time: `START` runs `berth-runtime start`; `KILL`
//!    signals the container's init through the shim's pidfd of it (answered by `KILLED`: no
//!    process per signal, and never a process that reused the pid); stdin, resize and
//!    close-stdin frames go to the container; output frames and `EXITED` go out,
//! 5. writes every output line to the container's log driver (`--log-config`), reaps
//!    the container (pidfd), records the exit code (and whether the OOM killer struck, read
//!    from the container's cgroup while it still exists) in `<state>/exit.json`, sends `EXITED`,
//!    deletes the runtime state, removes its socket and exits.
//!
//! A restarted daemon reconnects to the socket (live restore); a shim that ended while the
//! daemon was away left its exit record behind.
//!
//! No async runtime, no threads, no argument-parsing or logging framework: `poll(2)` over a
//! handful of descriptors, so that a hundred idle shims cost a fraction of a MiB each.

pub mod protocol;

mod args;
mod logging;
mod monitor;
mod oom;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use args::ShimArgs;

/// What the shim records when the container exits (`<state>/exit.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Exit status (128 + signal when killed).
    pub exit_code: i64,
    /// RFC 3339 time of the exit.
    pub finished_at: String,
    /// The OOM killer killed a process of the container (its cgroup's `oom_kill` counter,
    /// read before the cgroup was removed).
    #[serde(default)]
    pub oom_killed: bool,
}

/// Socket path of the shim whose state dir is `<exec-root>/containers/<id>`:
/// `<exec-root>/s/<id[..12]>.sock`, short enough for `sun_path` (108 bytes) even under deep
/// exec roots.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    short_path(state_dir, "sock")
}

/// `<exec-root>/s/<id[..12]>.<ext>` (the directory is created).
pub(crate) fn short_path(state_dir: &Path, ext: &str) -> PathBuf {
    let id = state_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let short: String = id.chars().take(12).collect();
    let root = state_dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or(state_dir);
    let dir = root.join("s");
    {
        // The sockets are the daemon's channel to its shims: root's alone.
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir);
    }
    dir.join(format!("{short}.{ext}"))
}

/// Exit record path in `state_dir`.
pub fn exit_path(state_dir: &Path) -> PathBuf {
    state_dir.join("exit.json")
}

/// Entry point of `berth-shim` (and `berth shim`): `args` is the argv after the program
/// (and subcommand) name. Returns the process exit code.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let args = match ShimArgs::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("berth-shim: {e}");
            return 2;
        }
    };
    let _ = rustix::process::setsid();
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    match monitor::Shim::create(&args) {
        Ok(shim) => {
            println!("ok {}", shim.pid());
            let _ = std::io::stdout().flush();
            // Detach from the daemon's pipes so a dead daemon never blocks us.
            if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
                let _ = rustix::stdio::dup2_stdout(&null);
                let _ = rustix::stdio::dup2_stderr(&null);
                let _ = rustix::stdio::dup2_stdin(&null);
            }
            shim.run();
            0
        }
        Err(msg) => {
            let _ = std::fs::remove_file(socket_path(&args.state_dir));
            println!("err {}", msg.replace('\n', " "));
            let _ = std::io::stdout().flush();
            1
        }
    }
}
