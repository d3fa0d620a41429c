//! The daemon's own network objects over its lifetime: a clean stop removes the default
//! bridge, user-network bridges and the nft table it made, unless running containers (live
//! restore) still use them; the next start brings them back.
#![cfg(test)]

use std::path::Path;
use std::process::Command;

use berth_testkit::daemon::{self, stderr, Daemon};

fn need() -> bool {
    daemon::need("network_daemon", &["/usr/sbin/nft"])
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

fn table_exists(table: &str) -> bool {
    Command::new("nft")
        .args(["list", "table", "inet", table])
        .output()
        .expect("nft")
        .status
        .success()
}

/// SIGTERM by pid, then waits for the daemon to end.
fn stop(d: &mut Daemon) {
    let pid = d.pid().expect("daemon running").to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    assert!(d.wait_gone().success(), "clean stop");
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let out = d.docker(args);
    assert!(out.status.success(), "docker {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn peer_net_clean_stop_removes_bridge_and_table() {
    if !need() {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();
    let subnet = d.net.subnet(1);
    ok(&d, &["network", "create", "--subnet", &subnet, "stopnet"]);
    let net_id = ok(&d, &["network", "inspect", "-f", "{{.Id}}", "stopnet"]);
    let user_bridge = format!("br-{}", &net_id[..12]);
    assert!(link_exists(&d.net.bridge) && link_exists(&user_bridge));
    assert!(table_exists(&d.net.table));

    // A running container keeps everything (live restore).
    ok(
        &d,
        &["run", "-d", "--name", "lr", "busybox", "sleep", "300"],
    );
    stop(&mut d);
    assert!(
        link_exists(&d.net.bridge),
        "bridge kept for the running container"
    );
    assert!(
        table_exists(&d.net.table),
        "table kept for the running container"
    );

    // Without running containers a clean stop removes them all.
    d.spawn();
    ok(&d, &["rm", "-f", "lr"]);
    stop(&mut d);
    assert!(!link_exists(&d.net.bridge), "default bridge removed");
    assert!(!link_exists(&user_bridge), "user network bridge removed");
    assert!(!table_exists(&d.net.table), "nft table removed");

    // The next start recreates them; containers work on both networks.
    d.spawn();
    assert!(link_exists(&d.net.bridge) && link_exists(&user_bridge));
    assert!(table_exists(&d.net.table));
    ok(&d, &["run", "--rm", "busybox", "true"]);
    ok(
        &d,
        &["run", "--rm", "--network", "stopnet", "busybox", "true"],
    );
}
