//! RUN steps over the fake tasks (no root, no processes): the step's task is created,
//! started and waited for through the build's `TaskRuntime`, its exit code is the step's,
//! and a step whose task fails leaves no task, mount, snapshot or directory behind.

use std::sync::{Arc, Mutex};

use berth_build::{Backend, RunSpec};

use super::backend::EngineBackend;
use super::BuildService;
use crate::containers::fake_tasks::FakeTasks;
use crate::containers::test_harness::Harness;

struct Setup {
    h: Harness,
    tasks: Arc<FakeTasks>,
    backend: EngineBackend,
}

async fn setup() -> Setup {
    let h = Harness::new().await;
    let tasks = Arc::new(FakeTasks::default());
    let data = h.dir.path().join("data");
    let exec = h.dir.path().join("exec");
    let svc = BuildService::open_with_tasks(
        &data,
        &exec,
        h.containers.images.clone(),
        h.containers.networks.clone(),
        crate::helpers::Helpers::from_current_exe(),
        tasks.clone(),
    )
    .expect("build service");
    let backend = EngineBackend {
        env: svc.env.clone(),
    };
    Setup { h, tasks, backend }
}

fn spec() -> RunSpec {
    RunSpec {
        args: vec!["/bin/sh".into(), "-c".into(), "true".into()],
        network: "none".into(),
        ..RunSpec::default()
    }
}

/// Nothing of a step left: no task, runtime state, mount, snapshot or step directory.
fn assert_nothing_left(s: &Setup) {
    assert!(s.tasks.running().is_empty(), "tasks left");
    assert!(s.tasks.runtime_state().is_empty(), "runtime state left");
    assert_eq!(s.tasks.mounted(), 0, "mounts left");
    assert_eq!(s.h.snapshots(), 0, "snapshots left");
    let build_dir = &s.backend.env.build_dir;
    let left: Vec<_> = std::fs::read_dir(build_dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "step directories left: {left:?}");
}

#[tokio::test]
async fn a_run_step_returns_its_tasks_exit_code() {
    let s = setup().await;
    let root = s.backend.prepare(&[]).await.expect("root");
    assert_eq!(s.tasks.mounted(), 1);
    let key = root.key.clone();
    let tasks = s.tasks.clone();
    // The task ends by itself once the step started it.
    let ender = tokio::spawn(async move {
        let start = format!("start {}", &key[..12]);
        for _ in 0..5000 {
            if tasks.calls().contains(&start) {
                tasks.exit(&key, 3);
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    });
    let seen = Mutex::new(Vec::new());
    let sink = |b: &[u8]| seen.lock().unwrap().extend_from_slice(b);
    let code = s.backend.run(&root, &spec(), &sink).await;
    ender.await.unwrap();
    assert_eq!(code, Ok(3));
    let calls = s.tasks.take_calls();
    let short = &root.key[..12];
    assert_eq!(
        calls,
        [
            "mount".to_string(),
            format!("create {short}"),
            format!("connect {short}"),
            format!("start {short}"),
        ]
    );
    assert!(s.tasks.running().is_empty());
    drop(root);
    assert_nothing_left(&s);
}

#[tokio::test]
async fn a_run_step_whose_task_cannot_be_created_leaves_nothing() {
    let s = setup().await;
    let root = s.backend.prepare(&[]).await.expect("root");
    s.tasks
        .fail_create("runc: exec: \"nosuch\": executable file not found");
    let err = s.backend.run(&root, &spec(), &|_| {}).await.unwrap_err();
    assert!(err.contains("executable file not found"), "{err}");
    // The builder drops the root of a failed step.
    drop(root);
    assert_nothing_left(&s);
}

#[tokio::test]
async fn a_run_step_whose_task_cannot_start_leaves_nothing() {
    let s = setup().await;
    let root = s.backend.prepare(&[]).await.expect("root");
    s.tasks.fail_start("container init failed");
    let err = s.backend.run(&root, &spec(), &|_| {}).await.unwrap_err();
    assert_eq!(err, "container init failed");
    drop(root);
    assert_nothing_left(&s);
}

#[tokio::test]
async fn a_run_step_on_an_unknown_network_starts_no_task() {
    let s = setup().await;
    let root = s.backend.prepare(&[]).await.expect("root");
    let spec = RunSpec {
        network: "nosuch".into(),
        ..spec()
    };
    assert!(s.backend.run(&root, &spec, &|_| {}).await.is_err());
    let calls = s.tasks.take_calls();
    assert_eq!(calls, ["mount"]);
    drop(root);
    assert_nothing_left(&s);
}
