//! Limits and confinement of real busybox containers: memory and pids limits, capabilities,
//! seccomp (custom rules and Docker's default profile), read-only root, masked paths, user
//! namespaces, mount targets that try to escape the rootfs.
#![cfg(test)]

mod support;

use berth_testkit::{require_root, unique_name};
use serde_json::json;
use support::{stderr, stdout, Bundle};

#[test]
fn runtime_memory_limit_oom_kills() {
    require_root!();
    // busybox tail buffers /dev/zero looking for a newline: it grows until the limit.
    let mut b = Bundle::new(&["tail", "/dev/zero"]);
    let limit = 32 * 1024 * 1024;
    b.spec["linux"]["resources"]["memory"] = json!({"limit": limit, "swap": limit});
    let id = b.create();
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(b.state_root().join(&id).join("state.json")).unwrap(),
    )
    .unwrap();
    assert!(b.berth(&["start", &id]).status.success());
    for _ in 0..3000 {
        if b.state(&id)["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(b.state(&id)["status"], "stopped");
    // The cgroup's memory controller counted the OOM kill.
    let text = record["cgroup"].to_string();
    let mem_dir = text
        .split('"')
        .find(|p| {
            p.starts_with("/sys/fs/cgroup/memory/")
                || p.starts_with("/sys/fs/cgroup/")
                    && !p.contains("cgroup/unified")
                    && std::path::Path::new(p).join("memory.events").exists()
        })
        .expect("memory cgroup dir");
    let dir = std::path::Path::new(mem_dir);
    let events = std::fs::read_to_string(dir.join("memory.oom_control"))
        .or_else(|_| std::fs::read_to_string(dir.join("memory.events")))
        .unwrap();
    let kills: u64 = events
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(kills >= 1, "{events}");
}

#[test]
fn runtime_pids_limit_stops_fork_bomb() {
    require_root!();
    let script = "for i in $(seq 1 40); do sleep 5 & done; echo all-forked";
    let mut b = Bundle::new(&["sh", "-c", script]);
    b.spec["linux"]["resources"]["pids"] = json!({"limit": 8});
    let (_, out) = b.run();
    // busybox sh gives up at the first fork the pids controller refuses.
    assert!(!stdout(&out).contains("all-forked"), "{}", stdout(&out));
    assert!(stderr(&out).contains("can't fork"), "{}", stderr(&out));
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn runtime_dropped_capability_gives_eperm() {
    require_root!();
    // The default spec grants no CAP_CHOWN.
    let b = Bundle::new(&["chown", "1", "/tmp"]);
    let (_, out) = b.run();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "{}",
        stderr(&out)
    );
    // With CAP_CHOWN the same command works.
    let mut b = Bundle::new(&["chown", "1", "/tmp"]);
    for set in ["bounding", "effective", "permitted"] {
        b.spec["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_CHOWN"));
    }
    let (_, out) = b.run();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn runtime_seccomp_rules_and_argument_conditions() {
    require_root!();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "touch /tmp/f; chmod 644 /tmp/f && echo chmod644-ok; chmod 777 /tmp/f || echo chmod777-denied; mkdir /tmp/d || echo mkdir-denied",
    ]);
    b.spec["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}]}
        ]
    });
    let (_, out) = b.run();
    let text = stdout(&out);
    assert!(text.contains("chmod644-ok"), "{text} {}", stderr(&out));
    assert!(text.contains("chmod777-denied"), "{text}");
    assert!(text.contains("mkdir-denied"), "{text}");
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn runtime_docker_default_seccomp_profile_loads_and_denies() {
    require_root!();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "echo running; unshare -U true || echo unshare-denied",
    ]);
    let caps: Vec<String> = b.spec["process"]["capabilities"]["bounding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let oci = berth_engine::spec::seccomp::default_for(&caps);
    b.spec["linux"]["seccomp"] = serde_json::to_value(&oci).unwrap();
    let (_, out) = b.run();
    let text = stdout(&out);
    assert!(text.contains("running"), "{text} {}", stderr(&out));
    assert!(text.contains("unshare-denied"), "{text}");
}

#[test]
fn runtime_readonly_root_and_masked_paths_hold() {
    require_root!();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "touch /x 2>&1 || true; echo keys=$(wc -c < /proc/keys); (echo 1 > /proc/sys/vm/overcommit_memory) 2>&1 || true; echo tmpfs-ok > /dev/shm/y && cat /dev/shm/y",
    ]);
    b.spec["root"]["readonly"] = json!(true);
    let (_, out) = b.run();
    let text = stdout(&out);
    assert!(
        text.contains("Read-only file system"),
        "{text} {}",
        stderr(&out)
    );
    assert!(text.contains("keys=0"), "{text}");
    assert!(
        text.lines()
            .filter(|l| l.contains("Read-only file system"))
            .count()
            >= 2,
        "{text}"
    );
    assert!(text.contains("tmpfs-ok"), "{text}");
    assert!(!b.rootfs().join("x").exists());
}

#[test]
fn runtime_user_namespace_maps_root_to_unprivileged_uid() {
    require_root!();
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/self/uid_map; id -u; sleep 100"]);
    b.add_namespace("user");
    b.spec["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.spec["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let id = b.create();
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().nth(1),
        Some("100000"),
        "{uid_line}"
    );
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        vec!["0", "100000", "65536"]
    );
    assert!(b.berth(&["delete", "--force", &id]).status.success());
}

#[test]
fn runtime_mount_target_symlink_cannot_escape_rootfs() {
    require_root!();
    // A host directory the image's symlink points at.
    let host_dir = std::env::temp_dir().join(unique_name("berth-escape-"));
    std::fs::create_dir_all(&host_dir).unwrap();
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(host_dir.clone());
    let mut b = Bundle::new(&["sh", "-c", "echo inside > /evil/marker && echo wrote"]);
    std::os::unix::fs::symlink(&host_dir, b.rootfs().join("evil")).unwrap();
    b.spec["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs"}));
    let (_, out) = b.run();
    assert!(
        stdout(&out).contains("wrote"),
        "{} {}",
        stdout(&out),
        stderr(&out)
    );
    // The mount landed inside the rootfs (the link resolved under it), not on the host.
    assert!(!host_dir.join("marker").exists());
    assert!(std::fs::read_dir(&host_dir).unwrap().next().is_none());
    let inside = b.rootfs().join(host_dir.strip_prefix("/").unwrap());
    assert!(
        inside.is_dir(),
        "{} not created in the rootfs",
        inside.display()
    );
}

/// Ambient capabilities reach a non-root process; one not also inheritable is skipped as
/// runc does (`runc spec` lists ambient caps without inheritable ones), not an error.
#[test]
fn runtime_ambient_capabilities_like_runc() {
    require_root!();
    let mut b = Bundle::new(&["grep", "CapAmb", "/proc/self/status"]);
    b.spec["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let caps = &mut b.spec["process"]["capabilities"];
    for set in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        caps[set] = json!(["CAP_CHOWN"]);
    }
    for set in ["bounding", "effective", "permitted", "ambient"] {
        caps[set].as_array_mut().unwrap().push(json!("CAP_KILL"));
    }
    let (_, out) = b.run();
    assert!(out.status.success(), "{}", stderr(&out));
    // CAP_CHOWN is bit 0; CAP_KILL (bit 5) is not inheritable, so not ambient.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("CapAmb:\t0000000000000001"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Issue 12: the runtime creates nothing outside its own root (the sealed binary's overlay
/// needed an empty directory, once /run/berth/empty). Run with /run a fresh tmpfs in a
/// private mount namespace: a whole lifecycle leaves it empty.
#[test]
fn runtime_creates_nothing_outside_its_root() {
    require_root!();
    berth_testkit::require_program!("unshare");
    let b = Bundle::new(&["true"]);
    b.write();
    let id = b.new_id();
    let script = format!(
        "mount -t tmpfs berth-test-run /run && {} runtime --root {} run --bundle {} {id} && ls -A /run",
        berth_testkit::berth_bin().display(),
        b.state_root().display(),
        b.path().display(),
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "created under /run");
}
