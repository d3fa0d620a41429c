//! `berth-runtime`: the OCI runtime alone, as a lean binary.
//!
//! `berth runtime …` (and `berth` invoked as `berth-runtime`) run the same code; this binary
//! links only the runtime, so each of the processes a container lifecycle starts (create, the
//! container's init, start, delete, …) loads, relocates and faults in a fraction of the full
//! `berth` binary (docs/runtime.md, Speed).

#[path = "runtime_cli.rs"]
mod runtime_cli;

fn main() {
    std::process::exit(runtime_cli::main(std::env::args_os().collect()));
}
