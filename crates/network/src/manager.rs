//! [`NetworkManager`]: what the engine calls. It owns the IPAM pools, the bridges, the
//! firewall table, published-port reservations and DNS records, and persists networks and
//! endpoints under `<data_dir>/{networks,endpoints}` so [`NetworkManager::restore`] can bring
//! everything back after a daemon restart. Every operation undoes its partial work on error.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::dns::{DnsRecords, DnsServer, ResolverListener};
use crate::error::{NetworkError, Result};
use crate::ipam::{self, AddressPool, Ipam, PoolConfig};
use crate::link::{self, Netlink, VethRequest};
use crate::nft::{BridgeRules, Firewall, PortRule, Ruleset};
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
    fw: Firewall,
    nl: Netlink,
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

fn mac_string(ip: Ipv4Addr) -> String {
    link::mac_for_ip(ip)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
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
            fw: Firewall::new(cfg.table.clone()),
            nl: Netlink::connect()?,
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

    /// The firewall handle.
    pub fn firewall(&self) -> &Firewall {
        &self.fw
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
            self.nl
                .ensure_bridge(&n.bridge, n.gateway, n.subnet.prefix(), self.cfg.mtu)
                .await?;
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

    /// Ensures the default network (`bridge` on `berth0`) exists, choosing its subnet from
    /// `bip` or the first default pool free of host routes and other networks.
    pub async fn ensure_default_network(&self, id: &str) -> Result<NetworkInfo> {
        if let Some(n) = self
            .state
            .lock()
            .await
            .networks
            .values()
            .find(|n| n.name == DEFAULT_NETWORK)
        {
            return Ok(n.clone());
        }
        let (subnet, gateway) = match &self.cfg.bip {
            Some(bip) => {
                let (ip, prefix) = bip
                    .split_once('/')
                    .and_then(|(a, p)| Some((a.parse::<Ipv4Addr>().ok()?, p.parse::<u8>().ok()?)))
                    .ok_or_else(|| NetworkError::InvalidArgument(format!("invalid bip {bip:?}")))?;
                (
                    Ipv4Net::new_masked(ip, prefix).to_string(),
                    Some(ip.to_string()),
                )
            }
            None => (self.pick_subnet().await?.to_string(), None),
        };
        let req = CreateNetwork {
            id: id.into(),
            name: DEFAULT_NETWORK.into(),
            subnet: Some(subnet),
            gateway,
            ..Default::default()
        };
        self.create_with_bridge(req, self.cfg.default_bridge.clone())
            .await
    }

    async fn pick_subnet(&self) -> Result<Ipv4Net> {
        let taken: Vec<Ipv4Net> = self.ipam.pools()?.iter().map(|p| p.config.subnet).collect();
        ipam::pick_subnet(&self.cfg.address_pools, &taken, &ipam::host_routes()?)
    }

    /// `network create`: validates, allocates the pool, creates `br-<12 hex>` and updates the
    /// firewall; on any error nothing is left.
    pub async fn create_network(&self, req: CreateNetwork) -> Result<NetworkInfo> {
        let id12: String = req.id.chars().take(12).collect();
        self.create_with_bridge(req, format!("br-{id12}")).await
    }

    async fn create_with_bridge(&self, req: CreateNetwork, bridge: String) -> Result<NetworkInfo> {
        let mut st = self.state.lock().await;
        if st.networks.values().any(|n| n.name == req.name) {
            return Err(NetworkError::InvalidArgument(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        let subnet = match req.subnet {
            Some(s) => s,
            None => self.pick_subnet().await?.to_string(),
        };
        let cfg = PoolConfig::parse(&subnet, req.gateway.as_deref(), req.ip_range.as_deref())?;
        self.ipam.create_pool(&req.id, cfg.clone())?;
        let info = NetworkInfo {
            id: req.id.clone(),
            name: req.name,
            bridge,
            subnet: cfg.subnet,
            gateway: cfg.gateway,
            ip_range: cfg.ip_range,
            internal: req.internal,
        };
        let res = async {
            self.nl
                .ensure_bridge(
                    &info.bridge,
                    info.gateway,
                    info.subnet.prefix(),
                    self.cfg.mtu,
                )
                .await?;
            st.networks.insert(info.id.clone(), info.clone());
            self.fw.apply(&Self::ruleset(&st))?;
            statefile::write_json(&self.net_path(&info.id), &info)
        }
        .await;
        if let Err(e) = res {
            st.networks.remove(&info.id);
            let _ = self.nl.delete_link(&info.bridge).await;
            let _ = self.ipam.delete_pool(&info.id);
            let _ = self.fw.apply(&Self::ruleset(&st));
            return Err(e);
        }
        Ok(info)
    }

    /// `network rm`: refused while endpoints exist; removes bridge, pool, rules, records, state.
    pub async fn remove_network(&self, id: &str) -> Result<()> {
        let mut st = self.state.lock().await;
        let Some(info) = st.networks.get(id).cloned() else {
            return Err(NetworkError::InvalidArgument(format!(
                "network {id} not found"
            )));
        };
        let users: Vec<String> = st
            .endpoints
            .keys()
            .filter(|(n, _)| n == id)
            .map(|(_, c)| c.clone())
            .collect();
        if !users.is_empty() {
            return Err(NetworkError::InvalidArgument(format!(
                "error while removing network: network {} has active endpoints ({})",
                info.name,
                users.join(", ")
            )));
        }
        st.networks.remove(id);
        self.fw.apply(&Self::ruleset(&st))?;
        self.nl.delete_link(&info.bridge).await?;
        self.ipam.delete_pool(id)?;
        self.records.remove_network(id);
        statefile::remove(&self.net_path(id))
    }

    /// Connects a container's netns to a network: address (`requested` = `--ip`), veth,
    /// default route (first network, non-internal), DNS names.
    pub async fn connect(&self, req: ConnectRequest<'_>) -> Result<Endpoint> {
        let ConnectRequest {
            network_id,
            container_id,
            netns,
            container_ifname,
            requested,
            dns_names,
            default_route,
        } = req;
        let mut st = self.state.lock().await;
        let info = st.networks.get(network_id).cloned().ok_or_else(|| {
            NetworkError::InvalidArgument(format!("network {network_id} not found"))
        })?;
        let key = (network_id.to_string(), container_id.to_string());
        if st.endpoints.contains_key(&key) {
            return Err(NetworkError::InvalidArgument(format!(
                "endpoint with name {container_id} already exists in network {}",
                info.name
            )));
        }
        let ip = self.ipam.allocate(network_id, requested)?;
        let host_ifname = link::host_veth_name(&format!("{network_id}/{container_id}/{ip}"));
        let ep = Endpoint {
            network_id: network_id.into(),
            container_id: container_id.into(),
            ip,
            prefix: info.subnet.prefix(),
            gateway: info.gateway,
            mac: mac_string(ip),
            host_ifname: host_ifname.clone(),
            dns_names,
        };
        let req = VethRequest {
            bridge: info.bridge.clone(),
            host_ifname,
            netns: netns.to_path_buf(),
            container_ifname: container_ifname.into(),
            address: ip,
            prefix: info.subnet.prefix(),
            gateway: (default_route && !info.internal).then_some(info.gateway),
            mtu: self.cfg.mtu,
        };
        let res = async {
            self.nl.attach_veth(&req).await?;
            statefile::write_json(&self.ep_path(network_id, container_id), &ep)
        }
        .await;
        if let Err(e) = res {
            let _ = self.nl.delete_link(&req.host_ifname).await;
            let _ = self.ipam.release(network_id, ip);
            return Err(e);
        }
        if info.name != DEFAULT_NETWORK {
            self.records.add(network_id, &ep.dns_names, ip);
        }
        st.endpoints.insert(key, ep.clone());
        Ok(ep)
    }

    /// Disconnects (also on container stop): deletes the veth, releases the address and
    /// the DNS names. Unknown endpoints are fine.
    pub async fn disconnect(&self, network_id: &str, container_id: &str) -> Result<()> {
        let mut st = self.state.lock().await;
        let Some(ep) = st
            .endpoints
            .remove(&(network_id.to_string(), container_id.to_string()))
        else {
            return Ok(());
        };
        self.records.remove_ip(network_id, ep.ip);
        self.nl.delete_link(&ep.host_ifname).await?;
        self.ipam.release(network_id, ep.ip)?;
        statefile::remove(&self.ep_path(network_id, container_id))
    }

    /// Endpoints of a container.
    pub async fn endpoints(&self, container_id: &str) -> Vec<Endpoint> {
        let st = self.state.lock().await;
        st.endpoints
            .values()
            .filter(|e| e.container_id == container_id)
            .cloned()
            .collect()
    }

    /// Every endpoint (network inspect's `Containers`).
    pub async fn all_endpoints(&self) -> Vec<Endpoint> {
        self.state
            .lock()
            .await
            .endpoints
            .values()
            .cloned()
            .collect()
    }

    /// Publishes ports of a container at `container_ip`: all host ports are reserved (bind
    /// check) before any rule is installed; on error nothing is left.
    pub async fn publish(
        &self,
        container_id: &str,
        container_ip: Ipv4Addr,
        mappings: &[PortMapping],
    ) -> Result<Vec<PublishedPort>> {
        let mut st = self.state.lock().await;
        let reserved = ports::reserve_all(mappings)?;
        let published: Vec<PublishedPort> = reserved
            .iter()
            .zip(mappings)
            .map(|(r, m)| PublishedPort {
                mapping: *m,
                host_port: r.host_port,
                container_ip,
            })
            .collect();
        let mut all = st.published.get(container_id).cloned().unwrap_or_default();
        all.extend(published.iter().cloned());
        let previous = st.published.insert(container_id.to_string(), all.clone());
        let res = self.fw.apply(&Self::ruleset(&st)).and_then(|()| {
            statefile::write_json(&self.ports_path(container_id), &(container_id, &all))
        });
        if let Err(e) = res {
            match previous {
                Some(p) => st.published.insert(container_id.to_string(), p),
                None => st.published.remove(container_id),
            };
            let _ = self.fw.apply(&Self::ruleset(&st));
            return Err(e);
        }
        st.reservations
            .entry(container_id.to_string())
            .or_default()
            .extend(reserved);
        Ok(published)
    }

    /// Ports published for a container (`docker port`).
    pub async fn published(&self, container_id: &str) -> Vec<PublishedPort> {
        self.state
            .lock()
            .await
            .published
            .get(container_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Removes a container's port rules and releases its host ports.
    pub async fn unpublish(&self, container_id: &str) -> Result<()> {
        let mut st = self.state.lock().await;
        if st.published.remove(container_id).is_some() {
            self.fw.apply(&Self::ruleset(&st))?;
        }
        st.reservations.remove(container_id);
        statefile::remove(&self.ports_path(container_id))
    }

    /// Starts the embedded DNS for a container inside `netns` on 127.0.0.11:53, scoped to
    /// its user-defined networks; forwards other names to `upstreams`.
    pub async fn serve_dns(
        &self,
        container_id: &str,
        netns: &Path,
        upstreams: Vec<std::net::SocketAddr>,
    ) -> Result<ResolverListener> {
        let nets: Vec<String> = self
            .endpoints(container_id)
            .await
            .into_iter()
            .map(|e| e.network_id)
            .collect();
        DnsServer::new(self.records.clone(), upstreams).serve_in_netns(netns, nets)
    }
}
