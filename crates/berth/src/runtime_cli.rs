//! `berth runtime …` / `berth-runtime …`: runc's command line over the `runtime` crate.

use std::ffi::OsString;

/// Runs the runtime command line; returns the process exit code.
pub fn main(_args: Vec<OsString>) -> i32 {
    eprintln!("berth-runtime: not built yet");
    1
}
