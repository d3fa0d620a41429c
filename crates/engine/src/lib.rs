//! berth-engine: the daemon (`berth daemon`) and the per-container shim (`berth shim`).
//!
//! - [`daemon`]: flags, daemon.json, listeners, signals, the HTTP layer's `Engine` trait over
//!   the services (the only module that uses `berth-api-server`), events;
//! - [`build`]: image builds (`POST /build`) over `berth-build`;
//! - [`containers`]: container records and lifecycle over shims;
//! - [`shim`]: the per-container monitor (crate `berth-shim`) and its protocol;
//! - [`helpers`]: the helper binaries (`berth-shim`, `berth-runtime`) found at start;
//! - [`images`]: the image side of the API;
//! - [`layout`]: who may enter the data root and the exec root (their modes);
//! - [`logfile`]: the json-file log format and log times (from `berth-logdriver`);
//! - [`networks`]: networks and container networking;
//! - [`processes`]: the seam that starts processes in running containers (exec, health
//!   probes): `ProcessRuntime`, the real `RuntimeExec`;
//! - [`session`], [`stream`]: what services hand out for attach/exec sessions, logs and
//!   other streams (the daemon adapts them to the HTTP layer);
//! - [`spec`]: the OCI runtime spec of a container, typed, built by small pure functions;
//! - [`volumes`]: volumes and the mounts of containers.

use std::ffi::OsString;

pub mod build;
pub mod containers;
pub mod crash;
pub mod daemon;
pub mod error;
pub mod events;
pub mod execs;
pub mod health;
pub mod helpers;
pub mod hostinfo;
pub mod images;
pub mod layout;
pub mod networks;
pub mod processes;
pub mod record;
pub mod remap;
pub mod session;
pub mod spec;
pub mod stream;
pub mod volumes;

pub use berth_shim as shim;

/// The json-file log format and log times (`berth_logdriver`), as the engine's modules use them.
pub mod logfile {
    pub use berth_logdriver::jsonfile::{read_all, read_open};
    pub use berth_logdriver::{now, parse_time, rfc3339_nanos, LogEntry};
}

/// `berth daemon …` (the full argv, `berth daemon` included): serves the Docker Engine API.
/// Returns the process exit code.
pub fn daemon_main(args: Vec<OsString>) -> i32 {
    daemon::main(args.into_iter().skip(2).collect())
}

/// `berth shim …` (the full argv): the per-container monitor, for when the lean
/// `berth-shim` binary is not installed. Returns the exit code.
pub fn shim_main(args: Vec<OsString>) -> i32 {
    berth_shim::main(args.into_iter().skip(2).collect())
}
