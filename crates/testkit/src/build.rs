//! What the build tests share: writing a context, running `docker build` / `berth build` on
//! a test daemon, and checking that a build left nothing behind.

use std::path::Path;
use std::process::Output;

use crate::daemon::{ok, stdout, Daemon, DOCKER_CLI};

/// Writes `files` (relative path, text) under `dir`, creating directories as needed.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// `docker build <args> .` run inside `ctx` against `d`, as the course types it.
pub fn docker_build(d: &Daemon, ctx: &Path, args: &[&str]) -> Output {
    d.cli_command(DOCKER_CLI)
        .current_dir(ctx)
        .arg("build")
        .args(args)
        .arg(".")
        .output()
        .expect("docker build")
}

/// `berth build --progress=plain <args> <ctx>` against `d`.
pub fn berth_build(d: &Daemon, ctx: &Path, args: &[&str]) -> Output {
    d.cli_command(&d.bin)
        .arg("build")
        .arg("--progress=plain")
        .args(args)
        .arg(ctx)
        .output()
        .expect("berth build")
}

/// Nothing of a build is left on `d`: no step root mounted, no step directory (cache mounts
/// aside) or active snapshot, no step shown as a container.
pub fn assert_no_build_leftovers(d: &Daemon) {
    let exec = d.root().join("exec");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let build_dir = exec.join("build").display().to_string();
    assert!(
        !mounts.contains(&build_dir),
        "a build mount is left:\n{mounts}"
    );
    // `RUN --mount=type=cache` directories outlive a build by design.
    let left: Vec<_> = std::fs::read_dir(exec.join("build"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name())
                .filter(|name| name != "cache-mounts")
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "build dirs left: {left:?}");
    let active: Vec<_> = std::fs::read_dir(d.root().join("data/snapshots/active"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(active.is_empty(), "snapshots left: {active:?}");
    let ps = ok("ps", d.docker(&["ps", "-aq"]));
    assert_eq!(stdout(&ps), "", "build steps must not show as containers");
}
