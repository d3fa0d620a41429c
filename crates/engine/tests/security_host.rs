//! Issue 12, "host root through the data root": a host user without privileges reaches no
//! container layer, no mounted rootfs and no file carrying a container's secrets, also after
//! an older berth left the directories 0755.
#![cfg(test)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use berth_testkit::daemon::{self as daemon_support, stderr, stdout, Daemon};

const SECRET: &str = "hunter2-not-for-nobody";

/// `args` run as the host user `nobody` (uid/gid 65534, no supplementary groups).
fn as_nobody(args: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ])
        .args(args)
        .output()
        .expect("run setpriv")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// What `nobody` can do to the container's files: each entry names a failure.
fn reachable_by_nobody(d: &Daemon, id: &str) -> Vec<String> {
    let data = d.root().join("data");
    let exec = d.root().join("exec");
    let mut found = Vec::new();
    // The setuid-root binary the container made, through its layer and its rootfs mount.
    for p in [
        data.join(format!("snapshots/active/{id}/diff/s/busybox")),
        exec.join(format!("containers/{id}/rootfs/s/busybox")),
    ] {
        let p = p.to_str().unwrap().to_string();
        if as_nobody(&["/bin/busybox", "test", "-u", &p])
            .status
            .success()
        {
            found.push(format!("nobody reaches the setuid-root file {p}"));
        }
    }
    // Files with the container's environment or output.
    for p in [
        exec.join(format!("containers/{id}/config.json")),
        exec.join(format!("runtime/{id}/state.json")),
        data.join(format!("metadata/records/container/{id}.json")),
        data.join(format!("containers/{id}/{id}-json.log")),
    ] {
        let out = as_nobody(&["/bin/busybox", "cat", p.to_str().unwrap()]);
        if out.status.success() || stdout(&out).contains(SECRET) {
            found.push(format!("nobody reads {}", p.display()));
        }
    }
    found
}

#[test]
fn peer_host_users_reach_no_layer_rootfs_or_secret() {
    if !daemon_support::need(
        "peer_host_users_reach_no_layer_rootfs_or_secret",
        &["setpriv"],
    ) {
        return;
    }
    let mut d = Daemon::start();
    // The daemon's roots sit in a directory anyone may enter, like /var/lib and /run.
    std::fs::set_permissions(d.root(), PermissionsExt::from_mode(0o755)).unwrap();
    d.load_busybox();
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        "suid",
        "--network",
        "none",
        "-e",
        &format!("DB_PASSWORD={SECRET}"),
        "busybox",
        "sh",
        "-c",
        "mkdir /s && cp /bin/busybox /s/busybox && chmod 4755 /s/busybox \
         && echo $DB_PASSWORD && echo ready && sleep 1000",
    ]);
    assert!(out.status.success(), "run: {}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let log = d.root().join(format!("data/containers/{id}/{id}-json.log"));
    for _ in 0..400 {
        if std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("ready")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(std::fs::read_to_string(&log).unwrap().contains(SECRET));
    // Root does see the setuid file: the checks below are about who else does.
    let rootfs_file = d
        .root()
        .join(format!("exec/containers/{id}/rootfs/s/busybox"));
    assert_eq!(mode(&rootfs_file), 0o4755);

    let found = reachable_by_nobody(&d, &id);
    assert!(found.is_empty(), "{found:#?}");
    assert_dockers_modes(&d.root().join("data"), &d.root().join("exec"));

    // A running exec: no process's command line shows the environment to other users.
    let out = d.docker(&[
        "exec",
        "-d",
        "-e",
        "EXEC_TOKEN=exec-secret-1",
        "suid",
        "sleep",
        "30",
    ]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    let mut running = false;
    for _ in 0..400 {
        let out = d.docker(&["top", "suid"]);
        if stdout(&out).contains("sleep 30") {
            running = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(running, "the exec did not start");
    let out = as_nobody(&[
        "/bin/sh",
        "-c",
        "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '",
    ]);
    let cmdlines = stdout(&out);
    assert!(cmdlines.contains("sleep"), "{}", stderr(&out));
    for secret in [SECRET, "exec-secret-1"] {
        assert!(
            !cmdlines.contains(secret),
            "a command line shows {secret} to other users"
        );
    }
    let exec_files: Vec<_> = std::fs::read_dir(d.root().join(format!("exec/containers/{id}")))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("exec-"))
        .map(|e| e.path())
        .collect();
    for f in &exec_files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }

    // Directories an older berth made 0755 are fixed when the daemon starts.
    d.kill9();
    for p in [
        "data",
        "data/snapshots",
        "data/containers",
        "data/metadata",
        "exec",
        "exec/containers",
        "exec/runtime",
    ] {
        std::fs::set_permissions(d.root().join(p), PermissionsExt::from_mode(0o755)).unwrap();
    }
    d.spawn();
    let found = reachable_by_nobody(&d, &id);
    assert!(found.is_empty(), "after a restart: {found:#?}");
    assert_dockers_modes(&d.root().join("data"), &d.root().join("exec"));
    // The container ran on, untouched.
    let out = d.docker(&["exec", "suid", "cat", "/proc/1/cmdline"]);
    assert!(stdout(&out).contains("sleep"), "{}", stderr(&out));
}

/// Data root 0710, exec root 0711; below them nothing a host user may list or enter,
/// except the traversable `containers/` (0710, root's group).
fn assert_dockers_modes(data: &Path, exec: &Path) {
    assert_eq!(mode(data), 0o710, "{}", data.display());
    assert_eq!(mode(exec), 0o711, "{}", exec.display());
    for root in [data, exec] {
        for e in std::fs::read_dir(root).unwrap().flatten() {
            let p: PathBuf = e.path();
            if !e.file_type().unwrap().is_dir() {
                continue;
            }
            assert_eq!(
                mode(&p) & 0o007,
                0,
                "{} is open to other users ({:o})",
                p.display(),
                mode(&p)
            );
        }
    }
}
