//! Networks of the engine: the Docker network API (`/networks/...`) over
//! [`berth_network::NetworkManager`], the predefined `bridge`, `host` and `none` networks,
//! and (in [`container`]) what a container's start, exit, inspect and `network
//! connect|disconnect` do with them. See `docs/network.md`.

mod claims;
pub mod config;
pub mod container;
mod create;
pub mod events;
pub mod links;
pub mod releases;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::error::{EngineError, Result};
use berth_api_types::{Filters, Ipam, IpamConfig, Network, NetworkContainer, NetworkPruneResponse};
use berth_metadata::Store;
use berth_network::backend::{Firewall, Netlink};
use berth_network::dns::ResolverListener;
use berth_network::{Endpoint, ManagerConfig, NetworkInfo, NetworkManager, PublishedPort};
use serde::{Deserialize, Serialize};

use crate::events::EventBus;
use crate::logfile;
use crate::record::{new_id, ContainerStore};
pub use config::NetConfig;

/// Metadata kind of network records.
pub const KIND: &str = "network";

/// What the engine keeps about a network beyond the library's [`NetworkInfo`]
/// (which holds the bridge, subnet and gateway of bridge networks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// 64 hex digits.
    pub id: String,
    /// Name.
    pub name: String,
    /// "bridge", "host" or "null".
    pub driver: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// `--internal`.
    pub internal: bool,
    /// `--attachable`.
    pub attachable: bool,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `--opt`.
    pub options: BTreeMap<String, String>,
    /// `--ipam-opt` (`None`: not given, shown as `null` like Docker).
    #[serde(default)]
    pub ipam_options: Option<BTreeMap<String, String>>,
    /// Whether the user gave `--subnet`.
    #[serde(default)]
    pub predefined: bool,
    /// The IPAM configs as given (Docker shows them so; an IPv4 pool picked from the
    /// defaults is shown with its subnet and gateway).
    #[serde(default)]
    pub ipam_config: Vec<IpamConfig>,
    /// `EnableIPv6`.
    #[serde(default)]
    pub enable_ipv6: bool,
}

/// A container's live attachments (the engine's synchronous view, for inspect and ps).
#[derive(Debug, Default)]
pub struct Attached {
    /// Endpoints by network id, in attachment order.
    pub endpoints: Vec<Endpoint>,
    /// Published ports.
    pub ports: Vec<PublishedPort>,
    /// The embedded DNS listener (user networks only).
    pub dns: Option<ResolverListener>,
    /// The networks it is connected to (`host` and `none` too), for its `disconnect`
    /// events.
    pub joined: Vec<events::Joined>,
}

/// The engine's network service.
pub struct Networks {
    /// The library handle (bridges, IPAM, firewall, ports, DNS).
    pub mgr: NetworkManager,
    store: Arc<Store>,
    /// Container records (read only: a network op is handed the record it changes).
    containers: ContainerStore,
    cfg: NetConfig,
    attached: Mutex<HashMap<String, Attached>>,
    /// Names being created and ids being removed.
    claims: claims::Claims,
    /// Endpoint releases still running after their container's exit was recorded.
    releases: releases::Releases,
    /// Where the `network` events go.
    events: Arc<EventBus>,
}

impl std::fmt::Debug for Networks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Networks")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// The manager's settings from the daemon's.
fn manager_config(data_root: &std::path::Path, cfg: &NetConfig) -> ManagerConfig {
    let mut mc = ManagerConfig::new(data_root.join("network"));
    mc.table = cfg.nft_table.clone();
    mc.default_bridge = cfg.bridge.clone();
    mc.bip = cfg.bip.clone();
    mc.mtu = cfg.mtu;
    mc.ipv6 = cfg.ipv6;
    mc.fixed_cidr_v6 = cfg.fixed_cidr_v6.clone();
    mc.icc = cfg.icc;
    if !cfg.address_pools.is_empty() {
        mc.address_pools = cfg.address_pools.clone();
    }
    mc
}

fn not_found(reference: &str) -> EngineError {
    EngineError::not_found(format!("network {reference} not found"))
}

/// Names of the predefined networks.
pub const PREDEFINED: &[&str] = &["bridge", "host", "none"];

/// The bridge driver option of `icc`.
const ICC_OPTION: &str = "com.docker.network.bridge.enable_icc";

impl Networks {
    /// Opens the network state under `<data-root>/network`, restores bridges, firewall and
    /// port reservations, and makes sure the predefined networks exist.
    pub async fn open(
        data_root: &std::path::Path,
        cfg: NetConfig,
        containers: ContainerStore,
        events: Arc<EventBus>,
    ) -> Result<Arc<Networks>, String> {
        let mgr = NetworkManager::open(manager_config(data_root, &cfg))
            .map_err(|e| format!("networking: {e}"))?;
        Networks::over(mgr, cfg, containers, events).await
    }

    /// [`Networks::open`] over other kernel seams: the in-memory `berth_network::fake`
    /// links and firewall in unit tests.
    pub async fn open_with_backends(
        data_root: &std::path::Path,
        cfg: NetConfig,
        containers: ContainerStore,
        events: Arc<EventBus>,
        netlink: Arc<dyn Netlink>,
        firewall: Arc<dyn Firewall>,
    ) -> Result<Arc<Networks>, String> {
        let mgr = NetworkManager::with_backends(manager_config(data_root, &cfg), netlink, firewall)
            .map_err(|e| format!("networking: {e}"))?;
        Networks::over(mgr, cfg, containers, events).await
    }

    async fn over(
        mgr: NetworkManager,
        cfg: NetConfig,
        containers: ContainerStore,
        events: Arc<EventBus>,
    ) -> Result<Arc<Networks>, String> {
        mgr.restore()
            .await
            .map_err(|e| format!("networking: restore: {e}"))?;
        let net = Arc::new(Networks {
            mgr,
            store: containers.metadata().clone(),
            containers,
            cfg,
            attached: Mutex::new(HashMap::new()),
            claims: claims::Claims::default(),
            releases: releases::Releases::default(),
            events,
        });
        net.ensure_predefined().await?;
        Ok(net)
    }

    async fn ensure_predefined(&self) -> Result<(), String> {
        let existing = self.records();
        for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
            if name == "bridge" && !self.cfg.default_bridge_enabled() {
                continue;
            }
            let mut options = BTreeMap::new();
            if name == "bridge" {
                for (k, v) in [
                    ("com.docker.network.bridge.default_bridge", "true"),
                    (ICC_OPTION, if self.cfg.icc { "true" } else { "false" }),
                    ("com.docker.network.bridge.enable_ip_masquerade", "true"),
                    ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
                    ("com.docker.network.bridge.name", self.cfg.bridge.as_str()),
                    ("com.docker.network.driver.mtu", &self.cfg.mtu.to_string()),
                ] {
                    options.insert(k.to_string(), v.to_string());
                }
            }
            let rec = match existing.iter().find(|r| r.name == name) {
                // The default bridge's options follow the daemon's settings.
                Some(r) if r.options != options => {
                    let r = NetworkRecord {
                        options,
                        ..r.clone()
                    };
                    self.store.put(KIND, &r.id, &r).map_err(|e| e.to_string())?;
                    r
                }
                Some(r) => r.clone(),
                None => {
                    let r = NetworkRecord {
                        id: new_id(),
                        name: name.into(),
                        driver: driver.into(),
                        created: logfile::now(),
                        options,
                        ..Default::default()
                    };
                    self.store.put(KIND, &r.id, &r).map_err(|e| e.to_string())?;
                    r
                }
            };
            if name == "bridge" {
                self.mgr
                    .ensure_default_network(&rec.id)
                    .await
                    .map_err(|e| format!("default bridge {}: {e}", self.cfg.bridge))?;
            }
        }
        Ok(())
    }

    /// The daemon's network settings.
    pub fn config(&self) -> &NetConfig {
        &self.cfg
    }

    /// Every network record.
    pub fn records(&self) -> Vec<NetworkRecord> {
        self.store
            .list::<NetworkRecord>(KIND)
            .map(|l| l.into_iter().map(|(_, r)| r).collect())
            .unwrap_or_default()
    }

    /// Docker's lookup order: full id, exact name, unique id prefix.
    pub fn resolve(&self, reference: &str) -> Result<NetworkRecord> {
        let all = self.records();
        if let Some(r) = all.iter().find(|r| r.id == reference) {
            return Ok(r.clone());
        }
        if let Some(r) = all.iter().find(|r| r.name == reference) {
            return Ok(r.clone());
        }
        let matches: Vec<&NetworkRecord> = all
            .iter()
            .filter(|r| !reference.is_empty() && r.id.starts_with(reference))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(not_found(reference)),
            _ => Err(EngineError::invalid(format!(
                "network {reference} is ambiguous ({} matches found based on ID prefix)",
                matches.len()
            ))),
        }
    }

    /// The library view of a bridge network.
    pub async fn info(&self, id: &str) -> Option<NetworkInfo> {
        self.mgr.networks().await.into_iter().find(|n| n.id == id)
    }

    /// `GET /networks/{id}` without `Containers` (filled by the container side).
    pub async fn to_api(&self, rec: &NetworkRecord) -> Network {
        let info = self.info(&rec.id).await;
        let config = info.as_ref().map(|i| create::ipam_view(rec, i));
        Network {
            name: rec.name.clone(),
            id: rec.id.clone(),
            created: rec.created.clone(),
            scope: "local".into(),
            driver: rec.driver.clone(),
            enable_ipv4: true,
            enable_ipv6: info.as_ref().is_some_and(|i| i.enable_ipv6),
            ipam: Ipam {
                driver: "default".into(),
                config,
                options: rec.ipam_options.clone(),
            },
            internal: rec.internal,
            attachable: rec.attachable,
            ingress: false,
            config_only: false,
            containers: BTreeMap::new(),
            options: rec.options.clone(),
            labels: rec.labels.clone(),
        }
    }

    /// `DELETE /networks/{id}` (the caller checked that no container uses it).
    pub async fn remove(&self, rec: &NetworkRecord) -> Result<()> {
        if PREDEFINED.contains(&rec.name.as_str()) {
            return Err(EngineError::forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                rec.name
            )));
        }
        // Another removal of the same network in flight: it is gone for this one.
        let _claim = self
            .claims
            .claim(format!("id:{}", rec.id), || false)
            .ok_or_else(|| not_found(&rec.name))?;
        if self.info(&rec.id).await.is_some() {
            // The endpoints of containers that just stopped may still be on their way out.
            self.releases.wait_all().await;
            self.mgr
                .remove_network(&rec.id)
                .await
                .map_err(EngineError::from)?;
        }
        self.store
            .delete(KIND, &rec.id)
            .map_err(|e| EngineError::internal(e.to_string()))?;
        self.network_event("destroy", &events::Joined::of(rec), None);
        Ok(())
    }

    /// Networks with at least one endpoint (ids).
    pub async fn in_use(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .mgr
            .all_endpoints()
            .await
            .into_iter()
            .map(|e| e.network_id)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Filters of `GET /networks` (`driver`, `id`, `label`, `name`, `scope`, `type`,
    /// `dangling`).
    pub fn matches(&self, rec: &NetworkRecord, f: &Filters, used: &[String]) -> Result<bool> {
        for k in f.keys() {
            if ![
                "driver", "id", "label", "name", "scope", "type", "dangling", "until",
            ]
            .contains(&k)
            {
                return Err(EngineError::invalid(format!("invalid filter '{k}'")));
            }
        }
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
            let vs = f.get(key);
            vs.is_empty() || vs.iter().any(|v| pred(v))
        };
        for t in f.get("type") {
            if t != "custom" && t != "builtin" {
                return Err(EngineError::invalid(format!(
                    "invalid filter: 'type'='{t}'"
                )));
            }
        }
        let builtin = PREDEFINED.contains(&rec.name.as_str());
        let dangling_ok = match f.get("dangling").first().map(String::as_str) {
            None => true,
            Some("true") | Some("1") => !builtin && !used.contains(&rec.id),
            Some("false") | Some("0") => builtin || used.contains(&rec.id),
            Some(v) => {
                return Err(EngineError::invalid(format!(
                    "invalid filter 'dangling={v}'"
                )))
            }
        };
        Ok(dangling_ok
            && any("driver", &|v| rec.driver == v)
            && any("id", &|v| rec.id.starts_with(v))
            && any("name", &|v| rec.name.contains(v))
            && any("scope", &|v| v == "local")
            && any("type", &|v| (v == "builtin") == builtin)
            && berth_api_types::labels_match(&rec.labels, f.get("label"))
            && f.get("until").iter().all(|u| until_ok(&rec.created, u)))
    }

    /// `POST /networks/prune`: removes unused user networks matching `label`/`until`.
    pub async fn prune(&self, f: &Filters) -> Result<NetworkPruneResponse> {
        for k in f.keys() {
            if !["label", "label!", "until"].contains(&k) {
                return Err(EngineError::invalid(format!("invalid filter '{k}'")));
            }
        }
        self.releases.wait_all().await;
        let used = self.in_use().await;
        let mut deleted = Vec::new();
        for rec in self.records() {
            if PREDEFINED.contains(&rec.name.as_str()) || used.contains(&rec.id) {
                continue;
            }
            if !berth_api_types::labels_match(&rec.labels, f.get("label"))
                || f.get("label!")
                    .iter()
                    .any(|l| berth_api_types::labels_match(&rec.labels, std::slice::from_ref(l)))
                || !f.get("until").iter().all(|u| until_ok(&rec.created, u))
            {
                continue;
            }
            if self.remove(&rec).await.is_ok() {
                deleted.push(rec.name.clone());
            }
        }
        self.prune_event();
        Ok(NetworkPruneResponse {
            networks_deleted: Some(deleted),
        })
    }

    fn with_attached<T>(&self, f: impl FnOnce(&mut HashMap<String, Attached>) -> T) -> T {
        f(&mut self.attached.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Endpoints and ports of a running container (empty otherwise).
    pub fn attached(&self, container_id: &str) -> (Vec<Endpoint>, Vec<PublishedPort>) {
        self.with_attached(|m| {
            m.get(container_id)
                .map(|a| (a.endpoints.clone(), a.ports.clone()))
                .unwrap_or_default()
        })
    }

    /// Every container's endpoints (network inspect).
    pub fn all_attached(&self) -> Vec<Endpoint> {
        self.with_attached(|m| {
            m.values()
                .flat_map(|a| a.endpoints.iter().cloned())
                .collect()
        })
    }
}

fn until_ok(created: &str, until: &str) -> bool {
    let Some(limit) = logfile::parse_time(until) else {
        return true;
    };
    logfile::rfc3339_nanos(created).is_none_or(|c| c <= limit)
}

/// Docker's shape of a container in network inspect.
pub fn network_container(name: &str, ep: &Endpoint) -> NetworkContainer {
    NetworkContainer {
        name: name.trim_start_matches('/').to_string(),
        endpoint_id: endpoint_id(ep),
        mac_address: ep.mac.clone(),
        ipv4_address: format!("{}/{}", ep.ip, ep.prefix),
        ipv6_address: ep
            .ip6
            .map(|ip| format!("{ip}/{}", ep.prefix6))
            .unwrap_or_default(),
    }
}

/// A stable 64-hex endpoint id derived from network and container ids.
pub fn endpoint_id(ep: &Endpoint) -> String {
    let mut out = String::with_capacity(64);
    let seed = format!("{}/{}", ep.network_id, ep.container_id);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for round in 0..4u8 {
        for b in seed.bytes().chain(std::iter::once(round)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out
}
