//! Networking end to end: a private `berth daemon` (own bridge, nft table and subnets)
//! driven by the real docker CLI v28 and by the berth CLI — published ports answering on
//! 127.0.0.1, names resolved on user networks, isolation between networks, network modes and
//! files, bad input leaving nothing behind, live restore of ports and DNS.
#![cfg(test)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use berth_testkit::daemon::{self, stderr, stdout, Daemon};

fn need() -> bool {
    daemon::need("network_cli", &["/usr/sbin/nft"])
}

/// A port that is free on the host right now.
fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .expect("ephemeral port")
        .port()
}

/// Whether this host can bind IPv6 sockets (then ports published without an address also
/// get a `[::]` binding, as with Docker).
fn ipv6_host() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// GET / on 127.0.0.1:port, retrying while the server comes up (no timing assertion: the
/// loop only waits for readiness).
fn http_get(port: u16) -> String {
    http_get_from("127.0.0.1", port)
}

/// GET / on `host`:port (an address on this host), retrying while the server comes up.
fn http_get_from(host: &str, port: u16) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        match TcpStream::connect((host, port)) {
            Ok(mut s) => {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
                let mut body = String::new();
                let _ = s.read_to_string(&mut body);
                if body.contains("200 OK") {
                    return body;
                }
                last = body;
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no HTTP answer on {host}:{port}: {last}");
}

/// Host veths enslaved to `bridge`.
fn bridge_ports(bridge: &str) -> Vec<String> {
    std::fs::read_dir(format!("/sys/class/net/{bridge}/brif"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn table(d: &Daemon) -> String {
    let o = std::process::Command::new("nft")
        .args(["list", "table", "inet", &d.net.table])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn links() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

const HTTPD: &str =
    "mkdir -p /www && echo hello-from-berth > /www/index.html && exec httpd -f -p 80 -h /www";

#[test]
fn peer_net_published_port_both_clis_and_live_restore() {
    if !need() {
        return;
    }
    let mut d = Daemon::start();
    d.load_busybox();

    // docker CLI
    let port = free_port();
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{port}:80"),
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(http_get(port).contains("hello-from-berth"));
    // Docker's pair: every IPv4 address and, where the host has IPv6, every IPv6 one.
    let v6 = ipv6_host();
    let both = |v4: &str, v6s: &str| {
        if v6 {
            format!("{v4}{v6s}")
        } else {
            v4.to_string()
        }
    };
    assert_eq!(
        stdout(&d.docker(&["port", "web"])),
        both(
            &format!("80/tcp -> 0.0.0.0:{port}\n"),
            &format!("80/tcp -> [::]:{port}\n")
        )
    );
    if v6 {
        assert!(http_get_from("::1", port).contains("hello-from-berth"));
    }
    assert!(stdout(&d.docker(&["ps"])).contains(&format!("0.0.0.0:{port}->80/tcp")));
    let ip = stdout(&d.docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]));
    assert!(
        ip.trim()
            .starts_with(&d.net.bridge_subnet[..d.net.bridge_subnet.len() - 4]),
        "{ip}"
    );
    assert_eq!(bridge_ports(&d.net.bridge).len(), 1);
    assert!(table(&d).contains(&format!("dport {port}")));

    // Live restore: the daemon dies and comes back; the port still answers.
    d.kill9();
    d.spawn();
    assert!(http_get(port).contains("hello-from-berth"));
    assert_eq!(
        stdout(&d.docker(&["port", "web", "80"])),
        both(&format!("0.0.0.0:{port}\n"), &format!("[::]:{port}\n"))
    );
    if v6 {
        assert!(http_get_from("::1", port).contains("hello-from-berth"));
    }

    assert!(d.docker(&["rm", "-f", "web"]).status.success());
    assert!(bridge_ports(&d.net.bridge).is_empty(), "veth left behind");
    assert!(
        !table(&d).contains(&format!("dport {port}")),
        "rule left behind"
    );
    TcpListener::bind(("0.0.0.0", port)).expect("host port released");

    // berth CLI, with -P on an EXPOSEd port range and a fixed port.
    let port = free_port();
    let o = d.berth(&[
        "run",
        "--pull",
        "never",
        "-d",
        "--name",
        "web2",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "--expose",
        "81",
        "-P",
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(http_get(port).contains("hello-from-berth"));
    let ports = stdout(&d.berth(&["port", "web2"]));
    assert!(
        ports.contains(&format!("80/tcp -> 127.0.0.1:{port}")),
        "{ports}"
    );
    assert!(ports.contains("81/tcp -> 0.0.0.0:"), "{ports}");
    assert!(d.berth(&["rm", "-f", "web2"]).status.success());
    assert!(bridge_ports(&d.net.bridge).is_empty());
}

#[test]
fn peer_net_user_networks_resolve_by_name_and_isolate() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let n1 = berth_testkit::unique_name("n1");
    let n2 = berth_testkit::unique_name("n2");
    let o = d.docker(&[
        "network",
        "create",
        "--subnet",
        &d.net.subnet(1),
        "--label",
        "t=1",
        &n1,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim().len(), 64);
    let o = d.berth(&["network", "create", &n2]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ls = stdout(&d.docker(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]));
    for want in [
        "bridge bridge",
        "host host",
        "none null",
        &format!("{n1} bridge"),
    ] {
        assert!(ls.contains(want), "{ls}");
    }
    let ls = stdout(&d.berth(&["network", "ls", "-f", "label=t=1", "--format", "{{.Name}}"]));
    assert_eq!(ls, format!("{n1}\n"));

    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "-d",
        "--name",
        "srv",
        "--network",
        &n1,
        "--network-alias",
        "db",
        "busybox",
        "sleep",
        "300",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let srv_ip = stdout(&d.docker(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{n1}\").IPAddress}}}}"),
        "srv",
    ]));
    let srv_ip = srv_ip.trim().to_string();
    assert!(srv_ip.starts_with("10."), "{srv_ip}");

    // Same network: by name and by alias (docker CLI and berth CLI).
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "--rm",
        "--network",
        &n1,
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        "srv",
    ]);
    assert!(o.status.success(), "ping srv: {}{}", stdout(&o), stderr(&o));
    let o = d.berth(&[
        "run",
        "--pull",
        "never",
        "--rm",
        "--network",
        &n1,
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        "db",
    ]);
    assert!(o.status.success(), "ping db: {}{}", stdout(&o), stderr(&o));
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "--rm",
        "--network",
        &n1,
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(
        stdout(&o).starts_with("nameserver 127.0.0.11\n"),
        "{}",
        stdout(&o)
    );

    // Other network: the name does not resolve and the address is unreachable.
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "--rm",
        "--network",
        &n2,
        "busybox",
        "nslookup",
        "srv",
    ]);
    assert!(
        !o.status.success() || !stdout(&o).contains(&srv_ip),
        "{}",
        stdout(&o)
    );
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "--rm",
        "--network",
        &n2,
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "1",
        &srv_ip,
    ]);
    assert!(!o.status.success(), "crossed networks: {}", stdout(&o));

    // network inspect shows the container; connect/disconnect at runtime.
    let inspect = stdout(&d.docker(&["network", "inspect", &n1]));
    assert!(inspect.contains("\"Name\": \"srv\""), "{inspect}");
    let o = d.docker(&["network", "connect", "--alias", "other", &n2, "srv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "--rm",
        "--network",
        &n2,
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        "other",
    ]);
    assert!(
        o.status.success(),
        "after connect: {}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = d.berth(&["network", "disconnect", &n2, "srv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.docker(&["network", "rm", &n1]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("active endpoints"), "{}", stderr(&o));

    let bridge1 = stdout(&d.docker(&["network", "inspect", "-f", "{{.Id}}", &n1]));
    let bridge1 = format!("br-{}", &bridge1.trim()[..12]);
    assert!(links().contains(&bridge1));
    assert!(d.docker(&["rm", "-f", "srv"]).status.success());
    assert!(bridge_ports(&bridge1).is_empty(), "veth left behind");
    let o = d.docker(&["network", "rm", &n1, &n2]);
    assert_eq!(stdout(&o), format!("{n1}\n{n2}\n"), "{}", stderr(&o));
    assert!(!links().contains(&bridge1), "bridge left behind");
}

#[test]
fn peer_net_bad_input_leaves_nothing() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let n1 = berth_testkit::unique_name("n1");
    assert!(d
        .docker(&["network", "create", "--subnet", &d.net.subnet(2), &n1])
        .status
        .success());
    let before_links = links();
    let before_nets = stdout(&d.docker(&["network", "ls", "-q"]));

    let o = d.docker(&["network", "create", "--subnet", &d.net.subnet(2), "dup1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("overlaps"), "{}", stderr(&o));
    let o = d.berth(&["network", "create", "--subnet", "10.1.2.300/24", "bad1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("invalid"), "{}", stderr(&o));
    let o = d.docker(&["network", "create", "--subnet", "10.77.0.5/24", "bad2"]);
    assert!(stderr(&o).contains("did you mean"), "{}", stderr(&o));
    let o = d.docker(&["network", "create", &n1]);
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(links(), before_links);
    assert_eq!(stdout(&d.docker(&["network", "ls", "-q"])), before_nets);

    // IP outside the subnet, unknown network.
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "-d",
        "--name",
        "c1",
        "--network",
        &n1,
        "--ip",
        "10.9.9.9",
        "busybox",
        "sleep",
        "60",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no configured subnet or ip-range contain the IP address 10.9.9.9"),
        "{}",
        stderr(&o)
    );
    assert_eq!(links(), before_links, "veth left behind");
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "--rm",
        "--network",
        "nosuchnet",
        "busybox",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("network nosuchnet not found"),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["network", "inspect", "nosuchnet"]);
    assert!(!o.status.success());

    // A host port taken by another process.
    let holder = TcpListener::bind("0.0.0.0:0").expect("hold a port");
    let port = holder.local_addr().expect("addr").port();
    let o = d.berth(&[
        "run",
        "--pull",
        "never",
        "-d",
        "--name",
        "c2",
        "-p",
        &format!("{port}:80"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("address already in use"),
        "{}",
        stderr(&o)
    );
    assert!(bridge_ports(&d.net.bridge).is_empty(), "veth left behind");
    assert!(
        !table(&d).contains(&format!("dport {port}")),
        "rule left behind"
    );
    drop(holder);

    // The address the failed run asked for is free again.
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "-d",
        "--name",
        "c3",
        "--network",
        &n1,
        "--ip",
        &d.net.subnet(2).replace(".0/24", ".9"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d
        .docker(&["rm", "-f", "c1", "c2", "c3"])
        .status
        .code()
        .is_some());
}

#[test]
fn peer_net_modes_and_network_files() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(stdout(&o), "lo\n", "{}", stderr(&o));
    let o = d.berth(&[
        "run",
        "--pull",
        "never",
        "--rm",
        "--network",
        "host",
        "busybox",
        "ls",
        "/sys/class/net",
    ]);
    assert!(stdout(&o).contains(&d.net.bridge), "{}", stdout(&o));
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "--rm",
        "--hostname",
        "h1",
        "--add-host",
        "foo:192.0.2.7",
        "--add-host",
        "gw:host-gateway",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.test",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hostname /etc/hosts /etc/resolv.conf; hostname",
    ]);
    let text = stdout(&o);
    assert!(text.starts_with("h1\n"), "{text}");
    assert!(text.contains("192.0.2.7\tfoo\n"), "{text}");
    assert!(
        text.contains(&format!("{}\tgw\n", d.net.bip.trim_end_matches("/24"))),
        "{text}"
    );
    assert!(text.contains("\th1\n"), "{text}");
    assert!(text.contains("nameserver 192.0.2.53\n"), "{text}");
    assert!(text.contains("search example.test\n"), "{text}");
    assert!(text.ends_with("h1\n"), "{text}");

    let o = d.docker(&[
        "run", "--pull", "never", "-d", "--name", "base", "busybox", "sleep", "300",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mac = stdout(&d.docker(&["inspect", "-f", "{{.NetworkSettings.MacAddress}}", "base"]));
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "--rm",
        "--network",
        "container:base",
        "busybox",
        "cat",
        "/sys/class/net/eth0/address",
    ]);
    assert_eq!(stdout(&o).trim(), mac.trim(), "{}", stderr(&o));
    assert!(d.docker(&["rm", "-f", "base"]).status.success());
    assert!(bridge_ports(&d.net.bridge).is_empty());
}

/// `docker run -d --name <name> [--network <net>] busybox sleep 600` through `cli`.
fn run_sleeper(cli: &dyn Fn(&[&str]) -> std::process::Output, name: &str, net: Option<&str>) {
    let mut args = vec!["run", "--pull", "never", "-d", "--name", name];
    if let Some(n) = net {
        args.extend(["--network", n]);
    }
    args.extend(["busybox", "sleep", "600"]);
    let o = cli(&args);
    assert!(o.status.success(), "run {name}: {}", stderr(&o));
}

/// The address of `container` on network `net` (inspect).
fn ip_on(d: &Daemon, container: &str, net: &str) -> String {
    let format = format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}");
    let ip = stdout(&d.docker(&["inspect", "-f", &format, container]))
        .trim()
        .to_string();
    assert!(ip.starts_with("10."), "{container} on {net}: {ip:?}");
    ip
}

/// Polls `nslookup <name>` inside `from` (through `cli`) until it answers with `ip`.
fn assert_resolves(
    cli: &dyn Fn(&[&str]) -> std::process::Output,
    from: &str,
    name: &str,
    ip: &str,
) {
    let mut last = String::new();
    for _ in 0..50 {
        let o = cli(&["exec", from, "nslookup", name]);
        last = format!("{}{}", stdout(&o), stderr(&o));
        if o.status.success() && stdout(&o).contains(ip) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{name} did not resolve to {ip} from {from}: {last}");
}

#[test]
fn peer_net_connect_from_default_bridge_gets_dns() {
    if !need() {
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    let docker = |a: &[&str]| d.docker(a);
    let berth = |a: &[&str]| d.berth(a);
    let net = berth_testkit::unique_name("dn");
    let o = d.docker(&["network", "create", "--subnet", &d.net.subnet(3), &net]);
    assert!(o.status.success(), "{}", stderr(&o));
    run_sleeper(&docker, "na", Some(&net));

    // docker CLI: `nb` starts on the default bridge (host resolvers, no embedded DNS)...
    run_sleeper(&docker, "nb", None);
    let rc = stdout(&d.docker(&["exec", "nb", "cat", "/etc/resolv.conf"]));
    assert!(!rc.contains("127.0.0.11"), "{rc}");
    // ...and after `network connect` resolves and is resolved on the user network.
    let o = d.docker(&["network", "connect", &net, "nb"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a_ip, b_ip) = (ip_on(&d, "na", &net), ip_on(&d, "nb", &net));
    assert_resolves(&docker, "nb", "na", &a_ip);
    assert_resolves(&docker, "na", "nb", &b_ip);
    let rc = stdout(&d.docker(&["exec", "nb", "cat", "/etc/resolv.conf"]));
    assert!(rc.starts_with("nameserver 127.0.0.11\n"), "{rc}");
    let hosts = stdout(&d.docker(&["exec", "nb", "cat", "/etc/hosts"]));
    assert!(hosts.contains(&b_ip), "{hosts}");
    // Still on the default bridge too (both interfaces).
    let bridge_ip = stdout(&d.docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "nb"]));
    assert!(!bridge_ip.trim().is_empty(), "{bridge_ip}");

    // berth CLI: the same for `nc`.
    run_sleeper(&berth, "nc", None);
    let o = d.berth(&["network", "connect", &net, "nc"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c_ip = ip_on(&d, "nc", &net);
    assert_resolves(&berth, "nc", "na", &a_ip);
    assert_resolves(&berth, "nc", "nb", &b_ip);
    assert_resolves(&berth, "na", "nc", &c_ip);

    // Disconnect: the name is gone from the network, the container keeps running.
    let o = d.berth(&["network", "disconnect", &net, "nc"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.docker(&["exec", "na", "nslookup", "nc"]);
    assert!(
        !o.status.success() || !stdout(&o).contains(&c_ip),
        "{}",
        stdout(&o)
    );
    let hosts = stdout(&d.berth(&["exec", "nc", "cat", "/etc/hosts"]));
    assert!(!hosts.contains(&c_ip), "{hosts}");

    let o = d.docker(&["rm", "-f", "na", "nb", "nc"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.docker(&["network", "rm", &net]).status.success());
    assert!(bridge_ports(&d.net.bridge).is_empty(), "veth left behind");
}

#[test]
fn peer_net_ipv6_host_addresses() {
    if !need() {
        return;
    }
    if !ipv6_host() {
        berth_testkit::skip("peer_net_ipv6_host_addresses", "no IPv6 on this host");
        return;
    }
    let d = Daemon::start();
    d.load_busybox();
    // `[::]` is every IPv6 address and only that, as with Docker; `[::1]` is served too
    // (by the userland proxy: the kernel cannot DNAT IPv6 loopback traffic) — here on the
    // host's loopback only.
    let (all6, lo6) = (free_port(), free_port());
    let o = d.docker(&[
        "run",
        "--pull",
        "never",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("[::]:{all6}:80"),
        "-p",
        &format!("[::1]:{lo6}:80"),
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(http_get_from("::1", all6).contains("hello-from-berth"));
    assert!(http_get_from("::1", lo6).contains("hello-from-berth"));
    assert!(
        TcpStream::connect(("127.0.0.1", all6)).is_err(),
        "[::] is not IPv4"
    );
    let mut ports: Vec<String> = stdout(&d.docker(&["port", "web"]))
        .lines()
        .map(String::from)
        .collect();
    ports.sort();
    let mut want = vec![
        format!("80/tcp -> [::1]:{lo6}"),
        format!("80/tcp -> [::]:{all6}"),
    ];
    want.sort();
    assert_eq!(ports, want);
    let host_ips = stdout(&d.docker(&[
        "inspect",
        "-f",
        "{{range (index .NetworkSettings.Ports \"80/tcp\")}}{{.HostIp}} {{end}}",
        "web",
    ]));
    let mut host_ips: Vec<&str> = host_ips.split_whitespace().collect();
    host_ips.sort();
    assert_eq!(host_ips, ["::", "::1"]);
    assert!(d.docker(&["rm", "-f", "web"]).status.success());
    assert!(bridge_ports(&d.net.bridge).is_empty());
    TcpListener::bind(("::", all6)).expect("[::] port released");
    TcpListener::bind(("::1", lo6)).expect("[::1] port released");
}
