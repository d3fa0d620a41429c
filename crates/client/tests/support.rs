//! Runs the `berth` CLI and the docker CLI (the oracle) against the shared fake engine
//! (`berth_api_server::testing`), served on a private socket.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub use berth_api_server::testing::{FakeEngine, TestServer};

/// Output of one CLI run.
#[derive(Debug)]
pub struct Out {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// Runs `prog args…` sandboxed: `HOME=home`, nothing from the caller's docker environment
/// (config dir, host, context, TLS), no CLI hints, `stdin` piped in, in `cwd` if given.
pub fn run_cli(prog: &Path, home: &Path, cwd: Option<&Path>, args: &[&str], stdin: &[u8]) -> Out {
    use std::io::Write;
    let mut cmd = std::process::Command::new(prog);
    cmd.args(args)
        .env("HOME", home)
        .env_remove("DOCKER_CONFIG")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env("DOCKER_CLI_HINTS", "false")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().expect("spawn cli");
    let mut sin = child.stdin.take().expect("stdin");
    sin.write_all(stdin).expect("write stdin");
    drop(sin);
    let o = child.wait_with_output().expect("wait cli");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs `prog -H <server> args…` with a private HOME (one per program).
pub async fn cli(prog: PathBuf, server: &TestServer, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let home = server.dir.path().join(format!(
        "home-{}",
        prog.file_name().expect("program name").to_string_lossy()
    ));
    std::fs::create_dir_all(&home).expect("home");
    let mut argv = vec!["-H".to_string(), server.host()];
    argv.extend(args.iter().map(|s| s.to_string()));
    let stdin = stdin.unwrap_or_default().to_vec();
    tokio::task::spawn_blocking(move || {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        run_cli(&prog, &home, None, &argv, &stdin)
    })
    .await
    .expect("cli task")
}

/// `berth args…` against the server.
pub async fn berth(server: &TestServer, args: &[&str]) -> Out {
    cli(berth_testkit::berth_bin(), server, args, None).await
}

/// `berth args…` with `stdin` piped in.
pub async fn berth_in(server: &TestServer, args: &[&str], stdin: &[u8]) -> Out {
    cli(berth_testkit::berth_bin(), server, args, Some(stdin)).await
}

/// The docker CLI (the oracle) against the server.
pub async fn docker(server: &TestServer, args: &[&str]) -> Out {
    cli(PathBuf::from("/usr/local/bin/docker"), server, args, None).await
}
