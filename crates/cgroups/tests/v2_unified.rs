//! Real cgroup v2 tests on the unified tree (root). On a hybrid host the tree at
//! /sys/fs/cgroup/unified has no controllers, but freezing and eBPF device filters work
//! there, so both are exercised for real; on pure v2 the host's own tree is used.
#![cfg(test)]

mod common;

use std::io::Read;
use std::path::PathBuf;

use berth_cgroups::devices::attach::attached_programs;
use berth_cgroups::{Cgroup, CgroupsPath, Layout, OwnCgroups};
use berth_testkit::{require_root, unique_name};
use common::{proc_state, read, resources, CgroupGuard};

/// A v2-only view of this host's unified tree that never changes the ancestors'
/// cgroup.subtree_control (the test cgroup needs no controllers).
fn unified_guard(prefix: &str) -> Option<CgroupGuard> {
    let host = Layout::host().unwrap();
    let Some(unified) = &host.unified else {
        eprintln!("SKIP: no cgroup2 tree mounted");
        return None;
    };
    let mut layout = Layout::unified_at(PathBuf::from(&unified.mount_point));
    layout.enable_controllers = false;
    let name = unique_name(prefix);
    let path = CgroupsPath::parse(Some(&format!("/{name}")), &name).unwrap();
    let cg = Cgroup::with_layout(&layout, &path, &OwnCgroups::default());
    Some(CgroupGuard::new(cg))
}

const ONLY_DEV_NULL: &str = r#"{"devices": [
    {"allow": false, "access": "rwm"},
    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
]}"#;

#[test]
fn v2_device_filter_allows_only_dev_null() {
    require_root!();
    let Some(mut g) = unified_guard("bcgdev") else {
        return;
    };
    g.cg.create().unwrap();
    let dir = g.cg.unified_path().unwrap().to_path_buf();
    g.cg.apply_resources(&resources(ONLY_DEV_NULL)).unwrap();
    assert_eq!(attached_programs(&dir).unwrap().len(), 1);
    // applying again (runtime update) replaces the program instead of stacking a second
    g.cg.apply_resources(&resources(ONLY_DEV_NULL)).unwrap();
    assert_eq!(attached_programs(&dir).unwrap().len(), 1);

    let i = g.spawn_gated(
        "read go; cat /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null && echo zero-ok; echo done",
    );
    let out = g.children[i].wait_with_output_taken();
    assert!(
        out.0.contains("null-ok"),
        "stdout {:?} stderr {:?}",
        out.0,
        out.1
    );
    assert!(
        !out.0.contains("zero-ok"),
        "/dev/zero must be denied: {:?}",
        out.0
    );
    assert!(out.0.contains("done"));
    assert!(
        out.1.contains("Operation not permitted"),
        "stderr {:?}",
        out.1
    );

    // the same shell outside the filtered cgroup can read /dev/zero
    let free = std::process::Command::new("/bin/busybox")
        .args(["sh", "-c", "head -c1 /dev/zero >/dev/null && echo zero-ok"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&free.stdout).contains("zero-ok"));

    // allowing everything again lifts the filter for new opens
    g.cg.apply_resources(&resources(
        r#"{"devices": [{"allow": true, "access": "rwm"}]}"#,
    ))
    .unwrap();
    assert_eq!(attached_programs(&dir).unwrap().len(), 1);
    let i = g.spawn_gated("read go; head -c1 /dev/zero >/dev/null && echo zero-ok");
    let out = g.children[i].wait_with_output_taken();
    assert!(out.0.contains("zero-ok"), "stderr {:?}", out.1);
}

#[test]
fn v2_freezer_on_the_unified_tree() {
    require_root!();
    let Some(mut g) = unified_guard("bcgfr2") else {
        return;
    };
    g.cg.create().unwrap();
    let dir = g.cg.unified_path().unwrap().to_path_buf();
    let pid = g.spawn_sleep();
    assert_eq!(g.cg.pids().unwrap(), vec![pid]);
    assert!(!g.cg.is_frozen().unwrap());
    g.cg.freeze().unwrap();
    assert!(g.cg.is_frozen().unwrap());
    assert_eq!(read(&dir, "cgroup.freeze"), "1");
    assert!(read(&dir, "cgroup.events").lines().any(|l| l == "frozen 1"));
    assert!(matches!(proc_state(pid), 'S' | 'D'));
    g.cg.thaw().unwrap();
    assert!(!g.cg.is_frozen().unwrap());
    assert!(read(&dir, "cgroup.events").lines().any(|l| l == "frozen 0"));
    g.kill_children();
    g.cg.destroy().unwrap();
    assert!(!g.cg.exists());
}

/// Reads a finished child's stdout and stderr.
trait TakeOutput {
    fn wait_with_output_taken(&mut self) -> (String, String);
}

impl TakeOutput for std::process::Child {
    fn wait_with_output_taken(&mut self) -> (String, String) {
        let mut out = String::new();
        let mut err = String::new();
        self.stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        self.stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        self.wait().unwrap();
        (out, err)
    }
}

#[test]
fn kill_all_empties_the_cgroup_even_when_frozen() {
    require_root!();
    let name = unique_name("bcgkill");
    // the host's own layout: v1 controllers plus the unified tree on a hybrid host
    let mut g = CgroupGuard::new(Cgroup::new(Some(&format!("/{name}")), &name).unwrap());
    g.cg.create().unwrap();
    g.spawn_gated("read go; sleep 1000 </dev/null >/dev/null 2>&1 & sleep 1000");
    g.spawn_sleep();
    let wait_for = |n: usize, g: &CgroupGuard| {
        for _ in 0..2000 {
            if g.cg.pids().unwrap().len() == n {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("expected {n} processes, have {:?}", g.cg.pids().unwrap());
    };
    // sh execs its last command, so: sleep (was sh), its background sleep, spawn_sleep
    wait_for(3, &g);
    g.cg.freeze().unwrap();
    if !g.cg.kill_all().unwrap() {
        eprintln!("SKIP: no cgroup.kill on this kernel");
        return;
    }
    g.cg.thaw().unwrap();
    for c in &mut g.children {
        let status = c.wait().unwrap();
        assert!(!status.success());
    }
    wait_for(0, &g);
}
