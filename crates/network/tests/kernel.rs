//! Root tests against the real kernel: bridges, veths into netns, ping, isolation between
//! bridges, embedded DNS inside a netns, published ports reached on 127.0.0.1, and cleanup.
//! Traffic stays on loopback or between namespaces these tests create (10.213.x.0/24).
#![cfg(test)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use berth_network::dns::{DnsRecords, DnsServer};
use berth_network::link::{self, BridgeRequest, RtNetlink, VethRequest};
use berth_network::nft::{BridgeRules, Nftables, PortRule, Ruleset};
use berth_network::ports::{self, PortMapping, Proto};
use berth_network::NetworkError;
use berth_testkit::netns::{KillOnDrop, LinkGuard, NetNs, NftTableGuard};
use berth_testkit::{require_program, require_root, unique_name, TempDir};

fn subnet_free(third: u8) -> bool {
    let net: berth_network::Ipv4Net = format!("10.213.{third}.0/24").parse().unwrap();
    !berth_network::ipam::host_routes()
        .unwrap()
        .iter()
        .any(|r| r.prefix() > 0 && r.overlaps(&net))
}

fn ip(third: u8, last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 213, third, last)
}

async fn attach(nl: &RtNetlink, bridge: &str, ns: &NetNs, addr: Ipv4Addr) -> LinkGuard {
    let host = unique_name("vt");
    let o = addr.octets();
    nl.attach_veth(&VethRequest {
        bridge: bridge.into(),
        host_ifname: host.clone(),
        netns: ns.path(),
        container_ifname: "eth0".into(),
        mac: link::mac_for_ip(addr),
        address: addr,
        prefix: 24,
        gateway: Some(Ipv4Addr::new(o[0], o[1], o[2], 1)),
        address6: None,
        gateway6: None,
        isolated: false,
        mtu: 1500,
    })
    .await
    .unwrap();
    LinkGuard(host)
}

fn bridge_req(name: &str, third: u8) -> BridgeRequest {
    BridgeRequest {
        name: name.into(),
        ipv4: (ip(third, 1), 24),
        ipv6: Vec::new(),
        mtu: 1500,
    }
}

fn ping(ns: &NetNs, to: Ipv4Addr) -> bool {
    ns.exec(&["busybox", "ping", "-c", "1", "-W", "2", &to.to_string()])
        .status
        .success()
}

#[tokio::test]
async fn bridge_veth_ping_and_removal() {
    require_root!();
    require_program!("busybox");
    assert!(subnet_free(1), "10.213.1.0/24 is routed on this host");
    let nl = RtNetlink::connect().unwrap();
    let br = unique_name("bt");
    let _brg = LinkGuard(br.clone());
    nl.ensure_bridge(&bridge_req(&br, 1)).await.unwrap();
    // Idempotent (daemon restart path).
    nl.ensure_bridge(&bridge_req(&br, 1)).await.unwrap();
    let (a, b) = (
        NetNs::new(&unique_name("nsa")),
        NetNs::new(&unique_name("nsb")),
    );
    let va = attach(&nl, &br, &a, ip(1, 2)).await;
    let _vb = attach(&nl, &br, &b, ip(1, 3)).await;
    assert!(ping(&a, ip(1, 3)), "a reaches b over the bridge");
    assert!(ping(&b, ip(1, 1)), "b reaches the gateway");
    let shown =
        String::from_utf8_lossy(&a.exec(&["ip", "-o", "addr", "show", "eth0"]).stdout).into_owned();
    assert!(shown.contains("10.213.1.2/24"), "{shown}");
    let routes = String::from_utf8_lossy(&a.exec(&["ip", "route"]).stdout).into_owned();
    assert!(
        routes.contains("default via 10.213.1.1 dev eth0"),
        "{routes}"
    );
    let mac = String::from_utf8_lossy(&a.exec(&["cat", "/sys/class/net/eth0/address"]).stdout)
        .into_owned();
    assert_eq!(mac.trim(), "02:42:0a:d5:01:02");
    // Removal leaves nothing: the host end goes, and with it the container end.
    assert!(nl.delete_link(&va.0).await.unwrap());
    assert_eq!(nl.link_index(&va.0).await.unwrap(), None);
    assert!(!a.exec(&["ip", "link", "show", "eth0"]).status.success());
    assert!(!ping(&b, ip(1, 2)));
    assert!(nl.delete_link(&br).await.unwrap());
    assert_eq!(nl.link_index(&br).await.unwrap(), None);
}

#[tokio::test]
async fn veth_into_missing_netns_leaves_nothing() {
    require_root!();
    let nl = RtNetlink::connect().unwrap();
    let br = unique_name("bt");
    let _g = LinkGuard(br.clone());
    nl.ensure_bridge(&bridge_req(&br, 5)).await.unwrap();
    let host = unique_name("vt");
    let e = nl
        .attach_veth(&VethRequest {
            bridge: br.clone(),
            host_ifname: host.clone(),
            netns: "/run/netns/does-not-exist-berth".into(),
            container_ifname: "eth0".into(),
            mac: link::mac_for_ip(ip(5, 2)),
            address: ip(5, 2),
            prefix: 24,
            gateway: None,
            address6: None,
            gateway6: None,
            isolated: false,
            mtu: 1500,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, NetworkError::Io { .. }), "{e}");
    assert_eq!(nl.link_index(&host).await.unwrap(), None);
}

#[tokio::test]
async fn different_bridges_are_isolated() {
    require_root!();
    require_program!("busybox");
    require_program!("nft");
    assert!(subnet_free(2) && subnet_free(3));
    let nl = RtNetlink::connect().unwrap();
    let (b1, b2) = (unique_name("bt"), unique_name("bt"));
    let _g1 = LinkGuard(b1.clone());
    let _g2 = LinkGuard(b2.clone());
    nl.ensure_bridge(&bridge_req(&b1, 2)).await.unwrap();
    nl.ensure_bridge(&bridge_req(&b2, 3)).await.unwrap();
    let (a, b) = (
        NetNs::new(&unique_name("nsa")),
        NetNs::new(&unique_name("nsb")),
    );
    let _va = attach(&nl, &b1, &a, ip(2, 2)).await;
    let _vb = attach(&nl, &b2, &b, ip(3, 2)).await;
    let forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
        .unwrap()
        .trim()
        == "1";
    if forwarding {
        assert!(
            ping(&a, ip(3, 2)),
            "routed between bridges before the rules (baseline)"
        );
    }
    let table = unique_name("berth_t");
    let _tg = NftTableGuard(table.clone());
    let fw = Nftables::new(&table);
    let rs = Ruleset {
        bridges: vec![
            BridgeRules {
                bridge: b1.clone(),
                subnet: "10.213.2.0/24".parse().unwrap(),
                subnet6: None,
                internal: false,
            },
            BridgeRules {
                bridge: b2.clone(),
                subnet: "10.213.3.0/24".parse().unwrap(),
                subnet6: None,
                internal: false,
            },
        ],
        ports: vec![],
    };
    fw.apply(&rs).unwrap();
    assert!(!ping(&a, ip(3, 2)), "bridge 1 cannot reach bridge 2");
    assert!(!ping(&b, ip(2, 2)), "bridge 2 cannot reach bridge 1");
    assert!(ping(&a, ip(2, 1)), "own gateway still reachable");
    let listed = fw.list().unwrap().expect("table exists");
    assert!(
        listed.contains(&format!("iifname \"{b1}\" oifname \"{b2}\" drop")),
        "{listed}"
    );
    fw.apply(&Ruleset::default()).unwrap();
    assert_eq!(fw.list().unwrap(), None, "empty ruleset removes the table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_dns_answers_only_its_networks() {
    require_root!();
    require_program!("busybox");
    let ns = NetNs::new(&unique_name("nsd"));
    link::loopback_up(&ns.path()).await.unwrap();
    let records = DnsRecords::new();
    records.add(
        "net1",
        &["web".into(), "www-alias".into()],
        &[ip(7, 2).into()],
    );
    records.add("net2", &["secret".into()], &[ip(8, 2).into()]);
    let server = DnsServer::new(records.clone(), vec![]);
    let listener = server
        .serve_in_netns(&ns.path(), vec!["net1".into()])
        .unwrap();
    let lookup = |name: &str| {
        let ns_path = ns.name().to_string();
        let name = name.to_string();
        std::thread::spawn(move || {
            let out = std::process::Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns_path,
                    "busybox",
                    "nslookup",
                    &name,
                    "127.0.0.11",
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .join()
        .unwrap()
    };
    let out = lookup("web");
    assert!(out.contains("10.213.7.2"), "{out}");
    assert!(lookup("www-alias").contains("10.213.7.2"));
    let out = lookup("secret");
    assert!(
        !out.contains("10.213.8.2"),
        "a name from another network must not resolve: {out}"
    );
    // Connect to net2 at runtime: now it resolves.
    listener.set_networks(vec!["net1".into(), "net2".into()]);
    assert!(lookup("secret").contains("10.213.8.2"));
    // Disconnect/removal: the record goes away.
    records.remove_ips("net1", &[ip(7, 2).into()]);
    assert!(!lookup("web").contains("10.213.7.2"));
    drop(listener);
}

fn http_get(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

#[tokio::test]
async fn published_port_reaches_container_from_loopback() {
    require_root!();
    require_program!("busybox");
    require_program!("nft");
    assert!(subnet_free(4));
    let nl = RtNetlink::connect().unwrap();
    let br = unique_name("bt");
    let _bg = LinkGuard(br.clone());
    nl.ensure_bridge(&bridge_req(&br, 4)).await.unwrap();
    let ns = NetNs::new(&unique_name("nsp"));
    let _v = attach(&nl, &br, &ns, ip(4, 2)).await;
    let www = TempDir::new("www");
    std::fs::write(www.path().join("index.html"), "hello from the container\n").unwrap();
    let _httpd = KillOnDrop(ns.spawn(&[
        "busybox",
        "httpd",
        "-f",
        "-p",
        "10.213.4.2:80",
        "-h",
        www.path().to_str().unwrap(),
    ]));

    let reserved = ports::reserve_all(&[PortMapping {
        host_ip: Some(Ipv4Addr::LOCALHOST.into()),
        host_port: ports::HostPort::Ephemeral,
        container_port: 80,
        proto: Proto::Tcp,
    }])
    .unwrap();
    let host_port = reserved[0].host_port;
    let table = unique_name("berth_t");
    let _tg = NftTableGuard(table.clone());
    let fw = Nftables::new(&table);
    let rs = Ruleset {
        bridges: vec![BridgeRules {
            bridge: br.clone(),
            subnet: "10.213.4.0/24".parse().unwrap(),
            subnet6: None,
            internal: false,
        }],
        ports: vec![PortRule {
            proto: Proto::Tcp,
            host_ip: Some(Ipv4Addr::LOCALHOST.into()),
            host_port,
            container_ip: ip(4, 2).into(),
            container_port: 80,
        }],
    };
    fw.apply(&rs).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        match http_get(host_port) {
            Ok(b) if b.contains("hello") => break b,
            other if Instant::now() > deadline => {
                panic!("no answer on 127.0.0.1:{host_port}: {other:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert!(body.contains("hello from the container"), "{body}");
    // The port is held: another process cannot bind it, and a second reservation fails.
    let e = ports::reserve_all(&[PortMapping {
        host_ip: Some(Ipv4Addr::LOCALHOST.into()),
        host_port: ports::HostPort::Fixed(host_port),
        container_port: 80,
        proto: Proto::Tcp,
    }])
    .unwrap_err();
    assert!(matches!(e, NetworkError::PortInUse { .. }), "{e}");
    // Unpublish: no rule, nothing answers, port free again.
    fw.apply(&Ruleset {
        ports: vec![],
        ..rs
    })
    .unwrap();
    drop(reserved);
    assert!(http_get(host_port)
        .map(|b| !b.contains("hello"))
        .unwrap_or(true));
    std::net::TcpListener::bind(("127.0.0.1", host_port)).expect("port released");
    fw.delete().unwrap();
    assert_eq!(fw.list().unwrap(), None);
}
