//! The helper programs the daemon runs (`berth-shim` per container, `berth-runtime` for every
//! runtime call), found once at daemon start.
//!
//! Both are looked up next to the daemon's own executable; when a lean binary is missing the
//! daemon falls back to its own binary's subcommand (`berth shim`, `berth runtime`). The paths
//! are fixed at start, so rebuilding or replacing the binaries while the daemon runs never
//! makes it exec a deleted `/proc/self/exe`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// A program and the leading arguments that select its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperCommand {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before the role's own (`["runtime"]` for `berth runtime …`).
    pub args: Vec<OsString>,
}

impl HelperCommand {
    /// A tokio command running this helper.
    pub fn command(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.program);
        c.args(&self.args);
        c
    }
}

/// The helpers the daemon runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helpers {
    /// The per-container monitor.
    pub shim: HelperCommand,
    /// The OCI runtime.
    pub runtime: HelperCommand,
}

impl Helpers {
    /// Resolves the helpers next to the running executable (`berth` when the fallback is
    /// needed).
    pub fn from_current_exe() -> Helpers {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("berth"));
        Helpers::next_to(&exe)
    }

    /// Resolves the helpers next to `exe`: `berth-shim` / `berth-runtime` when present,
    /// otherwise `exe shim` / `exe runtime`.
    pub fn next_to(exe: &Path) -> Helpers {
        let dir = exe.parent().unwrap_or(Path::new("."));
        let pick = |lean: &str, sub: &str| {
            let p = dir.join(lean);
            if is_executable(&p) {
                HelperCommand {
                    program: p,
                    args: Vec::new(),
                }
            } else {
                HelperCommand {
                    program: exe.to_path_buf(),
                    args: vec![sub.into()],
                }
            }
        };
        Helpers {
            shim: pick("berth-shim", "shim"),
            runtime: pick("berth-runtime", "runtime"),
        }
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lean_binaries_win_over_subcommands() {
        let dir = std::env::temp_dir().join(format!("berth-helpers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("berth");
        let fallback = Helpers::next_to(&exe);
        assert_eq!(fallback.shim.program, exe);
        assert_eq!(fallback.shim.args, vec![OsString::from("shim")]);
        assert_eq!(fallback.runtime.args, vec![OsString::from("runtime")]);
        for name in ["berth-shim", "berth-runtime"] {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.join(name);
            std::fs::write(&p, b"#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let lean = Helpers::next_to(&exe);
        assert_eq!(lean.shim.program, dir.join("berth-shim"));
        assert!(lean.shim.args.is_empty());
        assert_eq!(lean.runtime.program, dir.join("berth-runtime"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
