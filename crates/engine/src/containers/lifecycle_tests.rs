//! The lifecycle over fakes (no root, milliseconds): the order of the task, network and
//! volume steps, what a failed create or start leaves (nothing), live restore after a
//! crash, the restart policy's back-off.

use std::time::Duration;

use berth_network::fake::FakeOp;
use serde_json::json;

use super::task::Signal;
use super::test_harness::{until, Harness, BROKEN_IMAGE, IMAGE};
use crate::error::ErrorKind;

fn short(id: &str) -> &str {
    &id[..12]
}

/// Waits (bounded) until `f` holds; the fakes end tasks on spawned tasks.
fn published() -> serde_json::Value {
    json!({"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}})
}

#[tokio::test]
async fn create_start_stop_rm_run_their_steps_in_order() {
    let h = Harness::new().await;
    let id = h.create("web", IMAGE, published()).await.unwrap();
    assert_eq!(h.snapshots(), 1);
    assert!(h.tasks.take_calls().is_empty(), "create runs no task");

    h.containers.start("web").await.unwrap();
    let s = short(&id);
    // The network is attached between the task's creation and its start.
    assert_eq!(
        h.tasks.take_calls(),
        [
            "mount [veths=0 ports=0]".to_string(),
            format!("create {s} [veths=0 ports=0]"),
            format!("connect {s} [veths=0 ports=0]"),
            format!("start {s} [veths=1 ports=1]"),
        ]
    );
    let state = h.state(&id);
    assert!(state.running);
    assert_eq!(state.status, "running");
    assert!(state.pid > 0);

    h.containers.stop("web", None, None).await.unwrap();
    let calls = h.tasks.take_calls();
    assert_eq!(calls[0], format!("kill {s} 15 [veths=1 ports=1]"));
    assert!(calls[1].starts_with("unmount"), "{calls:?}");
    assert_eq!(calls.len(), 2, "{calls:?}");
    let state = h.state(&id);
    assert_eq!((state.status.as_str(), state.exit_code), ("exited", 143));
    assert_eq!((h.netlink.veths().len(), h.port_rules()), (0, 0));
    assert_eq!(h.tasks.mounted(), 0);

    h.containers.remove("web", false, false).await.unwrap();
    // The shim deleted the runtime state when its task ended: nothing for rm to run.
    assert!(h.tasks.take_calls().is_empty());
    assert!(h.containers.get(&id).is_err());
    assert_eq!(h.snapshots(), 0);
    assert!(!h.containers.state_dir(&id).exists());
    assert!(!h.containers.data_dir(&id).exists());
    // The name is free again.
    h.create("web", IMAGE, json!({})).await.unwrap();
}

#[tokio::test]
async fn stop_sends_sigkill_after_the_timeout_and_resumes_a_paused_task_first() {
    let h = Harness::new().await;
    let id = h.create("box", IMAGE, json!({})).await.unwrap();
    h.containers.start("box").await.unwrap();
    h.containers.pause("box", true).await.unwrap();
    assert_eq!(h.state(&id).status, "paused");
    h.tasks.ignore_signal(15);
    h.tasks.take_calls();
    h.containers.stop("box", None, Some(0)).await.unwrap();
    let s = short(&id);
    let calls: Vec<String> = h
        .tasks
        .take_calls()
        .into_iter()
        .map(|c| c.split(" [").next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        calls,
        [
            format!("resume {s}"),
            format!("kill {s} 15"),
            format!("kill {s} 9"),
            "unmount".to_string(),
        ]
    );
    assert_eq!(h.state(&id).exit_code, 137);
}

#[tokio::test]
async fn rm_force_kills_a_running_container_and_leaves_nothing() {
    let h = Harness::new().await;
    let id = h.create("box", IMAGE, published()).await.unwrap();
    h.containers.start("box").await.unwrap();
    let err = h.containers.remove("box", false, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    h.tasks.take_calls();
    h.containers.remove("box", true, false).await.unwrap();
    assert_eq!(
        h.tasks.take_calls()[0],
        format!("kill {} 9 [veths=1 ports=1]", short(&id))
    );
    assert!(h.containers.get(&id).is_err());
    assert_eq!(
        (h.netlink.veths().len(), h.port_rules(), h.tasks.mounted()),
        (0, 0, 0)
    );
    assert!(h.tasks.runtime_state().is_empty());
    assert_eq!(h.snapshots(), 0);
}

#[tokio::test]
async fn a_failed_create_leaves_no_record_snapshot_volume_or_name() {
    let h = Harness::new().await;
    // An anonymous volume is made before the snapshot, whose parent layer is missing.
    let body = json!({"Mounts": [{"Type": "volume", "Target": "/data"}]});
    let err = h
        .create("box", BROKEN_IMAGE, body.clone())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    assert!(h.containers.records.list().is_empty());
    assert_eq!((h.snapshots(), h.volumes()), (0, 0));
    let data = h.dir.path().join("data").join("containers");
    assert_eq!(std::fs::read_dir(&data).map_or(0, |d| d.count()), 0);
    assert!(h.tasks.take_calls().is_empty());
    // The name was never claimed.
    let id = h.create("box", IMAGE, body).await.unwrap();
    assert_eq!((h.snapshots(), h.volumes()), (1, 1));
    assert!(h.containers.get(&id).is_ok());
}

#[tokio::test]
async fn a_failed_task_create_leaves_no_mount_endpoint_or_rule() {
    let h = Harness::new().await;
    let id = h.create("box", IMAGE, published()).await.unwrap();
    h.tasks
        .fail_create("exec: \"nope\": executable file not found in $PATH");
    let err = h.containers.start("box").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().starts_with(
        "failed to create task for container: OCI runtime create failed: exec: \"nope\""
    ));
    let state = h.state(&id);
    assert!(!state.running);
    assert_eq!(state.exit_code, 127);
    assert_eq!(
        (h.netlink.veths().len(), h.port_rules(), h.tasks.mounted()),
        (0, 0, 0)
    );
    assert!(h.tasks.running().is_empty());
    // The record stays (as Docker's), and starts once the cause is gone.
    h.containers.start("box").await.unwrap();
    assert!(h.state(&id).running);
}

#[tokio::test]
async fn a_failed_start_leaves_no_task_mount_endpoint_or_rule() {
    let h = Harness::new().await;
    let id = h.create("box", IMAGE, published()).await.unwrap();
    h.tasks.fail_start("exec format error");
    let mut signals = h.containers.live(&id).signals.subscribe();
    let err = h.containers.start("box").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    // The shim reports the exit of the init that never ran; the record keeps the start's.
    assert!(matches!(signals.recv().await, Ok(Signal::Exited(126))));
    let state = h.state(&id);
    assert_eq!((state.status.as_str(), state.exit_code), ("created", 126));
    assert_eq!(h.tasks.mounted(), 0);
    assert_eq!((h.netlink.veths().len(), h.port_rules()), (0, 0));
    assert!(h.tasks.runtime_state().is_empty() && h.tasks.running().is_empty());
}

#[tokio::test]
async fn the_shims_exit_report_after_a_failed_start_leaves_the_starts_record() {
    let h = Harness::new().await;
    let id = h.create("box", IMAGE, json!({})).await.unwrap();
    let msg = "exec: \"/nope\": stat /nope: no such file or directory";
    h.tasks.fail_start(msg);
    h.tasks.hold_failed_start_exit();
    let err = h.containers.start("box").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let live = h.containers.live(&id);
    let mut signals = live.signals.subscribe();
    // The shim's report comes after the start's answer (as a real shim's may), with the
    // code of an init that never ran.
    h.tasks.exit(&id, 255);
    assert!(matches!(signals.recv().await, Ok(Signal::Exited(127))));
    live.wait_cleanup().await;
    let state = h.state(&id);
    assert_eq!(
        (state.status.as_str(), state.exit_code, state.running),
        ("created", 127, false)
    );
    assert_eq!(
        state.error,
        format!("failed to create task for container: OCI runtime create failed: {msg}: unknown")
    );
    assert_eq!(h.tasks.mounted(), 0);
    // The next start runs.
    h.containers.start("box").await.unwrap();
    assert!(h.state(&id).running);
}

#[tokio::test]
async fn a_failed_network_attach_kills_the_created_task_and_undoes_the_rest() {
    let h = Harness::new().await;
    let id = h.create("box", IMAGE, published()).await.unwrap();
    h.netlink.fail(FakeOp::AttachVeth, 1);
    h.containers.start("box").await.unwrap_err();
    let calls = h.tasks.take_calls();
    let s = short(&id);
    assert!(
        calls.contains(&format!("kill {s} 9 [veths=0 ports=0]")),
        "{calls:?}"
    );
    assert!(!calls.iter().any(|c| c.starts_with("start")), "{calls:?}");
    assert_eq!((h.tasks.mounted(), h.port_rules()), (0, 0));
    assert!(h.tasks.running().is_empty());
    assert!(!h.state(&id).running);
}

#[tokio::test]
async fn restore_reconnects_live_tasks_records_dead_ones_and_deletes_orphans() {
    let dir = {
        let h = Harness::new().await;
        for name in ["alive", "dead"] {
            h.create(name, IMAGE, json!({})).await.unwrap();
            h.containers.start(name).await.unwrap();
        }
        h.dir.clone()
        // The daemon "crashes" here: records say running, nothing is stopped.
    };
    let h = Harness::over(dir, true).await;
    let alive = h.containers.resolve("alive").unwrap();
    let dead = h.containers.resolve("dead").unwrap();
    h.tasks.add_running(&alive);
    // The dead one's shim wrote its exit before it went.
    let exit = h.containers.state_dir(&dead).join("exit.json");
    std::fs::write(
        exit,
        r#"{"exit_code":3,"finished_at":"2026-12-06T01:00:00Z","oom_killed":false}"#,
    )
    .unwrap();
    let orphan = "ab".repeat(32);
    h.tasks.add_runtime_state(&orphan);
    h.containers.restore().await;

    let calls = h.tasks.take_calls();
    let called = |c: String| calls.iter().any(|x| x.starts_with(&c));
    assert!(called(format!("connect {}", short(&alive))), "{calls:?}");
    assert!(called(format!("delete {}", short(&orphan))), "{calls:?}");
    assert!(h.state(&alive).running);
    let state = h.state(&dead);
    assert_eq!((state.status.as_str(), state.exit_code), ("exited", 3));
    assert_eq!(
        h.tasks.runtime_state().into_iter().collect::<Vec<_>>(),
        std::slice::from_ref(&alive)
    );
    // The reconnected task is driven as before the crash.
    h.containers.stop("alive", None, None).await.unwrap();
    assert_eq!(h.state(&alive).exit_code, 143);
}

#[tokio::test]
async fn restore_without_live_restore_stops_the_tasks_it_finds() {
    let dir = {
        let h = Harness::new().await;
        h.create("box", IMAGE, json!({"RestartPolicy": {"Name": "always"}}))
            .await
            .unwrap();
        h.containers.start("box").await.unwrap();
        h.dir.clone()
    };
    let h = Harness::over(dir, false).await;
    let id = h.containers.resolve("box").unwrap();
    h.tasks.add_running(&id);
    h.containers.restore().await;
    let state = h.state(&id);
    assert_eq!((state.status.as_str(), state.exit_code), ("exited", 143));
    // Stopped by the daemon, not by the user: its policy starts it with the daemon.
    h.containers.start_by_policy().await;
    assert!(h.state(&id).running);
    assert_eq!(h.containers.get(&id).unwrap().restart_count, 0);
}

#[tokio::test]
async fn an_exit_restarts_by_policy_with_the_back_off_until_a_user_stop() {
    let h = Harness::new().await;
    let id = h
        .create(
            "box",
            IMAGE,
            json!({"RestartPolicy": {"Name": "on-failure"}}),
        )
        .await
        .unwrap();
    h.containers.start("box").await.unwrap();
    let live = h.containers.live(&id);
    let delay = || *live.restart_delay.lock().unwrap();
    for (round, want) in [(1, 100), (2, 200), (3, 400)] {
        h.tasks.exit(&id, 1);
        until("the restart", || {
            let rec = h.containers.get(&id).unwrap();
            rec.restart_count == round && rec.state.running
        })
        .await;
        assert_eq!(delay(), Some(Duration::from_millis(want)));
    }
    // A clean exit ends on-failure's restarts.
    h.tasks.exit(&id, 0);
    until("the exit", || h.state(&id).status == "exited").await;
    assert!(!h.state(&id).restarting);
    // A start by the user begins afresh.
    h.containers.start("box").await.unwrap();
    assert_eq!(h.containers.get(&id).unwrap().restart_count, 0);
    assert_eq!(delay(), None);
    h.containers.stop("box", None, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!h.state(&id).running && !h.state(&id).restarting);
    let creates = h
        .tasks
        .take_calls()
        .iter()
        .filter(|c| c.starts_with("create"))
        .count();
    assert_eq!(creates, 5, "first start, three restarts, the user's start");
}

#[tokio::test]
async fn kill_signals_the_task_and_refuses_a_stopped_container() {
    let h = Harness::new().await;
    let id = h.create("box", IMAGE, json!({})).await.unwrap();
    let err = h.containers.kill("box", None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    h.containers.start("box").await.unwrap();
    let err = h
        .containers
        .kill("box", Some("SIGNOPE".into()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    h.tasks.ignore_signal(10);
    h.tasks.take_calls();
    h.containers.kill("box", Some("USR1".into())).await.unwrap();
    assert!(h.state(&id).running);
    h.containers.kill("box", None).await.unwrap();
    let calls = h.tasks.take_calls();
    assert_eq!(
        calls[0],
        format!("kill {} 10 [veths=1 ports=0]", short(&id))
    );
    assert_eq!(calls[1], format!("kill {} 9 [veths=1 ports=0]", short(&id)));
    assert_eq!(h.state(&id).exit_code, 137);
}
