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
    /// The container process's pid is known (it is still being set up).
    fn container_pid(&mut self, pid: i32) -> Result<()>;
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
pub fn launch(
    root: &Path,
    cfg: InitConfig,
    cgroup: &Cgroup,
    console: Option<&OwnedFd>,
    events: &mut dyn LaunchEvents,
) -> Result<Launched> {
    spawn(root, cgroup, true, console, 0)?.configure(cfg, events)
}

/// An init process that is starting (exec'ing the sealed binary) and waits for its config.
/// Dropped without [`Spawned::configure`], it is killed and reaped.
pub struct Spawned {
    first: i32,
    parent: UnixStream,
    guard: ReapOnDrop,
    console_fd: Option<i32>,
    cgroup: Cgroup,
    /// CLONE_NEW* flags the init was created with (0: it makes its namespaces itself).
    born_in: i32,
}

/// Forks and execs the sealed init in `cgroup` (whose directories must exist), or, when not
/// `place`d, where the caller is (the systemd driver: systemd moves it into its scope). The caller
/// may prepare the config meanwhile: the init's exec and start-up overlap that work.
///
/// The init joins `cgroup` without a `cgroup.procs` write (each of which waits for an RCU
/// grace period in the kernel): it is forked straight into the unified-tree directory
/// (clone3 `CLONE_INTO_CGROUP`), and moves itself into the v1 directories by writing `0` to
/// their `tasks` files, first thing after it gets its config (see
/// `Cgroup::join_v1_as_current_thread`), so before it does anything else. Where clone3
/// cannot do it, the unified directory is joined through `cgroup.procs`.
///
/// `namespaces` (CLONE_NEW* flags, possibly 0) are created by the same clone3, so the init
/// is the container process itself (pid 1 of a new pid namespace): no second fork. Only
/// for containers that neither join namespaces nor make a user namespace (those need the
/// init's ordered steps), and never with the cgroup namespace, whose root must be the
/// container's cgroup (the init unshares it after joining). If clone3 refuses, the init is
/// forked plainly and makes the namespaces itself.
///
/// `root` is the runtime's state root (`--root`): the sealed binary's mount needs an empty
/// directory, kept there.
pub fn spawn(
    root: &Path,
    cgroup: &Cgroup,
    place: bool,
    console: Option<&OwnedFd>,
    namespaces: i32,
) -> Result<Spawned> {
    let exe = crate::sealed_exe::sealed_self(root)?;
    let (parent, child) = UnixStream::pair().sys(|| "socketpair".into())?;
    let unified = cgroup.unified_path().filter(|_| place).and_then(|p| {
        rustix::fs::open(
            p,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
    });
    let namespaces = namespaces & !crate::init::libc_flags::CLONE_NEWCGROUP;
    let into = unified.as_ref().map(|fd| fd.as_fd());
    // Namespaces clone3 may not create (e.g. time on older kernels): retry with the cgroup
    // only, then plainly.
    let cloned = berth_sys::process::fork_into(into, namespaces)
        .map(|f| (f, namespaces))
        .or_else(|_| berth_sys::process::fork_into(into, 0).map(|f| (f, 0)));
    let (forked, in_unified, born_in) = match cloned {
        Ok((f, ns)) => (f, into.is_some(), ns),
        Err(_) => (berth_sys::process::fork().sys(|| "fork".into())?, false, 0),
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
    let spawned = Spawned {
        first,
        parent,
        guard: ReapOnDrop(Some(first)),
        console_fd: console.map(|c| c.as_raw_fd()),
        cgroup: cgroup.clone(),
        born_in,
    };
    if !in_unified && place {
        cgroup.add_process_unified(first)?;
    }
    Ok(spawned)
}

impl Spawned {
    /// The forked init's pid.
    pub fn pid(&self) -> i32 {
        self.first
    }

    /// Sends the init its config and drives it until it reports Ready.
    pub fn configure(self, mut cfg: InitConfig, events: &mut dyn LaunchEvents) -> Result<Launched> {
        let Spawned {
            first,
            mut parent,
            mut guard,
            console_fd,
            cgroup,
            born_in,
        } = self;
        cfg.console_fd = console_fd;
        cfg.cgroup = Some(cgroup);
        cfg.born_in = born_in;
        let uid_maps = mappings(&cfg.spec, true);
        let gid_maps = mappings(&cfg.spec, false);
        channel::send(&mut parent, &Msg::Config(Box::new(cfg)))?;
        let mut pid = None;
        if born_in != 0 {
            // The init is the container process; it sends no Pid.
            pid = Some(first);
            events.container_pid(first)?;
        }
        loop {
            match channel::recv(&mut parent)? {
                Some(Msg::NeedIdMaps) => {
                    write_map(first, "uid_map", &uid_maps)?;
                    write_map(first, "gid_map", &gid_maps)?;
                    channel::send(&mut parent, &Msg::Continue)?;
                }
                Some(Msg::Pid(p)) => {
                    // The first stage exits after forking the container process; it is reaped
                    // once the container is ready, so waiting for it is off the critical path.
                    if p == first {
                        guard.0 = None;
                    }
                    pid = Some(p);
                    events.container_pid(p)?;
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
        if born_in != 0 {
            guard.0 = None;
        }
        if let Some(first) = guard.0.take().and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::waitpid(Some(first), rustix::process::WaitOptions::empty());
        }
        let pid = pid.ok_or_else(|| Error::Init("init never reported the container pid".into()))?;
        Ok(Launched { pid, sock: parent })
    }
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
