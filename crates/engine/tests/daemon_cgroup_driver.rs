//! `exec-opts` `native.cgroupdriver=systemd`: where systemd does not run (CI containers)
//! it is accepted and shown by `info`, and containers fail to start with runc's error, as
//! with dockerd (checked against it); against a real systemd (pid 1 of namespaces of its
//! own) containers get scope units.
#![cfg(test)]

use berth_testkit::daemon::{self, stderr, stdout, DaemonOptions};
use berth_testkit::dockerd::Dockerd;

const RUNC_ERROR: &str = "systemd not running on this host, cannot use systemd cgroups manager";

#[test]
fn peer_systemd_cgroup_driver_without_systemd_fails_starts_as_dockerd() {
    if !daemon::need(
        "peer_systemd_cgroup_driver_without_systemd_fails_starts_as_dockerd",
        &["dockerd"],
    ) {
        return;
    }
    if std::path::Path::new("/run/systemd/system").exists() {
        berth_testkit::skip(
            "peer_systemd_cgroup_driver_without_systemd_fails_starts_as_dockerd",
            "systemd runs here (berth refuses the systemd driver then)",
        );
        return;
    }
    let opt = ["--exec-opt", "native.cgroupdriver=systemd"];
    let docker = Dockerd::start_with(&opt);
    docker.load_busybox();
    let d = DaemonOptions::new().args(&opt).start();
    d.load_busybox();
    for (who, info, run) in [
        (
            "dockerd",
            docker.docker(&["info", "-f", "{{.CgroupDriver}}"]),
            docker.docker(&["run", "--rm", "busybox", "true"]),
        ),
        (
            "berth",
            d.docker(&["info", "-f", "{{.CgroupDriver}}"]),
            d.docker(&["run", "--rm", "busybox", "true"]),
        ),
    ] {
        assert_eq!(stdout(&info).trim(), "systemd", "{who}: {}", stderr(&info));
        assert_eq!(run.status.code(), Some(125), "{who}");
        assert!(stderr(&run).contains(RUNC_ERROR), "{who}: {}", stderr(&run));
    }
}

/// The systemd driver against a real systemd (pid 1 of namespaces of its own, see
/// `berth_testkit::systemd`; the daemon runs in them): a scope `berth-<id>.scope` in
/// `system.slice` holds the container, with the properties berth gave it; it is gone after
/// `rm`, and a start that fails leaves no unit.
#[test]
fn peer_systemd_cgroup_driver_makes_scope_units_in_a_real_systemd() {
    const TEST: &str = "peer_systemd_cgroup_driver_makes_scope_units_in_a_real_systemd";
    if !daemon::need(TEST, &[]) {
        return;
    }
    let Some(sd) = berth_testkit::systemd::Manager::start(TEST) else {
        return;
    };
    let d = DaemonOptions::new()
        .wrapper(sd.enter())
        .args(&["--exec-opt", "native.cgroupdriver=systemd"])
        .start();
    d.load_busybox();
    let info = d.docker(&["info", "-f", "{{.CgroupDriver}}"]);
    assert_eq!(stdout(&info).trim(), "systemd", "{}", stderr(&info));
    let controllers = std::fs::read_to_string(sd.cgroup.join("cgroup.controllers")).unwrap();
    let limits = controllers.contains("memory") && controllers.contains("pids");

    // A running container: its init in the scope, the scope delegated, in system.slice.
    let mut run = vec!["run", "-d", "busybox", "sleep", "1000"];
    if limits {
        run.splice(2..2, ["--memory", "64m", "--pids-limit", "50"]);
    }
    let o = d.docker(&run);
    assert!(o.status.success(), "run: {}", stderr(&o));
    let id = stdout(&o).trim().to_string();
    let unit = format!("berth-{id}.scope");
    assert_eq!(sd.property(&unit, "ActiveState"), "active");
    assert_eq!(sd.property(&unit, "Slice"), "system.slice");
    assert_eq!(sd.property(&unit, "Delegate"), "yes");
    assert_eq!(
        sd.property(&unit, "Description"),
        format!("berth container {id}")
    );
    let group = sd.property(&unit, "ControlGroup");
    assert_eq!(group, format!("/system.slice/{unit}"));
    let pid = stdout(&d.docker(&["inspect", "-f", "{{.State.Pid}}", &id]))
        .trim()
        .to_string();
    let o = sd
        .command("cat")
        .arg(format!("/proc/{pid}/cgroup"))
        .output()
        .unwrap();
    assert!(
        stdout(&o).lines().any(|l| l == format!("0::{group}")),
        "pid {pid} in {}",
        stdout(&o)
    );
    // exec joins the scope too; stats read it.
    let o = d.docker(&["exec", &id, "cat", "/proc/self/cgroup"]);
    assert!(o.status.success(), "exec: {}", stderr(&o));
    let o = d.docker(&["stats", "--no-stream", "--format", "{{.PIDs}}", &id]);
    assert!(o.status.success(), "stats: {}", stderr(&o));
    if limits {
        // (pids.current needs the pids controller, absent below this systemd on a hybrid host)
        assert_eq!(stdout(&o).trim(), "1");
    }
    let parent = stdout(&d.docker(&["inspect", "-f", "{{.HostConfig.CgroupParent}}", &id]));
    assert_eq!(
        parent.trim(),
        "",
        "HostConfig.CgroupParent as dockerd keeps it"
    );
    if limits {
        assert_eq!(sd.property(&unit, "MemoryMax"), "67108864");
        assert_eq!(sd.property(&unit, "TasksMax"), "50");
        let dir = sd.cgroup.join(group.trim_start_matches('/'));
        assert_eq!(
            std::fs::read_to_string(dir.join("memory.max"))
                .unwrap()
                .trim(),
            "67108864"
        );
    } else {
        // No controllers below this systemd (a v1 hybrid host): the update still reaches
        // systemd first (runc's order), then fails on the missing cgroup files.
        let o = d.docker(&[
            "update",
            "--memory",
            "64m",
            "--memory-swap",
            "-1",
            "--cpuset-cpus",
            "0",
            &id,
        ]);
        assert!(!o.status.success());
        assert_eq!(sd.property(&unit, "MemoryMax"), "67108864");
        assert_eq!(sd.property(&unit, "AllowedCPUs"), "0");
    }

    // rm: the unit goes.
    let o = d.docker(&["rm", "-f", &id]);
    assert!(o.status.success(), "rm: {}", stderr(&o));
    assert_eq!(sd.units("berth-*.scope"), Vec::<String>::new());

    // A --cgroup-parent slice holds the scope; anything else is refused as dockerd does.
    let o = d.docker(&[
        "run",
        "-d",
        "--cgroup-parent",
        "berth-test.slice",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert!(o.status.success(), "run in slice: {}", stderr(&o));
    let id = stdout(&o).trim().to_string();
    assert_eq!(
        sd.property(&format!("berth-{id}.scope"), "Slice"),
        "berth-test.slice"
    );
    let o = d.docker(&["rm", "-f", &id]);
    assert!(o.status.success(), "rm: {}", stderr(&o));
    let o = d.docker(&["create", "--cgroup-parent", "/mine", "busybox"]);
    assert!(
        stderr(&o).contains(
            "cgroup-parent for systemd cgroup should be a valid slice named as \"xxx.slice\""
        ),
        "{}",
        stderr(&o)
    );

    // Starts that fail leave no unit: after the scope exists (the process cannot run) ...
    let o = d.docker(&["run", "--name", "nocmd", "busybox", "/no/such/command"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert_eq!(sd.units("berth-*.scope"), Vec::<String>::new());
    // ... and where the runtime fails between the scope and the process (no memory
    // controller here, so the limit cannot be written).
    if !limits {
        let o = d.docker(&["run", "--memory", "64m", "busybox", "true"]);
        assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
        assert_eq!(sd.units("berth-*.scope"), Vec::<String>::new());
    }
    drop(d);
}
