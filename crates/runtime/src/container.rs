//! The lifecycle operations behind runc's commands: create, start, run, state, kill,
//! delete, exec, ps, pause, resume, list.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use crate::cgroup::Cgroup;
use crate::channel::InitConfig;
use crate::error::{invalid, Context, Error, Result};
use crate::launch::{self, LaunchEvents};
use crate::state::{ContainerRecord, StateOutput, Status, EXEC_FIFO};

/// The runtime over a state root (`--root`, default /run/berth/runtime).
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Where container state directories live.
    pub root: PathBuf,
}

/// Options of `create` and `run`.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Unix socket to send the pty master to when process.terminal is set.
    pub console_socket: Option<PathBuf>,
    /// Where to write the container's pid.
    pub pid_file: Option<PathBuf>,
    /// chroot instead of pivot_root.
    pub no_pivot: bool,
    /// Pass fds 3..3+n to the container.
    pub preserve_fds: u32,
    /// `--systemd-cgroup`: the cgroup is a systemd scope unit (`slice:prefix:name`).
    pub systemd_cgroup: bool,
}

/// Options of `exec`.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Console socket for a terminal process.
    pub console_socket: Option<PathBuf>,
    /// Where to write the process's pid.
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs instead of waiting for it.
    pub detach: bool,
    /// Pass fds 3..3+n to the process.
    pub preserve_fds: u32,
}

fn ns_flag(t: LinuxNamespaceType) -> i32 {
    t as i32
}

fn ns_file(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Join order: user first (it grants the rights for the rest), mount last.
fn join_rank(t: LinuxNamespaceType) -> u8 {
    match t {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 9,
        _ => 5,
    }
}

fn connect_console(path: Option<&Path>, terminal: bool) -> Result<Option<OwnedFd>> {
    match (terminal, path) {
        (false, _) => Ok(None),
        (true, None) => Err(invalid(
            "process.terminal",
            "a terminal needs --console-socket to hand the pty to",
        )),
        (true, Some(p)) => {
            let s =
                UnixStream::connect(p).sys(|| format!("connect console socket {}", p.display()))?;
            Ok(Some(OwnedFd::from(s)))
        }
    }
}

fn write_pid_file(path: Option<&Path>, pid: i32) -> Result<()> {
    if let Some(p) = path {
        let tmp = p.with_extension("berth-tmp");
        std::fs::write(&tmp, pid.to_string()).sys(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, p).sys(|| format!("rename to {}", p.display()))?;
    }
    Ok(())
}

/// Everything a failed create must undo.
struct CreateGuard<'a> {
    dir: &'a Path,
    cgroup: Option<Cgroup>,
    /// The systemd scope made for the container.
    scope: Option<String>,
    pid: Option<i32>,
    armed: bool,
}

impl Drop for CreateGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid.and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        }
        if let Some(cg) = &self.cgroup {
            if let Ok(pids) = cg.pids() {
                for p in pids.into_iter().filter_map(rustix::process::Pid::from_raw) {
                    let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                }
            }
            if let Some(unit) = &self.scope {
                let _ = berth_cgroups::systemd::stop_scope(unit);
            }
            let _ = cg.destroy();
        }
        let _ = std::fs::remove_dir_all(self.dir);
    }
}

struct CreateEvents<'a> {
    guard_pid: Option<i32>,
    spec: &'a Spec,
    id: &'a str,
    bundle: &'a Path,
    rootfs: &'a Path,
    root: &'a Path,
    cgroup: &'a Cgroup,
    systemd_unit: Option<String>,
}

impl LaunchEvents for CreateEvents<'_> {
    /// Saves the record while the container process builds its rootfs (off the critical
    /// path); a failed create removes the whole state directory anyway.
    fn container_pid(&mut self, pid: i32) -> Result<()> {
        self.guard_pid = Some(pid);
        let start_time = crate::state::proc_stat(pid)
            .map(|(_, t)| t)
            .ok_or_else(|| Error::Init("container process vanished".into()))?;
        let record = ContainerRecord {
            id: self.id.to_string(),
            pid,
            start_time,
            bundle: self.bundle.to_path_buf(),
            rootfs: self.rootfs.to_path_buf(),
            created: berth_units::time::now_rfc3339_nanos(),
            owner: rustix::process::geteuid().as_raw(),
            cgroup: serde_json::to_value(self.cgroup).map_err(|e| Error::Other(e.to_string()))?,
            systemd_unit: self.systemd_unit.clone(),
            config: self.spec.clone(),
        };
        record.save(self.root)
    }
    fn before_pivot(&mut self) -> Result<String> {
        let state = hook_state(
            self.spec,
            self.id,
            self.guard_pid.unwrap_or(0),
            "creating",
            self.bundle,
            self.rootfs,
        );
        let hooks = self.spec.hooks().as_ref();
        crate::hooks::run(
            "prestart",
            hooks.and_then(|h| h.prestart().as_ref()),
            &state,
        )?;
        crate::hooks::run(
            "createRuntime",
            hooks.and_then(|h| h.create_runtime().as_ref()),
            &state,
        )?;
        Ok(hook_state(
            self.spec,
            self.id,
            self.guard_pid.unwrap_or(0),
            "created",
            self.bundle,
            self.rootfs,
        ))
    }
}

fn hook_state(
    spec: &Spec,
    id: &str,
    pid: i32,
    status: &str,
    bundle: &Path,
    rootfs: &Path,
) -> String {
    let out = StateOutput {
        oci_version: spec.version().clone(),
        id: id.to_string(),
        pid,
        status: status.to_string(),
        bundle: bundle.to_path_buf(),
        rootfs: rootfs.to_path_buf(),
        created: String::new(),
        owner: String::new(),
        annotations: spec.annotations().clone().unwrap_or_default(),
    };
    serde_json::to_string(&out).unwrap_or_default()
}

impl Runtime {
    /// A runtime over `root`.
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into() }
    }

    /// `create`: sets the container up and leaves its process waiting for `start`.
    /// Returns the container's pid. On failure nothing is left behind.
    pub fn create(&self, id: &str, opts: &CreateOptions) -> Result<i32> {
        crate::spec::validate_id(id)?;
        let bundle = std::fs::canonicalize(&opts.bundle)
            .map_err(|e| invalid("--bundle", format!("{}: {e}", opts.bundle.display())))?;
        let spec = crate::spec::load(&bundle)?;
        crate::spec::validate(&spec, true)?;
        crate::lsm::check(spec.process().as_ref(), spec.linux().as_ref())?;
        let rootfs = crate::spec::rootfs(&spec, &bundle)?;
        let rootfs =
            std::fs::canonicalize(&rootfs).sys(|| format!("resolve {}", rootfs.display()))?;

        // Nothing here can be listed by other users, and state.json (the whole spec,
        // environment included) is root's alone; the root and a container's directory can
        // be traversed, since a user-namespaced init opens its exec fifo by path.
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.root)
            .sys(|| format!("mkdir {}", self.root.display()))?;
        let dir = ContainerRecord::dir(&self.root, id);
        match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.to_string()))
            }
            Err(e) => return Err(e).sys(|| format!("mkdir {}", dir.display())),
        }
        let mut guard = CreateGuard {
            dir: &dir,
            cgroup: None,
            scope: None,
            pid: None,
            armed: true,
        };
        let linux = spec.linux().as_ref();
        let cgroups_path = linux
            .and_then(|l| l.cgroups_path().as_ref())
            .map(|p| p.to_string_lossy().into_owned());
        // With the systemd driver the cgroup is the scope systemd makes once the init
        // exists (a scope starts with its processes); with cgroupfs it is made now and the
        // init is forked straight into it.
        let scope = if opts.systemd_cgroup {
            let unit = berth_cgroups::systemd::ScopeUnit::parse(cgroups_path.as_deref(), id)?;
            if !berth_cgroups::systemd::is_running() {
                return Err(berth_cgroups::CgroupError::SystemdNotRunning.into());
            }
            Some(unit)
        } else {
            None
        };
        let cgroup = match &scope {
            Some(unit) => Cgroup::new(Some(&unit.cgroups_path()), id)?,
            None => Cgroup::new(cgroups_path.as_deref(), id)?,
        };
        if scope.is_none() {
            cgroup.create()?;
            guard.cgroup = Some(cgroup.clone());
        }
        let process = spec.process().clone().unwrap_or_default();
        let console = connect_console(
            opts.console_socket.as_deref(),
            process.terminal() == Some(true),
        )?;
        // The init execs and starts up while the rest is prepared; it waits for its config
        // before it does anything (and joins the v1 cgroups then, after the limits are set).
        let mut join: Vec<(LinuxNamespaceType, PathBuf)> = Vec::new();
        let mut unshare = 0;
        let mut new_userns = false;
        let mut pidns = false;
        for n in linux
            .and_then(|l| l.namespaces().as_ref())
            .into_iter()
            .flatten()
        {
            if n.typ() == LinuxNamespaceType::Pid {
                pidns = true;
            }
            match n.path() {
                Some(p) => join.push((n.typ(), p.clone())),
                None if n.typ() == LinuxNamespaceType::User => new_userns = true,
                None => unshare |= ns_flag(n.typ()),
            }
        }
        join.sort_by_key(|(t, _)| join_rank(*t));
        // Without joins or a user namespace, the init is created in its namespaces.
        let born_in = if join.is_empty() && !new_userns {
            unshare
        } else {
            0
        };
        let spawned = launch::spawn(
            &self.root,
            &cgroup,
            scope.is_none(),
            console.as_ref(),
            born_in,
        )?;
        let resources = crate::devices::with_default_device_rules(
            linux
                .and_then(|l| l.resources().clone())
                .unwrap_or_default(),
            linux.and_then(|l| l.devices().as_ref()),
        );
        if let Some(unit) = &scope {
            // The init waits for its config, so it is in the scope before it does anything.
            guard.cgroup = Some(cgroup.clone());
            berth_cgroups::systemd::start_scope(
                unit,
                spawned.pid(),
                &format!("berth container {id}"),
                &resources,
            )?;
            guard.scope = Some(unit.name.clone());
            // The directories systemd did not make (v1 controllers it does not manage), and
            // the unified-tree move where systemd left it out (both no-ops on v2).
            cgroup.create()?;
            cgroup.add_process_unified(spawned.pid())?;
        }

        let fifo = dir.join(EXEC_FIFO);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o622),
            0,
        )
        .sys(|| format!("mkfifo {}", fifo.display()))?;
        // Past the umask: the init may run as a mapped (non-root on the host) user.
        rustix::fs::chmod(&fifo, rustix::fs::Mode::from_raw_mode(0o622))
            .sys(|| format!("chmod {}", fifo.display()))?;
        cgroup.apply_resources(&resources)?;

        let cfg = InitConfig {
            exec: false,
            spec: spec.clone(),
            id: id.to_string(),
            bundle: bundle.clone(),
            rootfs: rootfs.clone(),
            fifo: Some(fifo.clone()),
            join: join.iter().map(|(t, p)| (ns_flag(*t), p.clone())).collect(),
            unshare,
            new_userns,
            fork: pidns,
            console_fd: None,
            preserve_fds: opts.preserve_fds,
            no_pivot: opts.no_pivot,
            cgroup_v2: crate::cgroup::is_v2(&cgroup),
            cgroup: None,
            born_in: 0,
            seccomp_program: linux
                .and_then(|l| l.seccomp().as_ref())
                .and_then(|s| crate::seccomp::cached_program(&self.root, s)),
        };
        let mut events = CreateEvents {
            guard_pid: None,
            spec: &spec,
            id,
            bundle: &bundle,
            rootfs: &rootfs,
            root: &self.root,
            cgroup: &cgroup,
            systemd_unit: scope.map(|u| u.name),
        };
        let launched = spawned.configure(cfg, &mut events);
        guard.pid = events.guard_pid;
        let pid = launched?.pid;
        drop(console);
        write_pid_file(opts.pid_file.as_deref(), pid)?;
        guard.armed = false;
        Ok(pid)
    }

    fn cgroup_of(record: &ContainerRecord) -> Result<Cgroup> {
        serde_json::from_value(record.cgroup.clone())
            .map_err(|e| Error::Cgroup(format!("state of {}: {e}", record.id)))
    }

    /// Loads a record and its current status.
    pub fn load(&self, id: &str) -> Result<(ContainerRecord, Status)> {
        let rec = ContainerRecord::load(&self.root, id)?;
        let cg = Self::cgroup_of(&rec).ok();
        let status = rec.status(&self.root, || {
            cg.as_ref().is_some_and(|c| c.is_frozen().unwrap_or(false))
        });
        Ok((rec, status))
    }

    /// `state`: runc's state document.
    pub fn state(&self, id: &str) -> Result<StateOutput> {
        let (rec, status) = self.load(id)?;
        Ok(rec.output(status.as_str()))
    }

    /// `start`: lets a created container's process run its program.
    pub fn start(&self, id: &str) -> Result<()> {
        let (rec, status) = self.load(id)?;
        if status != Status::Created {
            return Err(Error::BadStatus {
                id: id.into(),
                status: status.to_string(),
                message: "only a created container can be started".into(),
            });
        }
        let fifo = ContainerRecord::dir(&self.root, id).join(EXEC_FIFO);
        let f = rustix::fs::open(
            &fifo,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .sys(|| format!("open {}", fifo.display()))?;
        let started = wait_started(&rec, &f);
        let _ = std::fs::remove_file(&fifo);
        if started.is_err() {
            // The init reported its error and is exiting: make sure it is gone before we
            // say so, so `state` shows it stopped from now on.
            stop_and_wait(&rec);
        }
        started?;
        let state = serde_json::to_string(&rec.output("running")).unwrap_or_default();
        if let Err(e) = crate::hooks::run(
            "poststart",
            rec.config
                .hooks()
                .as_ref()
                .and_then(|h| h.poststart().as_ref()),
            &state,
        ) {
            eprintln!("berth: warning: {e}");
        }
        Ok(())
    }

    /// `run`: create + start; unless `detach`, waits for the process and deletes the
    /// container, returning the process's exit code (128+signal when killed).
    pub fn run(&self, id: &str, opts: &CreateOptions, detach: bool) -> Result<i32> {
        let pid = self.create(id, opts)?;
        if let Err(e) = self.start(id) {
            let _ = self.delete(id, true);
            return Err(e);
        }
        if detach {
            return Ok(0);
        }
        let code = launch::wait_exit_code(pid)?;
        self.delete(id, true)?;
        Ok(code)
    }

    /// `kill`: sends `signal` to the init process, or with `all` to every process.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let (rec, status) = self.load(id)?;
        let sig = rustix::process::Signal::from_named_raw(signal)
            .ok_or_else(|| Error::Other(format!("invalid signal {signal}")))?;
        if all {
            let cg = Self::cgroup_of(&rec)?;
            for p in cg
                .pids()?
                .into_iter()
                .filter_map(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(p, sig);
            }
            if status == Status::Paused {
                let _ = cg.thaw();
            }
            return Ok(());
        }
        if status == Status::Stopped {
            return Err(Error::BadStatus {
                id: id.into(),
                status: status.to_string(),
                message: "container not running".into(),
            });
        }
        let pid = rustix::process::Pid::from_raw(rec.pid)
            .ok_or_else(|| Error::Other("bad pid".into()))?;
        rustix::process::kill_process(pid, sig).sys(|| format!("kill {}", rec.pid))
    }

    /// `delete`: removes a stopped (or created) container; `force` kills a running one.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let (rec, status) = match self.load(id) {
            Ok(x) => x,
            Err(Error::NotFound(_)) if force => return Ok(()),
            Err(e) => return Err(e),
        };
        let cg = Self::cgroup_of(&rec)?;
        match status {
            Status::Stopped | Status::Created => {}
            _ if force => {}
            _ => {
                return Err(Error::BadStatus {
                    id: id.into(),
                    status: status.to_string(),
                    message: "stop it first or use --force".into(),
                })
            }
        }
        if status != Status::Stopped {
            if let Some(pid) = rustix::process::Pid::from_raw(rec.pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        for p in cg
            .pids()
            .unwrap_or_default()
            .into_iter()
            .filter_map(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
        if status == Status::Paused {
            let _ = cg.thaw();
        }
        wait_gone(&rec, &cg);
        if let Some(unit) = &rec.systemd_unit {
            berth_cgroups::systemd::stop_scope(unit)?;
        }
        cg.destroy()?;
        let state = serde_json::to_string(&rec.output("stopped")).unwrap_or_default();
        if let Err(e) = crate::hooks::run(
            "poststop",
            rec.config
                .hooks()
                .as_ref()
                .and_then(|h| h.poststop().as_ref()),
            &state,
        ) {
            eprintln!("berth: warning: {e}");
        }
        let dir = ContainerRecord::dir(&self.root, id);
        std::fs::remove_dir_all(&dir).sys(|| format!("remove {}", dir.display()))
    }

    /// `pause`: freezes the container.
    pub fn pause(&self, id: &str) -> Result<()> {
        let (rec, status) = self.load(id)?;
        if status != Status::Running && status != Status::Created {
            return Err(Error::BadStatus {
                id: id.into(),
                status: status.to_string(),
                message: "not running".into(),
            });
        }
        Ok(Self::cgroup_of(&rec)?.freeze()?)
    }

    /// `resume`: thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<()> {
        let (rec, status) = self.load(id)?;
        if status != Status::Paused {
            return Err(Error::BadStatus {
                id: id.into(),
                status: status.to_string(),
                message: "not paused".into(),
            });
        }
        Ok(Self::cgroup_of(&rec)?.thaw()?)
    }

    /// `ps`: pids of the container's processes.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let (rec, _) = self.load(id)?;
        Ok(Self::cgroup_of(&rec)?.pids()?)
    }

    /// `list`: every container under the root, sorted by id.
    pub fn list(&self) -> Result<Vec<StateOutput>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).sys(|| format!("read {}", self.root.display())),
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(s) = self.state(&name) {
                out.push(s);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// `exec`: starts `process` inside the running container. Returns the pid when detached,
    /// otherwise the process's exit code.
    pub fn exec(&self, id: &str, process: Process, opts: &ExecOptions) -> Result<i32> {
        let (rec, status) = self.load(id)?;
        if status != Status::Running && status != Status::Created {
            return Err(Error::BadStatus {
                id: id.into(),
                status: status.to_string(),
                message: "exec needs a running container".into(),
            });
        }
        crate::lsm::check(Some(&process), None)?;
        let cg = Self::cgroup_of(&rec)?;
        let mut spec = rec.config.clone();
        let console = connect_console(
            opts.console_socket.as_deref(),
            process.terminal() == Some(true),
        )?;
        spec.set_process(Some(process));
        let mut join = Vec::new();
        let mut pidns = false;
        let namespaces = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        let mut types: Vec<LinuxNamespaceType> = namespaces.iter().map(|n| n.typ()).collect();
        types.sort_by_key(|t| join_rank(*t));
        for t in types {
            if t == LinuxNamespaceType::Pid {
                pidns = true;
            }
            join.push((
                ns_flag(t),
                PathBuf::from(format!("/proc/{}/ns/{}", rec.pid, ns_file(t))),
            ));
        }
        let seccomp_program = spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
            .and_then(|s| crate::seccomp::cached_program(&self.root, s));
        let cfg = InitConfig {
            exec: true,
            spec,
            id: id.to_string(),
            bundle: rec.bundle.clone(),
            rootfs: rec.rootfs.clone(),
            fifo: None,
            join,
            unshare: 0,
            new_userns: false,
            fork: pidns,
            console_fd: None,
            preserve_fds: opts.preserve_fds,
            no_pivot: false,
            cgroup_v2: crate::cgroup::is_v2(&cg),
            cgroup: None,
            born_in: 0,
            seccomp_program,
        };
        struct ExecEvents;
        impl LaunchEvents for ExecEvents {
            fn container_pid(&mut self, _pid: i32) -> Result<()> {
                Ok(())
            }
            fn before_pivot(&mut self) -> Result<String> {
                Ok(String::new())
            }
        }
        let mut launched = launch::launch(&self.root, cfg, &cg, console.as_ref(), &mut ExecEvents)?;
        drop(console);
        // The init end is close-on-exec: EOF means the program was exec'd.
        match crate::channel::recv(&mut launched.sock)? {
            None => {}
            Some(crate::channel::Msg::Error(m)) => {
                let _ = launch::wait_exit_code(launched.pid);
                return Err(Error::Init(m));
            }
            Some(other) => return Err(Error::Init(format!("unexpected message {other:?}"))),
        }
        write_pid_file(opts.pid_file.as_deref(), launched.pid)?;
        if opts.detach {
            return Ok(launched.pid);
        }
        launch::wait_exit_code(launched.pid)
    }
}

/// Follows the container's init past the exec fifo. The init opens the fifo for writing as
/// soon as we opened it for reading; only if something fails before its program runs
/// (startContainer hooks, the last seccomp filter, execve) does it write, the error. Its
/// close, at execve (the descriptor is close-on-exec) or at its exit, shows as POLLHUP,
/// which Linux reports to a reader only once a writer has come and gone: until the init
/// has opened the fifo we see nothing, and check that it is still alive.
fn wait_started(rec: &ContainerRecord, fifo: &OwnedFd) -> Result<()> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut got: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    let tick = Timespec {
        tv_sec: 0,
        tv_nsec: 10_000_000,
    };
    'wait: loop {
        let mut fds = [PollFd::new(fifo, PollFlags::IN)];
        match poll(&mut fds, Some(&tick)) {
            Ok(0) => {
                // Still there (startContainer hooks may take their time), or gone without
                // ever opening the fifo.
                if !rec.alive() {
                    return Err(Error::Init("container process exited before start".into()));
                }
                continue;
            }
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e).sys(|| "poll exec fifo".into()),
        }
        let events = fds[0].revents();
        if events.contains(PollFlags::IN) {
            loop {
                match rustix::io::read(fifo, &mut buf) {
                    // Data came first, so a writer was there: this is its close.
                    Ok(0) => break 'wait,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(rustix::io::Errno::AGAIN) => break,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e).sys(|| "read exec fifo".into()),
                }
            }
        } else if events.intersects(PollFlags::HUP | PollFlags::ERR) {
            break;
        }
    }
    if got.is_empty() {
        Ok(())
    } else {
        Err(Error::Init(String::from_utf8_lossy(&got).into_owned()))
    }
}

/// Kills the init if it is still there and waits (bounded) until it is gone.
fn stop_and_wait(rec: &ContainerRecord) {
    if rec.alive() {
        if let Some(pid) = rustix::process::Pid::from_raw(rec.pid) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while rec.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Waits (bounded) until the init process and the cgroup's processes are gone.
fn wait_gone(rec: &ContainerRecord, cg: &Cgroup) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut delay = Duration::from_micros(100);
    while (rec.alive() || !cg.pids().unwrap_or_default().is_empty()) && Instant::now() < deadline {
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(5));
    }
}
