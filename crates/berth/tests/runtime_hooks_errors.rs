//! Hooks in spec order, pause/resume, and bad input that must fail clearly and leave
//! nothing behind.
#![cfg(test)]

mod support;

use std::time::Duration;

use berth_testkit::{require_root, unique_name};
use serde_json::json;
use support::{host_mounts_mention, stderr, stdout, Bundle};

fn hook(log: &str, name: &str) -> serde_json::Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} >> {log}")]})
}

#[test]
fn runtime_hooks_run_in_spec_order_with_state() {
    require_root!();
    let mut b = Bundle::new(&["true"]);
    let logdir = b.path().join("hooklog");
    std::fs::create_dir_all(&logdir).unwrap();
    let host_log = logdir.join("log");
    let h = host_log.to_str().unwrap().to_string();
    b.spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/hooklog", "type": "bind", "source": logdir, "options": ["rbind"]
    }));
    let state_file = b.path().join("prestart-state.json");
    b.spec["hooks"] = json!({
        "prestart": [{"path": "/bin/sh", "args": ["sh", "-c",
            format!("cat > {}; echo prestart >> {h}", state_file.display())]}],
        "createRuntime": [hook(&h, "createRuntime")],
        "createContainer": [hook(&h, "createContainer")],
        // Runs inside the container after pivot_root: busybox sh, the bind-mounted log.
        "startContainer": [hook("/hooklog/log", "startContainer")],
        "poststart": [hook(&h, "poststart")],
        "poststop": [hook(&h, "poststop")],
    });
    let id = b.create();
    b.berth(&["start", &id]);
    for _ in 0..500 {
        if b.state(&id)["status"] == "stopped" {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = b.berth(&["delete", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = std::fs::read_to_string(&host_log).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        vec![
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert_eq!(st["id"], id.as_str());
    assert!(st["pid"].as_i64().unwrap() > 0);
}

#[test]
fn runtime_pause_and_resume_freeze_and_thaw() {
    require_root!();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; usleep 2000; done",
    ]);
    let id = b.create();
    assert!(b.berth(&["start", &id]).status.success());
    let counter = b.rootfs().join("tmp/n");
    let read = || {
        std::fs::read_to_string(&counter)
            .unwrap_or_default()
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    while read() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = b.berth(&["pause", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(b.state(&id)["status"], "paused");
    let frozen = read();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(read(), frozen, "the counter moved while paused");
    let out = b.berth(&["resume", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(b.state(&id)["status"], "running");
    let mut moved = false;
    for _ in 0..500 {
        if read() > frozen {
            moved = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(moved, "the counter did not move after resume");
    assert!(b.berth(&["delete", "--force", &id]).status.success());
}

/// Runs `create` expecting failure; checks the message names `field` and nothing is left.
fn assert_create_fails_cleanly(b: &Bundle, field: &str) {
    let id = b.new_id();
    let cg = format!("/berth-test/{}", unique_name("bad"));
    let mut spec = b.spec.clone();
    if spec.get("linux").is_some_and(|l| l.is_object()) {
        spec["linux"]["cgroupsPath"] = json!(cg);
        std::fs::write(
            b.path().join("config.json"),
            serde_json::to_vec(&spec).unwrap(),
        )
        .unwrap();
    }
    let bundle = b.path().to_str().unwrap().to_string();
    let out = b
        .cmd(&["create", "--bundle", &bundle, &id])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(field),
        "error does not name {field}: {}",
        stderr(&out)
    );
    assert!(!b.state_root().join(&id).exists(), "state dir left behind");
    for ctrl in ["memory", "pids", "freezer", "cpu", "unified", ""] {
        let p = std::path::Path::new("/sys/fs/cgroup")
            .join(ctrl)
            .join(cg.trim_start_matches('/'));
        assert!(!p.exists(), "cgroup {} left behind", p.display());
    }
    assert!(!host_mounts_mention(&b.rootfs()), "mount left behind");
    let listed = b.berth(&["list", "-q"]);
    assert!(!stdout(&listed).contains(&id));
}

#[test]
fn runtime_bad_input_fails_clearly_and_leaves_nothing() {
    require_root!();
    // An impossible mount: the bind source does not exist (fails inside the init, after
    // namespaces and the cgroup exist).
    let mut b = Bundle::new(&["true"]);
    b.spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "bind", "source": "/nonexistent/berth", "options": ["rbind"]
    }));
    assert_create_fails_cleanly(&b, "mounts[7]");

    // An unknown namespace.
    let mut b = Bundle::new(&["true"]);
    b.spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "foo"}));
    assert_create_fails_cleanly(&b, "linux.namespaces[6].type");

    // A missing rootfs.
    let mut b = Bundle::new(&["true"]);
    b.spec["root"]["path"] = json!("no-such-rootfs");
    assert_create_fails_cleanly(&b, "root.path");

    // A program that is not in the image.
    let b = Bundle::new(&["/bin/no-such-program"]);
    assert_create_fails_cleanly(&b, "process.args");

    // Malformed JSON.
    let b = Bundle::new(&["true"]);
    std::fs::write(b.path().join("config.json"), "{\"ociVersion\": ").unwrap();
    let id = b.new_id();
    let bundle = b.path().to_str().unwrap().to_string();
    let out = b.berth(&["create", "--bundle", &bundle, &id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("config.json"), "{}", stderr(&out));
    assert!(!b.state_root().join(&id).exists());
}

#[test]
fn runtime_log_format_json_writes_runc_style_errors() {
    require_root!();
    let b = Bundle::new(&["true"]);
    let log = b.path().join("log.json");
    let out = std::process::Command::new(berth_testkit::berth_bin())
        .args(["runtime", "--root"])
        .arg(b.state_root())
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "state", "no-such-container"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let line = std::fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("no-such-container"));
    assert!(v["time"].is_string());
}
