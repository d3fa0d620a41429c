//! `--init` (`HostConfig.Init`): Docker's docker-init. A static tini from the host (Debian's
//! `tini` package ships `/usr/bin/tini-static`; Docker's own `docker-init` is the same binary)
//! is bind-mounted read-only at `/sbin/docker-init` and becomes pid 1 in front of the
//! container's command: it reaps orphaned zombies and forwards signals to the command.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;

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

/// `--init`: the args with the init in front, and the read-only bind of its binary.
pub fn init(args: &[String]) -> Result<(Vec<String>, Mount), String> {
    let bin = binary().ok_or_else(|| {
        "--init: no init binary found on the host (install Debian's tini package, which \
         provides tini-static)"
            .to_string()
    })?;
    Ok(init_with(&bin, args))
}

/// [`init`] with the init binary at `bin`.
pub fn init_with(bin: &Path, args: &[String]) -> (Vec<String>, Mount) {
    let m = super::mounts::bind(INIT_PATH, bin, &["ro", "nosuid", "nodev"]);
    let mut out = vec![INIT_PATH.to_string(), "--".to_string()];
    out.extend(args.iter().cloned());
    (out, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_goes_in_front() {
        let (args, m) = init_with(Path::new("/usr/bin/tini-static"), &["sh".to_string()]);
        assert_eq!(args, ["/sbin/docker-init", "--", "sh"]);
        assert_eq!(m.destination(), Path::new("/sbin/docker-init"));
        assert!(m.options().as_ref().unwrap().contains(&"ro".to_string()));
    }
}
