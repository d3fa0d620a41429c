//! The network files of a container: `/etc/hostname`, `/etc/hosts` and
//! `/etc/resolv.conf` (the embedded DNS's when the container is on a user network).

use std::net::IpAddr;

use crate::error::{EngineError, Result};
use berth_api_types::HostConfig;
use berth_network::files::{self, DnsSettings};
use berth_network::{Endpoint, NetworkMode};

use super::super::Networks;
use super::*;
use crate::record::ContainerRecord;

pub(super) fn dns_settings(host: &HostConfig) -> Result<DnsSettings> {
    let servers = host
        .dns
        .iter()
        .flatten()
        .map(|s| {
            s.parse::<IpAddr>()
                .map_err(|_| EngineError::invalid(format!("invalid IP address in --dns: {s}")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DnsSettings {
        servers,
        search: host.dns_search.clone().unwrap_or_default(),
        options: host.dns_options.clone().unwrap_or_default(),
    })
}

/// The resolv.conf of a container using the embedded DNS, with the upstreams it forwards to.
pub(super) fn embedded_resolv_conf(rec: &ContainerRecord) -> Result<files::ContainerResolvConf> {
    Ok(files::container_resolv_conf(
        &files::host_resolv_conf(),
        &dns_settings(&rec.host_config)?,
        true,
    ))
}

impl Networks {
    /// True when one of the container's networks is user-defined (embedded DNS is used).
    pub(super) fn uses_embedded_dns(&self, rec: &ContainerRecord) -> bool {
        rec.endpoints_config.keys().any(|k| {
            self.resolve(k)
                .is_ok_and(|n| n.driver == "bridge" && n.name != BRIDGE)
        })
    }

    async fn default_gateway(&self) -> Option<IpAddr> {
        let net = self;
        let rec = net.resolve(BRIDGE).ok()?;
        net.info(&rec.id).await.map(|i| IpAddr::V4(i.gateway))
    }

    pub(in crate::networks) fn hostname_of(rec: &ContainerRecord) -> String {
        if rec.config.hostname.is_empty() {
            short(&rec.id)
        } else {
            rec.config.hostname.clone()
        }
    }

    /// The `/etc/hosts` lines beside the container's own: `--add-host`, then its legacy
    /// links.
    async fn extra_hosts(&self, rec: &ContainerRecord) -> Result<Vec<(String, IpAddr)>> {
        let gw = self.default_gateway().await;
        let mut out = rec
            .host_config
            .extra_hosts
            .iter()
            .flatten()
            .map(|h| files::parse_add_host(h, gw).map_err(EngineError::from))
            .collect::<Result<Vec<_>>>()?;
        out.extend(self.link_hosts(rec).await);
        Ok(out)
    }

    /// Writes `hostname`, `hosts` and `resolv.conf` under the container's data dir and
    /// returns the (destination, source) binds; `container:` mode shares the other
    /// container's files, `host` mode gets the host's.
    pub async fn write_network_files(
        &self,
        rec: &ContainerRecord,
    ) -> Result<Vec<(String, String)>> {
        let mode = NetworkMode::parse(&rec.host_config.network_mode);
        let source_dir = match &mode {
            NetworkMode::Container(other) => {
                self.containers.data_dir(&self.containers.resolve(other)?)
            }
            _ => self.containers.data_dir(&rec.id),
        };
        let binds = ["hostname", "hosts", "resolv.conf"]
            .iter()
            .map(|f| {
                (
                    format!("/etc/{f}"),
                    source_dir.join(f).display().to_string(),
                )
            })
            .collect();
        if matches!(mode, NetworkMode::Container(_)) {
            return Ok(binds);
        }
        let dir = self.containers.data_dir(&rec.id);
        self.containers
            .layout()
            .traversable_dir(&dir)
            .map_err(EngineError::internal)?;
        let (hostname, hosts, resolv) = if mode == NetworkMode::Host {
            let host_name = if rec.config.hostname.is_empty() {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            } else {
                rec.config.hostname.clone()
            };
            (
                host_name,
                std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
                std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            )
        } else {
            let hostname = Self::hostname_of(rec);
            let extra = self.extra_hosts(rec).await?;
            let rc = files::container_resolv_conf(
                &files::host_resolv_conf(),
                &dns_settings(&rec.host_config)?,
                self.uses_embedded_dns(rec),
            );
            (
                hostname.clone(),
                files::hosts_file(&hostname, &[], &extra),
                rc.content,
            )
        };
        std::fs::write(dir.join("hostname"), files::hostname_file(&hostname))
            .map_err(EngineError::internal)?;
        std::fs::write(dir.join("hosts"), hosts).map_err(EngineError::internal)?;
        std::fs::write(dir.join("resolv.conf"), resolv).map_err(EngineError::internal)?;
        Ok(binds)
    }

    /// Rewrites the container's `/etc/hosts` with its addresses on `endpoints`, in place:
    /// the file is bind-mounted, a rename would not be seen inside.
    pub(in crate::networks) async fn write_hosts(
        &self,
        rec: &ContainerRecord,
        endpoints: &[Endpoint],
    ) -> Result<()> {
        let ips: Vec<IpAddr> = endpoints.iter().flat_map(Endpoint::addrs).collect();
        let text = files::hosts_file(&Self::hostname_of(rec), &ips, &self.extra_hosts(rec).await?);
        std::fs::write(self.containers.data_dir(&rec.id).join("hosts"), text)
            .map_err(|e| EngineError::internal(e.to_string()))
    }
}
