//! Facts about this build that `version` shows on both sides (the client's `Client:` block,
//! the daemon's `GET /version`): commit, build time, compiler.
//!
//! The `berth` binary computes them in its build script and sets them once at start-up, so a
//! new commit relinks only the binary instead of recompiling every crate that would read an
//! `env!` here.

use std::sync::OnceLock;

/// This build's facts; empty strings when unknown (a build outside a git checkout).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildInfo {
    /// Short commit id ("5d6db84").
    pub git_commit: &'static str,
    /// Commit time, RFC 3339 (what `docker version` parses and prints as "Built").
    pub build_time: &'static str,
    /// The compiler, in `GoVersion`'s place ("rustc 1.95.0").
    pub rustc: &'static str,
}

static INFO: OnceLock<BuildInfo> = OnceLock::new();

/// Records this build's facts (the first call wins).
pub fn set(info: BuildInfo) {
    let _ = INFO.set(info);
}

/// This build's facts; `rustc` is "rust" when the binary did not say.
pub fn get() -> BuildInfo {
    INFO.get().copied().unwrap_or(BuildInfo {
        rustc: "rust",
        ..BuildInfo::default()
    })
}
