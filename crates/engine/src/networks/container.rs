//! The container side of networking: endpoint settings at create, the network files
//! (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`), connecting the container's netns
//! between the shim's `Created` and `START` (veths, published ports, embedded DNS), teardown
//! on exit and removal, `NetworkSettings` of inspect and ps, `network connect|disconnect`,
//! network inspect's `Containers`, and live restore of DNS listeners.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::error::{EngineError, ErrorKind, Result};
use berth_api_types::{
    EndpointSettings, Filters, HostConfig, Network, NetworkSettings, NetworkingConfig, Port,
    PortBinding, PortMap, SummaryNetworkSettings,
};
use berth_network::files::{self, DnsSettings};
use berth_network::ports::{self, PortMapping, Proto};
use berth_network::{
    dns::ResolverListener, link, ConnectRequest, Endpoint, NetworkMode, PublishedPort,
};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::{endpoint_id, network_container, Attached, NetworkRecord, Networks};
use crate::record::ContainerRecord;

/// Name of the default bridge network.
pub(super) const BRIDGE: &str = "bridge";

fn requested_ip(es: &EndpointSettings) -> Result<Option<Ipv4Addr>> {
    match es.ipam_config.as_ref().map(|c| c.ipv4_address.as_str()) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| EngineError::invalid(format!("invalid IPv4 address: {s}"))),
    }
}

fn requested_ip6(es: &EndpointSettings) -> Result<Option<Ipv6Addr>> {
    match es.ipam_config.as_ref().map(|c| c.ipv6_address.as_str()) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| EngineError::invalid(format!("invalid IPv6 address: {s}"))),
    }
}

fn user_settings_check(net: &NetworkRecord, es: &EndpointSettings) -> Result<()> {
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
pub(super) fn exposed_keys(rec: &ContainerRecord) -> Vec<String> {
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

fn dns_settings(host: &HostConfig) -> Result<DnsSettings> {
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
fn embedded_resolv_conf(rec: &ContainerRecord) -> Result<files::ContainerResolvConf> {
    Ok(files::container_resolv_conf(
        &files::host_resolv_conf(),
        &dns_settings(&rec.host_config)?,
        true,
    ))
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
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
    fn endpoint_order(&self, rec: &ContainerRecord) -> Vec<(String, EndpointSettings)> {
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

    /// True when one of the container's networks is user-defined (embedded DNS is used).
    fn uses_embedded_dns(&self, rec: &ContainerRecord) -> bool {
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

    pub(super) fn hostname_of(rec: &ContainerRecord) -> String {
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
    pub async fn network_up(&self, rec: &ContainerRecord, pid: i64) -> Result<()> {
        let mode = NetworkMode::parse(&rec.host_config.network_mode);
        if matches!(mode, NetworkMode::Host | NetworkMode::Container(_)) {
            return Ok(());
        }
        let netns = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let res = self.network_up_inner(rec, &netns).await;
        match res {
            Ok(att) => {
                if let Some(dns) = &att.dns {
                    dns.set_links(self.dns_links(rec));
                }
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
    async fn connect_endpoint(
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

    /// Rewrites the container's `/etc/hosts` with its addresses on `endpoints`, in place:
    /// the file is bind-mounted, a rename would not be seen inside.
    pub(super) async fn write_hosts(
        &self,
        rec: &ContainerRecord,
        endpoints: &[Endpoint],
    ) -> Result<()> {
        let ips: Vec<IpAddr> = endpoints.iter().flat_map(Endpoint::addrs).collect();
        let text = files::hosts_file(&Self::hostname_of(rec), &ips, &self.extra_hosts(rec).await?);
        std::fs::write(self.containers.data_dir(&rec.id).join("hosts"), text)
            .map_err(|e| EngineError::internal(e.to_string()))
    }

    /// Changes the attachments of a running container (`create`: also when it has none
    /// yet) and points its embedded DNS at the networks it is on afterwards. Returns them.
    fn update_attached(
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
    /// and reservations, deletes the veths and releases the addresses. Idempotent.
    pub async fn network_down(&self, id: &str) {
        let net = self;
        net.with_attached(|m| m.remove(id));
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

    /// `GET /networks`.
    pub async fn network_list(&self, filters: &Filters) -> Result<Vec<Network>> {
        let net = self;
        let used = net.in_use().await;
        let mut out = Vec::new();
        for rec in net.records() {
            if net.matches(&rec, filters, &used)? {
                out.push(self.network_view(&rec).await);
            }
        }
        Ok(out)
    }

    async fn network_view(&self, rec: &NetworkRecord) -> Network {
        let net = self;
        let mut n = net.to_api(rec).await;
        for ep in net.all_attached() {
            if ep.network_id != rec.id {
                continue;
            }
            let name = self
                .containers
                .get(&ep.container_id)
                .map(|c| c.name)
                .unwrap_or_default();
            n.containers
                .insert(ep.container_id.clone(), network_container(&name, &ep));
        }
        n
    }

    /// `GET /networks/{id}`.
    pub async fn network_inspect(&self, reference: &str) -> Result<Network> {
        let rec = self.resolve(reference)?;
        Ok(self.network_view(&rec).await)
    }

    /// `DELETE /networks/{id}`: refused while running containers use it.
    pub async fn network_remove(&self, reference: &str) -> Result<()> {
        let net = self;
        let rec = net.resolve(reference)?;
        let users: Vec<Endpoint> = net
            .all_attached()
            .into_iter()
            .filter(|e| e.network_id == rec.id)
            .collect();
        if !users.is_empty() && !super::PREDEFINED.contains(&rec.name.as_str()) {
            let list: Vec<String> = users
                .iter()
                .map(|e| {
                    let name = self
                        .containers
                        .get(&e.container_id)
                        .map(|c| c.name.trim_start_matches('/').to_string())
                        .unwrap_or_default();
                    format!("name:{name:?} id:{:?}", short(&e.container_id))
                })
                .collect();
            return Err(EngineError::forbidden(format!(
                "error while removing network: network {} id {} has active endpoints ({})",
                rec.name,
                rec.id,
                list.join(", ")
            )));
        }
        net.remove(&rec).await
    }

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
                if dns.is_some() {
                    att.dns = dns;
                }
            });
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
        let endpoints = self.update_attached(&id, false, |att| {
            att.endpoints.retain(|e| e.network_id != nrec.id);
        });
        if rec.state.running {
            self.write_hosts(rec, &endpoints).await?;
        }
        rec.endpoints_config.remove(&key);
        self.update_dns_links(rec);
        Ok(())
    }
}

fn ports_map(exposed: &[String], published: &[PublishedPort]) -> PortMap {
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
