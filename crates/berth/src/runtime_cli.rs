//! `berth runtime …` / `berth-runtime …`: runc's command line over the `runtime` crate.
//!
//! Flags are runc's, as `liboci-cli` models them (plus `kill` with an optional signal).
//! Errors go to stderr and, with `--log`, to the log file (`--log-format json` writes runc's
//! `{"level","msg","time"}` lines, which containerd's shim reads).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use berth_runtime::{CreateOptions, ExecOptions, Runtime};
use clap::{Args, Parser, Subcommand};
use liboci_cli::GlobalOpts;

#[derive(Parser, Debug)]
#[command(
    name = "berth-runtime",
    version,
    about = "berth's runc-compatible OCI runtime"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    cmd: Cmd,
}

/// `kill` with runc's optional signal (default SIGTERM).
#[derive(Args, Debug)]
struct Kill {
    container_id: String,
    #[arg(default_value = "SIGTERM")]
    signal: String,
    /// Send the signal to every process of the container.
    #[arg(short, long)]
    all: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create a container (its process waits for `start`).
    Create(liboci_cli::Create),
    /// Start a created container.
    Start(liboci_cli::Start),
    /// Create and start a container; wait for it unless --detach.
    Run(liboci_cli::Run),
    /// Print a container's state as JSON.
    State(liboci_cli::State),
    /// Send a signal to a container.
    Kill(Kill),
    /// Delete a container.
    Delete(liboci_cli::Delete),
    /// Run a process in a container.
    Exec(liboci_cli::Exec),
    /// List the container's processes.
    Ps(liboci_cli::Ps),
    /// Freeze a container.
    Pause(liboci_cli::Pause),
    /// Thaw a paused container.
    Resume(liboci_cli::Resume),
    /// List containers.
    List(liboci_cli::List),
    /// Write a default config.json.
    Spec(liboci_cli::Spec),
    /// Print the runtime's features as JSON.
    Features(liboci_cli::Features),
}

/// Runs the runtime command line; returns the process exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    if args.get(1).is_some_and(|a| a == "init")
        && std::env::var_os(berth_runtime::INIT_FD_ENV).is_some()
    {
        berth_runtime::init_main();
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let log = Logger::new(&cli.global);
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}");
            log.error(&msg);
            1
        }
    }
}

struct Logger {
    file: Option<PathBuf>,
    json: bool,
}

impl Logger {
    fn new(g: &GlobalOpts) -> Logger {
        Logger {
            file: g.log.clone(),
            json: g.log_format.as_deref() == Some("json"),
        }
    }

    fn error(&self, msg: &str) {
        eprintln!("berth-runtime: {msg}");
        let Some(path) = &self.file else { return };
        let time = berth_units::time::now_rfc3339_nanos();
        let line = if self.json {
            serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
        } else {
            format!("time=\"{time}\" level=error msg={msg:?}")
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    let root = cli
        .global
        .root
        .clone()
        .unwrap_or_else(|| PathBuf::from("/run/berth/runtime"));
    let rt = Runtime::new(root);
    match cli.cmd {
        Cmd::Create(c) => {
            let opts = CreateOptions {
                bundle: c.bundle,
                console_socket: c.console_socket,
                pid_file: c.pid_file,
                no_pivot: c.no_pivot,
                preserve_fds: u32::try_from(c.preserve_fds).unwrap_or(0),
                systemd_cgroup: cli.global.systemd_cgroup,
            };
            rt.create(&c.container_id, &opts)?;
            Ok(0)
        }
        Cmd::Start(s) => rt.start(&s.container_id).map(|_| 0).map_err(Into::into),
        Cmd::Run(r) => {
            let opts = CreateOptions {
                bundle: r.bundle,
                console_socket: r.console_socket,
                pid_file: r.pid_file,
                no_pivot: r.no_pivot,
                preserve_fds: u32::try_from(r.preserve_fds).unwrap_or(0),
                systemd_cgroup: cli.global.systemd_cgroup,
            };
            Ok(rt.run(&r.container_id, &opts, r.detach)?)
        }
        Cmd::State(s) => {
            let st = rt.state(&s.container_id)?;
            println!("{}", serde_json::to_string_pretty(&st)?);
            Ok(0)
        }
        Cmd::Kill(k) => {
            rt.kill(&k.container_id, parse_signal(&k.signal)?, k.all)?;
            Ok(0)
        }
        Cmd::Delete(d) => rt
            .delete(&d.container_id, d.force)
            .map(|_| 0)
            .map_err(Into::into),
        Cmd::Exec(e) => exec(&rt, e),
        Cmd::Ps(p) => ps(&rt, p),
        Cmd::Pause(p) => rt.pause(&p.container_id).map(|_| 0).map_err(Into::into),
        Cmd::Resume(p) => rt.resume(&p.container_id).map(|_| 0).map_err(Into::into),
        Cmd::List(l) => list(&rt, l),
        Cmd::Spec(s) => {
            let dir = s.bundle.unwrap_or_else(|| PathBuf::from("."));
            let path = dir.join("config.json");
            if path.exists() {
                bail!("{}: already exists; remove it first", path.display());
            }
            let doc = berth_runtime::default_spec(s.rootless);
            std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")
                .with_context(|| format!("write {}", path.display()))?;
            Ok(0)
        }
        Cmd::Features(_) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&berth_runtime::features_document())?
            );
            Ok(0)
        }
    }
}

/// Parses `9`, `KILL`, `SIGKILL` (any case).
fn parse_signal(s: &str) -> Result<i32> {
    berth_units::signal::parse(s).ok_or_else(|| anyhow!("unknown signal {s:?}"))
}

fn exec(rt: &Runtime, e: liboci_cli::Exec) -> Result<i32> {
    let process: oci_spec::runtime::Process = if let Some(p) = &e.process {
        let bytes = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("parse {}", p.display()))?
    } else {
        if e.command.is_empty() {
            bail!("exec: give a command or --process");
        }
        let (rec, _) = rt.load(&e.container_id)?;
        let mut p = rec.config.process().clone().unwrap_or_default();
        p.set_args(Some(e.command.clone()));
        p.set_terminal(Some(e.tty));
        let mut env = p.env().clone().unwrap_or_default();
        for (k, v) in &e.env {
            env.retain(|kv| kv.split('=').next() != Some(k.as_str()));
            env.push(format!("{k}={v}"));
        }
        p.set_env(Some(env));
        if let Some(cwd) = &e.cwd {
            p.set_cwd(cwd.clone());
        }
        if let Some((uid, gid)) = e.user {
            let mut u = p.user().clone();
            u.set_uid(uid);
            u.set_gid(gid.unwrap_or(0));
            p.set_user(u);
        }
        if !e.additional_gids.is_empty() {
            let mut u = p.user().clone();
            u.set_additional_gids(Some(e.additional_gids.clone()));
            p.set_user(u);
        }
        if e.no_new_privs {
            p.set_no_new_privileges(Some(true));
        }
        p
    };
    let opts = ExecOptions {
        console_socket: e.console_socket,
        pid_file: e.pid_file,
        detach: e.detach,
        preserve_fds: u32::try_from(e.preserve_fds).unwrap_or(0),
    };
    let out = rt.exec(&e.container_id, process, &opts)?;
    Ok(if e.detach { 0 } else { out })
}

fn ps(rt: &Runtime, p: liboci_cli::Ps) -> Result<i32> {
    let pids = rt.pids(&p.container_id)?;
    if p.format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let opts = if p.ps_options.is_empty() {
        vec!["-ef".to_string()]
    } else {
        p.ps_options
    };
    let out = std::process::Command::new("ps")
        .args(&opts)
        .output()
        .context("run ps")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| anyhow!("ps output has no PID column"))?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|v| v.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}

fn list(rt: &Runtime, l: liboci_cli::List) -> Result<i32> {
    let all = rt.list()?;
    if l.quiet {
        for s in &all {
            println!("{}", s.id);
        }
    } else if l.format == "json" {
        println!("{}", serde_json::to_string(&all)?);
    } else {
        println!(
            "{:<20} {:<8} {:<10} {:<40} {:<32} OWNER",
            "ID", "PID", "STATUS", "BUNDLE", "CREATED"
        );
        for s in &all {
            println!(
                "{:<20} {:<8} {:<10} {:<40} {:<32} root",
                s.id,
                s.pid,
                s.status,
                display(&s.bundle),
                s.created
            );
        }
    }
    Ok(0)
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
