//! Published ports and the embedded DNS of a container.

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use super::{Endpoint, Held, NetworkManager, PublishedPort};
use crate::dns::{DnsServer, ResolverListener};
use crate::error::Result;
use crate::ports::{self, HostPort, PortMapping, ReservedPort};
use crate::statefile;

impl NetworkManager {
    /// Publishes ports of a container at its primary endpoint `ep`: all host ports are
    /// reserved (bind check) before any rule is installed; on error nothing is left. A
    /// mapping without host address is published on `0.0.0.0` and, where the host has
    /// IPv6, on `::` with the same port (Docker's pair). IPv6 bindings are DNATed to the
    /// container's IPv6 address when it has one, and served by the userland proxy otherwise
    /// (and for `::1`).
    pub async fn publish(
        &self,
        container_id: &str,
        ep: &Endpoint,
        mappings: &[PortMapping],
    ) -> Result<Vec<PublishedPort>> {
        let mut st = self.state.lock().await;
        let published_port = |mapping: PortMapping, host_port| PublishedPort {
            mapping,
            host_port,
            container_ip: ep.ip,
            container_ip6: ep.ip6,
        };
        let mut reserved: Vec<(PublishedPort, ReservedPort)> = Vec::new();
        for m in mappings {
            if m.host_ip.is_none() && self.cfg.ipv6_bindings {
                let (r4, r6) = ports::reserve_dual(m)?;
                let port = r4.host_port;
                let twin = PortMapping {
                    host_ip: Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
                    host_port: HostPort::Fixed(port),
                    ..*m
                };
                reserved.push((published_port(*m, port), r4));
                reserved.push((published_port(twin, port), r6));
            } else {
                let r = ports::reserve_all(std::slice::from_ref(m))?
                    .pop()
                    .expect("one reservation per mapping");
                reserved.push((published_port(*m, r.host_port), r));
            }
        }
        let published: Vec<PublishedPort> = reserved.iter().map(|(p, _)| p.clone()).collect();
        let held = reserved
            .into_iter()
            .map(|(p, r)| Self::hold(&p, r))
            .collect::<Result<Vec<Held>>>()?;
        let mut all = st.published.get(container_id).cloned().unwrap_or_default();
        all.extend(published.iter().cloned());
        let previous = st.published.insert(container_id.to_string(), all.clone());
        let res = match self.apply_rules(&mut st).await {
            Ok(()) => statefile::write_json(&self.ports_path(container_id), &(container_id, &all)),
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            match previous {
                Some(p) => st.published.insert(container_id.to_string(), p),
                None => st.published.remove(container_id),
            };
            let _ = self.apply_rules(&mut st).await;
            return Err(e);
        }
        st.reservations
            .entry(container_id.to_string())
            .or_default()
            .extend(held);
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

    /// Removes a container's port rules and releases its host ports (closed when this
    /// returns, proxied ones included).
    pub async fn unpublish(&self, container_id: &str) -> Result<()> {
        let held = {
            let mut st = self.state.lock().await;
            if st.published.remove(container_id).is_some() {
                self.apply_rules(&mut st).await?;
            }
            st.reservations.remove(container_id)
        };
        for h in held.into_iter().flatten() {
            if let Held::Proxied(p) = h {
                p.stop().await;
            }
        }
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
