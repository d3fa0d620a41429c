//! Helpers shared by berth's integration tests.
//!
//! Tests that need root (or a peer program) call [`require_root!`] / [`require_program!`]
//! first: outside CI they print why they skip and return; under `CI=true` a missing
//! requirement is a failure, so CI can never go green by skipping everything.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub mod build;
pub mod busybox;
pub mod daemon;
pub mod debian;
pub mod dockerd;
pub mod image_tar;
pub mod journald;
pub mod netns;
pub mod registry;
pub mod subnet;
pub mod systemd;
pub mod tempdir;

pub use tempdir::TempDir;

/// True when the current process runs as uid 0.
pub fn is_root() -> bool {
    // /proc/self/status is the unsafe-free way to read our uid.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// True when running under CI (`CI=true`), where skipping is not allowed.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Finds `name` on PATH (plus the sbin directories, which a non-login root PATH may lack).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file());
    found
}

/// Reports a skipped test; panics instead under CI.
pub fn skip(test: &str, why: &str) {
    if in_ci() {
        panic!("{test}: cannot run under CI: {why}");
    }
    eprintln!("SKIP {test}: {why}");
}

/// Returns early from the calling test (with a message) unless running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::is_root() {
            $crate::skip(module_path!(), "needs root");
            return;
        }
    };
}

/// Returns early from the calling test unless `program` is installed.
#[macro_export]
macro_rules! require_program {
    ($program:expr) => {
        if $crate::which($program).is_none() {
            $crate::skip(module_path!(), &format!("needs `{}` installed", $program));
            return;
        }
    };
}

/// A name unique to this process and call, safe for cgroups, interfaces (max 15 bytes with
/// a short prefix), container ids and netns names: `<prefix><pid hex><counter hex>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:x}{:x}", std::process::id(), n)
}

/// Path of the `berth` binary built by cargo for this test run.
///
/// Integration tests of the `berth` crate get it from `CARGO_BIN_EXE_berth`; other crates'
/// tests find it next to their own test executable (target/<profile>/berth).
pub fn berth_bin() -> PathBuf {
    if let Some(p) = option_env!("CARGO_BIN_EXE_berth") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/berth
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let bin = profile_dir.join("berth");
    assert!(
        bin.is_file(),
        "{} not built: run the tests through scripts/test.sh (cargo nextest builds it)",
        bin.display()
    );
    bin
}

/// Path of a helper binary built next to `berth` (`berth-shim`, `berth-runtime`).
///
/// `cargo nextest run --workspace` builds every package's binaries before the tests run;
/// with `-p <crate>` build them first (`cargo build --release -p berth -p berth-shim`).
pub fn helper_bin(name: &str) -> PathBuf {
    let bin = berth_bin().with_file_name(name);
    assert!(
        bin.is_file(),
        "{} not built: cargo build --release -p berth -p berth-shim",
        bin.display()
    );
    bin
}
