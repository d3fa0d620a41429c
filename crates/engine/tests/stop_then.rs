//! What comes right after `docker stop`. A stop returns at the `die`, before the exit's
//! cleanup (unmount, veths, addresses) is over, as dockerd 20.10 does; whatever the client
//! does next must not see that tail: `rm`, `start`, `cp`, `network rm`, `network prune`,
//! `inspect`, and another container taking the stopped one's host port or fixed address.
//! Needs root and the docker CLI.
#![allow(
    clippy::tests_outside_test_module,
    reason = "an integration test crate is all tests"
)]

use std::net::TcpListener;
use std::process::Command;

use berth_testkit::daemon::{self, ok, stderr, stdout, Daemon};

const WAITS_FOR_TERM: &str = "trap 'exit 0' TERM; sleep 300 & wait";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("ephemeral port")
        .port()
}

/// The host ends of the veths on `bridge`.
fn ports_of(bridge: &str) -> Vec<String> {
    let o = Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
        .expect("ip link");
    stdout(&o)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn mounted_for(id: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(id))
        .map(str::to_string)
        .collect()
}

#[test]
fn stop_then_rm_start_cp_network_rm_and_reuse_at_once() {
    if !daemon::need(
        "stop_then_rm_start_cp_network_rm_and_reuse_at_once",
        &["ip"],
    ) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let docker = |args: &[&str]| d.docker(args);
    let run = |what: &str, args: &[&str]| stdout(&ok(what, docker(args))).trim().to_string();
    let p = berth_testkit::unique_name("stth");
    let net = format!("{p}net");
    let subnet = d.net.subnet(1);
    let fixed = subnet.replace(".0/24", ".77");
    let port = free_port().to_string();
    let net_id = run(
        "network create",
        &["network", "create", "--subnet", &subnet, &net],
    );
    let bridge = format!("br-{}", &net_id[..12]);

    // stop, then at once another container on the same host port and fixed address, then
    // cp, start and inspect of the stopped one
    let a = format!("{p}a");
    let a_id = run(
        "run a",
        &[
            "run",
            "-d",
            "--name",
            &a,
            "--network",
            &net,
            "--ip",
            &fixed,
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "busybox",
            "sh",
            "-c",
            WAITS_FOR_TERM,
        ],
    );
    let veths = ports_of(&bridge);
    assert_eq!(veths.len(), 1, "one veth on {bridge}: {veths:?}");
    ok("stop a", docker(&["stop", &a]));
    let ip = run(
        "inspect a",
        &[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &a,
        ],
    );
    assert_eq!(ip, "", "a stopped container shows no address");
    let b = format!("{p}b");
    ok(
        "run b on a's port and address",
        docker(&[
            "run",
            "-d",
            "--name",
            &b,
            "--network",
            &net,
            "--ip",
            &fixed,
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "busybox",
            "sh",
            "-c",
            WAITS_FOR_TERM,
        ]),
    );
    ok("stop b", docker(&["stop", &b]));
    let out = d.dir.path().join("hostname-of-b");
    ok(
        "cp from b",
        docker(&["cp", &format!("{b}:/etc/hostname"), out.to_str().unwrap()]),
    );
    assert!(out.exists());
    ok("start b again", docker(&["start", &b]));
    let running = run("inspect b", &["inspect", "-f", "{{.State.Running}}", &b]);
    assert_eq!(running, "true");
    ok("stop b again", docker(&["stop", &b]));

    // stop, then at once rm and network rm: nothing of the containers is left
    ok("rm a b", docker(&["rm", &a, &b]));
    assert!(mounted_for(&a_id).is_empty(), "{:?}", mounted_for(&a_id));
    for v in &veths {
        assert!(!link_exists(v), "veth {v} left after rm");
    }
    ok("network rm", docker(&["network", "rm", &net]));
    assert!(
        !link_exists(&bridge),
        "bridge {bridge} left after network rm"
    );

    // stop, then at once network prune (the stopped container keeps its endpoint config,
    // as on Docker, and does not hold the network)
    let net2 = format!("{p}net2");
    let net2_id = run(
        "network create 2",
        &["network", "create", "--subnet", &d.net.subnet(2), &net2],
    );
    let c = format!("{p}c");
    ok(
        "run c",
        docker(&[
            "run",
            "-d",
            "--name",
            &c,
            "--network",
            &net2,
            "busybox",
            "sh",
            "-c",
            WAITS_FOR_TERM,
        ]),
    );
    ok("stop c", docker(&["stop", &c]));
    let pruned = docker(&["network", "prune", "-f"]);
    assert!(pruned.status.success(), "prune: {}", stderr(&pruned));
    assert!(
        stdout(&pruned).contains(&net2),
        "prune: {}",
        stdout(&pruned)
    );
    assert!(!link_exists(&format!("br-{}", &net2_id[..12])));
    ok("rm c", docker(&["rm", &c]));
}
