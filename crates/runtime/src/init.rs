//! The container side: code that runs in the process exec'd from the sealed binary copy.
//!
//! Stage 1 (host pid namespace): join/unshare namespaces (asking the runtime to write id maps
//! for a new user namespace), then fork the container process into the new pid namespace as a
//! sibling (CLONE_PARENT), report its pid and exit. Stage 2 (the container process): mounts,
//! hooks, pivot_root, hostname, sysctl, console; report ready; wait on the exec fifo (create)
//! and finally drop privileges and execve the program.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use berth_sys::process::Forked;

use crate::channel::{self, InitConfig, Msg, INIT_FD_ENV};
use crate::error::{Context, Error, Result};
use crate::process_setup;

/// Entry point of the init process (never returns).
pub fn main() -> ! {
    let mut sock = match take_socket() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("berth init: {e}");
            berth_sys::process::exit_immediately(1);
        }
    };
    let err = run(&mut sock);
    // run() only returns on failure (success ends in execve or a stage-1 exit).
    let msg = err.to_string();
    if channel::send(&mut sock, &Msg::Error(msg.clone())).is_err() {
        eprintln!("berth init: {msg}");
    }
    berth_sys::process::exit_immediately(1);
}

fn take_socket() -> Result<UnixStream> {
    let fd: i32 = std::env::var(INIT_FD_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Other(format!("{INIT_FD_ENV} not set")))?;
    std::env::remove_var(INIT_FD_ENV);
    let fd = berth_sys::fd::take_inherited(fd).sys(|| "init socket".into())?;
    rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC).sys(|| "cloexec".into())?;
    Ok(UnixStream::from(fd))
}

fn expect_continue(sock: &mut UnixStream) -> Result<()> {
    match channel::recv(sock)? {
        Some(Msg::Continue) => Ok(()),
        other => Err(Error::Other(format!(
            "init: expected Continue, got {other:?}"
        ))),
    }
}

fn run(sock: &mut UnixStream) -> Error {
    match stage1(sock) {
        Ok(cfg) => stage2(sock, *cfg),
        Err(e) => e,
    }
}

fn become_root() -> Result<()> {
    let zero_g = rustix::process::Gid::ROOT;
    let zero_u = rustix::process::Uid::ROOT;
    rustix::thread::set_thread_res_gid(zero_g, zero_g, zero_g).sys(|| "setresgid 0".into())?;
    rustix::thread::set_thread_res_uid(zero_u, zero_u, zero_u).sys(|| "setresuid 0".into())
}

/// Namespaces, then the pid-namespace fork. Returns in the container process only.
fn stage1(sock: &mut UnixStream) -> Result<Box<InitConfig>> {
    let cfg = match channel::recv(sock)? {
        Some(Msg::Config(cfg)) => cfg,
        other => {
            return Err(Error::Other(format!(
                "init: expected config, got {other:?}"
            )))
        }
    };
    // Before any namespace changes what /sys/fs/cgroup shows (we are single-threaded).
    if let Some(cg) = &cfg.cgroup {
        cg.join_v1_as_current_thread()?;
    }
    if cfg.born_in != 0 {
        // Created in its namespaces by the runtime's clone3 (no joins, no user namespace):
        // only what clone3 left out remains (the cgroup namespace, rooted where we are now).
        let rest = cfg.unshare & !cfg.born_in;
        if rest != 0 {
            berth_sys::process::unshare(rest).sys(|| "unshare namespaces".into())?;
        }
        return Ok(cfg);
    }
    let mut joined_user = false;
    for (flag, path) in &cfg.join {
        let f = File::open(path).sys(|| format!("open namespace {}", path.display()))?;
        rustix::thread::move_into_link_name_space(f.as_fd(), None)
            .sys(|| format!("setns {}", path.display()))?;
        if *flag == libc_flags::CLONE_NEWUSER {
            joined_user = true;
            become_root()?;
        }
    }
    if cfg.new_userns {
        berth_sys::process::unshare(libc_flags::CLONE_NEWUSER)
            .sys(|| "unshare user namespace".into())?;
        channel::send(sock, &Msg::NeedIdMaps)?;
        expect_continue(sock)?;
        become_root()?;
    }
    let _ = joined_user;
    if cfg.unshare != 0 {
        berth_sys::process::unshare(cfg.unshare).sys(|| "unshare namespaces".into())?;
    }
    if cfg.fork {
        match berth_sys::process::fork_as_sibling().sys(|| "fork into pid namespace".into())? {
            Forked::Parent(pid) => {
                let _ = channel::send(sock, &Msg::Pid(pid));
                berth_sys::process::exit_immediately(0);
            }
            Forked::Child => {}
        }
    } else {
        channel::send(sock, &Msg::Pid(std::process::id() as i32))?;
    }
    Ok(cfg)
}

/// CLONE_NEW* values (stable kernel ABI), without pulling libc into this crate.
pub mod libc_flags {
    /// New mount namespace.
    pub const CLONE_NEWNS: i32 = 0x0002_0000;
    /// New cgroup namespace.
    pub const CLONE_NEWCGROUP: i32 = 0x0200_0000;
    /// New UTS namespace.
    pub const CLONE_NEWUTS: i32 = 0x0400_0000;
    /// New IPC namespace.
    pub const CLONE_NEWIPC: i32 = 0x0800_0000;
    /// New user namespace.
    pub const CLONE_NEWUSER: i32 = 0x1000_0000;
    /// New pid namespace.
    pub const CLONE_NEWPID: i32 = 0x2000_0000;
    /// New network namespace.
    pub const CLONE_NEWNET: i32 = 0x4000_0000;
}

fn stage2(sock: &mut UnixStream, cfg: InitConfig) -> Error {
    match setup(sock, &cfg) {
        Ok(program) => {
            let process = cfg.spec.process().clone().unwrap_or_default();
            process_setup::exec(&process, &program)
        }
        Err(e) => e,
    }
}

fn setup(sock: &mut UnixStream, cfg: &InitConfig) -> Result<std::path::PathBuf> {
    let spec = &cfg.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| crate::error::invalid("process", "missing"))?;
    // The exec fifo must be opened before pivot_root hides the host's /run.
    let fifo = match &cfg.fifo {
        Some(p) => Some(
            rustix::fs::open(
                p,
                rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .sys(|| format!("open {}", p.display()))?,
        ),
        None => None,
    };
    let console = match cfg.console_fd {
        Some(fd) => {
            let fd = berth_sys::fd::take_inherited(fd).sys(|| "console socket".into())?;
            rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC).sys(|| "cloexec".into())?;
            Some(fd)
        }
        None => None,
    };
    let mut hook_state = String::new();
    if !cfg.exec {
        let has_mntns = cfg.unshare & libc_flags::CLONE_NEWNS != 0;
        if has_mntns {
            crate::rootfs::mount_all(spec, &cfg.rootfs, &cfg.bundle, cfg.cgroup_v2)?;
        }
        // The round trip to the runtime is only needed for hooks (the runtime runs
        // prestart/createRuntime; createContainer/startContainer need the state document).
        if has_pre_start_hooks(spec) {
            channel::send(sock, &Msg::BeforePivot)?;
            hook_state = match channel::recv(sock)? {
                Some(Msg::HookState(s)) => s,
                other => {
                    return Err(Error::Other(format!(
                        "init: expected hook state, got {other:?}"
                    )))
                }
            };
        }
        crate::hooks::run(
            "createContainer",
            spec.hooks()
                .as_ref()
                .and_then(|h| h.create_container().as_ref()),
            &hook_state,
        )?;
        if has_mntns {
            crate::rootfs::switch_root(&cfg.rootfs, cfg.no_pivot)?;
        } else {
            rustix::process::chroot(&cfg.rootfs).sys(|| "chroot".into())?;
        }
        if cfg.unshare & libc_flags::CLONE_NEWUTS != 0 {
            if let Some(h) = spec.hostname() {
                rustix::system::sethostname(h.as_bytes())
                    .map_err(|e| crate::error::invalid("hostname", e.to_string()))?;
            }
            if let Some(d) = spec.domainname() {
                rustix::system::setdomainname(d.as_bytes())
                    .map_err(|e| crate::error::invalid("domainname", e.to_string()))?;
            }
        }
        crate::rootfs::apply_sysctl(spec)?;
        if has_mntns {
            crate::rootfs::finish(spec)?;
        }
    }
    process_setup::set_oom_score_adj(process)?;
    process_setup::set_rlimits(process)?;
    match &console {
        Some(sock) => crate::console::setup(sock)?,
        None => {
            let _ = rustix::process::setsid();
        }
    }
    drop(console);
    let program = process_setup::resolve_program(process)?;
    channel::send(sock, &Msg::Ready)?;
    if let Some(fifo) = fifo {
        let started = wait_for_start(&fifo)?;
        if let Err(e) = crate::hooks::run(
            "startContainer",
            spec.hooks()
                .as_ref()
                .and_then(|h| h.start_container().as_ref()),
            &hook_state,
        ) {
            eprintln!("berth: {e}");
            berth_sys::process::exit_immediately(1);
        }
        // Only now may `start` go on to the poststart hooks: the startContainer hooks ran.
        rustix::io::write(&started, b"0").sys(|| "write exec fifo".into())?;
    }
    process_setup::drop_privileges(process, spec.linux().as_ref())?;
    // Nothing of ours may leak into the container: only stdio and the preserved fds stay.
    berth_sys::process::cloexec_from(3 + cfg.preserve_fds).sys(|| "close_range".into())?;
    rustix::io::fcntl_setfd(sock.as_fd(), rustix::io::FdFlags::CLOEXEC).sys(|| "cloexec".into())?;
    Ok(program)
}

/// True when the spec has prestart, createRuntime, createContainer or startContainer hooks.
fn has_pre_start_hooks(spec: &oci_spec::runtime::Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        [
            h.prestart(),
            h.create_runtime(),
            h.create_container(),
            h.start_container(),
        ]
        .iter()
        .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()))
    })
}

/// Blocks until `start` opens the fifo for reading; returns the write end. Writing one byte
/// to it tells `start` that the container is about to exec its program.
fn wait_for_start(fifo: &OwnedFd) -> Result<OwnedFd> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    rustix::fs::open(
        path.as_str(),
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .sys(|| "open exec fifo".into())
}
