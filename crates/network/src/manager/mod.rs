//! [`NetworkManager`]: what the engine calls. It owns the IPAM pools, the bridges, the
//! firewall table, published-port reservations and DNS records, and persists networks and
//! endpoints under `<data_dir>/{networks,endpoints}` so [`NetworkManager::restore`] can bring
//! everything back after a daemon restart. Every operation undoes its partial work on error.

mod endpoints;
mod firewall_sync;
mod networks;
mod publish;
#[cfg(test)]
mod tests;
mod types;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::backend::{Firewall, Netlink};
use crate::dns::DnsRecords;
use crate::error::Result;
use crate::ipam::{Ipam, Ipam6};
use crate::link::{BridgeRequest, RtNetlink};
use crate::nft::{BridgeRules, Nftables, PortRule, Ruleset};
use crate::ports::{self, PortMapping, ReservedPort};
use crate::proxy::Proxy;
use crate::statefile;

pub use types::{
    ConnectRequest, CreateNetwork, Endpoint, Ipv6Request, ManagerConfig, NetworkInfo,
    PublishedPort, DEFAULT_NETWORK,
};

/// A held host port: a bare reservation (IPv4, DNATed by the kernel) or the userland proxy
/// serving it.
#[derive(Debug)]
enum Held {
    Reserved(#[allow(dead_code)] ReservedPort),
    Proxied(#[allow(dead_code)] Proxy),
}

#[derive(Default)]
struct State {
    networks: BTreeMap<String, NetworkInfo>,
    endpoints: BTreeMap<(String, String), Endpoint>,
    published: BTreeMap<String, Vec<PublishedPort>>,
    reservations: HashMap<String, Vec<Held>>,
    /// Number of the last firewall snapshot taken (`firewall_sync`).
    fw_generation: u64,
}

/// The engine's handle on networking.
pub struct NetworkManager {
    cfg: ManagerConfig,
    ipam: Ipam,
    ipam6: Ipam6,
    fw: Arc<dyn Firewall>,
    fw_sync: firewall_sync::FirewallSync,
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
        let ipam6 = Ipam6::open(cfg.data_dir.join("ipam").join("v6"))?;
        let mut st = State::default();
        for n in load_dir::<NetworkInfo>(&cfg.data_dir.join("networks"))? {
            st.networks.insert(n.id.clone(), n);
        }
        let records = DnsRecords::new();
        for e in load_dir::<Endpoint>(&cfg.data_dir.join("endpoints"))? {
            records.add(&e.network_id, &e.dns_names, &e.addrs());
            st.endpoints
                .insert((e.network_id.clone(), e.container_id.clone()), e);
        }
        for (c, p) in load_dir::<(String, Vec<PublishedPort>)>(&cfg.data_dir.join("ports"))? {
            st.published.insert(c, p);
        }
        Ok(NetworkManager {
            fw,
            fw_sync: Default::default(),
            nl,
            ipam,
            ipam6,
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
        let mut ipv6 = Vec::new();
        if n.enable_ipv6 {
            if let Some(p) = &n.ipv6 {
                ipv6.push((p.gateway, p.subnet.prefix()));
            }
            // Docker's bridges also carry fe80::1/64.
            ipv6.push((Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1), 64));
        }
        BridgeRequest {
            name: n.bridge.clone(),
            ipv4: (n.gateway, n.subnet.prefix()),
            ipv6,
            mtu: self.cfg.mtu,
        }
    }

    /// The rules of the state as it is now (taken under the state lock), numbered.
    fn rules_snapshot(st: &mut State) -> firewall_sync::Snapshot {
        st.fw_generation += 1;
        (st.fw_generation, Self::ruleset(st))
    }

    /// Brings the firewall table up to `st` (the state lock held).
    async fn apply_rules(&self, st: &mut State) -> Result<()> {
        let snapshot = Self::rules_snapshot(st);
        self.fw_sync
            .apply(&self.fw, &self.cfg.table, snapshot)
            .await
    }

    /// Brings the firewall table up to the state as it is now, taking the state lock
    /// only for the snapshot: a change made meanwhile by another caller joins the run.
    async fn sync_rules(&self) -> Result<()> {
        let snapshot = Self::rules_snapshot(&mut *self.state.lock().await);
        self.fw_sync
            .apply(&self.fw, &self.cfg.table, snapshot)
            .await
    }

    fn ruleset(st: &State) -> Ruleset {
        Ruleset {
            bridges: st
                .networks
                .values()
                .map(|n| BridgeRules {
                    bridge: n.bridge.clone(),
                    subnet: n.subnet,
                    subnet6: n.ipv6.as_ref().map(|p| p.subnet),
                    internal: n.internal,
                })
                .collect(),
            ports: st
                .published
                .values()
                .flatten()
                .filter_map(Self::port_rule)
                .collect(),
        }
    }

    /// The kernel rule of a binding: IPv4 bindings DNAT to the container's IPv4 address;
    /// IPv6 ones to its IPv6 address when it has one (except `::1`, which only the proxy
    /// can serve).
    fn port_rule(p: &PublishedPort) -> Option<PortRule> {
        let container_ip = match p.host_ip() {
            IpAddr::V4(_) => IpAddr::V4(p.container_ip),
            IpAddr::V6(h) if h.is_loopback() => return None,
            IpAddr::V6(_) => IpAddr::V6(p.container_ip6?),
        };
        Some(PortRule {
            proto: p.mapping.proto,
            host_ip: p.mapping.host_ip,
            host_port: p.host_port,
            container_ip,
            container_port: p.mapping.container_port,
        })
    }

    /// Holds a reserved port: IPv6 bindings get the userland proxy on their socket.
    fn hold(p: &PublishedPort, r: ReservedPort) -> Result<Held> {
        if p.proxied() {
            Ok(Held::Proxied(crate::proxy::serve(r, p.target())?))
        } else {
            Ok(Held::Reserved(r))
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
            let reserved = ports::reserve_all(&fixed)?;
            let held = ports
                .iter()
                .zip(reserved)
                .map(|(p, r)| Self::hold(p, r))
                .collect::<Result<Vec<_>>>()?;
            st.reservations.insert(ctr, held);
        }
        self.apply_rules(&mut st).await
    }

    /// Networks known.
    pub async fn networks(&self) -> Vec<NetworkInfo> {
        self.state.lock().await.networks.values().cloned().collect()
    }
}
