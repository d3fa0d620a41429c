//! Endpoints: a container's attachment to a network (address, veth, DNS names).

use super::{ConnectRequest, Endpoint, NetworkManager, DEFAULT_NETWORK};
use crate::error::{NetworkError, Result};
use crate::link::{self, VethRequest};
use crate::statefile;

impl NetworkManager {
    /// Connects a container's netns to a network: address (`requested` = `--ip`), veth
    /// (MAC `requested_mac` or Docker's 02:42 + IPv4), default route (first network,
    /// non-internal), DNS names. On error nothing is left.
    pub async fn connect(&self, req: ConnectRequest<'_>) -> Result<Endpoint> {
        let ConnectRequest {
            network_id,
            container_id,
            netns,
            container_ifname,
            requested,
            requested_mac,
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
        let mac = requested_mac.unwrap_or_else(|| link::mac_for_ip(ip));
        let ep = Endpoint {
            network_id: network_id.into(),
            container_id: container_id.into(),
            ip,
            prefix: info.subnet.prefix(),
            gateway: info.gateway,
            mac: link::format_mac(mac),
            host_ifname: host_ifname.clone(),
            dns_names,
        };
        let req = VethRequest {
            bridge: info.bridge.clone(),
            host_ifname,
            netns: netns.to_path_buf(),
            container_ifname: container_ifname.into(),
            mac,
            address: ip,
            prefix: info.subnet.prefix(),
            gateway: (default_route && !info.internal).then_some(info.gateway),
            address6: None,
            gateway6: None,
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

    /// Brings `lo` up inside `netns` (network mode `none`).
    pub async fn loopback_up(&self, netns: &std::path::Path) -> Result<()> {
        self.nl.loopback_up(netns).await
    }
}
