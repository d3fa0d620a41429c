//! Networks: the default bridge, `network create` and `network rm`, and the bridges and
//! table a clean daemon stop removes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{CreateNetwork, Ipv6Request, NetworkInfo, NetworkManager, State, DEFAULT_NETWORK};
use crate::error::{NetworkError, Result};
use crate::ipam::{self, PoolConfig};
use crate::statefile;
use crate::subnet::{Ipv4Net, Ipv6Net};

/// Docker's default bridge takes containers' IPv6 addresses from their MAC when its
/// `--fixed-cidr-v6` leaves at least 48 host bits.
const MAC_ADDRESSING_MAX_PREFIX: u8 = 80;

impl NetworkManager {
    /// Ensures the default network (`bridge` on `berth0`) exists as the daemon is configured
    /// (`bip` or the first default pool free of host routes and other networks; `--ipv6`,
    /// `--fixed-cidr-v6`, `--icc`). One made under other settings is made again, unless
    /// containers are attached to it (live restore).
    pub async fn ensure_default_network(&self, id: &str) -> Result<NetworkInfo> {
        let existing = {
            let st = self.state.lock().await;
            st.networks
                .values()
                .find(|n| n.name == DEFAULT_NETWORK)
                .cloned()
                .map(|n| {
                    let used = st.endpoints.keys().any(|(net, _)| *net == n.id);
                    (n, used)
                })
        };
        let bip = match &self.cfg.bip {
            Some(bip) => Some(
                bip.split_once('/')
                    .and_then(|(a, p)| Some((a.parse::<Ipv4Addr>().ok()?, p.parse::<u8>().ok()?)))
                    .ok_or_else(|| NetworkError::InvalidArgument(format!("invalid bip {bip:?}")))?,
            ),
            None => None,
        };
        let ipv6 = self.cfg.ipv6.then(|| Ipv6Request {
            subnet: self.cfg.fixed_cidr_v6.clone(),
            ..Default::default()
        });
        if let Some((n, used)) = existing {
            let same_v4 = bip.is_none_or(|(ip, prefix)| {
                n.gateway == ip && n.subnet == Ipv4Net::new_masked(ip, prefix)
            });
            let same_v6 = n.enable_ipv6 == self.cfg.ipv6
                && n.ipv6.as_ref().map(|p| p.subnet.to_string()) == self.cfg.fixed_cidr_v6;
            if used || (same_v4 && same_v6 && n.icc == self.cfg.icc) {
                return Ok(n);
            }
            self.remove_network(&n.id).await?;
        }
        let (subnet, gateway) = match bip {
            Some((ip, prefix)) => (
                Ipv4Net::new_masked(ip, prefix).to_string(),
                Some(ip.to_string()),
            ),
            None => (self.pick_subnet().await?.to_string(), None),
        };
        let req = CreateNetwork {
            id: id.into(),
            name: DEFAULT_NETWORK.into(),
            subnet: Some(subnet),
            gateway,
            ipv6,
            enable_ipv6: self.cfg.ipv6,
            icc_disabled: !self.cfg.icc,
            ..Default::default()
        };
        self.create_with_bridge(req, self.cfg.default_bridge.clone())
            .await
    }

    async fn pick_subnet(&self) -> Result<Ipv4Net> {
        let taken: Vec<Ipv4Net> = self.ipam.pools()?.iter().map(|p| p.config.subnet).collect();
        ipam::pick_subnet(&self.cfg.address_pools, &taken, &self.nl.host_routes()?)
    }

    /// `network create`: validates, allocates the pools, creates `br-<12 hex>` and updates
    /// the firewall; on any error nothing is left.
    pub async fn create_network(&self, req: CreateNetwork) -> Result<NetworkInfo> {
        let id12: String = req.id.chars().take(12).collect();
        self.create_with_bridge(req, format!("br-{id12}")).await
    }

    /// Validates the IPv6 side of a request into its pool (`None`: no IPv6 subnet, which
    /// only the default bridge may lack with IPv6 on: link-local addresses only).
    fn ipv6_pool(req: &CreateNetwork) -> Result<Option<PoolConfig<Ipv6Net>>> {
        let v6 = req.ipv6.clone().unwrap_or_default();
        match v6.subnet.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Ok(Some(PoolConfig::parse(
                s,
                v6.gateway.as_deref(),
                v6.ip_range.as_deref(),
            )?)),
            None if req.enable_ipv6 && req.name != DEFAULT_NETWORK => {
                Err(NetworkError::NoFreePool("IPv6"))
            }
            None => Ok(None),
        }
    }

    async fn create_with_bridge(&self, req: CreateNetwork, bridge: String) -> Result<NetworkInfo> {
        let mut st = self.state.lock().await;
        if st.networks.values().any(|n| n.name == req.name) {
            return Err(NetworkError::InvalidArgument(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        let pool6 = Self::ipv6_pool(&req)?;
        let aux4: Vec<Ipv4Addr> = req
            .aux_addresses
            .iter()
            .filter_map(|a| match a {
                IpAddr::V4(v4) => Some(*v4),
                IpAddr::V6(_) => None,
            })
            .collect();
        let aux6: Vec<Ipv6Addr> = req
            .aux_addresses
            .iter()
            .filter_map(|a| match a {
                IpAddr::V6(v6) => Some(*v6),
                IpAddr::V4(_) => None,
            })
            .collect();
        if !aux6.is_empty() && pool6.is_none() {
            return Err(NetworkError::InvalidArgument(format!(
                "no matching subnet for aux-address {}",
                aux6[0]
            )));
        }
        let subnet = match req.subnet {
            Some(s) => s,
            None => self.pick_subnet().await?.to_string(),
        };
        let cfg = PoolConfig::parse(&subnet, req.gateway.as_deref(), req.ip_range.as_deref())?;
        self.ipam.create_pool(&req.id, cfg.clone(), &aux4)?;
        if let Some(p6) = &pool6 {
            if let Err(e) = self.ipam6.create_pool(&req.id, p6.clone(), &aux6) {
                let _ = self.ipam.delete_pool(&req.id);
                return Err(e);
            }
        }
        let ipv6_from_mac = req.name == DEFAULT_NETWORK
            && pool6
                .as_ref()
                .is_some_and(|p| p.subnet.prefix() <= MAC_ADDRESSING_MAX_PREFIX);
        let info = NetworkInfo {
            id: req.id.clone(),
            name: req.name,
            bridge,
            subnet: cfg.subnet,
            gateway: cfg.gateway,
            ip_range: cfg.ip_range,
            internal: req.internal,
            enable_ipv6: req.enable_ipv6,
            ipv6: pool6,
            ipv6_from_mac,
            icc: !req.icc_disabled,
        };
        // In the state (its name and subnet taken) before the lock is released: the bridge
        // and the rules are made outside it, so that networks created together do not
        // queue, and share a firewall run.
        st.networks.insert(info.id.clone(), info.clone());
        drop(st);
        // The bridge and the rules at once: the rules name the bridge, they need not wait
        // for it (each takes tens of ms on a loaded host).
        let res = async {
            let req = self.bridge_request(&info);
            let (bridge, rules) = tokio::join!(self.nl.ensure_bridge(&req), self.sync_rules());
            bridge?;
            rules?;
            statefile::write_json(&self.net_path(&info.id), &info)
        }
        .await;
        if let Err(e) = res {
            self.state.lock().await.networks.remove(&info.id);
            let _ = self.nl.delete_link(&info.bridge).await;
            let _ = self.ipam.delete_pool(&info.id);
            let _ = self.ipam6.delete_pool(&info.id);
            let _ = self.sync_rules().await;
            return Err(e);
        }
        Ok(info)
    }

    /// `network rm`: refused while endpoints exist; removes bridge, pools, rules, records,
    /// state.
    ///
    /// The bridge is deleted after the state lock is released: the kernel takes its time
    /// (RCU grace periods), and two networks removed together, or containers starting
    /// meanwhile, need not queue behind it. Its name is the network id's, never reused.
    /// The rules are replaced while the bridge goes (they match its name only); another
    /// network removed meanwhile may share the firewall run.
    pub async fn remove_network(&self, id: &str) -> Result<()> {
        let info = {
            let mut st = self.state.lock().await;
            Self::forget_network(&mut st, id)?
        };
        let (link, rules) = tokio::join!(self.nl.delete_link(&info.bridge), self.sync_rules());
        link?;
        rules?;
        self.ipam.delete_pool(id)?;
        self.ipam6.delete_pool(id)?;
        self.records.remove_network(id);
        statefile::remove(&self.net_path(id))
    }

    /// Takes a network without endpoints out of the state (what the firewall renders).
    fn forget_network(st: &mut State, id: &str) -> Result<NetworkInfo> {
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
            return Err(NetworkError::ActiveEndpoints {
                network: info.name,
                containers: users,
            });
        }
        st.networks.remove(id);
        Ok(info)
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
        self.fw_sync.delete(&self.fw).await?;
        for n in st.networks.values() {
            self.nl.delete_link(&n.bridge).await?;
        }
        Ok(true)
    }
}
