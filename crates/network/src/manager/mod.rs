//! [`NetworkManager`]: what the engine calls. It owns the IPAM pools, the bridges, the
//! firewall table, published-port reservations and DNS records, and persists networks and
//! endpoints under `<data_dir>/{networks,endpoints}` so [`NetworkManager::restore`] can bring
//! everything back after a daemon restart. Every operation undoes its partial work on error.

mod endpoints;
mod networks;
mod publish;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::backend::{Firewall, Netlink};
use crate::dns::DnsRecords;
use crate::error::Result;
use crate::ipam::{self, AddressPool, Ipam};
use crate::link::{BridgeRequest, RtNetlink};
use crate::nft::{BridgeRules, Nftables, PortRule, Ruleset};
use crate::ports::{self, PortMapping, ReservedPort};
use crate::statefile;
use crate::subnet::Ipv4Net;

/// Name of Docker's default network.
pub const DEFAULT_NETWORK: &str = "bridge";

/// Daemon-level settings (daemon.json `bip`, `default-address-pools`, `mtu`).
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
        }
    }
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
    /// `--internal`.
    pub internal: bool,
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
    /// MAC address (02:42 + IP).
    pub mac: String,
    /// Host veth name.
    pub host_ifname: String,
    /// Names resolvable on the network (name, aliases, short id).
    pub dns_names: Vec<String>,
}

/// What [`NetworkManager::connect`] needs.
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
    /// Requested mapping (kept to re-reserve after a restart).
    pub mapping: PortMapping,
    /// Concrete host port.
    pub host_port: u16,
    /// Container address it leads to.
    pub container_ip: Ipv4Addr,
}

#[derive(Default)]
struct State {
    networks: BTreeMap<String, NetworkInfo>,
    endpoints: BTreeMap<(String, String), Endpoint>,
    published: BTreeMap<String, Vec<PublishedPort>>,
    reservations: HashMap<String, Vec<ReservedPort>>,
}

/// The engine's handle on networking.
pub struct NetworkManager {
    cfg: ManagerConfig,
    ipam: Ipam,
    fw: Arc<dyn Firewall>,
    nl: Arc<dyn Netlink>,
    records: DnsRecords,
    state: Mutex<State>,
}

impl std::fmt::Debug for NetworkManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkManager")
            .field("cfg", &self.cfg)
            .finish()
    }
}

fn load_dir<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        if e.path().extension().is_some_and(|x| x == "json") {
            if let Some(v) = statefile::read_json(&e.path())? {
                out.push(v);
            }
        }
    }
    Ok(out)
}

impl NetworkManager {
    /// Loads persisted state (touches no kernel object; call [`restore`](Self::restore)).
    /// Must run inside a tokio runtime.
    pub fn open(cfg: ManagerConfig) -> Result<Self> {
        let fw = Arc::new(Nftables::new(cfg.table.clone()));
        let nl = Arc::new(RtNetlink::connect()?);
        Self::with_backends(cfg, nl, fw)
    }

    /// Like [`open`](Self::open) over the given kernel seams (the fakes of `crate::fake` in
    /// tests).
    pub fn with_backends(
        cfg: ManagerConfig,
        nl: Arc<dyn Netlink>,
        fw: Arc<dyn Firewall>,
    ) -> Result<Self> {
        let ipam = Ipam::open(cfg.data_dir.join("ipam"))?;
        let mut st = State::default();
        for n in load_dir::<NetworkInfo>(&cfg.data_dir.join("networks"))? {
            st.networks.insert(n.id.clone(), n);
        }
        let records = DnsRecords::new();
        for e in load_dir::<Endpoint>(&cfg.data_dir.join("endpoints"))? {
            records.add(&e.network_id, &e.dns_names, e.ip);
            st.endpoints
                .insert((e.network_id.clone(), e.container_id.clone()), e);
        }
        for (c, p) in load_dir::<(String, Vec<PublishedPort>)>(&cfg.data_dir.join("ports"))? {
            st.published.insert(c, p);
        }
        Ok(NetworkManager {
            fw,
            nl,
            ipam,
            records,
            state: Mutex::new(st),
            cfg,
        })
    }

    fn net_path(&self, id: &str) -> PathBuf {
        self.cfg
            .data_dir
            .join("networks")
            .join(format!("{id}.json"))
    }
    fn ep_path(&self, net: &str, ctr: &str) -> PathBuf {
        self.cfg
            .data_dir
            .join("endpoints")
            .join(format!("{net}-{ctr}.json"))
    }
    fn ports_path(&self, ctr: &str) -> PathBuf {
        self.cfg.data_dir.join("ports").join(format!("{ctr}.json"))
    }

    /// The DNS records (for tests and inspection).
    pub fn records(&self) -> &DnsRecords {
        &self.records
    }

    /// The daemon-level settings.
    pub fn config(&self) -> &ManagerConfig {
        &self.cfg
    }

    fn bridge_request(&self, n: &NetworkInfo) -> BridgeRequest {
        BridgeRequest {
            name: n.bridge.clone(),
            ipv4: (n.gateway, n.subnet.prefix()),
            ipv6: Vec::new(),
            mtu: self.cfg.mtu,
        }
    }

    fn ruleset(st: &State) -> Ruleset {
        Ruleset {
            bridges: st
                .networks
                .values()
                .map(|n| BridgeRules {
                    bridge: n.bridge.clone(),
                    subnet: n.subnet,
                    internal: n.internal,
                })
                .collect(),
            ports: st
                .published
                .values()
                .flatten()
                .map(|p| PortRule {
                    proto: p.mapping.proto,
                    host_ip: p.mapping.host_ip,
                    host_port: p.host_port,
                    container_ip: p.container_ip,
                    container_port: p.mapping.container_port,
                })
                .collect(),
        }
    }

    /// After a daemon (re)start: recreates bridges, re-reserves published ports and
    /// re-applies the firewall table.
    pub async fn restore(&self) -> Result<()> {
        let mut st = self.state.lock().await;
        for n in st.networks.values() {
            self.nl.ensure_bridge(&self.bridge_request(n)).await?;
        }
        let published: Vec<(String, Vec<PublishedPort>)> = st
            .published
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (ctr, ports) in published {
            let fixed: Vec<PortMapping> = ports
                .iter()
                .map(|p| PortMapping {
                    host_port: ports::HostPort::Fixed(p.host_port),
                    ..p.mapping
                })
                .collect();
            let r = ports::reserve_all(&fixed)?;
            st.reservations.insert(ctr, r);
        }
        self.fw.apply(&Self::ruleset(&st))
    }

    /// Networks known.
    pub async fn networks(&self) -> Vec<NetworkInfo> {
        self.state.lock().await.networks.values().cloned().collect()
    }
}
