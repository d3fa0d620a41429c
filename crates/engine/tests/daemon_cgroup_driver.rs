//! `exec-opts` `native.cgroupdriver=systemd` where systemd does not run (CI containers):
//! accepted and shown by `info`, and containers fail to start with runc's error, as with
//! dockerd (checked against it). Where systemd runs berth refuses to start with it (it
//! has no systemd cgroup driver): `daemon::config` unit test.
#![allow(
    clippy::tests_outside_test_module,
    reason = "an integration test crate is all tests"
)]

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
