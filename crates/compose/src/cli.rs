//! `berth compose …` / `docker compose …` / `docker-compose …`: flags as Compose v2 has them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cmd::config::ConfigArgs;

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
