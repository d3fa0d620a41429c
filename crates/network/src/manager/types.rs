//! What the manager is configured with, persists and is asked for.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ipam::{self, AddressPool, PoolConfig};
use crate::ports::{self, PortMapping};
use crate::subnet::{Ipv4Net, Ipv6Net};

/// Name of Docker's default network.
pub const DEFAULT_NETWORK: &str = "bridge";

/// Daemon-level settings (daemon.json `bip`, `default-address-pools`, `mtu`, `ipv6`,
/// `fixed-cidr-v6`, `icc`).
#[derive(Clone, Debug)]
pub struct ManagerConfig {
    /// State directory (`<data-root>/network`).
    pub data_dir: PathBuf,
    /// nftables table (`berth`).
    pub table: String,
    /// Default bridge interface (`berth0`).
    pub default_bridge: String,
    /// `bip`: gateway/prefix of the default bridge, e.g. `172.17.0.1/16`.
    pub bip: Option<String>,
    /// Pools for networks created without `--subnet`.
    pub address_pools: Vec<AddressPool>,
    /// MTU of bridges and veths.
    pub mtu: u32,
    /// `--ipv6`: IPv6 on the default bridge.
    pub ipv6: bool,
    /// `--fixed-cidr-v6`: the default bridge's IPv6 subnet.
    pub fixed_cidr_v6: Option<String>,
    /// `--icc`: containers on the default bridge may talk to each other.
    pub icc: bool,
    /// Ports published without a host address also get a `[::]` binding (Docker's
    /// `0.0.0.0` + `::` pair), where the daemon's namespace has IPv6.
    pub ipv6_bindings: bool,
}

impl ManagerConfig {
    /// Docker's defaults under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ManagerConfig {
            data_dir: data_dir.into(),
            table: "berth".into(),
            default_bridge: "berth0".into(),
            bip: None,
            address_pools: ipam::default_address_pools(),
            mtu: 1500,
            ipv6: false,
            fixed_cidr_v6: None,
            icc: true,
            ipv6_bindings: ports::ipv6_available(),
        }
    }
}

fn yes() -> bool {
    true
}

/// A bridge network as persisted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// 64-hex id (the engine chooses it).
    pub id: String,
    /// Name (`bridge` for the default one).
    pub name: String,
    /// Bridge interface.
    pub bridge: String,
    /// Subnet.
    pub subnet: Ipv4Net,
    /// Gateway (the bridge's address).
    pub gateway: Ipv4Addr,
    /// `--ip-range`.
    pub ip_range: Option<Ipv4Net>,
    /// `--internal`.
    pub internal: bool,
    /// `EnableIPv6`.
    #[serde(default)]
    pub enable_ipv6: bool,
    /// The IPv6 pool (an IPv6 default bridge without `--fixed-cidr-v6` has none: link-local
    /// addresses only).
    #[serde(default)]
    pub ipv6: Option<PoolConfig<Ipv6Net>>,
    /// Containers' IPv6 addresses are the subnet plus their MAC (Docker's default bridge
    /// with a `--fixed-cidr-v6` of /80 or shorter).
    #[serde(default)]
    pub ipv6_from_mac: bool,
    /// Inter-container communication (`icc`, `com.docker.network.bridge.enable_icc`).
    #[serde(default = "yes")]
    pub icc: bool,
}

/// The IPv6 side of `network create --ipv6`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ipv6Request {
    /// `--subnet` of the IPv6 pool (required for user networks: no default IPv6 pools).
    pub subnet: Option<String>,
    /// `--gateway` (default: the first address).
    pub gateway: Option<String>,
    /// `--ip-range`.
    pub ip_range: Option<String>,
}

/// What `network create` asks for.
#[derive(Clone, Debug, Default)]
pub struct CreateNetwork {
    /// 64-hex id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `--subnet` (picked from the pools when `None`).
    pub subnet: Option<String>,
    /// `--gateway`.
    pub gateway: Option<String>,
    /// `--ip-range`.
    pub ip_range: Option<String>,
    /// `--aux-address` values of both families (reserved in the pools).
    pub aux_addresses: Vec<IpAddr>,
    /// The IPv6 pool (a `--subnet` with a colon); kept even without `enable_ipv6`, as
    /// Docker does, but only used with it.
    pub ipv6: Option<Ipv6Request>,
    /// `--ipv6` (`EnableIPv6`): containers get IPv6 addresses from the pool.
    pub enable_ipv6: bool,
    /// `--internal`.
    pub internal: bool,
    /// `com.docker.network.bridge.enable_icc=false`.
    pub icc_disabled: bool,
}

/// A container's attachment to a network, as persisted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Network id.
    pub network_id: String,
    /// Container id.
    pub container_id: String,
    /// Address.
    pub ip: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// Gateway (for `NetworkSettings`).
    pub gateway: Ipv4Addr,
    /// IPv6 address (IPv6 networks).
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    /// IPv6 prefix length.
    #[serde(default)]
    pub prefix6: u8,
    /// IPv6 gateway.
    #[serde(default)]
    pub gateway6: Option<Ipv6Addr>,
    /// MAC address (`--mac-address`, or 02:42 + IPv4 address).
    pub mac: String,
    /// Host veth name.
    pub host_ifname: String,
    /// Names resolvable on the network (name, aliases, short id).
    pub dns_names: Vec<String>,
}

impl Endpoint {
    /// Its addresses: IPv4, then IPv6 if any.
    pub fn addrs(&self) -> Vec<IpAddr> {
        std::iter::once(IpAddr::V4(self.ip))
            .chain(self.ip6.map(IpAddr::V6))
            .collect()
    }
}

/// What [`NetworkManager::connect`](super::NetworkManager::connect) needs.
#[derive(Clone, Debug)]
pub struct ConnectRequest<'a> {
    /// Network id.
    pub network_id: &'a str,
    /// Container id.
    pub container_id: &'a str,
    /// Container netns file (`/proc/<pid>/ns/net`).
    pub netns: &'a Path,
    /// Interface name inside (`eth0`, `eth1`, ...).
    pub container_ifname: &'a str,
    /// `--ip`.
    pub requested: Option<Ipv4Addr>,
    /// `--ip6`.
    pub requested6: Option<Ipv6Addr>,
    /// `--mac-address` (Docker's 02:42 + IPv4 address when `None`).
    pub requested_mac: Option<[u8; 6]>,
    /// Names resolvable on the network: container name, `--alias`es, short id.
    pub dns_names: Vec<String>,
    /// Install the default route via this network's gateway (the container's first network).
    pub default_route: bool,
}

/// A published port after resolution (what `docker port` shows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// The binding: its host address (`None` = every IPv4 address) and protocol; the host
    /// port is kept to re-reserve after a restart.
    pub mapping: PortMapping,
    /// Concrete host port.
    pub host_port: u16,
    /// Container address it leads to.
    pub container_ip: Ipv4Addr,
    /// The container's IPv6 address (IPv6 bindings lead there when it has one).
    #[serde(default)]
    pub container_ip6: Option<Ipv6Addr>,
}

impl PublishedPort {
    /// The address shown as `HostIp`: `0.0.0.0`, `::`, `127.0.0.1`, `::1`, ...
    pub fn host_ip(&self) -> IpAddr {
        self.mapping
            .host_ip
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    /// Where the traffic of this binding goes when the kernel cannot DNAT it: the
    /// container's address of the binding's family, or its IPv4 address when it has no IPv6
    /// (Docker's userland-proxy behaviour).
    pub fn target(&self) -> std::net::SocketAddr {
        let ip = match (self.host_ip(), self.container_ip6) {
            (IpAddr::V6(_), Some(c6)) => IpAddr::V6(c6),
            _ => IpAddr::V4(self.container_ip),
        };
        std::net::SocketAddr::new(ip, self.mapping.container_port)
    }

    /// True when the userland proxy serves this binding: IPv6 host addresses the kernel
    /// cannot DNAT (`::1`, or any when the container has no IPv6 address). `[::]` and
    /// global IPv6 addresses also get the proxy for their `::1` traffic.
    pub fn proxied(&self) -> bool {
        self.host_ip().is_ipv6()
    }
}
