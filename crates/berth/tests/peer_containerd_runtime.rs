//! containerd drives berth's runtime: a private containerd (own root, state and socket under a
//! TempDir) imports a busybox image and `ctr run --runc-binary <berth-runtime>` runs it to
//! its exit code.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::{berth_bin, image_tar, require_program, require_root, unique_name, TempDir};

struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        unmount_under(&self.dir);
    }
}

/// Lazily unmounts every mount below `dir` (deepest first).
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
fn peer_containerd_runs_berth_runtime_to_exit_code() {
    require_root!();
    require_program!("containerd");
    require_program!("ctr");
    let tmp = TempDir::new("berth-ctrd-");
    let dir = tmp.path().to_path_buf();
    let sock = dir.join("c.sock");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"{1}.ttrpc\"\n\
             [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
            dir.display(),
            sock.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
    let child = Command::new(berth_testkit::which("containerd").unwrap())
        .arg("--config")
        .arg(&config)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let _daemon = Daemon {
        child,
        dir: dir.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "containerd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ctr = |args: &[&str]| {
        Command::new("ctr")
            .arg("-a")
            .arg(&sock)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let archive = dir.join("busybox.tar");
    image_tar::busybox_archive(&archive, &["docker.io/library/busybox:latest"]);
    let out = ctr(&[
        "images",
        "import",
        "--all-platforms",
        archive.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let shim_runtime = dir.join("berth-runtime");
    std::os::unix::fs::symlink(berth_bin(), &shim_runtime).unwrap();
    let id = unique_name("ctrd");
    let out = ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        shim_runtime.to_str().unwrap(),
        "docker.io/library/busybox:latest",
        &id,
        "sh",
        "-c",
        "echo hello from berth under containerd; exit 42",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("hello from berth under containerd"),
        "stdout {stdout:?} stderr {}\nlog: {}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("containerd.log")).unwrap_or_default()
    );
    assert_eq!(out.status.code(), Some(42));
}
