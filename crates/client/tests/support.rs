//! Runs the `berth` CLI and the docker CLI (the oracle) against the shared fake engine
//! (`berth_api_server::testing`), served on a private socket.
#![allow(dead_code)]

use std::path::PathBuf;

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

/// Runs `prog -H <server> args…` with a private config dir / HOME.
pub async fn cli(prog: PathBuf, server: &TestServer, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let host = server.host();
    let home = server.dir.path().join(format!(
        "home-{}",
        prog.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&home).unwrap();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let stdin = stdin.map(|s| s.to_vec());
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(prog)
            .arg("-H")
            .arg(&host)
            .args(&args)
            .env("HOME", &home)
            .env_remove("DOCKER_CONFIG")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env("DOCKER_CLI_HINTS", "false")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn cli");
        let mut sin = child.stdin.take().unwrap();
        if let Some(data) = stdin {
            sin.write_all(&data).unwrap();
        }
        drop(sin);
        let o = child.wait_with_output().unwrap();
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
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
