//! berth-client: the docker-compatible command line (`berth run`, `berth ps`, …).
//!
//! Flow: argv → [`cli::normalize`] (`container ls` → `ps`, …) → clap ([`cli::Cli`]) →
//! endpoint resolution ([`host`]: `-H`, `DOCKER_HOST`, contexts) → a [`transport::Client`]
//! (hyper HTTP/1.1 over the unix socket, version negotiated with `/_ping`) on a
//! current-thread tokio runtime → one command in [`commands`] → exit code. Errors print like
//! docker's (`Error response from daemon: …`, exit 1; `run`: 125/126/127).

use std::ffi::OsString;

pub mod auth;
pub mod cli;
pub mod commands;
pub mod context_store;
pub mod error;
pub mod health_flags;
pub mod host;
pub mod jsonfmt;
pub mod mount_flag;
pub mod progress;
pub mod runopts;
pub mod session;
pub mod stdcopy;
pub mod terminal;
pub mod tls;
pub mod transport;

use clap::Parser;

use crate::error::CliError;

/// Runs a docker-style command (`args[1..]`); returns the process exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let args = cli::normalize(args);
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    0
                }
                _ => {
                    let _ = e.print();
                    125
                }
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
            eprintln!("berth: {e}");
            return 1;
        }
    };
    let result = rt.block_on(commands::dispatch(cli));
    // A blocked stdin reader must not keep the process alive.
    rt.shutdown_background();
    match result {
        Ok(code) => code,
        Err(CliError::Status(code)) => code,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}
