//! The compose commands.

pub mod config;

use std::collections::BTreeMap;

use crate::cli::{Cli, Cmd, COMPOSE_VERSION};
use crate::file::{self, Loaded};

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
    }
}
