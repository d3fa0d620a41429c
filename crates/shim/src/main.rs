//! `berth-shim`: the per-container monitor the daemon starts (see the `berth_shim` crate).

fn main() {
    std::process::exit(berth_shim::main(std::env::args_os().skip(1).collect()));
}
