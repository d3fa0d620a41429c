//! Build facts for `version` (see `berth_api_types::build_info`): the commit, its time, the
//! compiler. Re-runs only when HEAD moves, so ordinary edits do not re-run it.

use std::process::Command;

fn run(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn git(args: &[&str]) -> Option<String> {
    run("git", args)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // HEAD, the branch it points to, and packed refs: any commit or checkout moves one.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for w in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &w]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let commit = git(&["rev-parse", "--short=7", "HEAD"]).unwrap_or_default();
    // Docker's shape, in UTC: "2023-05-18T08:38:34.000000000+00:00".
    let time = git(&[
        "log",
        "-1",
        "--date=format-local:%Y-%m-%dT%H:%M:%S.000000000+00:00",
        "--format=%cd",
    ])
    .unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc = run(&rustc, &["--version"])
        .map(|v| v.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "rust".into());
    println!("cargo:rustc-env=BERTH_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=BERTH_BUILD_TIME={time}");
    println!("cargo:rustc-env=BERTH_RUSTC={rustc}");
}
