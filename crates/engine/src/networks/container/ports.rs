//! Published ports: the mappings `PortBindings` and `-P` ask for, and the `Ports` map
//! inspect shows.

use crate::error::{EngineError, Result};
use berth_api_types::{HostConfig, PortBinding, PortMap};
use berth_network::ports::{self, PortMapping, Proto};
use berth_network::PublishedPort;

use crate::record::ContainerRecord;

/// The published-port mappings of a container: `PortBindings`, plus every other EXPOSEd
/// port on an ephemeral host port with `-P`.
pub fn port_mappings(host: &HostConfig, exposed: &[String]) -> Result<Vec<PortMapping>> {
    let mut out = Vec::new();
    for (key, bindings) in &host.port_bindings {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let default = vec![PortBinding::default()];
        let list = match bindings {
            Some(b) if !b.is_empty() => b,
            _ => &default,
        };
        for b in list {
            // "" is every address (0.0.0.0 and, where the host has IPv6, ::); an explicit
            // address, IPv4 or IPv6, is that address only.
            let host_ip = match b.host_ip.as_str() {
                "" => None,
                ip => Some(ports::parse_host_ip(ip).map_err(EngineError::from)?),
            };
            let proto = match proto {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                p => return Err(EngineError::invalid(format!("invalid proto: {p}"))),
            };
            let host_port = Some(b.host_port.as_str()).filter(|h| !h.is_empty());
            out.extend(
                ports::publish_mappings(host_ip, host_port, port, proto)
                    .map_err(EngineError::from)?,
            );
        }
    }
    if host.publish_all_ports {
        for key in exposed {
            let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
            let proto = match proto {
                "udp" => Proto::Udp,
                "tcp" => Proto::Tcp,
                _ => continue,
            };
            let Ok(p) = port.parse::<u16>() else { continue };
            if !out
                .iter()
                .any(|m: &PortMapping| m.container_port == p && m.proto == proto)
            {
                out.push(PortMapping::ephemeral(p, proto));
            }
        }
    }
    Ok(out)
}

/// The container's exposed ports (`port/proto`), those of its port bindings included.
pub(in crate::networks) fn exposed_keys(rec: &ContainerRecord) -> Vec<String> {
    let mut keys: Vec<String> = rec
        .config
        .exposed_ports
        .iter()
        .flat_map(|m| m.keys().cloned())
        .collect();
    for k in rec.host_config.port_bindings.keys() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

pub(super) fn ports_map(exposed: &[String], published: &[PublishedPort]) -> PortMap {
    let mut map = PortMap::new();
    for key in exposed {
        map.insert(key.clone(), None);
    }
    for p in published {
        let key = format!("{}/{}", p.mapping.container_port, p.mapping.proto);
        let ip = p.host_ip().to_string();
        map.entry(key)
            .or_insert(None)
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: ip,
                host_port: p.host_port.to_string(),
            });
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn port_bindings_and_publish_all() {
        let mut host = HostConfig::default();
        host.port_bindings.insert(
            "80/tcp".into(),
            Some(vec![PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: "8080".into(),
            }]),
        );
        host.port_bindings.insert(
            "53/udp".into(),
            Some(vec![PortBinding {
                host_ip: String::new(),
                host_port: String::new(),
            }]),
        );
        host.publish_all_ports = true;
        let m = port_mappings(&host, &["80/tcp".into(), "443/tcp".into()]).unwrap();
        assert_eq!(m.len(), 3);
        assert!(m
            .iter()
            .any(|x| x.container_port == 443 && x.host_port == ports::HostPort::Ephemeral));
        assert!(m.iter().any(|x| x.container_port == 80
            && x.host_ip == Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
            && x.host_port == ports::HostPort::Fixed(8080)));
        host.port_bindings
            .insert("x/tcp".into(), Some(vec![PortBinding::default()]));
        assert!(port_mappings(&host, &[]).is_err());
    }

    #[test]
    fn host_addresses_of_both_families() {
        let binding = |ip: &str| {
            let mut host = HostConfig::default();
            host.port_bindings.insert(
                "80/tcp".into(),
                Some(vec![PortBinding {
                    host_ip: ip.into(),
                    host_port: "8080".into(),
                }]),
            );
            port_mappings(&host, &[])
        };
        let m = binding("").unwrap();
        assert_eq!((m.len(), m[0].host_ip), (1, None), "every address");
        for (given, ip) in [
            ("0.0.0.0", "0.0.0.0"),
            ("::", "::"),
            ("[::]", "::"),
            ("::1", "::1"),
            ("[::1]", "::1"),
            ("fd00::5", "fd00::5"),
        ] {
            let m = binding(given).unwrap();
            assert_eq!(m[0].host_ip, Some(ip.parse().unwrap()), "{given}");
            assert_eq!(m[0].host_port, ports::HostPort::Fixed(8080));
        }
        let err = binding("not-an-ip").unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument);
    }

    #[test]
    fn ports_map_shows_exposed_and_published() {
        let published = vec![PublishedPort {
            mapping: ports::parse_publish("8080:80").unwrap()[0],
            host_port: 8080,
            container_ip: Ipv4Addr::new(10, 0, 0, 2),
            container_ip6: None,
        }];
        let m = ports_map(&["80/tcp".into(), "81/tcp".into()], &published);
        assert_eq!(m["81/tcp"], None);
        let b = m["80/tcp"].as_ref().unwrap();
        assert_eq!(
            (b[0].host_ip.as_str(), b[0].host_port.as_str()),
            ("0.0.0.0", "8080")
        );
    }
}
