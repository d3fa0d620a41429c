//! `berth`: one binary that is the CLI, the daemon and the OCI runtime.

fn main() {
    println!("berth {}", env!("CARGO_PKG_VERSION"));
}
