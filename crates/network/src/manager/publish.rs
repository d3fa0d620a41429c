//! Published ports and the embedded DNS of a container.

use std::net::Ipv4Addr;
use std::path::Path;

use super::{NetworkManager, PublishedPort};
use crate::dns::{DnsServer, ResolverListener};
use crate::error::Result;
use crate::ports::{self, PortMapping};
use crate::statefile;

impl NetworkManager {
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
