//! IPv6 end to end, driven by the docker CLI: `--ipv6 --fixed-cidr-v6` on the default
//! bridge, `EnableIPv6` user networks with `--ip6`, AAAA answers of the embedded DNS, and
//! published ports on `[::1]`, `[::]` and without host address (Docker's 0.0.0.0 + `::`
//! pair). The daemon runs inside a network namespace this test creates, with ULA addresses
//! only, so its IPv6 forwarding, bridges, rules and ports never touch the host's.
#![cfg(test)]

use std::process::{Command, Output};

use berth_testkit::daemon::{self, stderr, stdout, DaemonOptions};
use berth_testkit::netns::NetNs;
use berth_testkit::unique_name;

fn need() -> bool {
    daemon::need("network_ipv6", &["/usr/sbin/nft", "nsenter", "curl"])
}

/// A fresh ULA /48 (`fdXX:XXXX:XXXX`), different for every call, written as addresses print
/// (groups without leading zeros), so it can be found in the daemon's output.
fn ula48() -> String {
    let tag = unique_name("");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tag.bytes().chain(std::process::id().to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!(
        "fd{:02x}:{:x}:{:x}",
        h & 0xff,
        (h >> 8) & 0xffff,
        (h >> 24) & 0xffff
    )
}

/// A network namespace with `lo` up, for one daemon.
fn daemon_netns() -> NetNs {
    let ns = NetNs::new(&unique_name("b6n"));
    let up = ns.exec(&["ip", "link", "set", "lo", "up"]);
    assert!(up.status.success(), "lo up: {}", stderr(&up));
    ns
}

/// A host port that is free in `ns` (fresh namespaces have every port free; 40000+ keeps
/// clear of the ephemeral range the daemon picks from).
fn port(n: u16) -> u16 {
    40000 + u16::try_from(std::process::id() % 1000).expect("under 1000") * 10 + n
}

/// GET `url` from inside `ns` (curl); the body, or `None` when the connection is refused.
fn get(ns: &NetNs, url: &str) -> Option<String> {
    for _ in 0..50 {
        let o = Command::new("nsenter")
            .arg(format!("--net={}", ns.path().display()))
            .args(["curl", "-s", "-m", "5", url])
            .output()
            .expect("nsenter curl");
        match o.status.code() {
            Some(0) => return Some(stdout(&o)),
            // Connection refused: nobody serves that address and port.
            Some(7) => return None,
            // The server is still starting (empty reply, timeout): ask again.
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
    None
}

const HTTPD: &str =
    "mkdir -p /www && echo hello-v6 > /www/index.html && exec httpd -f -p 80 -h /www";

/// What an engine shows for the IPv6 scenario (host ports replaced by names, so two
/// engines compare equal when they behave alike).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    default_bridge_v6_from_mac: bool,
    default_bridge_gateway6: String,
    user_net: String,
    web_inspect: String,
    aaaa: bool,
    ports: String,
    host_ips: String,
    reach: Vec<(&'static str, bool)>,
    no_v6_pool: String,
    ip6_on_v4_net: String,
}

fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

fn scenario(cli: &dyn Fn(&[&str]) -> Output, ns: &NetNs, ula: &str) -> Seen {
    let (p1, p2, p3) = (port(1), port(2), port(3));
    // Default bridge: the address is the fixed CIDR plus the MAC, as dockerd does.
    let fmt = "{{.NetworkSettings.MacAddress}} {{.NetworkSettings.GlobalIPv6Address}} \
               {{.NetworkSettings.GlobalIPv6PrefixLen}} {{.NetworkSettings.IPv6Gateway}}";
    ok(
        cli(&["run", "-d", "--name", "def6", "busybox", "sleep", "300"]),
        "run on the default bridge",
    );
    let def = ok(cli(&["inspect", "-f", fmt, "def6"]), "inspect def6");
    let f: Vec<&str> = def.split_whitespace().collect();
    assert_eq!(f.len(), 4, "{def}");
    let mac: Vec<u16> = f[0]
        .split(':')
        .map(|b| u16::from_str_radix(b, 16).unwrap())
        .collect();
    let from_mac: std::net::Ipv6Addr = format!(
        "{ula}:1::{:x}:{:x}:{:x}",
        (mac[0] << 8) | mac[1],
        (mac[2] << 8) | mac[3],
        (mac[4] << 8) | mac[5]
    )
    .parse()
    .expect("an IPv6 address");
    let ip6_inside = ok(
        cli(&["exec", "def6", "ip", "-6", "addr", "show", "eth0"]),
        "ip -6 addr",
    );
    let default_bridge_v6_from_mac = f[1].parse() == Ok(from_mac)
        && f[2] == "64"
        && ip6_inside.contains(&format!("{from_mac}/64"));

    // A user network with IPv6.
    let subnet6 = format!("{ula}:2::/64");
    ok(
        cli(&["network", "create", "--ipv6", "--subnet", &subnet6, "v6net"]),
        "network create --ipv6",
    );
    let user_net = ok(
        cli(&[
            "network",
            "inspect",
            "-f",
            "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}}|{{.Gateway}} {{end}}",
            "v6net",
        ]),
        "network inspect",
    );
    // The IPv4 pool differs between engines; the flag and the IPv6 pool must not.
    let user_net = user_net
        .split_whitespace()
        .enumerate()
        .filter(|(i, w)| *i == 0 || w.contains("::"))
        .map(|(_, w)| w)
        .collect::<Vec<_>>()
        .join(" ");
    let web6 = format!("{ula}:2::10");
    ok(
        cli(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "v6net",
            "--ip6",
            &web6,
            "-p",
            &format!("[::1]:{p1}:80"),
            "-p",
            &format!("[::]:{p2}:80"),
            "-p",
            &format!("{p3}:80"),
            "busybox",
            "sh",
            "-c",
            HTTPD,
        ]),
        "run web",
    );
    let web_inspect = ok(
        cli(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}/{{.GlobalIPv6PrefixLen}} via {{.IPv6Gateway}}{{end}}",
            "web",
        ]),
        "inspect web",
    );
    // The embedded DNS answers AAAA with the container's IPv6 address.
    let lookup = cli(&[
        "run",
        "--rm",
        "--network",
        "v6net",
        "busybox",
        "nslookup",
        "-type=AAAA",
        "web",
    ]);
    let aaaa = stdout(&lookup).contains(&web6);
    let reach = vec![
        (
            "[::1]:p1 (proxy)",
            get(ns, &format!("http://[::1]:{p1}/")).is_some_and(|b| b.contains("hello-v6")),
        ),
        (
            "[gateway6]:p2",
            get(ns, &format!("http://[{ula}:2::1]:{p2}/")).is_some_and(|b| b.contains("hello-v6")),
        ),
        (
            "127.0.0.1:p2 ([::] is IPv6 only)",
            get(ns, &format!("http://127.0.0.1:{p2}/")).is_some(),
        ),
        (
            "127.0.0.1:p3",
            get(ns, &format!("http://127.0.0.1:{p3}/")).is_some_and(|b| b.contains("hello-v6")),
        ),
        (
            "[::1]:p3",
            get(ns, &format!("http://[::1]:{p3}/")).is_some_and(|b| b.contains("hello-v6")),
        ),
        (
            "container to container over IPv6",
            stdout(&cli(&[
                "run",
                "--rm",
                "--network",
                "v6net",
                "busybox",
                "wget",
                "-q",
                "-O",
                "-",
                &format!("http://[{web6}]/"),
            ]))
            .contains("hello-v6"),
        ),
    ];
    let names = |s: String| {
        s.replace(&p1.to_string(), "P1")
            .replace(&p2.to_string(), "P2")
            .replace(&p3.to_string(), "P3")
    };
    let mut ports: Vec<String> = stdout(&cli(&["port", "web"]))
        .lines()
        .map(str::to_string)
        .collect();
    ports.sort();
    let mut host_ips: Vec<String> = ok(
        cli(&[
            "inspect",
            "-f",
            "{{range $p, $b := .NetworkSettings.Ports}}{{range $b}}{{.HostIp}}:{{.HostPort}} {{end}}{{end}}",
            "web",
        ]),
        "inspect ports",
    )
    .split_whitespace()
    .map(str::to_string)
    .collect();
    host_ips.sort();

    let bad = cli(&["network", "create", "--ipv6", "nopool"]);
    assert!(!bad.status.success());
    let subnet4 = "10.47.0.0/24";
    ok(
        cli(&["network", "create", "--subnet", subnet4, "v4only"]),
        "v4 network",
    );
    let bad6 = cli(&[
        "run",
        "--rm",
        "--network",
        "v4only",
        "--ip6",
        &format!("{ula}:3::5"),
        "busybox",
        "true",
    ]);
    assert!(!bad6.status.success());
    for c in ["def6", "web"] {
        let _ = cli(&["rm", "-f", c]);
    }
    for n in ["v6net", "v4only"] {
        let _ = cli(&["network", "rm", n]);
    }
    Seen {
        default_bridge_v6_from_mac,
        default_bridge_gateway6: f[3].replace(ula, "ULA"),
        user_net: user_net.replace(ula, "ULA"),
        web_inspect: web_inspect.replace(ula, "ULA"),
        aaaa,
        ports: names(ports.join(",")),
        host_ips: names(host_ips.join(",")),
        reach,
        no_v6_pool: stderr(&bad).trim().to_string(),
        ip6_on_v4_net: stderr(&bad6).trim().to_string(),
    }
}

#[test]
fn peer_net_ipv6_networks_ports_and_dns() {
    if !need() {
        return;
    }
    let ns = daemon_netns();
    let ula = ula48();
    let fixed = format!("{ula}:1::/64");
    let d = DaemonOptions::new()
        .netns(ns.path())
        .args(&["--ipv6", "--fixed-cidr-v6", &fixed])
        .start();
    d.load_busybox();
    let seen = scenario(&|args| d.docker(args), &ns, &ula);
    assert!(seen.default_bridge_v6_from_mac, "{seen:#?}");
    assert_eq!(seen.default_bridge_gateway6, "ULA:1::1", "{seen:#?}");
    assert_eq!(seen.user_net, "true ULA:2::/64|", "{seen:#?}");
    assert_eq!(seen.web_inspect, "ULA:2::10/64 via ULA:2::1", "{seen:#?}");
    assert!(seen.aaaa, "{seen:#?}");
    assert_eq!(
        seen.ports, "80/tcp -> 0.0.0.0:P3,80/tcp -> [::1]:P1,80/tcp -> [::]:P2,80/tcp -> [::]:P3",
        "{seen:#?}"
    );
    assert_eq!(seen.host_ips, "0.0.0.0:P3,::1:P1,:::P2,:::P3", "{seen:#?}");
    for (what, ok) in &seen.reach {
        let expected = !what.contains("IPv6 only");
        assert_eq!(*ok, expected, "{what}: {seen:#?}");
    }
    assert!(
        seen.no_v6_pool.contains(
            "could not find an available, non-overlapping IPv6 address pool among the defaults"
        ),
        "{seen:#?}"
    );
    assert!(
        seen.ip6_on_v4_net
            .contains("user specified IP address is supported only when connecting to networks with user configured subnets"),
        "{seen:#?}"
    );
    // The v6 NAT rule sits in the daemon's table, inside its namespace.
    let table = ns.exec(&["nft", "list", "table", "inet", &d.net.table]);
    assert!(
        stdout(&table).contains(&format!("ip6 saddr {ula}:1::/64")),
        "{}",
        stdout(&table)
    );
}
