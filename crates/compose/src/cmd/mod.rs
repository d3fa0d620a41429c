//! The compose commands.

pub mod api;
pub mod build;
pub mod config;
pub mod convert;
pub mod down;
pub mod events;
pub mod exec;
pub mod from_daemon;
pub mod graph;
pub mod labels;
pub mod lifecycle;
pub mod logs;
pub mod progress;
pub mod ps;
pub mod runner;
pub mod service_io;
pub mod state;
pub mod up;
pub mod volumes;
pub mod watch;

use std::collections::BTreeMap;

use crate::cli::{Cli, Cmd, COMPOSE_VERSION};
use crate::file::{self, Loaded};

/// A container's exit code (the API's integer) as this process's exit status. Codes are
/// 0-255 (-1 when unknown), so the conversion is exact; anything else becomes -1.
pub fn exit_status(code: i64) -> i32 {
    i32::try_from(code).unwrap_or(-1)
}

/// A command's failure: a message for stderr and an exit code.
#[derive(Debug)]
pub struct Failure {
    /// What to print (empty: already printed).
    pub message: String,
    /// The exit code.
    pub code: i32,
}

impl Failure {
    /// Exit 1 with a message.
    pub fn msg(m: impl std::fmt::Display) -> Self {
        Failure {
            message: m.to_string(),
            code: 1,
        }
    }
}

impl From<file::LoadError> for Failure {
    fn from(e: file::LoadError) -> Self {
        Failure::msg(e)
    }
}

/// Loads the project the global flags describe (`services` enable their profiles).
pub fn load_project(cli: &Cli, services: &[String]) -> Result<Loaded, Failure> {
    let opts = file::Options {
        files: cli.files.clone(),
        project_name: cli.project_name.clone(),
        project_directory: cli.project_directory.clone(),
        env_files: cli.env_files.clone(),
        profiles: cli.profiles.clone(),
        services: services.to_vec(),
        environ: std::env::vars().collect::<BTreeMap<_, _>>(),
        cwd: std::env::current_dir().map_err(Failure::msg)?,
    };
    let loaded = file::load(&opts)?;
    for w in &loaded.warnings {
        eprintln!("WARN[0000] {w}");
    }
    Ok(loaded)
}

fn print(s: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<i32, Failure> {
    if cli.version {
        print(&format!("Docker Compose version v{COMPOSE_VERSION}\n"));
        return Ok(0);
    }
    if cli.dry_run {
        return Err(Failure::msg("berth compose does not support --dry-run"));
    }
    let Some(cmd) = &cli.cmd else {
        return Err(Failure::msg(
            "a command is required: see 'docker compose --help'",
        ));
    };
    match cmd {
        Cmd::Version { format, short } => {
            if *short {
                print(&format!("{COMPOSE_VERSION}\n"));
            } else if format.as_deref() == Some("json") {
                print(&format!("{{\"version\":\"v{COMPOSE_VERSION}\"}}\n"));
            } else {
                print(&format!("Docker Compose version v{COMPOSE_VERSION}\n"));
            }
            Ok(0)
        }
        Cmd::Config(args) => {
            let loaded = load_project(&cli, &args.service_names)?;
            let text = config::render(&loaded, args).map_err(Failure::msg)?;
            if let Some(t) = text {
                match &args.output {
                    Some(path) => std::fs::write(path, t).map_err(Failure::msg)?,
                    None => print(&t),
                }
            }
            Ok(0)
        }
        Cmd::Ls { all, quiet, format } => {
            let api = api::Api::connect().await?;
            ps::ls(&api, *all, *quiet, format).await
        }
        other => {
            let mode =
                progress::Mode::choose(cli.progress.as_deref(), &cli.ansi).map_err(Failure::msg)?;
            let named: Vec<String> = match other {
                Cmd::Up(a) | Cmd::Create(a) => a.services.clone(),
                Cmd::Run(a) => vec![a.service.clone()],
                Cmd::Watch(a) => a.services.clone(),
                Cmd::Scale { services, .. } => services
                    .iter()
                    .map(|s| s.split('=').next().unwrap_or_default().to_string())
                    .collect(),
                _ => Vec::new(),
            };
            let api = api::Api::connect().await?;
            let env_name = std::env::var("COMPOSE_PROJECT_NAME").ok();
            let group = from_daemon::Group::of(other);
            let (loaded, from_file) = match group.source(&cli, env_name.as_deref()) {
                from_daemon::Source::Name(name) => (from_daemon::load(&api, &name).await?, false),
                from_daemon::Source::Files => match load_project(&cli, &named) {
                    Ok(l) => (l, true),
                    // as Compose's projectOrName: a file that does not load falls back to
                    // COMPOSE_PROJECT_NAME
                    Err(e) => match env_name
                        .filter(|n| !n.is_empty() && group == from_daemon::Group::ProjectOrName)
                    {
                        Some(n) => (from_daemon::load(&api, &n.to_lowercase()).await?, false),
                        None => return Err(e),
                    },
                },
            };
            let r = runner::Runner {
                api,
                loaded,
                from_file,
            };
            let pr = |title: &str| progress::Progress::new(mode, title);
            match other {
                Cmd::Up(a) => up::up(&r, a, mode).await,
                Cmd::Create(a) => {
                    let mut a = a.clone();
                    a.no_start = true;
                    a.detach = true;
                    up::create_and_start(&r, &a, mode).await.map(|_| 0)
                }
                Cmd::Down(a) => down::down(&r, a, mode).await,
                Cmd::Ps(a) => ps::ps(&r, a).await,
                Cmd::Logs(a) => logs::logs(&r, a).await,
                Cmd::Build(a) => {
                    let p = pr("Building");
                    for (name, s) in &r.loaded.project.services {
                        if a.services.is_empty() || a.services.contains(name) {
                            build::build_service(&r, s, &a.build_args, a.no_cache, a.pull, &p)
                                .await?;
                        }
                    }
                    Ok(0)
                }
                Cmd::Exec(a) => exec::exec(&r, a).await,
                Cmd::Run(a) => exec::run(&r, a, mode).await,
                Cmd::Start { services } => {
                    lifecycle::act(&r, "start", services, "", &pr("Running")).await
                }
                Cmd::Stop { timeout, services } => {
                    let t = timeout.map(|t| format!("?t={t}")).unwrap_or_default();
                    lifecycle::act(&r, "stop", services, &t, &pr("Stopping")).await
                }
                Cmd::Restart {
                    timeout, services, ..
                } => {
                    let t = timeout.map(|t| format!("?t={t}")).unwrap_or_default();
                    lifecycle::act(&r, "restart", services, &t, &pr("Restarting")).await
                }
                Cmd::Kill {
                    signal, services, ..
                } => {
                    let q = berth_client::transport::query(&[("signal", signal.clone())]);
                    lifecycle::act(&r, "kill", services, &q, &pr("Killing")).await
                }
                Cmd::Rm {
                    stop,
                    volumes,
                    services,
                    ..
                } => lifecycle::rm(&r, services, *stop, *volumes, &pr("Removing")).await,
                Cmd::Pause { services } => {
                    lifecycle::act(&r, "pause", services, "", &pr("Pausing")).await
                }
                Cmd::Unpause { services } => {
                    lifecycle::act(&r, "unpause", services, "", &pr("Unpausing")).await
                }
                Cmd::Pull {
                    ignore_pull_failures,
                    quiet,
                    services,
                } => {
                    let p = progress::Progress::new(
                        if *quiet { progress::Mode::Quiet } else { mode },
                        "Pulling",
                    );
                    lifecycle::pull(&r, services, *ignore_pull_failures, &p).await
                }
                Cmd::Push {
                    quiet, services, ..
                } => {
                    let p = progress::Progress::new(
                        if *quiet { progress::Mode::Quiet } else { mode },
                        "Pushing",
                    );
                    lifecycle::push(&r, services, &p).await
                }
                Cmd::Images { quiet, services } => ps::images(&r, *quiet, services).await,
                Cmd::Top { services } => ps::top(&r, services).await,
                Cmd::Volumes(a) => volumes::volumes(&r, a).await,
                Cmd::Port {
                    index,
                    protocol,
                    service,
                    private_port,
                } => ps::port(&r, service, private_port, protocol, *index).await,
                Cmd::Wait {
                    down_project,
                    services,
                } => lifecycle::wait(&r, services, *down_project).await,
                Cmd::Attach(a) => service_io::attach(&r, a).await,
                Cmd::Cp(a) => service_io::cp(&r, a, &pr("Copying")).await,
                Cmd::Commit(a) => service_io::commit(&r, a, &pr("Committing")).await,
                Cmd::Export(a) => service_io::export(&r, a, &pr("Exporting")).await,
                Cmd::Stats(a) => service_io::stats(&r, a).await,
                Cmd::Events(a) => events::events(&r, a).await,
                Cmd::Scale { no_deps, services } => up::scale(&r, services, *no_deps, mode).await,
                Cmd::Watch(a) => watch::watch(&r, a, mode).await,
                Cmd::Config(_) | Cmd::Version { .. } | Cmd::Ls { .. } => {
                    unreachable!("handled above")
                }
            }
        }
    }
}
