//! `berth`: one binary that is the OCI runtime, and (as the issues land) the daemon and the CLI.
//!
//! Dispatch: invoked as `berth-runtime` (argv[0]) or as `berth runtime …`, it is the
//! runc-compatible OCI runtime.

mod runtime_cli;

use std::ffi::OsString;
use std::path::Path;

fn main() {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if argv0 == "berth-runtime" {
        std::process::exit(runtime_cli::main(args));
    }
    if args.get(1).is_some_and(|a| a == "runtime") {
        args.remove(1);
        std::process::exit(runtime_cli::main(args));
    }
    match args.get(1).and_then(|a| a.to_str()) {
        Some("--version") | Some("version") => {
            println!("berth version {}", env!("CARGO_PKG_VERSION"))
        }
        other => {
            eprintln!("berth: unknown command {other:?}; try `berth runtime --help`");
            std::process::exit(125);
        }
    }
}
