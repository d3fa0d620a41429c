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
//!
//! `BERTH_TEST_HOLD_AT=<point>` with `BERTH_TEST_HOLD_DIR=<dir>` holds the request at
//! `<point>` instead (see [`hold`]), so that a test can make another request arrive there
//! at a known moment: `start-before-save` (the container runs, its start is not finished).

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

/// The environment variable naming the point where the daemon holds (`hold`).
pub const HOLD_ENV: &str = "BERTH_TEST_HOLD_AT";
/// The directory where the daemon notes the points it reached (`hold`, `reached`).
pub const HOLD_DIR_ENV: &str = "BERTH_TEST_HOLD_DIR";

fn hold_dir() -> Option<&'static std::path::Path> {
    static DIR: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os(HOLD_DIR_ENV)
            .filter(|v| !v.is_empty())
            .map(Into::into)
    })
    .as_deref()
}

/// Notes that the daemon reached `point`: creates `<BERTH_TEST_HOLD_DIR>/<point>` (nothing
/// without the variable). Lets a test see, without guessing at timing, that a request got
/// there (e.g. `kill-waits-for-start`: a kill waits for a start in flight).
pub fn reached(point: &str) {
    if let Some(dir) = hold_dir() {
        let _ = std::fs::write(dir.join(point), b"");
    }
}

/// Holds the task at `point` the first time it is reached, when `BERTH_TEST_HOLD_AT` names
/// it: creates `<BERTH_TEST_HOLD_DIR>/<point>` and waits until the test removes that file.
/// The rest of the daemon serves on meanwhile. Inert unless both variables are set.
pub async fn hold(point: &str) {
    static HELD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var(HOLD_ENV).ok().filter(|v| !v.is_empty()));
    let Some(dir) = hold_dir() else { return };
    if wanted.as_deref() != Some(point) || HELD.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let file = dir.join(point);
    if std::fs::write(&file, b"").is_err() {
        return;
    }
    while file.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
