//! `berth compose …` / `docker compose …` / `docker-compose …`: flags as Compose v2 has them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cmd::build::BuildArgs;
use crate::cmd::config::ConfigArgs;
use crate::cmd::down::DownArgs;
use crate::cmd::events::EventsArgs;
use crate::cmd::exec::{ExecArgs, RunArgs};
use crate::cmd::logs::LogsArgs;
use crate::cmd::ps::PsArgs;
use crate::cmd::service_io::{AttachArgs, CommitArgs, CpArgs, ExportArgs, StatsArgs};
use crate::cmd::up::UpArgs;
use crate::cmd::volumes::VolumesArgs;
use crate::cmd::watch::WatchArgs;

/// The version of Compose v2 whose behaviour berth follows (labels, hashes, output).
pub const COMPOSE_VERSION: &str = "2.40.3";

/// Global flags.
#[derive(Debug, Parser)]
#[command(
    name = "docker compose",
    about = "Define and run multi-container applications with Docker",
    disable_version_flag = true
)]
pub struct Cli {
    /// Compose configuration files
    #[arg(short = 'f', long = "file", id = "file", global = true)]
    pub files: Vec<PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name", global = true)]
    pub project_name: Option<String>,
    /// Specify an alternate working directory (default: the path of the, first specified, Compose file)
    #[arg(long, global = true)]
    pub project_directory: Option<PathBuf>,
    /// Specify an alternate environment file
    #[arg(long = "env-file", id = "env_file", global = true)]
    pub env_files: Vec<PathBuf>,
    /// Specify a profile to enable
    #[arg(long = "profile", id = "profile", global = true)]
    pub profiles: Vec<String>,
    /// Set type of progress output (auto, tty, plain, json, quiet)
    #[arg(long, global = true)]
    pub progress: Option<String>,
    /// Control when to print ANSI control characters ("never"|"always"|"auto")
    #[arg(long, global = true, default_value = "auto")]
    pub ansi: String,
    /// Control max parallelism, -1 for unlimited
    #[arg(long, global = true, default_value_t = -1, allow_negative_numbers = true)]
    pub parallel: i64,
    /// Execute command in dry run mode (not supported by berth: refused)
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Show the Docker Compose version information
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// The command.
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Parse, resolve and render compose file in canonical format
    Config(ConfigArgs),
    /// Create and start containers
    Up(UpArgs),
    /// Creates containers for a service
    Create(UpArgs),
    /// Stop and remove containers, networks
    Down(DownArgs),
    /// List containers
    Ps(PsArgs),
    /// View output from containers
    Logs(LogsArgs),
    /// Build or rebuild services
    Build(BuildArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Run a one-off command on a service
    Run(RunArgs),
    /// Start services
    Start {
        /// Services
        services: Vec<String>,
    },
    /// Stop services
    Stop {
        /// Specify a shutdown timeout in seconds
        #[arg(short, long)]
        timeout: Option<i64>,
        /// Services
        services: Vec<String>,
    },
    /// Restart service containers
    Restart {
        /// Specify a shutdown timeout in seconds
        #[arg(short, long)]
        timeout: Option<i64>,
        /// Don't restart dependent services (accepted)
        #[arg(long)]
        no_deps: bool,
        /// Services
        services: Vec<String>,
    },
    /// Force stop service containers
    Kill {
        /// SIGNAL to send to the container
        #[arg(short, long, default_value = "SIGKILL")]
        signal: String,
        /// Remove containers for services not defined in the Compose file (accepted)
        #[arg(long)]
        remove_orphans: bool,
        /// Services
        services: Vec<String>,
    },
    /// Removes stopped service containers
    Rm {
        /// Don't ask to confirm removal
        #[arg(short, long)]
        force: bool,
        /// Stop the containers, if required, before removing
        #[arg(short, long)]
        stop: bool,
        /// Remove any anonymous volumes attached to containers
        #[arg(short, long)]
        volumes: bool,
        /// Services
        services: Vec<String>,
    },
    /// Pause services
    Pause {
        /// Services
        services: Vec<String>,
    },
    /// Unpause services
    Unpause {
        /// Services
        services: Vec<String>,
    },
    /// Pull service images
    Pull {
        /// Pull what it can and ignores images with pull failures
        #[arg(long)]
        ignore_pull_failures: bool,
        /// Pull without printing progress information
        #[arg(short, long)]
        quiet: bool,
        /// Services
        services: Vec<String>,
    },
    /// Push service images
    Push {
        /// Push what it can and ignores images with push failures (accepted)
        #[arg(long)]
        ignore_push_failures: bool,
        /// Push without printing progress information
        #[arg(short, long)]
        quiet: bool,
        /// Services
        services: Vec<String>,
    },
    /// List images used by the created containers
    Images {
        /// Only display IDs
        #[arg(short, long)]
        quiet: bool,
        /// Services
        services: Vec<String>,
    },
    /// List volumes
    Volumes(VolumesArgs),
    /// Display the running processes
    Top {
        /// Services
        services: Vec<String>,
    },
    /// Print the public port for a port binding
    Port {
        /// index of the container if service has multiple replicas
        #[arg(long, default_value_t = 1)]
        index: u32,
        /// tcp or udp
        #[arg(long, default_value = "tcp")]
        protocol: String,
        /// The service
        service: String,
        /// The private port
        private_port: String,
    },
    /// List running compose projects
    Ls {
        /// Show all stopped Compose projects
        #[arg(short, long)]
        all: bool,
        /// Only display project names
        #[arg(short, long)]
        quiet: bool,
        /// Format the output. Values: [table | json]
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Block until containers of all (or specified) services stop.
    Wait {
        /// Drops project when the first container stops
        #[arg(long)]
        down_project: bool,
        /// Services
        services: Vec<String>,
    },
    /// Attach local standard input, output, and error streams to a service's running container
    Attach(AttachArgs),
    /// Copy files/folders between a service container and the local filesystem
    Cp(CpArgs),
    /// Create a new image from a service container's changes
    Commit(CommitArgs),
    /// Receive real time events from containers
    Events(EventsArgs),
    /// Export a service container's filesystem as a tar archive
    Export(ExportArgs),
    /// Scale services
    Scale {
        /// Don't start linked services
        #[arg(long)]
        no_deps: bool,
        /// SERVICE=REPLICAS
        services: Vec<String>,
    },
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Watch build context for service and rebuild/refresh containers when files are updated
    Watch(WatchArgs),
    /// Show the Docker Compose version information
    Version {
        /// Format the output. Values: [pretty | json]
        #[arg(short, long)]
        format: Option<String>,
        /// Shows only Compose's version number
        #[arg(long)]
        short: bool,
    },
}
