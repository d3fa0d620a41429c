//! `NetworkSettings` of container inspect, and `Ports`/`NetworkSettings` of `docker ps`.

use berth_api_types::{NetworkSettings, Port, SummaryNetworkSettings};

use super::super::{endpoint_id, Networks};
use super::*;
use crate::record::ContainerRecord;

impl Networks {
    /// `NetworkSettings` of inspect.
    pub fn network_settings(&self, rec: &ContainerRecord) -> NetworkSettings {
        let net = self;
        let (eps, published) = net.attached(&rec.id);
        let mut ns = NetworkSettings::default();
        for (key, es) in &rec.endpoints_config {
            let nrec = net.resolve(key).ok();
            let mut s = es.clone();
            s.network_id = nrec.as_ref().map(|r| r.id.clone()).unwrap_or_default();
            let is_user = nrec
                .as_ref()
                .is_some_and(|r| r.driver == "bridge" && r.name != BRIDGE);
            if let Some(ep) = eps.iter().find(|e| e.network_id == s.network_id) {
                s.endpoint_id = endpoint_id(ep);
                s.gateway = ep.gateway.to_string();
                s.ip_address = ep.ip.to_string();
                s.ip_prefix_len = i64::from(ep.prefix);
                s.mac_address = ep.mac.clone();
                if let Some(ip6) = ep.ip6 {
                    s.global_ipv6_address = ip6.to_string();
                    s.global_ipv6_prefix_len = i64::from(ep.prefix6);
                }
                s.ipv6_gateway = ep.gateway6.map(|g| g.to_string()).unwrap_or_default();
                if is_user {
                    s.dns_names = Some(ep.dns_names.clone());
                }
                if nrec.as_ref().is_some_and(|r| r.name == BRIDGE) {
                    ns.endpoint_id = s.endpoint_id.clone();
                    ns.gateway = s.gateway.clone();
                    ns.ip_address = s.ip_address.clone();
                    ns.ip_prefix_len = s.ip_prefix_len;
                    ns.mac_address = s.mac_address.clone();
                    ns.global_ipv6_address = s.global_ipv6_address.clone();
                    ns.global_ipv6_prefix_len = s.global_ipv6_prefix_len;
                    ns.ipv6_gateway = s.ipv6_gateway.clone();
                }
            }
            let name = nrec.map(|r| r.name).unwrap_or_else(|| key.clone());
            ns.networks.insert(name, s);
        }
        if rec.state.running {
            ns.sandbox_key = format!("/proc/{}/ns/net", rec.state.pid);
            ns.ports = ports_map(&exposed_keys(rec), &published);
        }
        ns
    }

    /// `Ports` and `NetworkSettings` of a `docker ps` entry.
    pub fn network_summary(&self, rec: &ContainerRecord) -> (Vec<Port>, SummaryNetworkSettings) {
        let ns = self.network_settings(rec);
        let mut ports = Vec::new();
        if rec.state.running {
            for (key, bindings) in &ns.ports {
                let (p, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
                let private: u16 = p.parse().unwrap_or(0);
                match bindings {
                    Some(list) if !list.is_empty() => {
                        for b in list {
                            ports.push(Port {
                                ip: b.host_ip.clone(),
                                private_port: private,
                                public_port: b.host_port.parse().unwrap_or(0),
                                kind: proto.into(),
                            });
                        }
                    }
                    _ => ports.push(Port {
                        private_port: private,
                        kind: proto.into(),
                        ..Default::default()
                    }),
                }
            }
        }
        (
            ports,
            SummaryNetworkSettings {
                networks: ns.networks,
            },
        )
    }
}
