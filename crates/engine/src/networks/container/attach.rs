//! A container's netns on its networks: joined in the spec (`container:` and `host` modes),
//! connected between the shim's `Created` and `START` (veths, published ports, embedded
//! DNS), torn down on exit and removal, and rebuilt after live restore.

use std::path::{Path, PathBuf};

use crate::error::{EngineError, ErrorKind, Result};
use berth_api_types::EndpointSettings;
use berth_network::files::{self, DnsSettings};
use berth_network::{link, ConnectRequest, Endpoint, NetworkMode};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::super::{endpoint_id, Attached, NetworkRecord, Networks};
use super::*;
use crate::record::ContainerRecord;

impl Networks {
    /// Adjusts the OCI spec for the network mode: `container:` joins the other container's
    /// netns (which must be running); `host` uses the host's hostname.
    pub fn adjust_network_spec(&self, rec: &ContainerRecord, spec: &mut Spec) -> Result<()> {
        match NetworkMode::parse(&rec.host_config.network_mode) {
            NetworkMode::Container(other) => {
                let target = self.containers.lookup(&other)?;
                if !target.state.running || target.state.pid <= 0 {
                    return Err(EngineError::conflict(format!(
                        "cannot join network namespace of a non running container: {}",
                        target.id
                    )));
                }
                let path = format!("/proc/{}/ns/net", target.state.pid);
                crate::spec::namespaces::join(spec, LinuxNamespaceType::Network, &path);
                let name =
                    std::fs::read_to_string(self.containers.data_dir(&target.id).join("hostname"))
                        .unwrap_or_default();
                if !name.trim().is_empty() && rec.config.hostname.is_empty() {
                    spec.set_hostname(Some(name.trim().to_string()));
                }
            }
            NetworkMode::Host if rec.config.hostname.is_empty() => {
                let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
                spec.set_hostname(Some(name.trim().to_string()));
            }
            _ => {}
        }
        Ok(())
    }

    /// Between the shim's `Created(pid)` and `START`: connects the container's netns to its
    /// networks, publishes its ports, starts its embedded DNS and writes its own addresses
    /// into `/etc/hosts`. On error everything done so far is undone.
    /// Sends the `connect` events (the host's network and `none` included).
    pub async fn network_up(&self, rec: &ContainerRecord, pid: i64) -> Result<()> {
        let mode = NetworkMode::parse(&rec.host_config.network_mode);
        match mode {
            NetworkMode::Container(_) => return Ok(()),
            NetworkMode::Host => {
                let joined = self.networks_joined(rec);
                self.connected(&rec.id, &joined);
                let att = Attached {
                    joined,
                    ..Attached::default()
                };
                self.with_attached(|m| m.insert(rec.id.clone(), att));
                return Ok(());
            }
            _ => {}
        }
        let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let res = self.network_up_inner(rec, &netns).await;
        match res {
            Ok(mut att) => {
                if let Some(dns) = &att.dns {
                    dns.set_links(self.dns_links(rec));
                }
                att.joined = self.networks_joined(rec);
                self.connected(&rec.id, &att.joined);
                self.with_attached(|m| m.insert(rec.id.clone(), att));
                self.refresh_parents(rec).await;
                Ok(())
            }
            Err(e) => {
                self.network_down(&rec.id).await;
                Err(e)
            }
        }
    }

    async fn network_up_inner(&self, rec: &ContainerRecord, netns: &Path) -> Result<Attached> {
        let net = self;
        let mut att = Attached::default();
        let name = rec.name.trim_start_matches('/').to_string();
        for (i, (key, es)) in self.endpoint_order(rec).into_iter().enumerate() {
            let nrec = net.resolve(&key)?;
            if nrec.driver != "bridge" {
                continue;
            }
            let ifname = format!("eth{i}");
            let ep = self
                .connect_endpoint(rec, &nrec, &es, netns, &ifname, i == 0)
                .await?;
            att.endpoints.push(ep);
        }
        if att.endpoints.is_empty() {
            // Mode none (or no bridge network): only lo. Attaching a veth brings lo up on
            // the same visit to the netns, so it is not done twice.
            net.mgr
                .loopback_up(netns)
                .await
                .map_err(EngineError::from)?;
        }
        if let Some(primary) = att.endpoints.first() {
            let mappings = port_mappings(&rec.host_config, &exposed_keys(rec))?;
            if !mappings.is_empty() {
                let ep_id = endpoint_id(primary);
                att.ports = net
                    .mgr
                    .publish(&rec.id, primary, &mappings)
                    .await
                    .map_err(|e| {
                        EngineError::from(e).map_message(|m| {
                            format!(
                                "driver failed programming external connectivity on endpoint {name} ({ep_id}): {m}"
                            )
                        })
                    })?;
            }
        }
        if self.uses_embedded_dns(rec) {
            let rc = embedded_resolv_conf(rec)?;
            att.dns = Some(
                net.mgr
                    .serve_dns(&rec.id, netns, rc.upstreams)
                    .await
                    .map_err(EngineError::from)?,
            );
        }
        if !att.endpoints.is_empty() {
            self.write_hosts(rec, &att.endpoints).await?;
        }
        Ok(att)
    }

    /// Connects a container's netns to one bridge network as `ifname`. Its DNS names there
    /// are its name, the endpoint's aliases and its short id. Used at start for every
    /// network and by `network connect` for a running container; on error nothing is left.
    pub(super) async fn connect_endpoint(
        &self,
        rec: &ContainerRecord,
        nrec: &NetworkRecord,
        es: &EndpointSettings,
        netns: &Path,
        ifname: &str,
        default_route: bool,
    ) -> Result<Endpoint> {
        let mut dns_names = vec![rec.name.trim_start_matches('/').to_string()];
        dns_names.extend(es.aliases.clone().unwrap_or_default());
        dns_names.push(short(&rec.id));
        // The endpoint's MacAddress (API 1.44+), else Config.MacAddress for the container's
        // first network (older clients).
        let mac = match es.mac_address.as_str() {
            "" if default_route => rec.config.mac_address.as_str(),
            m => m,
        };
        let requested_mac = match mac {
            "" => None,
            m => Some(link::parse_mac(m).map_err(EngineError::from)?),
        };
        let requested = requested_ip(es)?;
        let requested6 = requested_ip6(es)?;
        if requested.is_some() || requested6.is_some() {
            // A container that just stopped may still hold the address for a moment.
            self.releases.wait_all().await;
        }
        self.mgr
            .connect(ConnectRequest {
                network_id: &nrec.id,
                container_id: &rec.id,
                netns,
                container_ifname: ifname,
                requested,
                requested6,
                requested_mac,
                dns_names,
                default_route,
            })
            .await
            .map_err(|e| {
                let e = EngineError::from(e);
                if matches!(e.kind(), ErrorKind::InvalidArgument | ErrorKind::Conflict) {
                    e.map_message(|m| {
                        format!(
                            "invalid config for network {}: invalid endpoint settings:\n{m}",
                            nrec.name
                        )
                    })
                } else {
                    e
                }
            })
    }

    /// Changes the attachments of a running container (`create`: also when it has none
    /// yet) and points its embedded DNS at the networks it is on afterwards. Returns them.
    pub(super) fn update_attached(
        &self,
        id: &str,
        create: bool,
        change: impl FnOnce(&mut Attached),
    ) -> Vec<Endpoint> {
        self.with_attached(|m| {
            let att = if create {
                Some(m.entry(id.to_string()).or_default())
            } else {
                m.get_mut(id)
            };
            let Some(att) = att else {
                return Vec::new();
            };
            change(att);
            if let Some(dns) = &att.dns {
                dns.set_networks(att.endpoints.iter().map(|e| e.network_id.clone()).collect());
            }
            att.endpoints.clone()
        })
    }

    /// On exit, failed start and removal: stops the DNS listener, removes the port rules
    /// and reservations, deletes the veths and releases the addresses, sends the
    /// `disconnect` events. Idempotent.
    pub async fn network_down(&self, id: &str) {
        let net = self;
        net.take_attached(id);
        let _ = net.mgr.unpublish(id).await;
        for ep in net.mgr.endpoints(id).await {
            let _ = net.mgr.disconnect(&ep.network_id, id).await;
        }
    }

    /// After live restore: rebuilds the attachments of running containers and restarts
    /// their DNS listeners (ports and rules were restored by the manager).
    pub async fn restore_networks(&self) {
        let net = self;
        for rec in self.containers.list() {
            let eps = net.mgr.endpoints(&rec.id).await;
            if !rec.state.running || rec.state.pid <= 0 {
                if !eps.is_empty() {
                    self.network_down(&rec.id).await;
                }
                continue;
            }

            let netns = PathBuf::from(format!("/proc/{}/ns/net", rec.state.pid));
            let mut att = Attached {
                endpoints: eps,
                ports: net.mgr.published(&rec.id).await,
                dns: None,
                joined: self.networks_joined(&rec),
            };
            if self.uses_embedded_dns(&rec) && netns.exists() {
                let rc = embedded_resolv_conf(&rec).unwrap_or_else(|_| {
                    files::container_resolv_conf(
                        &files::host_resolv_conf(),
                        &DnsSettings::default(),
                        true,
                    )
                });
                att.dns = net.mgr.serve_dns(&rec.id, &netns, rc.upstreams).await.ok();
                if let Some(dns) = &att.dns {
                    dns.set_links(self.dns_links(&rec));
                }
            }
            net.with_attached(|m| m.insert(rec.id.clone(), att));
        }
    }
}
