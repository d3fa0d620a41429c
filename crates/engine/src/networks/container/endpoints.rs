//! A container's endpoint settings: checked and stored at create (network mode, requested
//! addresses, aliases), and their order (the primary network first).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{EngineError, Result};
use berth_api_types::{EndpointSettings, HostConfig, NetworkingConfig};
use berth_network::files::{self};
use berth_network::{link, NetworkMode};

use super::super::{NetworkRecord, Networks};
use super::*;
use crate::record::ContainerRecord;

pub(super) fn requested_ip(es: &EndpointSettings) -> Result<Option<Ipv4Addr>> {
    match es.ipam_config.as_ref().map(|c| c.ipv4_address.as_str()) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| EngineError::invalid(format!("invalid IPv4 address: {s}"))),
    }
}

pub(super) fn requested_ip6(es: &EndpointSettings) -> Result<Option<Ipv6Addr>> {
    match es.ipam_config.as_ref().map(|c| c.ipv6_address.as_str()) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| EngineError::invalid(format!("invalid IPv6 address: {s}"))),
    }
}

pub(super) fn user_settings_check(net: &NetworkRecord, es: &EndpointSettings) -> Result<()> {
    requested_ip(es)?;
    requested_ip6(es)?;
    if !es.mac_address.is_empty() {
        link::parse_mac(&es.mac_address).map_err(EngineError::from)?;
    }
    if net.name == BRIDGE {
        if requested_ip(es)?.is_some() || requested_ip6(es)?.is_some() {
            return Err(EngineError::invalid(
                "user specified IP address is supported on user defined networks only",
            ));
        }
        if es.aliases.as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(EngineError::invalid(
                "network-scoped alias is supported only for containers in user defined networks",
            ));
        }
    }
    Ok(())
}

impl Networks {
    /// `POST /containers/create`: validates the network mode, endpoint settings, port
    /// bindings and DNS/host options; returns the endpoints to store with the record.
    /// Rewrites `container:<name>` to the full id like Docker.
    pub fn prepare_network_create(
        &self,
        host: &mut HostConfig,
        networking: Option<NetworkingConfig>,
    ) -> Result<BTreeMap<String, EndpointSettings>> {
        let net = self;
        let mut requested = networking.map(|n| n.endpoints_config).unwrap_or_default();
        let mut out = BTreeMap::new();
        match NetworkMode::parse(&host.network_mode) {
            NetworkMode::Host => {
                let rec = net.resolve("host")?;
                out.insert(rec.name, EndpointSettings::default());
            }
            NetworkMode::None => {
                let rec = net.resolve("none")?;
                out.insert(rec.name, EndpointSettings::default());
            }
            NetworkMode::Container(c) => {
                let id = self.containers.resolve(&c)?;
                host.network_mode = format!("container:{id}");
            }
            mode @ (NetworkMode::Bridge | NetworkMode::Named(_)) => {
                let primary = match &mode {
                    NetworkMode::Named(n) => n.clone(),
                    _ => BRIDGE.to_string(),
                };
                if primary == BRIDGE && !net.config().default_bridge_enabled() {
                    // `--bridge none`: containers get a namespace with only lo.
                } else {
                    let rec = net.resolve(&primary)?;
                    if rec.driver == "host" {
                        host.network_mode = "host".into();
                        out.insert(rec.name, EndpointSettings::default());
                        return Ok(out);
                    }
                    if rec.driver == "null" {
                        host.network_mode = "none".into();
                        out.insert(rec.name, EndpointSettings::default());
                        return Ok(out);
                    }
                    let mut es = requested.remove(&primary);
                    for alt in [rec.id.as_str(), "default"] {
                        if let Some(e) = requested.remove(alt) {
                            es.get_or_insert(e);
                        }
                    }
                    let es = es.unwrap_or_default();
                    user_settings_check(&rec, &es)?;
                    out.insert(rec.name.clone(), es);
                }
                for (key, es) in requested {
                    let rec = net.resolve(&key)?;
                    if rec.driver != "bridge" {
                        return Err(EngineError::invalid(format!(
                            "container cannot be connected to network {} and {}",
                            primary, rec.name
                        )));
                    }
                    user_settings_check(&rec, &es)?;
                    out.insert(rec.name.clone(), es);
                }
            }
        }
        let exposed: Vec<String> = Vec::new();
        port_mappings(host, &exposed)?;
        dns_settings(host)?;
        for h in host.extra_hosts.iter().flatten() {
            files::parse_add_host(h, Some(Ipv4Addr::LOCALHOST.into()))
                .map_err(EngineError::from)?;
        }
        Ok(out)
    }

    /// Network names of a record's endpoints, the primary (`NetworkMode`) first.
    pub(in crate::networks) fn endpoint_order(
        &self,
        rec: &ContainerRecord,
    ) -> Vec<(String, EndpointSettings)> {
        let primary = match NetworkMode::parse(&rec.host_config.network_mode) {
            NetworkMode::Named(n) => n,
            _ => BRIDGE.to_string(),
        };
        let mut out: Vec<(String, EndpointSettings)> = Vec::new();
        let primary_rec = self.resolve(&primary).ok();
        for (k, v) in &rec.endpoints_config {
            let is_primary = *k == primary || primary_rec.as_ref().is_some_and(|r| r.name == *k);
            if is_primary {
                out.insert(0, (k.clone(), v.clone()));
            } else {
                out.push((k.clone(), v.clone()));
            }
        }
        out
    }
}
