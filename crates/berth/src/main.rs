//! `berth`: one binary that is the OCI runtime, and (as the issues land) the daemon and the CLI.
//!
//! Dispatch: invoked as `berth-runtime` (argv[0]) or as `berth runtime …`, it is the
//! runc-compatible OCI runtime; `berth daemon` and `berth shim` are the engine's processes
//! (crate `berth-engine`); `berth compose …` (or the binary invoked as `docker-compose`, as a
//! docker CLI plugin) is compose (`berth-compose`); every other command is the docker-compatible client (`berth-client`).

mod runtime_cli;

use std::ffi::OsString;
use std::path::Path;

fn main() {
    berth_api_types::build_info::set(berth_api_types::build_info::BuildInfo {
        git_commit: env!("BERTH_GIT_COMMIT"),
        build_time: env!("BERTH_BUILD_TIME"),
        rustc: env!("BERTH_RUSTC"),
    });
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if argv0 == "berth-runtime" {
        std::process::exit(runtime_cli::main(args));
    }
    if argv0 == "docker-compose" {
        // as a docker CLI plugin (~/.docker/cli-plugins/docker-compose) or run by that name
        match args.get(1).and_then(|a| a.to_str()) {
            Some("docker-cli-plugin-metadata") => {
                print!("{}", berth_compose::plugin_metadata());
                std::process::exit(0);
            }
            Some("compose") => {
                args.remove(1);
            }
            _ => {}
        }
        std::process::exit(berth_compose::main(args));
    }
    if args.get(1).is_some_and(|a| a == "runtime") {
        args.remove(1);
        std::process::exit(runtime_cli::main(args));
    }
    match args.get(1).and_then(|a| a.to_str()) {
        Some("daemon") => std::process::exit(berth_engine::daemon_main(args)),
        Some("shim") => std::process::exit(berth_engine::shim_main(args)),
        Some("compose") => {
            args.remove(1);
            std::process::exit(berth_compose::main(args))
        }
        _ => std::process::exit(berth_client::main(args)),
    }
}
