//! Conformance, side by side with runc: the spec's lifecycle operations (state, create,
//! start, kill, delete) with the errors they MUST give, failures of the container's init
//! before and after `start`, and hooks. The table is in docs/runtime.md.
#![cfg(test)]

mod support;

use berth_testkit::{require_program, require_root};
use serde_json::json;
use support::conformance::{
    both, create_start_wait, ensure, grant, refused, succeeded, Outcome, Runc,
};
use support::Bundle;

macro_rules! need {
    () => {
        require_root!();
        require_program!("runc");
    };
}

#[test]
fn runtime_conformance_state_of_unknown_container_fails() {
    need!();
    both("state of an unknown id", Runc::Passes, |rt| {
        let b = Bundle::on(rt, &["true"]);
        refused("state", &b.berth(&["state", "no-such-container"]))
    });
}

#[test]
fn runtime_conformance_create_with_an_id_in_use_fails() {
    need!();
    both("create with an id in use", Runc::Passes, |rt| {
        let b = Bundle::on(rt, &["sleep", "100"]);
        let id = b.try_create()?;
        let pid = b.state(&id)["pid"].clone();
        let bundle = b.path().to_str().unwrap().to_string();
        let again = b
            .cmd(&["create", "--bundle", &bundle, &id])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        refused("second create", &again)?;
        ensure(b.status(&id)? == "created", || "first one changed".into())?;
        ensure(b.state(&id)["pid"] == pid, || "pid changed".into())
    });
}

#[test]
fn runtime_conformance_create_does_not_run_the_program_until_start() {
    need!();
    both(
        "create runs nothing of the program; start does",
        Runc::Passes,
        |rt| {
            let b = Bundle::on(rt, &["sh", "-c", "echo ran > /ran"]);
            let id = b.try_create()?;
            let st = b.state(&id);
            ensure(st["status"] == "created", || format!("state {st}"))?;
            ensure(st["pid"].as_i64().unwrap_or(0) > 0, || format!("pid {st}"))?;
            ensure(!b.rootfs().join("ran").exists(), || {
                "ran before start".into()
            })?;
            succeeded("start", &b.berth(&["start", &id]))?;
            b.wait_stopped(&id)?;
            ensure(b.rootfs().join("ran").exists(), || "did not run".into())
        },
    );
}

#[test]
fn runtime_conformance_start_of_a_running_or_stopped_container_fails() {
    need!();
    both("start when not created", Runc::Passes, |rt| {
        let b = Bundle::on(rt, &["sleep", "100"]);
        let id = b.try_create()?;
        succeeded("start", &b.berth(&["start", &id]))?;
        refused("start of a running container", &b.berth(&["start", &id]))?;
        succeeded("kill", &b.berth(&["kill", &id, "KILL"]))?;
        b.wait_stopped(&id)?;
        refused("start of a stopped container", &b.berth(&["start", &id]))
    });
}

#[test]
fn runtime_conformance_kill_of_a_stopped_container_fails() {
    need!();
    both("kill when stopped; kill when created", Runc::Passes, |rt| {
        let b = Bundle::on(rt, &["true"]);
        let id = b.try_create()?;
        succeeded("start", &b.berth(&["start", &id]))?;
        b.wait_stopped(&id)?;
        refused(
            "kill of a stopped container",
            &b.berth(&["kill", &id, "KILL"]),
        )?;
        // A created container can be signalled.
        let id = b.try_create()?;
        succeeded("kill of a created one", &b.berth(&["kill", &id, "KILL"]))?;
        b.wait_stopped(&id)
    });
}

#[test]
fn runtime_conformance_delete_of_a_running_container_fails() {
    need!();
    both(
        "delete when running; delete when stopped",
        Runc::Passes,
        |rt| {
            let b = Bundle::on(rt, &["sleep", "100"]);
            let id = b.try_create()?;
            succeeded("start", &b.berth(&["start", &id]))?;
            refused("delete of a running container", &b.berth(&["delete", &id]))?;
            ensure(b.status(&id)? == "running", || "delete changed it".into())?;
            succeeded("kill", &b.berth(&["kill", &id, "KILL"]))?;
            b.wait_stopped(&id)?;
            succeeded("delete", &b.berth(&["delete", &id]))?;
            refused("state after delete", &b.berth(&["state", &id]))
        },
    );
}

/// A failure of the init before the program runs (here: a uid the user namespace does not
/// map) fails `create`, which leaves nothing.
#[test]
fn runtime_conformance_init_failure_fails_create() {
    need!();
    both("init failure fails create", Runc::Passes, |rt| {
        let mut b = Bundle::on(rt, &["true"]);
        b.add_namespace("user");
        let map = json!([{"containerID": 0, "hostID": 100000, "size": 1000}]);
        b.spec["linux"]["uidMappings"] = map.clone();
        b.spec["linux"]["gidMappings"] = map;
        b.spec["process"]["user"] = json!({"uid": 5000, "gid": 0});
        let err = match b.try_create() {
            Ok(id) => return Err(format!("create succeeded, state {}", b.state(&id))),
            Err(e) => e,
        };
        ensure(err.contains("uid") || err.contains("user"), || err.clone())?;
        let listed = support::stdout(&b.berth(&["list", "-q"]));
        ensure(listed.trim().is_empty(), || {
            format!("left behind: {listed}")
        })
    });
}

/// What fails after `start` opened the exec fifo (a startContainer hook, the execve the
/// seccomp profile forbids) fails `start`, with the error; `state` says stopped.
#[test]
fn runtime_conformance_failure_after_start_fails_start() {
    need!();
    both(
        "failure after the exec fifo fails start",
        Runc::Fails,
        |rt| {
            let mut b = Bundle::on(rt, &["true"]);
            b.spec["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
            after_start_fails(&b, "startContainer")?;
            let mut b = Bundle::on(rt, &["true"]);
            b.spec["process"]["noNewPrivileges"] = json!(true);
            b.spec["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["execve", "execveat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]});
            after_start_fails(&b, "exec")
        },
    );
}

fn after_start_fails(b: &Bundle, what: &str) -> Outcome {
    let id = b.try_create()?;
    let out = b.berth(&["start", &id]);
    refused("start", &out)?;
    let err = support::stderr(&out);
    ensure(err.contains(what), || {
        format!("start's error lacks {what}: {err}")
    })?;
    ensure(b.status(&id)? == "stopped", || "not stopped".into())
}

/// The container's init killed from outside: `state` says stopped, never created or running.
#[test]
fn runtime_conformance_state_is_stopped_once_init_died() {
    need!();
    both("state after the init died", Runc::Passes, |rt| {
        let b = Bundle::on(rt, &["sleep", "100"]);
        for start in [false, true] {
            let id = b.try_create()?;
            if start {
                succeeded("start", &b.berth(&["start", &id]))?;
            }
            let pid = b.state(&id)["pid"].to_string();
            let killed = std::process::Command::new("kill")
                .args(["-9", &pid])
                .status()
                .unwrap();
            ensure(killed.success(), || format!("kill -9 {pid}"))?;
            b.wait_stopped(&id)?;
            ensure(b.state(&id)["pid"] == 0, || "stopped with a pid".into())?;
        }
        Ok(())
    });
}

fn hook(log: &str, name: &str) -> serde_json::Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} >> {log}")]})
}

/// Every hook runs, in the spec's order, and prestart gets the state on stdin.
#[test]
fn runtime_conformance_hooks_in_order_with_state() {
    need!();
    both("hooks", Runc::Fails, |rt| {
        let mut b = Bundle::on(rt, &["true"]);
        let logdir = b.path().join("hooklog");
        std::fs::create_dir_all(&logdir).unwrap();
        let log = logdir.join("log");
        let h = log.to_str().unwrap().to_string();
        b.spec["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/hooklog", "type": "bind", "source": logdir, "options": ["rbind"]
        }));
        let state_file = b.path().join("prestart-state.json");
        b.spec["hooks"] = json!({
            "prestart": [{"path": "/bin/sh", "args": ["sh", "-c",
                format!("cat > {}; echo prestart >> {h}", state_file.display())]}],
            "createRuntime": [hook(&h, "createRuntime")],
            "createContainer": [hook(&h, "createContainer")],
            "startContainer": [hook("/hooklog/log", "startContainer")],
            "poststart": [hook(&h, "poststart")],
            "poststop": [hook(&h, "poststop")],
        });
        let id = b.try_create()?;
        succeeded("start", &b.berth(&["start", &id]))?;
        b.wait_stopped(&id)?;
        succeeded("delete", &b.berth(&["delete", &id]))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let order = [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ];
        ensure(text.lines().collect::<Vec<_>>() == order, || text.clone())?;
        let st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&state_file).unwrap_or_default())
                .map_err(|e| format!("prestart state: {e}"))?;
        ensure(st["id"] == id.as_str(), || format!("{st}"))?;
        ensure(st["pid"].as_i64().unwrap_or(0) > 0, || format!("{st}"))
    });
}

/// A failing prestart hook fails `create`, which leaves nothing.
#[test]
fn runtime_conformance_failing_prestart_hook_fails_create() {
    need!();
    both("failing prestart hook", Runc::Passes, |rt| {
        let mut b = Bundle::on(rt, &["true"]);
        b.spec["hooks"] = json!({"prestart": [{"path": "/bin/false"}]});
        ensure(b.try_create().is_err(), || "create succeeded".into())?;
        let listed = support::stdout(&b.berth(&["list", "-q"]));
        ensure(listed.trim().is_empty(), || {
            format!("left behind: {listed}")
        })
    });
}

/// The container's stdin as `create` got it (/dev/null) is reachable through
/// /proc/self/fd/0; container root chmods and chowns it (to the mode and owner it has, so a
/// failure harms no one). That must be the container's own /dev/null: the host's node
/// keeps its ctime (issue 12).
#[test]
fn runtime_conformance_host_dev_null_is_not_handed_to_the_container() {
    need!();
    both(
        "stdio /dev/null is the container's own",
        Runc::Passes,
        |rt| {
            let mut b = Bundle::on(
                rt,
                &[
                    "sh",
                    "-c",
                    "chmod 666 /proc/self/fd/0; chown 0:0 /proc/self/fd/0",
                ],
            );
            grant(&mut b, "CAP_CHOWN");
            grant(&mut b, "CAP_FOWNER");
            let before = host_null_ctime();
            create_start_wait(&b)?;
            ensure(host_null_ctime() == before, || {
                "the host's /dev/null was changed".into()
            })
        },
    );
}

fn host_null_ctime() -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata("/dev/null").unwrap();
    (m.ctime(), m.ctime_nsec())
}

/// The same through `exec`, whose stdin is /dev/null too.
#[test]
fn runtime_conformance_host_dev_null_is_not_handed_to_exec() {
    need!();
    both(
        "exec's stdio /dev/null is the container's own",
        Runc::Passes,
        |rt| {
            let mut b = Bundle::on(rt, &["sleep", "100"]);
            grant(&mut b, "CAP_CHOWN");
            grant(&mut b, "CAP_FOWNER");
            let id = b.try_create()?;
            succeeded("start", &b.berth(&["start", &id]))?;
            let before = host_null_ctime();
            let out = b
                .cmd(&[
                    "exec",
                    &id,
                    "sh",
                    "-c",
                    "chmod 666 /proc/self/fd/0; chown 0:0 /proc/self/fd/0",
                ])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            succeeded("exec", &out)?;
            ensure(host_null_ctime() == before, || {
                "the host's /dev/null was changed".into()
            })
        },
    );
}
