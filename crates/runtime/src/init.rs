//! The container side: code that runs in the process exec'd from the sealed binary copy.
//!
//! Stage 1 (host pid namespace): join (each by its type) and unshare namespaces, asking the
//! runtime to write id maps for a new user namespace, then fork the container process into
//! the new pid namespace as a sibling (CLONE_PARENT), report its pid and exit. Stage 2 (the
//! container process): mounts, hooks, pivot_root, hostname, sysctl, stdio, console, then
//! every step that can fail before the program runs (user, capabilities, seccomp unless it
//! must come last, descriptors, cwd, LSM label), and only then Ready. `create` therefore
//! fails with any of those errors. What is left after Ready (create: wait on the exec fifo,
//! startContainer hooks, the no_new_privs seccomp filter, execve) reports its failure to
//! whoever waits: `start` through the exec fifo, `exec` through the socket.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use berth_sys::process::Forked;
use rustix::thread::LinkNameSpaceType;

use crate::channel::{self, InitConfig, Msg, INIT_FD_ENV};
use crate::error::{invalid, Context, Error, Result};
use crate::process_setup;

/// Entry point of the init process (never returns).
pub fn main() -> ! {
    let mut link = match Link::take() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("berth init: {e}");
            berth_sys::process::exit_immediately(1);
        }
    };
    // run() only returns on failure (success ends in execve or a stage-1 exit).
    let err = run(&mut link);
    link.report(&err.to_string());
    berth_sys::process::exit_immediately(1);
}

/// The init's side of its connection to the runtime.
struct Link {
    sock: UnixStream,
    /// In the container process after the pid-namespace fork: the read end of a pipe whose
    /// only writer is the first stage. It reaches EOF once the first stage has sent the
    /// container's pid and exited, so nothing the container process sends (Ready, an error)
    /// can overtake the Pid message.
    gate: Option<OwnedFd>,
    /// Once `start` opened the exec fifo: its write end. `create` has exited by then, so
    /// errors go there, for `start` to report.
    started: Option<OwnedFd>,
}

impl Link {
    fn take() -> Result<Link> {
        let fd: i32 = std::env::var(INIT_FD_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::Other(format!("{INIT_FD_ENV} not set")))?;
        std::env::remove_var(INIT_FD_ENV);
        let fd = berth_sys::fd::take_inherited(fd).sys(|| "init socket".into())?;
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC).sys(|| "cloexec".into())?;
        Ok(Link {
            sock: UnixStream::from(fd),
            gate: None,
            started: None,
        })
    }

    fn send(&mut self, msg: &Msg) -> Result<()> {
        if let Some(gate) = self.gate.take() {
            let mut byte = [0u8; 1];
            loop {
                match rustix::io::read(&gate, &mut byte) {
                    Ok(0) => break,
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(_) => break,
                }
            }
        }
        channel::send(&mut self.sock, msg)
    }

    fn recv(&mut self) -> Result<Option<Msg>> {
        channel::recv(&mut self.sock)
    }

    /// Reports a failure to whoever waits for this process: `start` (after the exec fifo
    /// was opened; the container's stderr gets it too, where runc writes it), else
    /// `create`/`exec` over the socket, else stderr.
    fn report(&mut self, msg: &str) {
        if let Some(fifo) = &self.started {
            eprintln!("berth init: {msg}");
            if write_all(fifo, msg.as_bytes()).is_ok() {
                return;
            }
        }
        if self.send(&Msg::Error(msg.to_string())).is_err() {
            eprintln!("berth init: {msg}");
        }
    }
}

fn write_all(fd: &OwnedFd, mut bytes: &[u8]) -> rustix::io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn expect_continue(link: &mut Link) -> Result<()> {
    match link.recv()? {
        Some(Msg::Continue) => Ok(()),
        other => Err(Error::Other(format!(
            "init: expected Continue, got {other:?}"
        ))),
    }
}

fn run(link: &mut Link) -> Error {
    match stage1(link) {
        Ok(stage) => stage2(link, stage),
        Err(e) => e,
    }
}

fn become_root() -> Result<()> {
    let zero_g = rustix::process::Gid::ROOT;
    let zero_u = rustix::process::Uid::ROOT;
    rustix::thread::set_thread_res_gid(zero_g, zero_g, zero_g).sys(|| "setresgid 0".into())?;
    rustix::thread::set_thread_res_uid(zero_u, zero_u, zero_u).sys(|| "setresuid 0".into())
}

/// What stage 1 hands to the container process.
struct Stage {
    cfg: Box<InitConfig>,
    /// The exec fifo, opened `O_PATH` before any namespace or root changes (create only).
    fifo: Option<OwnedFd>,
}

/// Namespaces, then the pid-namespace fork. Returns in the container process only.
fn stage1(link: &mut Link) -> Result<Stage> {
    let cfg = match link.recv()? {
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
    // Opened here, while the path still means what it meant to `create`: a joined mount
    // namespace or the pivot may hide it later.
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
    if cfg.born_in != 0 {
        // Created in its namespaces by the runtime's clone3 (no joins, no user namespace):
        // only what clone3 left out remains (the cgroup namespace, rooted where we are now).
        let rest = cfg.unshare & !cfg.born_in;
        if rest != 0 {
            berth_sys::process::unshare(rest).sys(|| "unshare namespaces".into())?;
        }
        return Ok(Stage { cfg, fifo });
    }
    for (flag, path) in &cfg.join {
        join(*flag, path)?;
        if *flag == libc_flags::CLONE_NEWUSER {
            become_root()?;
        }
    }
    if cfg.new_userns {
        berth_sys::process::unshare(libc_flags::CLONE_NEWUSER)
            .sys(|| "unshare user namespace".into())?;
        link.send(&Msg::NeedIdMaps)?;
        expect_continue(link)?;
        become_root()?;
    }
    if cfg.unshare != 0 {
        berth_sys::process::unshare(cfg.unshare).sys(|| "unshare namespaces".into())?;
    }
    if cfg.fork {
        let (gate_r, gate_w) =
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).sys(|| "pipe".into())?;
        match berth_sys::process::fork_as_sibling().sys(|| "fork into pid namespace".into())? {
            Forked::Parent(pid) => {
                drop(gate_r);
                let _ = link.send(&Msg::Pid(pid));
                // Exiting closes the gate's write end: the container process may go on.
                berth_sys::process::exit_immediately(0);
            }
            Forked::Child => {
                drop(gate_w);
                link.gate = Some(gate_r);
            }
        }
    } else {
        let pid = i32::try_from(std::process::id())
            .map_err(|_| Error::Other("pid out of range".into()))?;
        link.send(&Msg::Pid(pid))?;
    }
    Ok(Stage { cfg, fifo })
}

/// setns into the namespace at `path`, which must be of the type `flag` names (the kernel
/// refuses another type with EINVAL).
fn join(flag: i32, path: &std::path::Path) -> Result<()> {
    let (typ, name) =
        link_type(flag).ok_or_else(|| Error::Other(format!("unknown namespace flag {flag:#x}")))?;
    let field = format!("linux.namespaces ({name})");
    let f =
        File::open(path).map_err(|e| invalid(&field, format!("open {}: {e}", path.display())))?;
    rustix::thread::move_into_link_name_space(f.as_fd(), Some(typ)).map_err(|e| {
        let why = if e == rustix::io::Errno::INVAL {
            format!("{} is not a {name} namespace", path.display())
        } else {
            format!("setns {}: {e}", path.display())
        };
        invalid(&field, why)
    })
}

/// The setns type and the spec's name of a CLONE_NEW* flag.
fn link_type(flag: i32) -> Option<(LinkNameSpaceType, &'static str)> {
    use libc_flags as f;
    Some(match flag {
        f::CLONE_NEWNS => (LinkNameSpaceType::Mount, "mount"),
        f::CLONE_NEWCGROUP => (LinkNameSpaceType::ControlGroup, "cgroup"),
        f::CLONE_NEWUTS => (LinkNameSpaceType::HostNameAndNISDomainName, "uts"),
        f::CLONE_NEWIPC => (LinkNameSpaceType::InterProcessCommunication, "ipc"),
        f::CLONE_NEWUSER => (LinkNameSpaceType::User, "user"),
        f::CLONE_NEWPID => (LinkNameSpaceType::ProcessID, "pid"),
        f::CLONE_NEWNET => (LinkNameSpaceType::Network, "network"),
        _ => return None,
    })
}

/// CLONE_NEW* values (stable kernel ABI), without pulling libc into this crate.
pub(crate) mod libc_flags {
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

/// What is left to do after Ready.
struct Prepared {
    program: std::path::PathBuf,
    /// The no_new_privs seccomp filter, loaded as late as possible.
    seccomp: Option<crate::seccomp::Filter>,
    fifo: Option<OwnedFd>,
    hook_state: String,
}

fn stage2(link: &mut Link, stage: Stage) -> Error {
    let cfg = &stage.cfg;
    let prepared = match prepare(link, cfg, stage.fifo) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let process = cfg.spec.process().clone().unwrap_or_default();
    if let Some(fifo) = prepared.fifo {
        let started = match wait_for_start(&fifo) {
            Ok(f) => f,
            Err(e) => return e,
        };
        drop(fifo);
        // `start` now waits for this descriptor's close (it is close-on-exec: the program
        // runs) or, before that, an error message written to it (see `Link::report`).
        link.started = Some(started);
        if let Err(e) = crate::hooks::run(
            "startContainer",
            cfg.spec
                .hooks()
                .as_ref()
                .and_then(|h| h.start_container().as_ref()),
            &prepared.hook_state,
        ) {
            return e;
        }
    }
    if let Some(filter) = &prepared.seccomp {
        if let Err(e) = filter.load() {
            return e;
        }
    }
    process_setup::exec(&process, &prepared.program)
}

/// Everything up to Ready.
fn prepare(link: &mut Link, cfg: &InitConfig, fifo: Option<OwnedFd>) -> Result<Prepared> {
    let spec = &cfg.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| invalid("process", "missing"))?;
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
        hook_state = build_container(link, cfg)?;
    }
    // Stdio that is the host's /dev/null must not stay reachable through /proc/self/fd
    // (container root could chmod the host's node): reopen the container's own.
    process_setup::reopen_dev_null()?;
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
    if let Some(fifo) = &fifo {
        // It is reopened through /proc after Ready: make sure that will work.
        rustix::fs::stat(proc_fd(fifo).as_str())
            .sys(|| "exec fifo: /proc/self/fd (the container needs /proc mounted)".into())?;
    }
    crate::lsm::apply(process)?;
    let seccomp = process_setup::drop_privileges(
        process,
        spec.linux().as_ref(),
        cfg.seccomp_program.as_deref(),
    )?;
    // Nothing of ours may leak into the container: only stdio and the preserved fds stay.
    // Done before the last seccomp filter, which may not allow close_range.
    berth_sys::process::cloexec_from(3 + cfg.preserve_fds).sys(|| "close_range".into())?;
    process_setup::chdir(process)?;
    link.send(&Msg::Ready)?;
    Ok(Prepared {
        program,
        seccomp,
        fifo,
        hook_state,
    })
}

/// create: the mounts, the pre-pivot hooks, the root switch, hostname, sysctls, masked and
/// read-only paths. Returns the state document for startContainer hooks.
fn build_container(link: &mut Link, cfg: &InitConfig) -> Result<String> {
    let spec = &cfg.spec;
    let joined = |flag: i32| cfg.join.iter().any(|(f, _)| *f == flag);
    let has = |flag: i32| cfg.unshare & flag != 0 || joined(flag);
    if !has(libc_flags::CLONE_NEWNS) {
        return Err(invalid(
            "linux.namespaces",
            "a container needs a mount namespace (new, or joined by path)",
        ));
    }
    // In a joined mount namespace, the rootfs is set up there, as runc does.
    crate::rootfs::mount_all(spec, &cfg.rootfs, &cfg.bundle, cfg.cgroup_v2)?;
    let mut hook_state = String::new();
    // The round trip to the runtime is only needed for hooks (the runtime runs
    // prestart/createRuntime; createContainer/startContainer need the state document).
    if has_pre_start_hooks(spec) {
        link.send(&Msg::BeforePivot)?;
        hook_state = match link.recv()? {
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
    crate::rootfs::switch_root(spec, &cfg.rootfs, cfg.no_pivot)?;
    if has(libc_flags::CLONE_NEWUTS) {
        if let Some(h) = spec.hostname() {
            rustix::system::sethostname(h.as_bytes())
                .map_err(|e| invalid("hostname", e.to_string()))?;
        }
        if let Some(d) = spec.domainname() {
            rustix::system::setdomainname(d.as_bytes())
                .map_err(|e| invalid("domainname", e.to_string()))?;
        }
    }
    crate::rootfs::apply_sysctl(spec)?;
    crate::rootfs::finish(spec)?;
    Ok(hook_state)
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

fn proc_fd(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Blocks until `start` opens the fifo for reading; returns the write end.
fn wait_for_start(fifo: &OwnedFd) -> Result<OwnedFd> {
    rustix::fs::open(
        proc_fd(fifo).as_str(),
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .sys(|| "open exec fifo".into())
}
