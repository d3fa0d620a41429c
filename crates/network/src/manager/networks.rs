//! Networks: the default bridge, `network create` and `network rm`, and the bridges and
//! table a clean daemon stop removes.

use std::net::Ipv4Addr;

use super::{CreateNetwork, NetworkInfo, NetworkManager, DEFAULT_NETWORK};
use crate::error::{NetworkError, Result};
use crate::ipam::{self, PoolConfig};
use crate::statefile;
use crate::subnet::Ipv4Net;

impl NetworkManager {
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
        ipam::pick_subnet(&self.cfg.address_pools, &taken, &self.nl.host_routes()?)
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
            self.nl.ensure_bridge(&self.bridge_request(&info)).await?;
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

    /// A clean daemon stop: when no container is attached any more, removes every bridge
    /// and the firewall table (the state files stay: [`restore`](Self::restore) brings them
    /// back at the next start). With attached containers (live restore) nothing is touched.
    /// Returns whether the kernel objects were removed.
    pub async fn shutdown(&self) -> Result<bool> {
        let mut st = self.state.lock().await;
        if !st.endpoints.is_empty() || !st.published.is_empty() {
            return Ok(false);
        }
        st.reservations.clear();
        self.fw.delete()?;
        for n in st.networks.values() {
            self.nl.delete_link(&n.bridge).await?;
        }
        Ok(true)
    }
}
