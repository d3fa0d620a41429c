//! Deterministic crashes for the crash-safety tests.
//!
//! `BERTH_TEST_CRASH_AT=<point>` in the daemon's environment makes the daemon SIGKILL
//! itself the first time it reaches `<point>`: the same as `kill -9` at that instant, but
//! reproducible. The code is always compiled in; it is inert unless the variable is set
//! (read once, from the environment only: no flag, no daemon.json key, no API).
//!
//! Points (see `docs/engine.md`, "Crash safety"):
//! - `create-before-commit`: a container's data dir, volumes and snapshot exist, its record
//!   is not committed yet;
//! - `start-before-save`: the shim runs the started container, the record still says
//!   `created`;
//! - `rm-after-mark`: the record is marked `removing`, nothing is torn down yet;
//! - `rm-after-snapshot`: the snapshot and directories are gone, the record is not;
//! - `pull-downloading`: the first layer bytes of a pull have arrived (partial ingest);
//! - `pull-layer-committed`: a pulled layer is unpacked and committed, no image record.

use std::sync::OnceLock;

/// The environment variable naming the crash point.
pub const ENV: &str = "BERTH_TEST_CRASH_AT";

fn wanted() -> Option<&'static str> {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    WANTED
        .get_or_init(|| std::env::var(ENV).ok().filter(|v| !v.is_empty()))
        .as_deref()
}

/// Kills the daemon with SIGKILL if `BERTH_TEST_CRASH_AT` names `point`.
pub fn point(point: &str) {
    if wanted() != Some(point) {
        return;
    }
    eprintln!("berth daemon: {ENV}={point}: killing the daemon with SIGKILL");
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    // Not reached; should the signal be refused, end as abruptly.
    std::process::abort();
}
