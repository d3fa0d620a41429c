//! Real cgroup v1 tests (root, a host with v1 controllers): limits read back from the
//! kernel, a child process moved in, frozen and thawed, an OOM kill counted, stats.
#![cfg(test)]

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use berth_cgroups::{Cgroup, Layout, Version};
use berth_testkit::{require_root, unique_name};
use common::{proc_state, read, resources, CgroupGuard};

/// Skips (with a message) on hosts whose controllers are on v2.
fn v1_host() -> bool {
    let v1 = Layout::host().unwrap().version == Version::V1;
    if !v1 {
        eprintln!("SKIP: controllers are on cgroup v2 here; the v2 tests cover this host");
    }
    v1
}

fn new_guard(prefix: &str) -> CgroupGuard {
    let name = unique_name(prefix);
    let cg = Cgroup::new(Some(&format!("/{name}")), &name).unwrap();
    CgroupGuard::new(cg)
}

#[test]
fn v1_limits_process_freeze_thaw_destroy() {
    require_root!();
    if !v1_host() {
        return;
    }
    let mut g = new_guard("bcgv1");
    g.cg.create().unwrap();
    assert!(g.cg.exists());
    for d in &g.cg.v1 {
        assert!(d.path.is_dir(), "{} not created", d.path.display());
    }
    let unified = g.cg.unified_path().map(|p| p.to_path_buf());
    if let Some(u) = &unified {
        assert!(u.is_dir(), "hybrid: the unified dir is created too");
    }

    let cpuset = g.cg.v1_path("cpuset").unwrap();
    assert!(
        !read(cpuset, "cpuset.cpus").is_empty(),
        "cpus copied from the parent"
    );
    assert!(
        !read(cpuset, "cpuset.mems").is_empty(),
        "mems copied from the parent"
    );

    g.cg.apply_resources(&resources(
        r#"{
            "memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 42}
        }"#,
    ))
    .unwrap();
    let mem = g.cg.v1_path("memory").unwrap();
    assert_eq!(read(mem, "memory.limit_in_bytes"), "67108864");
    assert_eq!(read(mem, "memory.memsw.limit_in_bytes"), "134217728");
    assert_eq!(read(mem, "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(read(g.cg.v1_path("pids").unwrap(), "pids.max"), "42");
    let cpu = g.cg.v1_path("cpu").unwrap();
    assert_eq!(read(cpu, "cpu.shares"), "512");
    assert_eq!(read(cpu, "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(cpu, "cpu.cfs_period_us"), "100000");
    assert_eq!(read(cpuset, "cpuset.cpus"), "0");
    assert_eq!(read(cpuset, "cpuset.mems"), "0");

    // runtime update: lowering memory below the old memsw, unlimited pids
    g.cg.apply_resources(&resources(
        r#"{"memory": {"limit": 33554432, "swap": 33554432}, "pids": {"limit": -1}}"#,
    ))
    .unwrap();
    assert_eq!(read(mem, "memory.limit_in_bytes"), "33554432");
    assert_eq!(read(mem, "memory.memsw.limit_in_bytes"), "33554432");
    assert_eq!(read(g.cg.v1_path("pids").unwrap(), "pids.max"), "max");

    let pid = g.spawn_sleep();
    assert_eq!(g.cg.pids().unwrap(), vec![pid]);
    for d in g.cg.paths() {
        let procs = read(d, "cgroup.procs");
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "{pid} not in {}",
            d.display()
        );
    }

    assert!(!g.cg.is_frozen().unwrap());
    g.cg.freeze().unwrap();
    assert!(g.cg.is_frozen().unwrap());
    assert_eq!(
        read(g.cg.v1_path("freezer").unwrap(), "freezer.state"),
        "FROZEN"
    );
    assert!(
        matches!(proc_state(pid), 'S' | 'D'),
        "state {}",
        proc_state(pid)
    );
    g.cg.thaw().unwrap();
    assert!(!g.cg.is_frozen().unwrap());
    assert_eq!(
        read(g.cg.v1_path("freezer").unwrap(), "freezer.state"),
        "THAWED"
    );

    g.kill_children();
    assert!(g.cg.pids().unwrap().is_empty());
    g.cg.destroy().unwrap();
    assert!(!g.cg.exists());
    assert!(g.leftovers().is_empty());
    // destroying twice is fine
    g.cg.destroy().unwrap();
}

#[test]
fn v1_freeze_stops_a_busy_process() {
    require_root!();
    if !v1_host() {
        return;
    }
    let mut g = new_guard("bcgfz");
    g.cg.create().unwrap();
    let dir = berth_testkit::TempDir::new("bcgfz");
    let counter = dir.path().join("n");
    let script = format!(
        "read go; i=0; while true; do i=$((i+1)); echo $i > {}; done",
        counter.display()
    );
    g.spawn_gated(&script);
    let value = || std::fs::read_to_string(&counter).unwrap_or_default();
    wait_until(|| !value().is_empty());
    g.cg.freeze().unwrap();
    let frozen_at = value();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(value(), frozen_at, "the counter moved while frozen");
    g.cg.thaw().unwrap();
    wait_until(|| value() != frozen_at);
}

#[test]
fn v1_memory_limit_oom_kills() {
    require_root!();
    if !v1_host() {
        return;
    }
    let mut g = new_guard("bcgoom");
    g.cg.create().unwrap();
    g.cg.apply_resources(&resources(
        r#"{"memory": {"limit": 8388608, "swap": 8388608}}"#,
    ))
    .unwrap();
    assert_eq!(g.cg.oom_kill_count().unwrap(), 0);
    let i = g.spawn_gated(r#"read go; x=$(head -c 64000000 /dev/zero | tr "\0" a); echo survived"#);
    let status = g.children[i].wait().unwrap();
    let mut out = String::new();
    g.children[i]
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        !status.success(),
        "the allocating shell must die, got {status:?}"
    );
    assert!(!out.contains("survived"));
    assert!(g.cg.oom_kill_count().unwrap() >= 1);
    assert!(g.cg.stats().unwrap().memory.unwrap().oom_kill >= 1);
}

#[test]
fn v1_stats_of_a_running_process() {
    require_root!();
    if !v1_host() {
        return;
    }
    let mut g = new_guard("bcgst");
    g.cg.create().unwrap();
    g.cg.apply_resources(&resources(
        r#"{"pids": {"limit": 100}, "memory": {"limit": 268435456}}"#,
    ))
    .unwrap();
    g.spawn_gated(r#"read go; x=$(head -c 2000000 /dev/zero | tr "\0" a); echo ready; sleep 1000"#);
    let mut line = [0u8; 6];
    g.children[0]
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut line)
        .unwrap();
    assert_eq!(&line, b"ready\n");
    let s = g.cg.stats().unwrap();
    let m = s.memory.as_ref().unwrap();
    assert!(m.usage > 0, "{m:?}");
    assert_eq!(m.limit, Some(268435456));
    let p = s.pids.as_ref().unwrap();
    assert!(p.current >= 1);
    assert_eq!(p.limit, Some(100));
    let c = s.cpu.as_ref().unwrap();
    assert!(c.total_ns > 0, "{c:?}");
    assert!(!c.per_cpu_ns.is_empty());
    // what the runtime writes for `runc events --stats`
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"usage\""));
}

fn wait_until(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "condition not reached in 20s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn v1_device_rules_deny_what_they_do_not_allow() {
    require_root!();
    if !v1_host() {
        return;
    }
    let mut g = new_guard("bcgdv1");
    g.cg.create().unwrap();
    g.cg.apply_resources(&resources(
        r#"{"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
        ]}"#,
    ))
    .unwrap();
    let list = read(g.cg.v1_path("devices").unwrap(), "devices.list");
    assert_eq!(list, "c 1:3 rwm");
    let i = g.spawn_gated(
        "read go; cat /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null && echo zero-ok; echo done",
    );
    let mut out = String::new();
    let mut err = String::new();
    g.children[i]
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    g.children[i]
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        out.contains("null-ok") && out.contains("done"),
        "{out:?} {err:?}"
    );
    assert!(!out.contains("zero-ok"), "{out:?}");
    assert!(err.contains("Operation not permitted"), "{err:?}");
}

#[test]
fn v1_pids_limit_stops_forks() {
    require_root!();
    if !v1_host() {
        return;
    }
    let mut g = new_guard("bcgpid");
    g.cg.create().unwrap();
    g.cg.apply_resources(&resources(r#"{"pids": {"limit": 4}}"#))
        .unwrap();
    let i = g.spawn_gated(
        "read go; n=0; for k in 1 2 3 4 5 6 7 8; do sleep 1000 </dev/null >/dev/null 2>&1 & n=$((n+1)); done; echo started",
    );
    let mut err = String::new();
    g.children[i]
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("fork") || err.contains("Resource temporarily unavailable"),
        "{err:?}"
    );
    let s = g.cg.stats().unwrap();
    assert!(s.pids.unwrap().current <= 4);
    assert!(g.cg.pids().unwrap().len() <= 4);
    // the backgrounded sleeps live on in the cgroup; the guard cannot kill them by Child,
    // so signal them through the cgroup's own process list
    for pid in g.cg.pids().unwrap() {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    wait_until(|| g.cg.pids().unwrap().is_empty());
}

#[test]
fn v1_default_path_hangs_below_the_own_cgroup() {
    require_root!();
    if !v1_host() {
        return;
    }
    let id = unique_name("bcgdef");
    let g = CgroupGuard::new(Cgroup::new(None, &id).unwrap());
    let own = berth_cgroups::OwnCgroups::current().unwrap();
    let own_mem = own.get("memory").unwrap().trim_start_matches('/');
    let expected = std::path::Path::new("/sys/fs/cgroup/memory")
        .join(own_mem)
        .join(&id);
    assert_eq!(g.cg.v1_path("memory").unwrap(), expected.as_path());
    g.cg.create().unwrap();
    assert!(expected.is_dir());
    // the state the runtime stores resolves to the same directories
    let back: Cgroup = serde_json::from_str(&serde_json::to_string(&g.cg).unwrap()).unwrap();
    assert_eq!(back, g.cg);
}

/// destroy removes child cgroups (created inside the container, e.g. by systemd in it)
/// before the container's own directories.
#[test]
fn destroy_removes_nested_child_cgroups() {
    require_root!();
    let g = new_guard("nest");
    g.cg.create().unwrap();
    for p in g.cg.paths() {
        std::fs::create_dir_all(p.join("child/grandchild")).unwrap();
    }
    g.cg.destroy().unwrap();
    assert!(!g.cg.exists());
}
