//! `--init` (`HostConfig.Init`): Docker's docker-init. A static tini from the host (Debian's
//! `tini` package ships `/usr/bin/tini-static`; Docker's own `docker-init` is the same binary)
//! is bind-mounted read-only at `/sbin/docker-init` and becomes pid 1 in front of the
//! container's command: it reaps orphaned zombies and forwards signals to the command.

use std::path::PathBuf;

use serde_json::{json, Value};

/// Where the init appears inside the container (as with Docker).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// The host's static init binary: `tini-static`, else `docker-init` (first on PATH).
pub fn binary() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/local/bin".into()])
        .collect();
    for name in ["tini-static", "docker-init"] {
        for d in &dirs {
            let p = d.join(name);
            if p.is_file() {
                // Bind the real file, not a symlink to it.
                return Some(std::fs::canonicalize(&p).unwrap_or(p));
            }
        }
    }
    None
}

/// Puts the init in front of `args` and adds its read-only bind mount.
pub fn apply(args: &[String], mounts: &mut Vec<Value>) -> Result<Vec<String>, String> {
    let bin = binary().ok_or_else(|| {
        "--init: no init binary found on the host (install Debian's tini package, which \
         provides tini-static)"
            .to_string()
    })?;
    mounts.push(json!({
        "destination": INIT_PATH,
        "type": "bind",
        "source": bin,
        "options": ["rbind", "ro", "nosuid", "nodev"],
    }));
    let mut out = vec![INIT_PATH.to_string(), "--".to_string()];
    out.extend(args.iter().cloned());
    Ok(out)
}
