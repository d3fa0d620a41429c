//! `exec` and `run`: a command in a service's container, or in a one-off container
//! (`<project>-<service>-run-<id>`, labelled `oneoff=True`), attached through berth's
//! session pump (raw terminal, detach keys, stdin half-close).

use berth_client::session::pump;
use berth_client::terminal::stdin_is_tty;
use berth_client::transport::query;
use serde_json::{json, Value};

use super::runner::Runner;
use super::up::UpArgs;
use super::Failure;

/// `exec` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ExecArgs {
    /// Detached mode: Run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// Give extended privileges to the process
    #[arg(long)]
    pub privileged: bool,
    /// Run the command as this user
    #[arg(short, long)]
    pub user: Option<String>,
    /// Path to workdir directory for this command
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Keep STDIN open even if not attached (accepted, always on)
    #[arg(short, long, hide = true)]
    pub interactive: bool,
    /// The service
    pub service: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `run` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Override the entrypoint of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Bind mount a volume
    #[arg(short, long)]
    pub volume: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short, long)]
    pub publish: Vec<String>,
    /// Run command with all service's ports enabled and mapped to the host
    #[arg(short = 'P', long)]
    pub service_ports: bool,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Disable pseudo-TTY allocation (default: auto-detected)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Run as specified username or uid
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long, default_value_t = true)]
    pub interactive: bool,
    /// Add or override a label
    #[arg(short, long)]
    pub label: Vec<String>,
    /// The service
    pub service: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn env_list(env: &[String]) -> Vec<String> {
    env.iter()
        .map(|e| {
            if e.contains('=') {
                e.clone()
            } else {
                format!("{e}={}", std::env::var(e).unwrap_or_default())
            }
        })
        .collect()
}

/// `exec`.
pub async fn exec(r: &Runner, args: &ExecArgs) -> Result<i32, Failure> {
    // as Compose v2 (only the project's name is needed): an unknown service is one that
    // is not running
    let c = r
        .containers(Some(false))
        .await?
        .into_iter()
        .find(|c| c.service == args.service && c.number == args.index && c.is_running())
        .ok_or_else(|| Failure::msg(format!("service \"{}\" is not running", args.service)))?;
    if args.command.is_empty() {
        return Err(Failure::msg("requires at least 2 arguments"));
    }
    let tty = !args.no_tty && stdin_is_tty();
    let body = json!({
        "AttachStdin": !args.detach, "AttachStdout": !args.detach, "AttachStderr": !args.detach,
        "Tty": tty, "Cmd": args.command, "Env": env_list(&args.env),
        "User": args.user.clone().unwrap_or_default(), "Privileged": args.privileged,
        "WorkingDir": args.workdir.clone().unwrap_or_default(),
    });
    let created = r
        .api
        .post(&format!("/containers/{}/exec", c.id), &body)
        .await?;
    let id = created["Id"].as_str().unwrap_or_default().to_string();
    if args.detach {
        r.api
            .post(
                &format!("/exec/{id}/start"),
                &json!({"Detach": true, "Tty": tty}),
            )
            .await?;
        return Ok(0);
    }
    let conn = r
        .api
        .client
        .hijack(
            &format!("/exec/{id}/start"),
            Some(&json!({"Detach": false, "Tty": tty})),
        )
        .await?;
    pump(conn, tty, true, None).await?;
    let info = r.api.get(&format!("/exec/{id}/json")).await?;
    Ok(super::exit_status(info["ExitCode"].as_i64().unwrap_or(0)))
}

/// `run`.
pub async fn run(r: &Runner, args: &RunArgs, mode: super::progress::Mode) -> Result<i32, Failure> {
    let p = &r.loaded.project;
    let Some(svc) = p.services.get(&args.service) else {
        return Err(Failure::msg(format!("no such service: {}", args.service)));
    };
    let deps: Vec<String> = svc
        .depends_on
        .keys()
        .filter(|d| p.services.contains_key(*d))
        .cloned()
        .collect();
    if !args.no_deps && !deps.is_empty() {
        let up = UpArgs {
            detach: true,
            services: deps,
            ..Default::default()
        };
        super::up::create_and_start(r, &up, mode).await?;
    } else {
        let progress = super::progress::Progress::new(mode, "Running");
        r.ensure_networks(&progress).await?;
        r.ensure_volumes(&progress).await?;
        let one = [args.service.clone()].into_iter().collect();
        super::build::ensure_images(r, &one, false, false, &progress).await?;
        r.pull_missing(&one, "", &progress).await?;
    }
    let mut svc = svc.clone();
    if !args.command.is_empty() {
        svc.command = Some(args.command.clone());
    }
    if let Some(e) = &args.entrypoint {
        svc.entrypoint = Some(shlex::split(e).unwrap_or_else(|| vec![e.clone()]));
    }
    if !args.service_ports {
        svc.ports.clear();
    }
    for spec in &args.publish {
        let parsed = crate::file::ports::parse(spec).map_err(Failure::msg)?;
        svc.ports
            .extend(parsed.into_iter().map(|s| crate::file::model::Port {
                mode: "ingress".into(),
                host_ip: s.host_ip,
                target: s.target,
                published: s.published,
                protocol: s.protocol,
                ..Default::default()
            }));
    }
    for e in env_list(&args.env) {
        if let Some((k, v)) = e.split_once('=') {
            svc.environment.insert(k.into(), Some(v.into()));
        }
    }
    if let Some(u) = &args.user {
        svc.user = u.clone();
    }
    if let Some(w) = &args.workdir {
        svc.working_dir = w.clone();
    }
    for l in &args.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        svc.labels.insert(k.into(), v.into());
    }
    for v in &args.volume {
        let s = crate::file::volumes::parse(v).map_err(Failure::msg)?;
        svc.volumes.push(crate::file::model::VolumeMount {
            kind: if crate::file::volumes::is_path(&s.source) {
                "bind"
            } else {
                "volume"
            }
            .into(),
            source: s.source,
            target: s.target,
            read_only: s.read_only,
            bind: Some(crate::file::model::BindOptions {
                create_host_path: true,
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let tty = !args.no_tty && stdin_is_tty() && !args.detach;
    svc.tty = tty;
    svc.stdin_open = args.interactive && !args.detach;
    svc.restart.clear();
    svc.container_name.clear();
    let suffix: String = {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        format!(
            "{:012x}",
            (t.as_secs().wrapping_mul(1_000_000_000)
                ^ u64::from(t.subsec_nanos())
                ^ u64::from(std::process::id()) << 32)
                & 0xffff_ffff_ffff
        )
    };
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-run-{suffix}", p.name, svc.name));
    let rm = args.rm;
    let detach = args.detach;
    // attached, `--rm` removes after the wait (so the exit code is always read); detached,
    // the daemon does (AutoRemove)
    let id = r
        .create_container(&svc, 1, &name, true, &|b: &mut Value| {
            if rm && detach {
                b["HostConfig"]["AutoRemove"] = Value::Bool(true);
            }
            b["AttachStdin"] = Value::Bool(true);
            b["StdinOnce"] = Value::Bool(true);
        })
        .await?;
    if args.detach {
        r.api.post_empty(&format!("/containers/{id}/start")).await?;
        println!("{name}");
        return Ok(0);
    }
    let conn = r
        .api
        .client
        .hijack(
            &format!(
                "/containers/{id}/attach{}",
                query(&[
                    ("stream", "1".into()),
                    ("stdin", "1".into()),
                    ("stdout", "1".into()),
                    ("stderr", "1".into())
                ])
            ),
            None,
        )
        .await?;
    if let Err(e) = r.api.post_empty(&format!("/containers/{id}/start")).await {
        let _ = r.api.delete(&format!("/containers/{id}?force=true")).await;
        return Err(Failure::msg(e));
    }
    pump(conn, tty, args.interactive, None).await?;
    let waited = r
        .api
        .post(&format!("/containers/{id}/wait"), &Value::Null)
        .await?;
    let code = super::exit_status(waited["StatusCode"].as_i64().unwrap_or(0));
    if rm {
        let _ = r
            .api
            .delete(&format!("/containers/{id}?force=true&v=true"))
            .await;
    }
    Ok(code)
}
