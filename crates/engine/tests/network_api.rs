//! Network API details real clients rely on, with the docker CLI and docker-py: names with
//! spaces, auxiliary addresses kept and reserved, MAC addresses on create and connect, and
//! `icc: false`.
#![cfg(test)]

use std::process::{Command, Output};

use berth_testkit::daemon::{self, stderr, stdout, Daemon, DaemonOptions};
use berth_testkit::netns::NetNs;
use berth_testkit::unique_name;

fn need(extra: &[&str]) -> bool {
    let mut all = vec!["/usr/sbin/nft"];
    all.extend_from_slice(extra);
    daemon::need("network_api", &all)
}

fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// Runs a docker-py script against `host` (`DOCKER_HOST`); returns its stdout.
fn docker_py(host: &str, script: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("DOCKER_HOST", host)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "docker-py: {}\n{}",
        stderr(&out),
        stdout(&out)
    );
    stdout(&out)
}

/// What an engine shows (the addresses of the test's subnet replaced by `NET`).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    spaced_name: String,
    ipam: String,
    aux_skipped: String,
    mac_on_create: String,
    mac_on_connect: String,
}

fn scenario(cli: &dyn Fn(&[&str]) -> Output, host: &str, subnet3: &str) -> Seen {
    // A name with a space.
    ok(cli(&["network", "create", "test 01"]), "create 'test 01'");
    ok(
        cli(&["run", "--rm", "--network", "test 01", "busybox", "true"]),
        "run on 'test 01'",
    );
    let spaced_name = ok(
        cli(&["network", "inspect", "-f", "{{.Name}}", "test 01"]),
        "inspect 'test 01'",
    );
    ok(cli(&["network", "rm", "test 01"]), "rm 'test 01'");

    // Auxiliary addresses are kept and reserved; IPAM Options as given (the CLI sends {}).
    ok(
        cli(&[
            "network",
            "create",
            "--subnet",
            &format!("{subnet3}.0/24"),
            "--aux-address",
            &format!("router={subnet3}.2"),
            "auxnet",
        ]),
        "network create --aux-address",
    );
    let ipam = ok(
        cli(&["network", "inspect", "-f", "{{json .IPAM}}", "auxnet"]),
        "inspect auxnet",
    );
    let aux_skipped = ok(
        cli(&[
            "run",
            "--rm",
            "--network",
            "auxnet",
            "busybox",
            "sh",
            "-c",
            "ip -4 -o addr show eth0 | awk '{print $4}'",
        ]),
        "run on auxnet",
    );

    // MAC addresses: Config.MacAddress / --mac-address at create, MacAddress at connect.
    ok(
        cli(&[
            "run",
            "-d",
            "--name",
            "mac1",
            "--mac-address",
            "92:d0:c6:0a:29:33",
            "busybox",
            "sleep",
            "300",
        ]),
        "run --mac-address",
    );
    let mac_on_create = format!(
        "{} {}",
        ok(
            cli(&["exec", "mac1", "cat", "/sys/class/net/eth0/address"]),
            "eth0 address"
        ),
        ok(
            cli(&["inspect", "-f", "{{.NetworkSettings.MacAddress}}", "mac1"]),
            "inspect mac"
        )
    );
    docker_py(
        host,
        r#"
import docker, os
c = docker.APIClient(base_url=os.environ["DOCKER_HOST"], version="1.44")
# EndpointConfig.MacAddress (docker-py 5 has no mac_address argument yet)
r = c._post_json(c._url("/networks/{0}/connect", "auxnet"),
                 data={"Container": "mac1", "EndpointConfig": {"MacAddress": "92:d0:c6:0a:29:34"}})
c._raise_for_status(r)
"#,
    );
    let mac_on_connect = format!(
        "{} {}",
        ok(
            cli(&["exec", "mac1", "cat", "/sys/class/net/eth1/address"]),
            "eth1 address"
        ),
        ok(
            cli(&[
                "inspect",
                "-f",
                "{{(index .NetworkSettings.Networks \"auxnet\").MacAddress}}",
                "mac1"
            ]),
            "inspect mac on auxnet"
        )
    );
    let bad = cli(&[
        "run",
        "--rm",
        "--mac-address",
        "93:d0:c6:0a:29:33",
        "busybox",
        "true",
    ]);
    assert!(!bad.status.success(), "multicast MAC refused");
    let _ = cli(&["rm", "-f", "mac1"]);
    let _ = cli(&["network", "rm", "auxnet"]);
    Seen {
        spaced_name,
        ipam: ipam.trim().replace(subnet3, "NET"),
        aux_skipped: aux_skipped.replace(subnet3, "NET"),
        mac_on_create,
        mac_on_connect,
    }
}

#[test]
fn peer_net_names_aux_addresses_and_macs() {
    if !need(&["python3"]) {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let subnet3 = d.net.subnet(3).trim_end_matches(".0/24").to_string();
    let seen = scenario(&|a| d.docker(a), &d.host(), &subnet3);
    assert_eq!(seen.spaced_name, "test 01");
    assert_eq!(
        seen.ipam,
        r#"{"Driver":"default","Options":{},"Config":[{"Subnet":"NET.0/24","AuxiliaryAddresses":{"router":"NET.2"}}]}"#
    );
    assert_eq!(seen.aux_skipped, "NET.3/24", "the aux address is reserved");
    assert_eq!(seen.mac_on_create, "92:d0:c6:0a:29:33 92:d0:c6:0a:29:33");
    assert_eq!(seen.mac_on_connect, "92:d0:c6:0a:29:34 92:d0:c6:0a:29:34");
}

/// Pings `to` from container `from`; true when it answers.
fn pings(d: &Daemon, from: &str, to: &str) -> bool {
    d.docker(&["exec", from, "ping", "-c", "1", "-W", "1", to])
        .status
        .success()
}

fn ip_of(d: &Daemon, c: &str, net: &str) -> String {
    ok(
        d.docker(&[
            "inspect",
            "-f",
            &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
            c,
        ]),
        "inspect ip",
    )
}

#[test]
fn peer_net_icc_false_isolates_containers() {
    if !need(&["nsenter"]) {
        return;
    }
    // In a namespace of its own: nothing here depends on the host's bridges or br_netfilter.
    let ns = NetNs::new(&unique_name("bin"));
    assert!(ns.exec(&["ip", "link", "set", "lo", "up"]).status.success());
    let mut d = DaemonOptions::new().netns(ns.path()).start();
    d.load_busybox();
    let run = |d: &Daemon, name: &str, net: &str| {
        ok(
            d.docker(&[
                "run",
                "-d",
                "--name",
                name,
                "--network",
                net,
                "busybox",
                "sleep",
                "300",
            ]),
            "run",
        );
    };
    // icc on (the default): containers on one bridge talk.
    run(&d, "ca", "bridge");
    run(&d, "cb", "bridge");
    let b_ip = ip_of(&d, "cb", "bridge");
    assert!(pings(&d, "ca", &b_ip), "icc on: ca reaches cb");
    ok(d.docker(&["rm", "-f", "ca", "cb"]), "rm");

    // daemon.json `icc: false`: the default bridge isolates them; the gateway still answers.
    let pid = d.pid().expect("running").to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(d.wait_gone().success());
    std::fs::write(d.root().join("daemon.json"), r#"{"icc": false}"#).unwrap();
    d.spawn();
    let icc = ok(
        d.docker(&[
            "network",
            "inspect",
            "-f",
            "{{index .Options \"com.docker.network.bridge.enable_icc\"}}",
            "bridge",
        ]),
        "inspect bridge",
    );
    assert_eq!(icc, "false");
    run(&d, "ca", "bridge");
    run(&d, "cb", "bridge");
    let b_ip = ip_of(&d, "cb", "bridge");
    let gw = ok(
        d.docker(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            "bridge",
        ]),
        "gateway",
    );
    assert!(!pings(&d, "ca", &b_ip), "icc off: ca cannot reach cb");
    assert!(pings(&d, "ca", &gw), "icc off: the gateway answers");

    // A user network keeps icc unless its own option turns it off.
    for (net, opt) in [
        ("open", None),
        ("closed", Some("com.docker.network.bridge.enable_icc=false")),
    ] {
        let mut args = vec!["network", "create"];
        if let Some(o) = opt {
            args.extend(["-o", o]);
        }
        args.push(net);
        ok(d.docker(&args), "network create");
        run(&d, &format!("{net}1"), net);
        run(&d, &format!("{net}2"), net);
        let to = ip_of(&d, &format!("{net}2"), net);
        assert_eq!(
            pings(&d, &format!("{net}1"), &to),
            opt.is_none(),
            "network {net}"
        );
    }
}
