//! berth-engine: the daemon (`berth daemon`) and the per-container shim (`berth shim`).

use std::ffi::OsString;

pub mod images;

/// `berth daemon …`: serves the Docker Engine API. Returns the process exit code.
pub fn daemon_main(_args: Vec<OsString>) -> i32 {
    eprintln!("berth daemon: not built yet");
    1
}

/// `berth shim …`: the small per-container monitor the daemon starts. Returns the exit code.
pub fn shim_main(_args: Vec<OsString>) -> i32 {
    eprintln!("berth shim: not built yet");
    1
}
