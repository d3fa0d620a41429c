//! `POST /networks/create` and the IPAM part of network inspect: IPv4 and IPv6 pools
//! (`EnableIPv6`), gateways, ranges, auxiliary addresses, IPAM options and the bridge's
//! `enable_icc` option, shown back as Docker shows them.

use std::net::IpAddr;

use crate::error::{EngineError, Result};
use berth_api_types::{IpamConfig, NetworkCreateRequest, NetworkCreateResponse};
use berth_network::{CreateNetwork, Ipv6Request, NetworkError, NetworkInfo};

use super::{NetworkRecord, Networks, ICC_OPTION, KIND, PREDEFINED};
use crate::logfile;
use crate::record::new_id;

/// A request's IPAM configs by family, checked.
#[derive(Debug, Default)]
struct Pools {
    v4: Option<IpamConfig>,
    v6: Option<IpamConfig>,
    aux: Vec<IpAddr>,
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn split_pools(configs: &[IpamConfig]) -> Result<Pools> {
    let mut pools = Pools::default();
    for c in configs {
        let aux: Vec<IpAddr> = c
            .auxiliary_addresses
            .iter()
            .flatten()
            .map(|(_, ip)| {
                ip.parse().map_err(|_| {
                    EngineError::invalid(format!(
                        "invalid auxiliary address {ip}: not an IP address"
                    ))
                })
            })
            .collect::<Result<_>>()?;
        if c.subnet.is_empty() {
            if let Some(ip) = aux.first() {
                return Err(EngineError::forbidden(format!(
                    "no matching subnet for aux-address {ip}"
                )));
            }
            if !c.gateway.is_empty() || !c.ip_range.is_empty() {
                return Err(EngineError::invalid(
                    "invalid network config: a gateway or ip-range needs a subnet",
                ));
            }
            continue;
        }
        let slot = if c.subnet.contains(':') {
            &mut pools.v6
        } else {
            &mut pools.v4
        };
        if slot.is_some() {
            return Err(EngineError::forbidden(
                "bridge driver doesn't support multiple subnets",
            ));
        }
        *slot = Some(c.clone());
        pools.aux.extend(aux);
    }
    Ok(pools)
}

/// Network inspect's `IPAM.Config`: the configs as given, IPv4 first; an IPv4 pool picked
/// from the defaults shows its subnet and gateway; the default bridge shows its pools.
pub(super) fn ipam_view(rec: &NetworkRecord, info: &NetworkInfo) -> Vec<IpamConfig> {
    let given_v4 = rec.ipam_config.iter().find(|c| !c.subnet.contains(':'));
    let mut out = vec![match given_v4 {
        Some(c) => c.clone(),
        None => IpamConfig {
            subnet: info.subnet.to_string(),
            ip_range: info.ip_range.map(|r| r.to_string()).unwrap_or_default(),
            gateway: info.gateway.to_string(),
            auxiliary_addresses: None,
        },
    }];
    match rec.ipam_config.iter().find(|c| c.subnet.contains(':')) {
        Some(c) => out.push(c.clone()),
        None => {
            if let Some(p) = &info.ipv6 {
                out.push(IpamConfig {
                    subnet: p.subnet.to_string(),
                    ..Default::default()
                });
            }
        }
    }
    out
}

impl Networks {
    /// `POST /networks/create`.
    pub async fn create(&self, req: NetworkCreateRequest) -> Result<NetworkCreateResponse> {
        if req.name.trim().is_empty() {
            return Err(EngineError::invalid("network name cannot be empty"));
        }
        if PREDEFINED.contains(&req.name.as_str()) {
            return Err(EngineError::forbidden(format!(
                "operation is not permitted on predefined {} network ",
                req.name
            )));
        }
        match req.driver.as_str() {
            "" | "bridge" => {}
            d => return Err(EngineError::not_found(format!("plugin \"{d}\" not found"))),
        }
        // Held until the record is stored: a create of the same name meanwhile conflicts.
        let Some(_claim) = self.claims.claim(format!("name:{}", req.name), || {
            self.records().iter().any(|r| r.name == req.name)
        }) else {
            return Err(EngineError::conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        };
        let ipam = req.ipam.clone().unwrap_or_default();
        if !matches!(ipam.driver.as_str(), "" | "default") {
            return Err(EngineError::not_found(format!(
                "plugin \"{}\" not found",
                ipam.driver
            )));
        }
        let configs = ipam.config.clone().unwrap_or_default();
        let pools = split_pools(&configs)?;
        let options = req.options.clone().unwrap_or_default();
        let icc_disabled = match options.get(ICC_OPTION).map(String::as_str) {
            None | Some("true") | Some("1") => false,
            Some("false") | Some("0") => true,
            Some(v) => {
                return Err(EngineError::invalid(format!(
                    "invalid value {v:?} for option {ICC_OPTION}: true or false"
                )))
            }
        };
        let enable_ipv6 = req.enable_ipv6 == Some(true);
        let v4 = pools.v4.clone().unwrap_or_default();
        let id = new_id();
        let info = self
            .mgr
            .create_network(CreateNetwork {
                id: id.clone(),
                name: req.name.clone(),
                subnet: some(&v4.subnet),
                gateway: some(&v4.gateway),
                ip_range: some(&v4.ip_range),
                aux_addresses: pools.aux.clone(),
                ipv6: pools.v6.as_ref().map(|c| Ipv6Request {
                    subnet: some(&c.subnet),
                    gateway: some(&c.gateway),
                    ip_range: some(&c.ip_range),
                }),
                enable_ipv6,
                internal: req.internal,
                icc_disabled,
            })
            .await
            .map_err(|e| match e {
                NetworkError::PoolOverlap { .. } => {
                    EngineError::forbidden(format!("invalid pool request: {e}"))
                }
                NetworkError::NoFreePool(_) => EngineError::not_found(e.to_string()),
                e => EngineError::from(e),
            })?;
        let rec = NetworkRecord {
            id: id.clone(),
            name: req.name.clone(),
            driver: "bridge".into(),
            created: logfile::now(),
            internal: req.internal,
            attachable: req.attachable,
            labels: req.labels.clone().unwrap_or_default(),
            options,
            ipam_options: ipam.options.clone(),
            predefined: pools.v4.is_some(),
            ipam_config: configs
                .into_iter()
                .filter(|c| !c.subnet.is_empty())
                .collect(),
            enable_ipv6,
        };
        if let Err(e) = self.store.put(KIND, &id, &rec) {
            let _ = self.mgr.remove_network(&info.id).await;
            return Err(EngineError::internal(e.to_string()));
        }
        self.network_event("create", &super::events::Joined::of(&rec), None);
        Ok(NetworkCreateResponse {
            id,
            warning: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cfg(subnet: &str, aux: &[(&str, &str)]) -> IpamConfig {
        IpamConfig {
            subnet: subnet.into(),
            auxiliary_addresses: (!aux.is_empty()).then(|| {
                aux.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pools_split_by_family() {
        let p = split_pools(&[
            cfg("10.1.0.0/24", &[("r", "10.1.0.5")]),
            cfg("fd00:1::/64", &[("r6", "fd00:1::5")]),
        ])
        .unwrap();
        assert_eq!(p.v4.unwrap().subnet, "10.1.0.0/24");
        assert_eq!(p.v6.unwrap().subnet, "fd00:1::/64");
        assert_eq!(p.aux.len(), 2);
        let e = split_pools(&[cfg("10.1.0.0/24", &[]), cfg("10.2.0.0/24", &[])]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bridge driver doesn't support multiple subnets"
        );
        let e = split_pools(&[cfg("", &[("a", "10.9.0.5")])]).unwrap_err();
        assert_eq!(e.to_string(), "no matching subnet for aux-address 10.9.0.5");
        assert!(split_pools(&[cfg("10.1.0.0/24", &[("a", "nope")])]).is_err());
        let empty = split_pools(&[IpamConfig::default()]).unwrap();
        assert!(empty.v4.is_none() && empty.v6.is_none());
    }
}
