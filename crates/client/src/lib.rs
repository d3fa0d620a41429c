//! berth-client: the docker-compatible command line (`berth run`, `berth ps`, …).

use std::ffi::OsString;

/// Runs a docker-style command (`args[1..]`); returns the process exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let cmd = args.get(1).map(|a| a.to_string_lossy().into_owned());
    match cmd.as_deref() {
        Some("--version") | Some("-v") => {
            println!("berth version {}", env!("CARGO_PKG_VERSION"));
            0
        }
        other => {
            eprintln!("berth: unknown command {other:?}; try `berth runtime --help`");
            125
        }
    }
}
