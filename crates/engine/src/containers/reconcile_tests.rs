//! The reconcile after a crash over the fake tasks (no root, no processes): what a daemon
//! that died left (tasks, runtime state, mounts, snapshots, directories) is repaired from
//! the records, and live restore then records the exits.

use serde_json::json;

use super::test_harness::{Harness, IMAGE};

fn short(id: &str) -> &str {
    &id[..12]
}

/// Two containers started, then the daemon "crashes": records say running, nothing was
/// stopped, and a new daemon (new fakes) starts over the same roots.
async fn crashed(names: &[&str]) -> Harness {
    let dir = {
        let h = Harness::new().await;
        for name in names {
            h.create(name, IMAGE, json!({})).await.unwrap();
            h.containers.start(name).await.unwrap();
        }
        h.dir.clone()
    };
    Harness::over(dir, true).await
}

#[tokio::test]
async fn a_running_record_without_a_shim_ends_exited_with_its_code_and_cleaned_up() {
    let h = crashed(&["gone", "alive"]).await;
    let gone = h.containers.resolve("gone").unwrap();
    let alive = h.containers.resolve("alive").unwrap();
    // The shim of `gone` wrote its exit and died before it deleted the runtime state; its
    // root filesystem is still mounted. `alive` still runs.
    std::fs::write(
        h.containers.state_dir(&gone).join("exit.json"),
        r#"{"exit_code":7,"finished_at":"2026-12-06T01:00:00Z","oom_killed":false}"#,
    )
    .unwrap();
    h.tasks.add_runtime_state(&gone);
    h.tasks.add_mount(&h.containers.rootfs(&gone));
    h.tasks.add_running(&alive);
    h.tasks.add_mount(&h.containers.rootfs(&alive));

    let report = h.containers.reconcile().await;
    assert_eq!(report.stopped, std::slice::from_ref(&gone));
    assert_eq!(report.unmounted, [h.containers.rootfs(&gone)]);
    assert!(report.marked_dead.is_empty(), "{report}");
    // (Without what the harness's probe adds to each call.)
    let calls: Vec<String> = h
        .tasks
        .take_calls()
        .iter()
        .map(|c| c.split(" [").next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(calls, [format!("end {}", short(&gone)), "unmount".into()]);
    assert_eq!(
        h.tasks.mounted(),
        1,
        "the running container keeps its rootfs"
    );

    h.containers.restore().await;
    let state = h.state(&gone);
    assert_eq!((state.status.as_str(), state.exit_code), ("exited", 7));
    assert!(h.state(&alive).running);
    assert_eq!(
        h.tasks.runtime_state().into_iter().collect::<Vec<_>>(),
        std::slice::from_ref(&alive)
    );
}

#[tokio::test]
async fn leftovers_without_a_record_are_ended_and_their_snapshots_removed() {
    let h = crashed(&["box"]).await;
    let id = h.containers.resolve("box").unwrap();
    // A task and a snapshot of a container whose record never made it to disk.
    let orphan = "cd".repeat(32);
    h.tasks.add_running(&orphan);
    h.containers
        .images
        .images()
        .snapshots
        .prepare(&orphan, None)
        .unwrap();
    assert_eq!(h.snapshots(), 2);

    let report = h.containers.reconcile().await;
    // `box` had no shim either: it is ended as well (its runtime state is gone already).
    assert_eq!(report.stopped, std::slice::from_ref(&orphan), "{report}");
    assert_eq!(report.orphan_snapshots, std::slice::from_ref(&orphan));
    assert!(h.tasks.running().is_empty());
    assert_eq!(h.snapshots(), 1);
    h.containers.restore().await;
    let state = h.state(&id);
    assert_eq!((state.status.as_str(), state.exit_code), ("exited", 255));
}

#[tokio::test]
async fn a_record_whose_snapshot_is_gone_is_marked_dead() {
    let h = crashed(&["lost"]).await;
    let id = h.containers.resolve("lost").unwrap();
    h.containers.images.images().snapshots.remove(&id).unwrap();
    let report = h.containers.reconcile().await;
    assert_eq!(report.marked_dead, std::slice::from_ref(&id));
    let state = h.state(&id);
    assert!(state.dead);
    assert_eq!(state.status, "dead");
}
