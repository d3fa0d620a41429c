//! Endpoints: a container's attachment to a network (addresses, veth, DNS names).

use std::net::Ipv6Addr;

use super::{ConnectRequest, Endpoint, NetworkInfo, NetworkManager, DEFAULT_NETWORK};
use crate::error::{NetworkError, Result};
use crate::link::{self, VethRequest};
use crate::statefile;

impl NetworkManager {
    /// Connects a container's netns to a network: addresses (`requested` = `--ip`,
    /// `requested6` = `--ip6` on IPv6 networks), veth (MAC `requested_mac` or Docker's
    /// 02:42 + IPv4), default routes (first network, non-internal), DNS names, bridge port
    /// isolation when the network has `icc` off. On error nothing is left.
    pub async fn connect(&self, req: ConnectRequest<'_>) -> Result<Endpoint> {
        let ConnectRequest {
            network_id,
            container_id,
            netns,
            container_ifname,
            requested,
            requested6,
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
        if requested6.is_some() && info.ipv6.is_none() {
            return Err(NetworkError::InvalidArgument(
                "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
            ));
        }
        let ip = self.ipam.allocate(network_id, requested)?;
        let mac = requested_mac.unwrap_or_else(|| link::mac_for_ip(ip));
        let ip6 = match self.allocate6(&info, requested6, mac) {
            Ok(ip6) => ip6,
            Err(e) => {
                let _ = self.ipam.release(network_id, ip);
                return Err(e);
            }
        };
        let host_ifname = link::host_veth_name(&format!("{network_id}/{container_id}/{ip}"));
        let pool6 = info.ipv6.as_ref();
        let ep = Endpoint {
            network_id: network_id.into(),
            container_id: container_id.into(),
            ip,
            prefix: info.subnet.prefix(),
            gateway: info.gateway,
            ip6,
            prefix6: ip6.and(pool6.map(|p| p.subnet.prefix())).unwrap_or(0),
            gateway6: ip6.and(pool6.map(|p| p.gateway)),
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
            address6: ep.ip6.map(|a| (a, ep.prefix6)),
            gateway6: ep.gateway6.filter(|_| default_route && !info.internal),
            isolated: !info.icc,
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
            if let Some(ip6) = ip6 {
                let _ = self.ipam6.release(network_id, ip6);
            }
            return Err(e);
        }
        if info.name != DEFAULT_NETWORK {
            self.records.add(network_id, &ep.dns_names, &ep.addrs());
        }
        st.endpoints.insert(key, ep.clone());
        Ok(ep)
    }

    /// Disconnects (also on container stop): deletes the veth, releases the address and
    /// the DNS names. Unknown endpoints are fine.
    ///
    /// The veth is deleted after the state lock is released (the kernel takes its time:
    /// RCU grace periods), so containers stopping together, and other networks' work, do
    /// not queue behind it. Its name derives from the address, which is released only
    /// after, so no new endpoint can want that name meanwhile.
    pub async fn disconnect(&self, network_id: &str, container_id: &str) -> Result<()> {
        let ep = {
            let mut st = self.state.lock().await;
            let Some(ep) = st
                .endpoints
                .remove(&(network_id.to_string(), container_id.to_string()))
            else {
                return Ok(());
            };
            self.records.remove_ips(network_id, &ep.addrs());
            ep
        };
        self.nl.delete_link(&ep.host_ifname).await?;
        self.ipam.release(network_id, ep.ip)?;
        if let Some(ip6) = ep.ip6 {
            self.ipam6.release(network_id, ip6)?;
        }
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

    /// The IPv6 address of a new endpoint: `--ip6`, the subnet plus the MAC (Docker's
    /// default bridge), or the next free one; `None` without an IPv6 pool.
    fn allocate6(
        &self,
        info: &NetworkInfo,
        requested6: Option<Ipv6Addr>,
        mac: [u8; 6],
    ) -> Result<Option<Ipv6Addr>> {
        let Some(pool) = info.ipv6.as_ref().filter(|_| info.enable_ipv6) else {
            return Ok(None);
        };
        let wanted = requested6.or_else(|| {
            info.ipv6_from_mac.then(|| {
                let mut octets = pool.subnet.addr().octets();
                octets[10..].copy_from_slice(&mac);
                Ipv6Addr::from(octets)
            })
        });
        self.ipam6.allocate(&info.id, wanted).map(Some)
    }
}
