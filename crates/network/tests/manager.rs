//! The NetworkManager end to end on real kernel objects: default + user network, connect,
//! DNS by name, published port, bad input leaving nothing, restart, and removal leaving
//! nothing. Subnets 10.213.16-17.x; traffic only to loopback and this test's namespaces.
#![cfg(test)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use berth_network::ipam::AddressPool;
use berth_network::ports::{HostPort, PortMapping, Proto};
use berth_network::{ConnectRequest, CreateNetwork, ManagerConfig, NetworkError, NetworkManager};
use berth_testkit::netns::{KillOnDrop, LinkGuard, NetNs, NftTableGuard};
use berth_testkit::{require_program, require_root, unique_name, TempDir};

#[allow(clippy::too_many_arguments)]
async fn connect7(
    mgr: &NetworkManager,
    network_id: &str,
    container_id: &str,
    netns: &std::path::Path,
    container_ifname: &str,
    requested: Option<Ipv4Addr>,
    dns_names: Vec<String>,
    default_route: bool,
) -> berth_network::Result<berth_network::Endpoint> {
    mgr.connect(ConnectRequest {
        network_id,
        container_id,
        netns,
        container_ifname,
        requested,
        requested6: None,
        requested_mac: None,
        dns_names,
        default_route,
    })
    .await
}

fn id() -> String {
    format!("{:0<64}", unique_name("ab"))
}

fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut b = String::new();
    s.read_to_string(&mut b).ok()?;
    Some(b)
}

fn wait_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match get(port) {
            Some(b) if b.contains("hello") => return b,
            _ if Instant::now() > deadline => panic!("no answer on 127.0.0.1:{port}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_end_to_end() {
    require_root!();
    require_program!("busybox");
    require_program!("nft");
    let routes = berth_network::ipam::host_routes().unwrap();
    let probe: berth_network::Ipv4Net = "10.213.16.0/20".parse().unwrap();
    assert!(
        !routes.iter().any(|r| r.prefix() > 0 && r.overlaps(&probe)),
        "10.213.16.0/20 routed here"
    );

    let dir = TempDir::new("netmgr");
    let table = unique_name("berth_t");
    let _tg = NftTableGuard(table.clone());
    let mut cfg = ManagerConfig::new(dir.path().join("network"));
    cfg.table = table.clone();
    cfg.default_bridge = unique_name("bd");
    cfg.address_pools = vec![AddressPool {
        base: "10.213.16.0/21".parse().unwrap(),
        size: 24,
    }];
    let _dg = LinkGuard(cfg.default_bridge.clone());
    let mgr = NetworkManager::open(cfg.clone()).unwrap();

    let def = mgr.ensure_default_network(&id()).await.unwrap();
    assert_eq!(def.subnet.to_string(), "10.213.16.0/24");
    assert_eq!(
        mgr.ensure_default_network(&id()).await.unwrap(),
        def,
        "idempotent"
    );

    let uid = id();
    let _ug = LinkGuard(format!("br-{}", &uid[..12]));
    let user = mgr
        .create_network(CreateNetwork {
            id: uid.clone(),
            name: unique_name("net"),
            subnet: Some("10.213.24.0/24".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(user.gateway, Ipv4Addr::new(10, 213, 24, 1));

    // Bad input: overlapping and malformed subnets, gateway outside; nothing half-made.
    let bad = id();
    for (subnet, gw) in [
        ("10.213.24.128/25", None),
        ("10.213.99.0/33", None),
        ("10.213.25.0/24", Some("10.1.1.1")),
    ] {
        let e = mgr
            .create_network(CreateNetwork {
                id: bad.clone(),
                name: unique_name("bad"),
                subnet: Some(subnet.into()),
                gateway: gw.map(String::from),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                NetworkError::PoolOverlap { .. } | NetworkError::InvalidArgument(_)
            ),
            "{e}"
        );
    }
    assert_eq!(mgr.networks().await.len(), 2);
    assert!(!std::path::Path::new(&format!("/sys/class/net/br-{}", &bad[..12])).exists());
    assert!(!dir.path().join(format!("network/ipam/{bad}.json")).exists());

    // Two containers on the user network find each other by name.
    let (na, nb) = (
        NetNs::new(&unique_name("nsa")),
        NetNs::new(&unique_name("nsb")),
    );
    let ea = connect7(
        &mgr,
        &uid,
        "ctra",
        &na.path(),
        "eth0",
        None,
        vec!["alpha".into()],
        true,
    )
    .await
    .unwrap();
    let eb = connect7(
        &mgr,
        &uid,
        "ctrb",
        &nb.path(),
        "eth0",
        Some(Ipv4Addr::new(10, 213, 24, 50)),
        vec!["beta".into(), "b-alias".into()],
        true,
    )
    .await
    .unwrap();
    assert_eq!(eb.ip, Ipv4Addr::new(10, 213, 24, 50));
    assert_eq!(eb.mac, "02:42:0a:d5:18:32");
    let e = connect7(
        &mgr,
        &uid,
        "ctrc",
        &na.path(),
        "eth1",
        Some(Ipv4Addr::new(10, 9, 9, 9)),
        vec![],
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no configured subnet or ip-range contain the IP address 10.9.9.9"
    );
    assert!(
        !na.exec(&["ip", "link", "show", "eth1"]).status.success(),
        "no veth left"
    );
    let _dns = mgr.serve_dns("ctra", &na.path(), vec![]).await.unwrap();
    let ns_name = na.name().to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns_name,
                "busybox",
                "nslookup",
                "b-alias",
                "127.0.0.11",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("10.213.24.50"),
        "{out:?}"
    );
    assert!(na
        .exec(&["busybox", "ping", "-c", "1", "-W", "2", &eb.ip.to_string()])
        .status
        .success());

    // Published port; a taken port fails and installs nothing.
    let www = TempDir::new("www");
    std::fs::write(www.path().join("index.html"), "hello via berth\n").unwrap();
    let _httpd = KillOnDrop(nb.spawn(&[
        "busybox",
        "httpd",
        "-f",
        "-p",
        "10.213.24.50:80",
        "-h",
        www.path().to_str().unwrap(),
    ]));
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().port();
    let m = |hp| PortMapping {
        host_ip: Some(Ipv4Addr::LOCALHOST.into()),
        host_port: hp,
        container_port: 80,
        proto: Proto::Tcp,
    };
    let e = mgr
        .publish(
            "ctrb",
            &eb,
            &[m(HostPort::Ephemeral), m(HostPort::Fixed(taken))],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, NetworkError::PortInUse { .. }), "{e}");
    assert!(mgr.published("ctrb").await.is_empty());
    assert!(
        !berth_network::nft::Nftables::new(&table)
            .list()
            .unwrap()
            .unwrap()
            .contains("dnat"),
        "no rule left behind"
    );
    let p = mgr
        .publish("ctrb", &eb, &[m(HostPort::Ephemeral)])
        .await
        .unwrap();
    let port = p[0].host_port;
    assert!(wait_get(port).contains("hello via berth"));

    // Daemon restart: state reloads, ports come back.
    drop(mgr);
    let mgr = NetworkManager::open(cfg.clone()).unwrap();
    mgr.restore().await.unwrap();
    assert_eq!(mgr.published("ctrb").await[0].host_port, port);
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_err(),
        "re-reserved"
    );
    assert!(wait_get(port).contains("hello via berth"));
    assert_eq!(
        mgr.records().lookup(std::slice::from_ref(&uid), "alpha"),
        vec![ea.ip]
    );
    let e = mgr.remove_network(&uid).await.unwrap_err();
    assert!(e.to_string().contains("has active endpoints"), "{e}");

    // Removal leaves nothing.
    mgr.unpublish("ctrb").await.unwrap();
    mgr.disconnect(&uid, "ctra").await.unwrap();
    mgr.disconnect(&uid, "ctrb").await.unwrap();
    assert!(!na.exec(&["ip", "link", "show", "eth0"]).status.success());
    assert!(!std::path::Path::new(&format!("/sys/class/net/{}", ea.host_ifname)).exists());
    mgr.remove_network(&uid).await.unwrap();
    mgr.remove_network(&def.id).await.unwrap();
    assert_eq!(
        berth_network::nft::Nftables::new(&table).list().unwrap(),
        None,
        "table gone"
    );
    assert!(!std::path::Path::new(&format!("/sys/class/net/br-{}", &uid[..12])).exists());
    assert!(!std::path::Path::new(&format!("/sys/class/net/{}", cfg.default_bridge)).exists());
    assert_eq!(mgr.records().network_count(), 0);
    for sub in ["networks", "endpoints", "ports", "ipam"] {
        let left: Vec<_> = std::fs::read_dir(dir.path().join("network").join(sub))
            .map(|d| d.flatten().filter(|e| e.path().is_file()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("host port released");
}
