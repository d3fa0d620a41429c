//! Starting the init process from the sealed binary and driving it over the channel: the
//! part of `create` and `exec` that runs in the runtime's own process.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;

use berth_sys::process::Forked;
use oci_spec::runtime::{LinuxIdMapping, Spec};
use rustix::fs::{Mode, OFlags};

use crate::cgroup::Cgroup;
use crate::channel::{self, InitConfig, Msg, INIT_FD_ENV};
use crate::error::{Context, Error, Result};

/// Callbacks the launch needs from its caller.
pub trait LaunchEvents {
    /// The container process's pid is known.
    fn container_pid(&mut self, pid: i32);
    /// Mounts are done: run prestart/createRuntime hooks; return the hook state document.
    fn before_pivot(&mut self) -> Result<String>;
}

/// A running launch: the first child's pid and the channel.
pub struct Launched {
    /// The container process (after the pid-namespace fork).
    pub pid: i32,
    /// The channel, still open (exec waits for its EOF).
    pub sock: UnixStream,
}

/// Forks, execs the sealed init and sends it `cfg`; returns once the init reports Ready.
///
/// The init joins `cgroup` without a `cgroup.procs` write (each of which waits for an RCU
/// grace period in the kernel): it is forked straight into the unified-tree directory
/// (clone3 `CLONE_INTO_CGROUP`), and moves itself into the v1 directories by writing `0` to
/// their `tasks` files, first thing after exec (see `Cgroup::join_v1_as_current_thread`).
/// Where clone3 cannot do it, the unified directory is joined through `cgroup.procs`.
pub fn launch(
    mut cfg: InitConfig,
    cgroup: &Cgroup,
    console: Option<&OwnedFd>,
    events: &mut dyn LaunchEvents,
) -> Result<Launched> {
    let exe = crate::sealed_exe::sealed_self()?;
    let (mut parent, child) = UnixStream::pair().sys(|| "socketpair".into())?;
    cfg.console_fd = console.map(|c| c.as_raw_fd());
    cfg.cgroup = Some(cgroup.clone());
    let uid_maps = mappings(&cfg.spec, true);
    let gid_maps = mappings(&cfg.spec, false);
    let unified = cgroup.unified_path().and_then(|p| {
        rustix::fs::open(
            p,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
    });
    let (forked, in_unified) = match unified
        .as_ref()
        .map(|fd| berth_sys::process::fork_into_cgroup(fd.as_fd()))
    {
        Some(Ok(f)) => (f, true),
        _ => (berth_sys::process::fork().sys(|| "fork".into())?, false),
    };
    let first = match forked {
        Forked::Child => {
            // Only these two descriptors survive the exec (everything of ours is CLOEXEC).
            let _ = rustix::io::fcntl_setfd(&child, rustix::io::FdFlags::empty());
            if let Some(c) = console {
                let _ = rustix::io::fcntl_setfd(c, rustix::io::FdFlags::empty());
            }
            let err = std::process::Command::new(format!("/proc/self/fd/{}", exe.as_raw_fd()))
                .arg0("berth-runtime")
                .arg("init")
                .env(INIT_FD_ENV, child.as_raw_fd().to_string())
                .exec();
            eprintln!("berth: exec init: {err}");
            berth_sys::process::exit_immediately(127);
        }
        Forked::Parent(pid) => pid,
    };
    drop(child);
    drop(exe);
    drop(unified);
    let mut guard = ReapOnDrop(Some(first));
    if !in_unified {
        cgroup.add_process_unified(first)?;
    }
    channel::send(&mut parent, &Msg::Config(Box::new(cfg)))?;
    let mut pid = None;
    loop {
        match channel::recv(&mut parent)? {
            Some(Msg::NeedIdMaps) => {
                write_map(first, "uid_map", &uid_maps)?;
                write_map(first, "gid_map", &gid_maps)?;
                channel::send(&mut parent, &Msg::Continue)?;
            }
            Some(Msg::Pid(p)) => {
                if p != first {
                    // The first stage exits after forking the container process.
                    let _ = rustix::process::waitpid(
                        Some(rustix::process::Pid::from_raw(first).expect("pid > 0")),
                        rustix::process::WaitOptions::empty(),
                    );
                    guard.0 = None;
                }
                pid = Some(p);
                events.container_pid(p);
            }
            Some(Msg::BeforePivot) => {
                let state = events.before_pivot()?;
                channel::send(&mut parent, &Msg::HookState(state))?;
            }
            Some(Msg::Ready) => break,
            Some(Msg::Error(m)) => return Err(Error::Init(m)),
            Some(other) => return Err(Error::Init(format!("unexpected message {other:?}"))),
            None => {
                return Err(Error::Init(
                    "init exited before the container was ready".into(),
                ))
            }
        }
    }
    guard.0 = None;
    let pid = pid.ok_or_else(|| Error::Init("init never reported the container pid".into()))?;
    Ok(Launched { pid, sock: parent })
}

/// Kills and reaps the first child if the launch fails before it exits on its own.
struct ReapOnDrop(Option<i32>);

impl Drop for ReapOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
    }
}

fn mappings(spec: &Spec, uid: bool) -> Vec<LinuxIdMapping> {
    let linux = spec.linux().as_ref();
    let m = if uid {
        linux.and_then(|l| l.uid_mappings().clone())
    } else {
        linux.and_then(|l| l.gid_mappings().clone())
    };
    m.unwrap_or_default()
}

fn write_map(pid: i32, file: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    let field = if file == "uid_map" {
        "linux.uidMappings"
    } else {
        "linux.gidMappings"
    };
    if maps.is_empty() {
        return Err(crate::error::invalid(
            field,
            "a new user namespace needs mappings",
        ));
    }
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, text.as_bytes())
        .map_err(|e| crate::error::invalid(field, format!("write {path}: {e}")))
}

/// Waits for `pid` (a child of ours) and returns its exit code the way a shell reports it:
/// the exit status, or 128 + the signal that killed it.
pub fn wait_exit_code(pid: i32) -> Result<i32> {
    let p = rustix::process::Pid::from_raw(pid).ok_or_else(|| Error::Other("bad pid".into()))?;
    loop {
        match rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => {
                if let Some(code) = status.exit_status() {
                    return Ok(code);
                }
                if let Some(sig) = status.terminating_signal() {
                    return Ok(128 + sig);
                }
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e).sys(|| format!("wait for {pid}")),
        }
    }
}

/// True if `path` exists (namespace files are checked before launching).
pub fn exists(path: &Path) -> bool {
    path.exists()
}
