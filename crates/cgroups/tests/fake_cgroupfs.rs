//! Resource writes against fake cgroupfs trees (plain directories; no root needed), for
//! pure v2 hosts and for v1 layouts this machine does not have (co-mounted cpu,cpuacct).
#![cfg(test)]

mod common;

use std::path::Path;

use berth_cgroups::{Cgroup, CgroupError, CgroupsPath, Layout, OwnCgroups, V1Mount, Version};
use berth_testkit::TempDir;
use common::{read, resources};

fn v2_cgroup(root: &Path, path: &str) -> Cgroup {
    let p = CgroupsPath::parse(Some(path), "ctr").unwrap();
    Cgroup::with_layout(&Layout::unified_at(root), &p, &OwnCgroups::default())
}

fn write(dir: &Path, file: &str, v: &str) {
    std::fs::write(dir.join(file), v).unwrap();
}

#[test]
fn v2_resources_are_written_in_kernel_format() {
    let tmp = TempDir::new("bcgfake");
    let cg = v2_cgroup(tmp.path(), "/berth/c1");
    assert_eq!(cg.version, Version::V2);
    cg.create().unwrap();
    let dir = tmp.path().join("berth/c1");
    assert_eq!(cg.unified_path(), Some(dir.as_path()));
    write(&dir, "memory.high", "max");
    cg.apply_resources(&resources(
        r#"{
            "memory": {"limit": 104857600, "swap": 209715200, "reservation": 52428800, "swappiness": 10},
            "cpu": {"shares": 1024, "quota": 25000, "period": 50000, "burst": 1000, "cpus": "0-1", "mems": "0"},
            "pids": {"limit": 64},
            "blockIO": {"weight": 500,
                        "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "unified": {"memory.high": "90000000"}
        }"#,
    ))
    .unwrap();
    assert_eq!(read(&dir, "memory.max"), "104857600");
    assert_eq!(
        read(&dir, "memory.swap.max"),
        "104857600",
        "swap = memory+swap - memory"
    );
    assert_eq!(read(&dir, "memory.low"), "52428800");
    assert_eq!(read(&dir, "cpu.weight"), "39", "1024 shares");
    assert_eq!(read(&dir, "cpu.max"), "25000 50000");
    assert_eq!(read(&dir, "cpu.max.burst"), "1000");
    assert_eq!(read(&dir, "cpuset.cpus"), "0-1");
    assert_eq!(read(&dir, "cpuset.mems"), "0");
    assert_eq!(read(&dir, "pids.max"), "64");
    // the fake file keeps only the last write: the throttle rule
    assert_eq!(read(&dir, "io.max"), "8:0 rbps=1048576");
    assert_eq!(
        read(&dir, "io.weight"),
        "8:0 910",
        "per-device weight (100 of 10..1000) written after the default"
    );
    assert_eq!(read(&dir, "hugetlb.2MB.max"), "4194304");
    assert_eq!(read(&dir, "memory.high"), "90000000");

    // checkBeforeUpdate refuses a limit below the current usage and writes nothing
    write(&dir, "memory.current", "50000000\n");
    let err = cg
        .apply_resources(&resources(
            r#"{"memory": {"limit": 40000000, "swap": 80000000, "checkBeforeUpdate": true}}"#,
        ))
        .unwrap_err();
    assert!(err.to_string().contains("checkBeforeUpdate"), "{err}");
    assert_eq!(read(&dir, "memory.max"), "104857600");
    assert_eq!(read(&dir, "memory.swap.max"), "104857600");
    cg.apply_resources(&resources(
        r#"{"rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 100}}}"#,
    ))
    .unwrap();
    assert_eq!(read(&dir, "rdma.max"), "mlx5_0 hca_handle=3 hca_object=100");

    // update: only the quota changes, the period is kept; unlimited values become "max"
    cg.apply_resources(&resources(
        r#"{"cpu": {"quota": -1}, "memory": {"limit": -1}, "pids": {"limit": 0}, "blockIO": {"weight": 1000}}"#,
    ))
    .unwrap();
    assert_eq!(read(&dir, "cpu.max"), "max 50000");
    assert_eq!(read(&dir, "memory.max"), "max");
    assert_eq!(read(&dir, "memory.swap.max"), "max");
    assert_eq!(read(&dir, "pids.max"), "max");
    assert_eq!(read(&dir, "io.weight"), "default 10000");
}

#[test]
fn v2_bfq_weight_is_used_when_present() {
    let tmp = TempDir::new("bcgfake");
    let cg = v2_cgroup(tmp.path(), "/c");
    cg.create().unwrap();
    let dir = tmp.path().join("c");
    write(&dir, "io.bfq.weight", "default 100");
    cg.apply_resources(&resources(r#"{"blockIO": {"weight": 300}}"#))
        .unwrap();
    assert_eq!(read(&dir, "io.bfq.weight"), "300");
    assert!(!dir.join("io.weight").exists());
}

#[test]
fn v2_bad_resources_name_the_field() {
    let tmp = TempDir::new("bcgfake");
    let cg = v2_cgroup(tmp.path(), "/c");
    cg.create().unwrap();
    let err = cg
        .apply_resources(&resources(r#"{"memory": {"limit": 1000000, "swap": 10}}"#))
        .unwrap_err();
    assert!(
        matches!(
            err,
            CgroupError::InvalidResource {
                field: "memory.swap",
                ..
            }
        ),
        "{err}"
    );
    let err = cg
        .apply_resources(&resources(r#"{"memory": {"swap": 2000}}"#))
        .unwrap_err();
    assert!(err.to_string().contains("memory.swap"), "{err}");
    for key in ["../../etc/passwd", "cgroup.procs", "noextension"] {
        let json = format!(r#"{{"unified": {{"{key}": "1"}}}}"#);
        let err = cg.apply_resources(&resources(&json)).unwrap_err();
        assert!(err.to_string().contains("unified"), "{key}: {err}");
    }
    let err = cg
        .apply_resources(&resources(r#"{"unified": {"memory.nonexistent": "1"}}"#))
        .unwrap_err();
    assert!(
        matches!(err, CgroupError::ControllerMissing { .. }),
        "{err}"
    );
    let err = cg
        .apply_resources(&resources(
            r#"{"hugepageLimits": [{"pageSize": "../x", "limit": 1}]}"#,
        ))
        .unwrap_err();
    assert!(err.to_string().contains("pageSize"), "{err}");
    assert!(!tmp.path().join("etc").exists());
}

#[test]
fn v2_create_delegates_controllers_down_the_tree() {
    let tmp = TempDir::new("bcgfake");
    let root = tmp.path();
    write(root, "cgroup.controllers", "cpu memory pids");
    write(root, "cgroup.subtree_control", "memory");
    std::fs::create_dir_all(root.join("a")).unwrap();
    write(&root.join("a"), "cgroup.controllers", "memory");
    write(&root.join("a"), "cgroup.subtree_control", "");
    let cg = v2_cgroup(root, "/a/b");
    cg.create().unwrap();
    // a fake file keeps the last write; the kernel would merge "+cpu +pids" into the set
    assert_eq!(read(root, "cgroup.subtree_control"), "+cpu +pids");
    assert_eq!(read(&root.join("a"), "cgroup.subtree_control"), "+memory");
    assert!(
        !root.join("a/b/cgroup.subtree_control").exists(),
        "the leaf delegates nothing"
    );
}

#[test]
fn v2_relative_paths_use_the_parent_of_the_own_cgroup() {
    let tmp = TempDir::new("bcgfake");
    let own = OwnCgroups::parse("0::/user.slice/session-1.scope\n");
    let p = CgroupsPath::parse(None, "ctr9").unwrap();
    let cg = Cgroup::with_layout(&Layout::unified_at(tmp.path()), &p, &own);
    assert_eq!(
        cg.unified_path().unwrap(),
        tmp.path().join("user.slice/ctr9")
    );
}

#[test]
fn v1_layout_with_co_mounted_controllers() {
    let tmp = TempDir::new("bcgfake");
    let root = tmp.path();
    let mount = |name: &str, ctrls: &[&str]| V1Mount {
        mount_point: root.join(name),
        root: "/".into(),
        controllers: ctrls.iter().map(|s| s.to_string()).collect(),
    };
    let layout = Layout {
        version: Version::V1,
        v1: vec![
            mount("cpu,cpuacct", &["cpu", "cpuacct"]),
            mount("cpuset", &["cpuset"]),
            mount("memory", &["memory"]),
            mount("devices", &["devices"]),
            mount("blkio", &["blkio"]),
        ],
        unified: None,
        enable_controllers: true,
    };
    for m in &layout.v1 {
        std::fs::create_dir_all(&m.mount_point).unwrap();
    }
    write(&root.join("cpuset"), "cpuset.cpus", "0-3\n");
    write(&root.join("cpuset"), "cpuset.mems", "0\n");
    std::fs::create_dir_all(root.join("cpuset/docker")).unwrap();
    write(&root.join("cpuset/docker"), "cpuset.cpus", "\n");
    write(&root.join("cpuset/docker"), "cpuset.mems", "\n");
    std::fs::create_dir_all(root.join("memory/docker/c1")).unwrap();
    write(
        &root.join("memory/docker/c1"),
        "memory.memsw.limit_in_bytes",
        "9223372036854771712",
    );
    write(&root.join("blkio"), "blkio.bfq.weight", "100");
    std::fs::create_dir_all(root.join("blkio/docker/c1")).unwrap();
    write(&root.join("blkio/docker/c1"), "blkio.bfq.weight", "100");

    let p = CgroupsPath::parse(Some("/docker/c1"), "c1").unwrap();
    let cg = Cgroup::with_layout(&layout, &p, &OwnCgroups::default());
    assert_eq!(cg.v1_path("cpuacct"), cg.v1_path("cpu"));
    assert_eq!(
        cg.paths().len(),
        5,
        "co-mounted controllers share one directory"
    );
    // cpuset files of the new levels are "created" empty by the kernel; fake that
    std::fs::create_dir_all(root.join("cpuset/docker/c1")).unwrap();
    write(&root.join("cpuset/docker/c1"), "cpuset.cpus", "");
    write(&root.join("cpuset/docker/c1"), "cpuset.mems", "");
    cg.create().unwrap();
    assert_eq!(read(&root.join("cpuset/docker"), "cpuset.cpus"), "0-3");
    assert_eq!(read(&root.join("cpuset/docker/c1"), "cpuset.cpus"), "0-3");
    assert_eq!(read(&root.join("cpuset/docker/c1"), "cpuset.mems"), "0");

    cg.apply_resources(&resources(
        r#"{
            "memory": {"limit": 1048576, "swap": 2097152, "swappiness": 0, "disableOOMKiller": true},
            "cpu": {"shares": 256, "quota": 20000, "period": 100000, "realtimePeriod": 1000000, "realtimeRuntime": 950000},
            "blockIO": {"weight": 200, "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 500}]},
            "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
        }"#,
    ))
    .unwrap();
    let mem = root.join("memory/docker/c1");
    assert_eq!(read(&mem, "memory.limit_in_bytes"), "1048576");
    assert_eq!(read(&mem, "memory.memsw.limit_in_bytes"), "2097152");
    assert_eq!(read(&mem, "memory.swappiness"), "0");
    assert_eq!(read(&mem, "memory.oom_control"), "1");
    let cpu = root.join("cpu,cpuacct/docker/c1");
    assert_eq!(read(&cpu, "cpu.shares"), "256");
    assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "20000");
    assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
    assert_eq!(read(&cpu, "cpu.rt_period_us"), "1000000");
    assert_eq!(read(&cpu, "cpu.rt_runtime_us"), "950000");
    let blkio = root.join("blkio/docker/c1");
    assert_eq!(read(&blkio, "blkio.bfq.weight"), "200");
    assert_eq!(read(&blkio, "blkio.throttle.write_iops_device"), "8:16 500");
    let dev = root.join("devices/docker/c1");
    assert_eq!(read(&dev, "devices.deny"), "a *:* rwm");
    assert_eq!(read(&dev, "devices.allow"), "c 1:3 rw");

    // rules that do not start with a wildcard still end up default-deny (as with runc)
    write(&dev, "devices.deny", "");
    cg.apply_resources(&resources(
        r#"{"devices": [{"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"}]}"#,
    ))
    .unwrap();
    assert_eq!(read(&dev, "devices.deny"), "a *:* rwm");
    assert_eq!(read(&dev, "devices.allow"), "c 5:1 rwm");

    // a controller this layout lacks is named when a value needs it, not before
    cg.apply_resources(&resources(r#"{"pids": null, "network": {}}"#))
        .unwrap();
    let err = cg
        .apply_resources(&resources(r#"{"pids": {"limit": 5}}"#))
        .unwrap_err();
    assert!(
        matches!(err, CgroupError::ControllerMissing { ref controller, .. } if controller == "pids"),
        "{err}"
    );
    let err = cg
        .apply_resources(&resources(r#"{"unified": {"memory.high": "1"}}"#))
        .unwrap_err();
    assert!(err.to_string().contains("unified"), "{err}");
}

#[test]
fn cgroup_round_trips_through_json() {
    let tmp = TempDir::new("bcgfake");
    let cg = v2_cgroup(tmp.path(), "/a");
    let json = serde_json::to_string(&cg).unwrap();
    let back: Cgroup = serde_json::from_str(&json).unwrap();
    assert_eq!(back, cg);
}

#[test]
fn v2_stats_parse_the_kernel_files() {
    let tmp = TempDir::new("bcgfake");
    let cg = v2_cgroup(tmp.path(), "/s");
    cg.create().unwrap();
    let dir = tmp.path().join("s");
    write(&dir, "memory.current", "1048576\n");
    write(&dir, "memory.peak", "2097152\n");
    write(&dir, "memory.max", "max\n");
    write(&dir, "memory.swap.current", "0\n");
    write(&dir, "memory.swap.max", "4194304\n");
    write(
        &dir,
        "memory.stat",
        "anon 700000\nfile 300000\ninactive_file 100000\n",
    );
    write(
        &dir,
        "memory.events",
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n",
    );
    write(&dir, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 70\n");
    write(&dir, "pids.current", "3\n");
    write(&dir, "pids.max", "100\n");
    write(
        &dir,
        "io.stat",
        "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
    );
    write(&dir, "hugetlb.2MB.current", "0\n");
    write(&dir, "hugetlb.2MB.events", "max 0\n");
    let s = cg.stats().unwrap();
    let m = s.memory.unwrap();
    assert_eq!(
        (m.usage, m.max_usage, m.limit),
        (1048576, Some(2097152), None)
    );
    assert_eq!(
        (m.rss, m.cache, m.failcnt, m.oom_kill),
        (700000, 300000, 3, 2)
    );
    assert_eq!((m.swap_usage, m.swap_limit), (Some(0), Some(4194304)));
    assert_eq!(m.stat["inactive_file"], 100000);
    let c = s.cpu.unwrap();
    assert_eq!(
        (c.total_ns, c.user_ns, c.system_ns),
        (1_500_000, 1_000_000, 500_000)
    );
    assert_eq!(
        (c.periods, c.throttled_periods, c.throttled_ns),
        (10, 2, 70_000)
    );
    let p = s.pids.unwrap();
    assert_eq!((p.current, p.limit), (3, Some(100)));
    let d = &s.blkio.unwrap().devices[0];
    assert_eq!(
        (
            d.major,
            d.minor,
            d.read_bytes,
            d.write_bytes,
            d.read_ops,
            d.write_ops
        ),
        (8, 0, 4096, 8192, 1, 2)
    );
    assert!(s.hugetlb.contains_key("2MB"));
    assert_eq!(cg.oom_kill_count().unwrap(), 2);
}
