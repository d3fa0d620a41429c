//! berth-compose: Docker Compose v2 for berth.
//!
//! The file ([`file`]): Compose Specification YAML → interpolation → include/extends →
//! merge of several files → typed [`file::model::Project`], with located errors.
//! The commands ([`cmd`]) talk to any Docker-API daemon through berth's API client
//! (`berth-client`), so the layers stay compose → client → api-types.
#![recursion_limit = "256"]

pub mod cli;
pub mod cmd;
pub mod file;
pub mod yaml;

use std::ffi::OsString;

use clap::Parser;

/// What `docker` asks a CLI plugin for (`docker-cli-plugin-metadata`).
pub fn plugin_metadata() -> String {
    format!(
        "{{\"SchemaVersion\":\"0.1.0\",\"Vendor\":\"berth\",\"Version\":\"v{}\",\"ShortDescription\":\"Docker Compose\",\"URL\":\"https://github.com/docker/compose\"}}\n",
        cli::COMPOSE_VERSION
    )
}

/// Runs `compose` with `args` (`args[0]` is the program name); returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => 1,
            };
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let result = rt.block_on(cmd::run(cli));
    rt.shutdown_background();
    match result {
        Ok(code) => code,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("{}", f.message);
            }
            f.code
        }
    }
}
