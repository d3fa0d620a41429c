//! Real busybox containers through `berth runtime`: isolation, exit codes, signals, state,
//! cleanup.
#![cfg(test)]

mod support;

use berth_testkit::require_root;
use support::{host_mounts_mention, stderr, stdout, Bundle};

#[test]
fn runtime_isolation_pid1_hostname_mounts() {
    require_root!();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "echo pid=$$; hostname; ls /proc | grep -c '^[0-9]'; wc -l < /proc/self/mountinfo; ls /proc/self/fd; cut -d' ' -f5 /proc/self/mountinfo",
    ]);
    let (_, out) = b.run();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "pid=1", "{text}");
    assert_eq!(lines[1], "berth", "{text}");
    // Only the shell and its pipeline are visible, never the host's processes.
    let procs: usize = lines[2].trim().parse().unwrap();
    assert!(procs <= 4, "{procs} processes visible:\n{text}");
    let mounts: usize = lines[3].trim().parse().unwrap();
    assert!(mounts > 5, "{mounts} mounts");
    // No descriptor of the runtime leaks: only stdio and ls's own directory fd.
    let fds: Vec<&str> = lines[4..8].to_vec();
    assert_eq!(fds, vec!["0", "1", "2", "3"], "{text}");
    // Its own mount table: the container's /proc and /dev/pts, nothing of the host's /tmp.
    let points: Vec<&str> = lines[8..].to_vec();
    assert!(
        points.contains(&"/proc") && points.contains(&"/dev/pts"),
        "{points:?}"
    );
    let tmp = b.path().to_string_lossy().into_owned();
    assert!(!points.iter().any(|p| p.starts_with(&tmp)), "{points:?}");
}

#[test]
fn runtime_exit_code_propagates() {
    require_root!();
    let b = Bundle::new(&["sh", "-c", "exit 7"]);
    let (_, out) = b.run();
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
}

#[test]
fn runtime_signal_propagates_as_128_plus_signal() {
    require_root!();
    let b = Bundle::new(&["sleep", "100"]);
    b.write();
    let id = b.new_id();
    let bundle = b.path().to_str().unwrap().to_string();
    let child = b.cmd(&["run", "--bundle", &bundle, &id]).spawn().unwrap();
    // Wait until it runs, then kill it from outside.
    for _ in 0..500 {
        let out = b.berth(&["state", &id]);
        if stdout(&out).contains("\"running\"") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let k = b.berth(&["kill", &id, "KILL"]);
    assert!(k.status.success(), "{}", stderr(&k));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(137));
}

#[test]
fn runtime_state_shape_and_lifecycle() {
    require_root!();
    let b = Bundle::new(&["sleep", "100"]);
    let id = b.create();
    let st = b.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    for key in ["ociVersion", "pid", "bundle", "rootfs", "created", "owner"] {
        assert!(st.get(key).is_some(), "state lacks {key}: {st}");
    }
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(st["bundle"], b.path().to_str().unwrap());
    // Nothing can be listed by other users; state.json (the spec, environment included) is
    // 0600; a user-namespaced init traverses to its exec fifo.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&b.state_root()), 0o711);
    assert_eq!(mode(&b.state_root().join(&id)), 0o711);
    assert_eq!(mode(&b.state_root().join(&id).join("state.json")), 0o600);

    // The created container's process is not the host binary: it cannot be opened for
    // writing and is a different file (CVE-2019-5736).
    let exe = format!("/proc/{pid}/exe");
    assert!(std::fs::OpenOptions::new().write(true).open(&exe).is_err());
    use std::os::unix::fs::MetadataExt;
    let host = std::fs::metadata(berth_testkit::berth_bin()).unwrap();
    let init = std::fs::metadata(&exe).unwrap();
    assert!((host.dev(), host.ino()) != (init.dev(), init.ino()));

    let out = b.berth(&["start", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(b.state(&id)["status"], "running");

    let out = b.berth(&["list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], id.as_str());

    let out = b.berth(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pids.contains(&pid), "{pids:?}");

    // delete without --force refuses a running container.
    let out = b.berth(&["delete", &id]);
    assert!(!out.status.success());

    let out = b.berth(&["kill", "--all", &id, "9"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for _ in 0..500 {
        if b.state(&id)["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(b.state(&id)["status"], "stopped");
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(b.state_root().join(&id).join("state.json")).unwrap(),
    )
    .unwrap();
    let out = b.berth(&["delete", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!b.state_root().join(&id).exists());
    assert_cgroup_gone(&record["cgroup"]);
    assert!(!host_mounts_mention(&b.rootfs()));
}

/// Every directory named in a serialised cgroup is gone.
pub fn assert_cgroup_gone(cg: &serde_json::Value) {
    let text = cg.to_string();
    let mut found = 0;
    for part in text.split('"') {
        if part.starts_with("/sys/fs/cgroup/")
            && part.contains('/')
            && part.len() > "/sys/fs/cgroup/x/".len()
        {
            let p = std::path::Path::new(part);
            // Mount points of hierarchies stay; container directories must be gone.
            if p.parent() != Some(std::path::Path::new("/sys/fs/cgroup"))
                && p != std::path::Path::new("/sys/fs/cgroup/unified")
            {
                found += 1;
                assert!(!p.exists(), "cgroup {part} left behind");
            }
        }
    }
    assert!(found > 0, "no cgroup directories in {text}");
}

#[test]
fn runtime_exec_inline_and_detached() {
    require_root!();
    let b = Bundle::new(&["sleep", "100"]);
    let id = b.create();
    assert!(b.berth(&["start", &id]).status.success());
    let out = b.berth(&[
        "exec",
        "-e",
        "FOO=bar",
        &id,
        "sh",
        "-c",
        "echo $FOO; ls /proc/self/fd; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("bar\n"), "{text}");
    assert_eq!(
        text.lines().skip(1).collect::<Vec<_>>(),
        vec!["0", "1", "2", "3"]
    );
    let pidfile = b.path().join("exec.pid");
    // A detached process keeps its stdio: give it none we would wait on.
    let status = b
        .cmd(&[
            "exec",
            "-d",
            "--pid-file",
            pidfile.to_str().unwrap(),
            &id,
            "sleep",
            "50",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = b.berth(&["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pids.contains(&pid), "{pids:?} lacks {pid}");
    assert!(b.berth(&["delete", "--force", &id]).status.success());
}

/// The cgroup join avoids `cgroup.procs` writes (clone3 into the unified directory, `tasks`
/// writes for v1): the container process and an exec'd process still end up in every
/// directory of the container's cgroup.
#[test]
fn runtime_container_and_exec_join_every_cgroup_directory() {
    require_root!();
    let b = Bundle::new(&["sleep", "100"]);
    let id = b.create();
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let out = b.berth(&["start", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid_file = b.path().join("exec.pid");
    // The detached process keeps stdio: not pipes we would wait on.
    let st = b
        .cmd(&[
            "exec",
            "-d",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
            "sleep",
            "100",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let exec_pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(b.state_root().join(&id).join("state.json")).unwrap(),
    )
    .unwrap();
    let cg = &record["cgroup"];
    let dirs: Vec<&str> = cg["v1"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| d["path"].as_str().unwrap())
        .chain(cg["unified"]["path"].as_str())
        .collect();
    assert!(!dirs.is_empty(), "no cgroup directories in {cg}");
    for dir in dirs {
        let procs = std::fs::read_to_string(format!("{dir}/cgroup.procs")).unwrap();
        let procs: Vec<i64> = procs.lines().filter_map(|l| l.parse().ok()).collect();
        for p in [pid, exec_pid] {
            assert!(procs.contains(&p), "{p} not in {dir}: {procs:?}");
        }
    }
    let out = b.berth(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The lean `berth-runtime` binary is the same runtime: a container runs to its exit code,
/// and its init is not the host binary (CVE-2019-5736) but a read-only copy.
#[test]
fn runtime_lean_binary_runs_a_container() {
    require_root!();
    let lean = env!("CARGO_BIN_EXE_berth-runtime");
    let b = Bundle::new(&["sleep", "100"]);
    b.write();
    let id = b.new_id();
    let root = b.state_root();
    let lean_cmd = |args: &[&str]| {
        let mut c = std::process::Command::new(lean);
        c.arg("--root").arg(&root).args(args);
        c.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        c
    };
    let st = lean_cmd(&["create", "--bundle", b.path().to_str().unwrap(), &id])
        .status()
        .unwrap();
    assert!(st.success());
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let exe = format!("/proc/{pid}/exe");
    assert!(std::fs::OpenOptions::new().write(true).open(&exe).is_err());
    use std::os::unix::fs::MetadataExt;
    let host = std::fs::metadata(lean).unwrap();
    let init = std::fs::metadata(&exe).unwrap();
    assert!((host.dev(), host.ino()) != (init.dev(), init.ino()));
    let st = lean_cmd(&["delete", "--force", &id]).status().unwrap();
    assert!(st.success());
    assert!(!b.state_root().join(&id).exists());

    let b = Bundle::new(&["sh", "-c", "exit 3"]);
    b.write();
    let id = b.new_id();
    let out = std::process::Command::new(lean)
        .arg("--root")
        .arg(b.state_root())
        .args(["run", "--bundle", b.path().to_str().unwrap(), &id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

/// Issue 12: `exec` failed now and then with "init never reported the container pid" while
/// the container kept the CPUs busy scanning /proc. The exec'd process (forked by the
/// first stage into the container's pid namespace) could report Ready before the first
/// stage had reported its pid. Now it waits for the first stage to be gone. Many execs at
/// once, against a container that scans /proc in three loops: every one succeeds.
#[test]
fn runtime_exec_under_load_always_reports_the_pid() {
    require_root!();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "for i in 1 2 3; do (while true; do ls -R /proc >/dev/null 2>&1; done) & done; sleep 1000",
    ]);
    let id = b.create();
    assert!(b.berth(&["start", &id]).status.success());
    let mut failures = Vec::new();
    for _ in 0..30 {
        let children: Vec<_> = (0..4)
            .map(|_| {
                b.cmd(&["exec", &id, "true"])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            if !out.status.success() {
                failures.push(stderr(&out));
            }
        }
    }
    assert!(b.berth(&["delete", "--force", &id]).status.success());
    assert!(
        failures.is_empty(),
        "{} of 120 execs failed: {failures:?}",
        failures.len()
    );
}
