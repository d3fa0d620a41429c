//! The manager's logic over the in-memory fakes: no root, no kernel object, milliseconds.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use berth_testkit::TempDir;

use super::*;
use crate::fake::{FakeFirewall, FakeNetlink, FakeOp};
use crate::ipam::AddressPool;
use crate::ports::{HostPort, Proto};
use crate::NetworkError;

struct Fixture {
    dir: TempDir,
    nl: Arc<FakeNetlink>,
    fw: Arc<FakeFirewall>,
    mgr: NetworkManager,
}

fn config(dir: &Path) -> ManagerConfig {
    let mut cfg = ManagerConfig::new(dir.join("network"));
    cfg.default_bridge = "bt0".into();
    cfg.address_pools = vec![AddressPool {
        base: "10.50.0.0/16".parse().unwrap(),
        size: 24,
    }];
    cfg.ipv6_bindings = false;
    cfg
}

impl Fixture {
    fn new() -> Fixture {
        let dir = TempDir::new("netmgr-unit");
        // A host route over the first pool entry: the default network must skip it.
        let nl = Arc::new(FakeNetlink::new().with_routes(
            vec![
                "0.0.0.0/0".parse().unwrap(),
                "10.50.0.0/24".parse().unwrap(),
            ],
            vec![],
        ));
        let fw = Arc::new(FakeFirewall::new());
        let mgr =
            NetworkManager::with_backends(config(dir.path()), nl.clone(), fw.clone()).unwrap();
        Fixture { dir, nl, fw, mgr }
    }

    /// The same data directory, new fakes: a daemon restart on a host that lost its links
    /// and table (a reboot).
    fn reopen(&self) -> (Arc<FakeNetlink>, Arc<FakeFirewall>, NetworkManager) {
        let nl = Arc::new(FakeNetlink::new());
        let fw = Arc::new(FakeFirewall::new());
        let mgr =
            NetworkManager::with_backends(config(self.dir.path()), nl.clone(), fw.clone()).unwrap();
        (nl, fw, mgr)
    }

    fn state_files(&self, sub: &str) -> usize {
        std::fs::read_dir(self.dir.path().join("network").join(sub))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .count()
            })
            .unwrap_or(0)
    }

    async fn user_network(&self, id: &str, subnet: Option<&str>) -> Result<NetworkInfo> {
        self.mgr
            .create_network(CreateNetwork {
                id: id.into(),
                name: format!("net-{id}"),
                subnet: subnet.map(String::from),
                ..Default::default()
            })
            .await
    }

    async fn connect(&self, net: &str, ctr: &str, ip: Option<Ipv4Addr>) -> Result<Endpoint> {
        self.mgr
            .connect(ConnectRequest {
                network_id: net,
                container_id: ctr,
                netns: Path::new("/proc/4242/ns/net"),
                container_ifname: "eth0",
                requested: ip,
                requested6: None,
                requested_mac: None,
                dns_names: vec![ctr.to_string(), format!("{ctr}-alias")],
                default_route: true,
            })
            .await
    }
}

fn id64(tag: &str) -> String {
    format!("{tag:0<64}")
}

#[tokio::test]
async fn default_and_user_networks_get_bridges_pools_and_rules() {
    let f = Fixture::new();
    let def = f.mgr.ensure_default_network(&id64("d")).await.unwrap();
    assert_eq!(
        def.subnet.to_string(),
        "10.50.1.0/24",
        "skips the host route"
    );
    assert_eq!(def.bridge, "bt0");
    assert_eq!(
        f.mgr.ensure_default_network(&id64("other")).await.unwrap(),
        def,
        "idempotent"
    );
    let user = f.user_network(&id64("a1"), None).await.unwrap();
    assert_eq!(user.subnet.to_string(), "10.50.2.0/24");
    assert_eq!(user.gateway, Ipv4Addr::new(10, 50, 2, 1));
    assert_eq!(user.bridge, "br-a10000000000");
    let bridges = f.nl.bridges();
    assert_eq!(bridges.len(), 2);
    assert_eq!(
        bridges["br-a10000000000"].ipv4,
        (Ipv4Addr::new(10, 50, 2, 1), 24)
    );
    let rs = f.fw.current().expect("table exists");
    let names: Vec<&str> = rs.bridges.iter().map(|b| b.bridge.as_str()).collect();
    assert_eq!(names, ["br-a10000000000", "bt0"]);
    assert_eq!(f.state_files("networks"), 2);
    assert_eq!(f.state_files("ipam"), 2);
}

#[tokio::test]
async fn bad_networks_leave_nothing() {
    let f = Fixture::new();
    f.user_network(&id64("a"), Some("10.60.0.0/24"))
        .await
        .unwrap();
    let applies = f.fw.applies();
    let e = f
        .mgr
        .create_network(CreateNetwork {
            id: id64("b"),
            name: "net-".to_string() + &id64("a"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let e = f
        .user_network(&id64("b"), Some("10.60.0.128/25"))
        .await
        .unwrap_err();
    assert!(matches!(e, NetworkError::PoolOverlap { .. }), "{e}");
    for (subnet, gw) in [("10.61.0.0/33", None), ("10.61.0.0/24", Some("10.1.1.1"))] {
        let e = f
            .mgr
            .create_network(CreateNetwork {
                id: id64("b"),
                name: "b".into(),
                subnet: Some(subnet.into()),
                gateway: gw.map(String::from),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(matches!(e, NetworkError::InvalidArgument(_)), "{e}");
    }
    // Kernel failures: the bridge cannot be made, then the table cannot be written.
    f.nl.fail(FakeOp::EnsureBridge, 1);
    assert!(f.user_network(&id64("c"), None).await.is_err());
    f.fw.fail_apply(1);
    assert!(f.user_network(&id64("c"), None).await.is_err());
    assert_eq!(f.nl.bridges().len(), 1, "no half-made bridge");
    assert_eq!(f.state_files("ipam"), 1, "no half-made pool");
    assert_eq!(f.state_files("networks"), 1);
    assert_eq!(f.mgr.networks().await.len(), 1);
    assert_eq!(f.fw.current().unwrap().bridges.len(), 1);
    assert!(f.fw.applies() >= applies);
    // The failures were one-shot: the same request works now.
    f.user_network(&id64("c"), None).await.unwrap();
}

#[tokio::test]
async fn connect_allocates_addresses_macs_routes_and_names() {
    let f = Fixture::new();
    let net = id64("n");
    f.user_network(&net, Some("10.70.0.0/24")).await.unwrap();
    let a = f.connect(&net, "ca", None).await.unwrap();
    let b = f
        .connect(&net, "cb", Some(Ipv4Addr::new(10, 70, 0, 50)))
        .await
        .unwrap();
    let c = f.connect(&net, "cc", None).await.unwrap();
    assert_eq!(a.ip, Ipv4Addr::new(10, 70, 0, 2));
    assert_eq!(b.ip, Ipv4Addr::new(10, 70, 0, 50));
    assert_eq!(c.ip, Ipv4Addr::new(10, 70, 0, 3));
    assert_eq!(b.mac, "02:42:0a:46:00:32");
    assert_eq!(a.gateway, Ipv4Addr::new(10, 70, 0, 1));
    let veth = &f.nl.veths()[&a.host_ifname];
    assert_eq!(veth.bridge, "br-n00000000000");
    assert_eq!(veth.gateway, Some(Ipv4Addr::new(10, 70, 0, 1)));
    assert_eq!(veth.mac, [0x02, 0x42, 10, 70, 0, 2]);
    assert_eq!(
        f.mgr
            .records()
            .lookup(std::slice::from_ref(&net), "CB-ALIAS"),
        vec![b.ip]
    );
    // A given MAC is used as is.
    let d = f
        .mgr
        .connect(ConnectRequest {
            network_id: &net,
            container_id: "cd",
            netns: Path::new("/proc/1/ns/net"),
            container_ifname: "eth1",
            requested: None,
            requested6: None,
            requested_mac: Some([0x92, 0xd0, 0xc6, 0x0a, 0x29, 0x33]),
            dns_names: vec![],
            default_route: false,
        })
        .await
        .unwrap();
    assert_eq!(d.mac, "92:d0:c6:0a:29:33");
    let veth = &f.nl.veths()[&d.host_ifname];
    assert_eq!(
        (veth.gateway, veth.container_ifname.as_str()),
        (None, "eth1")
    );
    // Address conflicts and duplicates are refused.
    let e = f
        .connect(&net, "ce", Some(Ipv4Addr::new(10, 70, 0, 50)))
        .await
        .unwrap_err();
    assert!(matches!(e, NetworkError::AddressInUse(_)), "{e}");
    let e = f.connect(&net, "ca", None).await.unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let e = f.connect(&id64("nope"), "ca", None).await.unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
    assert_eq!(f.nl.veths().len(), 4);
    assert_eq!(f.state_files("endpoints"), 4);

    f.mgr.disconnect(&net, "cb").await.unwrap();
    f.mgr.disconnect(&net, "cb").await.unwrap();
    assert!(!f.nl.veths().contains_key(&b.host_ifname));
    assert!(f
        .mgr
        .records()
        .lookup(std::slice::from_ref(&net), "cb")
        .is_empty());
    assert_eq!(f.state_files("endpoints"), 3);
    let again = f
        .connect(&net, "cf", Some(Ipv4Addr::new(10, 70, 0, 50)))
        .await
        .unwrap();
    assert_eq!(again.ip, b.ip, "released address is free again");
}

#[tokio::test]
async fn internal_networks_get_no_default_route_and_no_masquerade() {
    let f = Fixture::new();
    let net = id64("i");
    f.mgr
        .create_network(CreateNetwork {
            id: net.clone(),
            name: "internal".into(),
            internal: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let ep = f.connect(&net, "ca", None).await.unwrap();
    assert_eq!(f.nl.veths()[&ep.host_ifname].gateway, None);
    assert!(f.fw.current().unwrap().bridges[0].internal);
}

#[tokio::test]
async fn failed_connect_rolls_back() {
    let f = Fixture::new();
    let net = id64("n");
    f.user_network(&net, Some("10.71.0.0/24")).await.unwrap();
    f.nl.fail(FakeOp::AttachVeth, 1);
    let e = f
        .connect(&net, "ca", Some(Ipv4Addr::new(10, 71, 0, 9)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("injected"), "{e}");
    assert!(f.nl.veths().is_empty());
    assert!(f.mgr.endpoints("ca").await.is_empty());
    assert_eq!(f.state_files("endpoints"), 0);
    assert!(f
        .mgr
        .records()
        .lookup(std::slice::from_ref(&net), "ca")
        .is_empty());
    let pool = f.mgr.ipam.pool(&net).unwrap();
    assert!(pool.allocated.is_empty(), "address released: {pool:?}");
    // A veth whose name is taken (a leftover) fails the same way.
    let ok = f
        .connect(&net, "ca", Some(Ipv4Addr::new(10, 71, 0, 9)))
        .await
        .unwrap();
    assert_eq!(ok.ip, Ipv4Addr::new(10, 71, 0, 9));
}

#[tokio::test]
async fn network_removal_needs_no_endpoints_and_leaves_nothing() {
    let f = Fixture::new();
    let net = id64("n");
    f.user_network(&net, None).await.unwrap();
    f.connect(&net, "ca", None).await.unwrap();
    let e = f.mgr.remove_network(&net).await.unwrap_err();
    assert!(e.to_string().contains("has active endpoints (ca)"), "{e}");
    assert_eq!(f.nl.bridges().len(), 1);
    f.mgr.disconnect(&net, "ca").await.unwrap();
    f.mgr.remove_network(&net).await.unwrap();
    assert!(f.nl.bridges().is_empty());
    assert_eq!(f.fw.current(), None, "empty table deleted");
    for sub in ["networks", "endpoints", "ipam", "ports"] {
        assert_eq!(f.state_files(sub), 0, "{sub}");
    }
    assert_eq!(f.mgr.records().network_count(), 0);
    let e = f.mgr.remove_network(&net).await.unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
}

fn loopback(hp: HostPort, port: u16) -> PortMapping {
    PortMapping {
        host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        host_port: hp,
        container_port: port,
        proto: Proto::Tcp,
    }
}

#[tokio::test]
async fn publishing_installs_rules_holds_ports_and_rolls_back() {
    let f = Fixture::new();
    let net = id64("n");
    f.user_network(&net, None).await.unwrap();
    let ep = f.connect(&net, "ca", None).await.unwrap();
    let p = f
        .mgr
        .publish("ca", &ep, &[loopback(HostPort::Ephemeral, 80)])
        .await
        .unwrap();
    let port = p[0].host_port;
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_err(),
        "held"
    );
    let rs = f.fw.current().unwrap();
    assert_eq!(
        rs.ports,
        vec![PortRule {
            proto: Proto::Tcp,
            host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            host_port: port,
            container_ip: IpAddr::V4(ep.ip),
            container_port: 80,
        }]
    );
    assert_eq!(f.state_files("ports"), 1);

    // A taken host port: nothing reserved, no rule added.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().port();
    let e = f
        .mgr
        .publish(
            "ca",
            &ep,
            &[
                loopback(HostPort::Ephemeral, 81),
                loopback(HostPort::Fixed(taken), 82),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, NetworkError::PortInUse { .. }), "{e}");
    assert_eq!(f.fw.current().unwrap().ports.len(), 1);
    // The firewall refuses: the new port is released again, the old rule stays.
    f.fw.fail_apply(1);
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(f
        .mgr
        .publish("ca", &ep, &[loopback(HostPort::Fixed(free), 81)])
        .await
        .is_err());
    std::net::TcpListener::bind(("127.0.0.1", free)).expect("released after rollback");
    assert_eq!(f.mgr.published("ca").await.len(), 1);
    assert_eq!(f.fw.current().unwrap().ports.len(), 1);

    f.mgr.unpublish("ca").await.unwrap();
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("released");
    assert!(f.fw.current().unwrap().ports.is_empty());
    assert_eq!(f.state_files("ports"), 0);
}

#[tokio::test]
async fn restore_brings_back_bridges_rules_ports_and_names() {
    let f = Fixture::new();
    let def = f.mgr.ensure_default_network(&id64("d")).await.unwrap();
    let net = id64("n");
    f.user_network(&net, None).await.unwrap();
    let ep = f.connect(&net, "ca", None).await.unwrap();
    let p = f
        .mgr
        .publish("ca", &ep, &[loopback(HostPort::Ephemeral, 80)])
        .await
        .unwrap();
    let before = f.fw.current().unwrap();
    let (nl, fw, mgr) = f.reopen();
    // The old manager still holds the port as a daemon killed mid-flight would not:
    // release it as the kernel would.
    drop(f.mgr);
    mgr.restore().await.unwrap();
    assert_eq!(
        nl.bridges().keys().cloned().collect::<Vec<_>>(),
        vec!["br-n00000000000".to_string(), def.bridge.clone()]
    );
    assert_eq!(fw.current().unwrap(), before);
    assert_eq!(mgr.published("ca").await, p);
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", p[0].host_port)).is_err(),
        "re-reserved"
    );
    assert_eq!(mgr.endpoints("ca").await, vec![ep.clone()]);
    assert_eq!(
        mgr.records().lookup(std::slice::from_ref(&net), "ca"),
        vec![ep.ip]
    );
    assert!(nl.veths().is_empty(), "veths live in the containers' netns");
}

#[tokio::test]
async fn clean_shutdown_removes_bridges_and_table_unless_containers_remain() {
    let f = Fixture::new();
    f.mgr.ensure_default_network(&id64("d")).await.unwrap();
    let net = id64("n");
    f.user_network(&net, None).await.unwrap();
    f.connect(&net, "ca", None).await.unwrap();
    assert!(!f.mgr.shutdown().await.unwrap(), "live restore keeps all");
    assert_eq!(f.nl.bridges().len(), 2);
    assert!(f.fw.current().is_some());
    f.mgr.disconnect(&net, "ca").await.unwrap();
    assert!(f.mgr.shutdown().await.unwrap());
    assert!(f.nl.bridges().is_empty());
    assert_eq!(f.fw.current(), None);
    assert_eq!(f.state_files("networks"), 2, "networks themselves persist");
    // The next start brings them back.
    f.mgr.restore().await.unwrap();
    assert_eq!(f.nl.bridges().len(), 2);
    assert!(f.fw.current().is_some());
}

#[tokio::test]
async fn mode_none_brings_up_loopback() {
    let f = Fixture::new();
    f.mgr
        .loopback_up(Path::new("/proc/77/ns/net"))
        .await
        .unwrap();
    assert_eq!(f.nl.loopbacks(), vec![Path::new("/proc/77/ns/net")]);
}

mod ipv6 {
    //! IPv6 networks, the default bridge's IPv6, `icc` and IPv6 published ports.

    use super::*;
    use std::net::Ipv6Addr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    async fn v6_network(f: &Fixture, id: &str, subnet: Option<&str>) -> Result<NetworkInfo> {
        f.mgr
            .create_network(CreateNetwork {
                id: id.into(),
                name: format!("v6-{id}"),
                subnet: Some("10.80.0.0/24".into()),
                aux_addresses: vec!["fd00:80::a".parse().unwrap()],
                ipv6: Some(Ipv6Request {
                    subnet: subnet.map(String::from),
                    ..Default::default()
                }),
                enable_ipv6: true,
                ..Default::default()
            })
            .await
    }

    #[tokio::test]
    async fn ipv6_networks_give_endpoints_addresses_routes_and_names() {
        let f = Fixture::new();
        let e = v6_network(&f, &id64("x"), None).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"
        );
        assert_eq!(f.state_files("ipam"), 0, "nothing half-made");
        let net = id64("s");
        let info = v6_network(&f, &net, Some("fd00:80::/64")).await.unwrap();
        assert!(info.enable_ipv6);
        assert_eq!(info.ipv6.as_ref().unwrap().gateway, v6("fd00:80::1"));
        let br = &f.nl.bridges()[&info.bridge];
        assert_eq!(
            br.ipv6,
            vec![(v6("fd00:80::1"), 64), (v6("fe80::1"), 64)],
            "gateway and link-local"
        );
        assert_eq!(
            f.fw.current().unwrap().bridges[0].subnet6,
            Some("fd00:80::/64".parse().unwrap())
        );
        let a = f.connect(&net, "ca", None).await.unwrap();
        assert_eq!(a.ip6, Some(v6("fd00:80::2")));
        assert_eq!((a.prefix6, a.gateway6), (64, Some(v6("fd00:80::1"))));
        let veth = &f.nl.veths()[&a.host_ifname];
        assert_eq!(veth.address6, Some((v6("fd00:80::2"), 64)));
        assert_eq!(veth.gateway6, Some(v6("fd00:80::1")));
        let b = f
            .mgr
            .connect(ConnectRequest {
                network_id: &net,
                container_id: "cb",
                netns: Path::new("/proc/1/ns/net"),
                container_ifname: "eth0",
                requested: None,
                requested6: Some(v6("fd00:80::99")),
                requested_mac: None,
                dns_names: vec!["cb".into()],
                default_route: true,
            })
            .await
            .unwrap();
        assert_eq!(b.ip6, Some(v6("fd00:80::99")));
        let c = f.connect(&net, "cc", None).await.unwrap();
        assert_eq!(
            c.ip6,
            Some(v6("fd00:80::3")),
            "aux address fd00:80::a kept free"
        );
        assert_eq!(
            f.mgr.records().lookup(std::slice::from_ref(&net), "cb"),
            vec![IpAddr::V4(b.ip), IpAddr::V6(v6("fd00:80::99"))]
        );
        // A taken or foreign --ip6 fails and leaves both families' addresses free.
        for bad in ["fd00:80::99", "fd00:81::5"] {
            let e = f
                .mgr
                .connect(ConnectRequest {
                    network_id: &net,
                    container_id: "cd",
                    netns: Path::new("/proc/1/ns/net"),
                    container_ifname: "eth0",
                    requested: Some(Ipv4Addr::new(10, 80, 0, 77)),
                    requested6: Some(v6(bad)),
                    requested_mac: None,
                    dns_names: vec![],
                    default_route: true,
                })
                .await
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    NetworkError::AddressInUse(_) | NetworkError::AddressOutsideSubnet(_)
                ),
                "{e}"
            );
        }
        assert!(!f
            .mgr
            .ipam
            .pool(&net)
            .unwrap()
            .allocated
            .contains(&Ipv4Addr::new(10, 80, 0, 77)));
        f.mgr.disconnect(&net, "cb").await.unwrap();
        assert!(!f
            .mgr
            .ipam6
            .pool(&net)
            .unwrap()
            .allocated
            .contains(&v6("fd00:80::99")));
        assert!(f
            .mgr
            .records()
            .lookup(std::slice::from_ref(&net), "cb")
            .is_empty());
        // --ip6 on an IPv4-only network is refused.
        let v4net = id64("four");
        f.user_network(&v4net, None).await.unwrap();
        let e = f
            .mgr
            .connect(ConnectRequest {
                network_id: &v4net,
                container_id: "ce",
                netns: Path::new("/proc/1/ns/net"),
                container_ifname: "eth0",
                requested: None,
                requested6: Some(v6("fd00:80::5")),
                requested_mac: None,
                dns_names: vec![],
                default_route: true,
            })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("user configured subnets"), "{e}");
        // Removal drops the IPv6 pool too.
        for c in ["ca", "cc"] {
            f.mgr.disconnect(&net, c).await.unwrap();
        }
        f.mgr.remove_network(&net).await.unwrap();
        assert!(f.mgr.ipam6.pools().unwrap().is_empty());
    }

    #[tokio::test]
    async fn default_bridge_ipv6_from_mac_and_reconfiguration() {
        let dir = TempDir::new("netmgr-unit");
        let nl = Arc::new(FakeNetlink::new());
        let fw = Arc::new(FakeFirewall::new());
        let mut cfg = config(dir.path());
        cfg.bip = Some("10.90.0.1/24".into());
        let mgr = NetworkManager::with_backends(cfg.clone(), nl.clone(), fw.clone()).unwrap();
        let def = mgr.ensure_default_network(&id64("d")).await.unwrap();
        assert!(!def.enable_ipv6);
        drop(mgr);
        // Restarted with --ipv6 --fixed-cidr-v6 and --icc=false: the bridge is remade.
        cfg.ipv6 = true;
        cfg.fixed_cidr_v6 = Some("fd00:90::/64".into());
        cfg.icc = false;
        let mgr = NetworkManager::with_backends(cfg.clone(), nl.clone(), fw.clone()).unwrap();
        let def = mgr.ensure_default_network(&id64("d")).await.unwrap();
        assert!(def.enable_ipv6 && def.ipv6_from_mac && !def.icc);
        let ep = mgr
            .connect(ConnectRequest {
                network_id: &def.id,
                container_id: "ca",
                netns: Path::new("/proc/1/ns/net"),
                container_ifname: "eth0",
                requested: None,
                requested6: None,
                requested_mac: None,
                dns_names: vec![],
                default_route: true,
            })
            .await
            .unwrap();
        assert_eq!(ep.mac, "02:42:0a:5a:00:02");
        assert_eq!(
            ep.ip6,
            Some(v6("fd00:90::242:a5a:2")),
            "Docker's MAC scheme"
        );
        assert!(
            nl.veths()[&ep.host_ifname].isolated,
            "icc off: port isolated"
        );
        assert!(
            mgr.records().network_count() == 0,
            "no names on the default bridge"
        );
        drop(mgr);
        // Another change while a container is attached keeps the bridge (live restore).
        cfg.fixed_cidr_v6 = Some("fd00:91::/64".into());
        let mgr = NetworkManager::with_backends(cfg, nl.clone(), fw.clone()).unwrap();
        let kept = mgr.ensure_default_network(&id64("d")).await.unwrap();
        assert_eq!(kept, def);
    }

    #[tokio::test]
    async fn ports_without_host_address_bind_both_families() {
        let f = Fixture::new();
        let mut cfg = config(f.dir.path());
        cfg.ipv6_bindings = true;
        let nl = Arc::new(FakeNetlink::new());
        let fw = Arc::new(FakeFirewall::new());
        let mgr = NetworkManager::with_backends(cfg, nl, fw.clone()).unwrap();
        let net = id64("s");
        mgr.create_network(CreateNetwork {
            id: net.clone(),
            name: "dual".into(),
            subnet: Some("10.81.0.0/24".into()),
            ipv6: Some(Ipv6Request {
                subnet: Some("fd00:81::/64".into()),
                ..Default::default()
            }),
            enable_ipv6: true,
            ..Default::default()
        })
        .await
        .unwrap();
        let ep = mgr
            .connect(ConnectRequest {
                network_id: &net,
                container_id: "ca",
                netns: Path::new("/proc/1/ns/net"),
                container_ifname: "eth0",
                requested: None,
                requested6: None,
                requested_mac: None,
                dns_names: vec![],
                default_route: true,
            })
            .await
            .unwrap();
        let p = mgr
            .publish("ca", &ep, &[PortMapping::ephemeral(80, Proto::Tcp)])
            .await
            .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].host_ip().to_string(), "0.0.0.0");
        assert_eq!(p[1].host_ip().to_string(), "::");
        assert_eq!(p[0].host_port, p[1].host_port);
        let rules = fw.current().unwrap().ports;
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].container_ip, IpAddr::V6(ep.ip6.unwrap()));
        assert_eq!(rules[1].host_ip, Some("::".parse().unwrap()));
        mgr.unpublish("ca").await.unwrap();
        std::net::TcpListener::bind(("::", p[1].host_port)).expect("v6 released");
    }

    #[tokio::test]
    async fn ipv6_loopback_is_proxied_to_an_ipv4_container() {
        if !ports::ipv6_available() {
            return;
        }
        let f = Fixture::new();
        // A stand-in container: a server on 127.0.0.1 and an endpoint pointing there.
        let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cport = backend.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = backend.accept().await {
                let _ = c.write_all(b"from the container").await;
            }
        });
        let ep = Endpoint {
            network_id: "n".into(),
            container_id: "ca".into(),
            ip: Ipv4Addr::LOCALHOST,
            prefix: 8,
            gateway: Ipv4Addr::LOCALHOST,
            ip6: None,
            prefix6: 0,
            gateway6: None,
            mac: String::new(),
            host_ifname: String::new(),
            dns_names: vec![],
        };
        let m = PortMapping {
            host_ip: Some("::1".parse().unwrap()),
            host_port: HostPort::Ephemeral,
            container_port: cport,
            proto: Proto::Tcp,
        };
        let p = f.mgr.publish("ca", &ep, &[m]).await.unwrap();
        assert!(
            f.fw.current().is_none_or(|rs| rs.ports.is_empty()),
            "no kernel rule for ::1"
        );
        let mut c = tokio::net::TcpStream::connect(("::1", p[0].host_port))
            .await
            .unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "from the container");
        f.mgr.unpublish("ca").await.unwrap();
        std::net::TcpListener::bind(("::1", p[0].host_port)).expect("released");
    }
}
