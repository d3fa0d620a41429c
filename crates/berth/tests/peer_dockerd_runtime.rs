//! Docker's own daemon drives berth's runtime: a private dockerd (own socket, data root and
//! exec root under a TempDir, no networking set-up) with `--add-runtime berth=<berth-runtime>`
//! runs `docker run --runtime berth busybox echo hi`.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::{image_tar, require_program, require_root, TempDir};

struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM lets dockerd stop its own containerd; then make sure.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // dockerd's containerd writes its pid under the exec root.
        for pidfile in ["exec/containerd/containerd.pid", "exec/containerd.pid"] {
            if let Ok(pid) = std::fs::read_to_string(self.dir.join(pidfile)) {
                let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
            }
        }
        unmount_under(&self.dir);
    }
}

fn unmount_under(dir: &Path) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").arg("-l").arg(&p).status();
    }
}

#[test]
fn peer_dockerd_runs_busybox_with_berth_runtime() {
    require_root!();
    require_program!("dockerd");
    require_program!("docker");
    let tmp = TempDir::new("berth-dockerd-");
    let dir = tmp.path().to_path_buf();
    let sock = dir.join("d.sock");
    // The lean runtime binary (containerd's test drives `berth` through an argv0 symlink).
    let runtime = PathBuf::from(env!("CARGO_BIN_EXE_berth-runtime"));
    let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
    let child = Command::new(berth_testkit::which("dockerd").unwrap())
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("d.pid"))
        .args([
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
        ])
        .arg("--add-runtime")
        .arg(format!("berth={}", runtime.display()))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let _daemon = Daemon {
        child,
        dir: dir.clone(),
    };
    let docker = |args: &[&str]| {
        Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if sock.exists() && docker(&["version"]).status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "dockerd did not start: {}",
            std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let archive = dir.join("busybox.tar");
    image_tar::busybox_archive(&archive, &["busybox:latest"]);
    let out = docker(&["load", "-i", archive.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "load: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = docker(&[
        "run",
        "--rm",
        "--runtime",
        "berth",
        "--network",
        "none",
        "busybox",
        "echo",
        "hi",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hi",
        "stderr: {}\nlog: {}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
    );
    assert!(out.status.success());
}
