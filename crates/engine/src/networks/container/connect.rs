//! `network connect|disconnect` of a container, running or not (the embedded DNS starts
//! when a running container joins its first user network).

use std::path::{Path, PathBuf};

use crate::error::{EngineError, Result};
use berth_api_types::EndpointSettings;
use berth_network::{dns::ResolverListener, NetworkMode};

use super::super::events::Joined;
use super::super::{NetworkRecord, Networks};
use super::*;
use crate::record::ContainerRecord;

impl Networks {
    /// The network side of `POST /networks/{id}/connect`. The caller holds the container's lifecycle lock, passes its current record and saves
    /// it afterwards (see `Containers::network_connect`).
    pub async fn connect_container(
        &self,
        nrec: &NetworkRecord,
        rec: &mut ContainerRecord,
        es: EndpointSettings,
    ) -> Result<()> {
        let net = self;
        let id = rec.id.clone();
        let mode = NetworkMode::parse(&rec.host_config.network_mode);
        if nrec.driver == "host" || mode == NetworkMode::Host {
            return Err(EngineError::invalid(
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        if nrec.driver == "null" || matches!(mode, NetworkMode::None | NetworkMode::Container(_)) {
            return Err(EngineError::invalid(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        if rec
            .endpoints_config
            .keys()
            .any(|k| *k == nrec.name || *k == nrec.id)
        {
            return Err(EngineError::forbidden(format!(
                "endpoint with name {} already exists in network {}",
                rec.name.trim_start_matches('/'),
                nrec.name
            )));
        }
        user_settings_check(nrec, &es)?;
        if rec.state.running && rec.state.pid > 0 {
            let netns = PathBuf::from(format!("/proc/{}/ns/net", rec.state.pid));
            let (eps, _) = net.attached(&id);
            let ifname = format!("eth{}", eps.len());
            let ep = self
                .connect_endpoint(rec, nrec, &es, &netns, &ifname, eps.is_empty())
                .await?;
            // A container that was only on the default bridge gets the embedded DNS now,
            // like Docker: it answers the names of its user networks, forwards the rest to
            // the servers its resolv.conf had, and resolv.conf points at it.
            let has_dns = net.with_attached(|m| m.get(&id).is_some_and(|a| a.dns.is_some()));
            let mut dns = None;
            if nrec.name != BRIDGE && !has_dns {
                match self.start_embedded_dns(rec, &netns).await {
                    Ok(listener) => dns = Some(listener),
                    Err(e) => {
                        let _ = net.mgr.disconnect(&nrec.id, &id).await;
                        return Err(e);
                    }
                }
            }
            let endpoints = self.update_attached(&id, true, |att| {
                att.endpoints.push(ep);
                att.joined.push(Joined::of(nrec));
                if dns.is_some() {
                    att.dns = dns;
                }
            });
            self.network_event("connect", &Joined::of(nrec), Some(&id));
            self.write_hosts(rec, &endpoints).await?;
        }
        rec.endpoints_config.insert(nrec.name.clone(), es);
        self.update_dns_links(rec);
        Ok(())
    }

    /// Starts the embedded DNS of a running container and points its resolv.conf at it.
    async fn start_embedded_dns(
        &self,
        rec: &ContainerRecord,
        netns: &Path,
    ) -> Result<ResolverListener> {
        let rc = embedded_resolv_conf(rec)?;
        let listener = self
            .mgr
            .serve_dns(&rec.id, netns, rc.upstreams)
            .await
            .map_err(EngineError::from)?;
        // In place, like /etc/hosts (bind-mounted).
        std::fs::write(
            self.containers.data_dir(&rec.id).join("resolv.conf"),
            rc.content,
        )
        .map_err(|e| EngineError::internal(e.to_string()))?;
        Ok(listener)
    }

    /// The network side of `POST /networks/{id}/disconnect`. As
    /// [`Networks::connect_container`]: the caller holds the lock and saves the record.
    pub async fn disconnect_container(
        &self,
        nrec: &NetworkRecord,
        rec: &mut ContainerRecord,
    ) -> Result<()> {
        let net = self;
        let id = rec.id.clone();
        if nrec.driver == "host" {
            return Err(EngineError::invalid(
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        let key = rec
            .endpoints_config
            .keys()
            .find(|k| **k == nrec.name || **k == nrec.id)
            .cloned();
        let Some(key) = key else {
            return Err(EngineError::forbidden(format!(
                "container {} is not connected to network {}",
                id, nrec.name
            )));
        };
        net.mgr
            .disconnect(&nrec.id, &id)
            .await
            .map_err(EngineError::from)?;
        let mut left = false;
        let endpoints = self.update_attached(&id, false, |att| {
            att.endpoints.retain(|e| e.network_id != nrec.id);
            let before = att.joined.len();
            att.joined.retain(|j| j.id != nrec.id);
            left = att.joined.len() != before;
        });
        if left {
            self.network_event("disconnect", &Joined::of(nrec), Some(&id));
        }
        if rec.state.running {
            self.write_hosts(rec, &endpoints).await?;
        }
        rec.endpoints_config.remove(&key);
        self.update_dns_links(rec);
        Ok(())
    }
}
