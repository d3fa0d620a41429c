//! Container links, both kinds Docker has:
//! - **legacy links** on the default bridge (`HostConfig.Links`, `--link target[:alias]`):
//!   checked and recorded at create (`ContainerRecord::links`), turned at start into the
//!   `<ALIAS>_…` environment variables and `/etc/hosts` entries, shown by inspect as
//!   `/target:/container/alias` and by ps as an extra name `/container/alias`;
//! - **links on user networks** (`EndpointSettings.Links`, which the docker CLI fills from
//!   `--link` and `network connect --link`): aliases only the linking container resolves,
//!   through its embedded DNS ([`berth_network::dns::DnsLink`]).

use std::collections::HashMap;
use std::net::IpAddr;

use berth_api_types::HostConfig;
use berth_network::dns::DnsLink;
use berth_network::NetworkMode;

use super::container::{exposed_keys, BRIDGE};
use super::Networks;
use crate::error::{EngineError, Result};
use crate::record::{ContainerRecord, LegacyLink};

const HOST_AND_LINKS: &str = "conflicting options: host type networking can't be used with links. This would result in undefined behavior";
const CONTAINER_AND_LINKS: &str = "conflicting options: container type network can't be used with links. This would result in undefined behavior";

/// Docker's `opts.ParseLink`: `name[:alias]` (alias = name when absent); the
/// `/name:/parent/alias` form that inspect shows is read back too.
pub fn parse_link(link: &str) -> Result<(String, String)> {
    if link.is_empty() {
        return Err(EngineError::internal("empty string specified for links"));
    }
    let parts: Vec<&str> = link.split(':').collect();
    match parts.as_slice() {
        [name] => Ok((name.to_string(), name.to_string())),
        [name, alias] => match name.strip_prefix('/') {
            Some(name) => Ok((
                name.to_string(),
                alias.rsplit('/').next().unwrap_or(alias).to_string(),
            )),
            None => Ok((name.to_string(), alias.to_string())),
        },
        _ => Err(EngineError::internal(format!(
            "bad format for links: {link}"
        ))),
    }
}

/// The environment variables of one legacy link, as Docker 20.10 writes them
/// (`links.Link.ToEnv`): `<ALIAS>_NAME`, `<ALIAS>_PORT` (the lowest exposed port),
/// `<ALIAS>_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO]` per port, `…_START`/`…_END` over runs
/// of consecutive ports, and `<ALIAS>_ENV_<var>` for the child's environment (without
/// `HOME` and `PATH`).
pub fn link_env(
    link_name: &str,
    child_ip: &str,
    child_env: &[String],
    exposed: &[String],
) -> Vec<String> {
    let alias = link_name
        .rsplit('/')
        .next()
        .unwrap_or(link_name)
        .to_uppercase()
        .replace('-', "_");
    let mut ports: Vec<(u32, String)> = exposed
        .iter()
        .filter_map(|k| {
            let (port, proto) = k.split_once('/').unwrap_or((k.as_str(), "tcp"));
            Some((port.parse().ok()?, proto.to_string()))
        })
        .collect();
    // By number; on the same number tcp first.
    ports.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| (a.1 != "tcp").cmp(&(b.1 != "tcp")))
    });
    let mut env = Vec::new();
    let var = |p: &(u32, String)| format!("{alias}_PORT_{}_{}", p.0, p.1.to_uppercase());
    if let Some(first) = ports.first() {
        env.push(format!("{alias}_PORT={}://{child_ip}:{}", first.1, first.0));
    }
    let mut i = 0;
    while i < ports.len() {
        let j = next_contiguous(&ports, i);
        if j > i + 1 {
            let (p, q) = (&ports[i], &ports[j]);
            let pv = var(p);
            env.push(format!("{pv}_START={}://{child_ip}:{}", p.1, p.0));
            env.push(format!("{pv}_ADDR={child_ip}"));
            env.push(format!("{pv}_PROTO={}", p.1));
            env.push(format!("{pv}_PORT_START={}", p.0));
            let qv = format!("{alias}_PORT_{}_{}", p.0, q.1.to_uppercase());
            env.push(format!("{qv}_END={}://{child_ip}:{}", q.1, q.0));
            env.push(format!("{qv}_PORT_END={}", q.0));
            i = j + 1;
        } else {
            i += 1;
        }
    }
    for p in &ports {
        let v = var(p);
        env.push(format!("{v}={}://{child_ip}:{}", p.1, p.0));
        env.push(format!("{v}_ADDR={child_ip}"));
        env.push(format!("{v}_PORT={}", p.0));
        env.push(format!("{v}_PROTO={}", p.1));
    }
    env.push(format!("{alias}_NAME={link_name}"));
    for e in child_env {
        if let Some((k, v)) = e.split_once('=') {
            if k != "HOME" && k != "PATH" {
                env.push(format!("{alias}_ENV_{k}={v}"));
            }
        }
    }
    env
}

/// Docker 20.10's `nextContiguous`: the last index of the run of consecutive port
/// numbers starting at `index` (protocols are not compared, as there).
fn next_contiguous(ports: &[(u32, String)], index: usize) -> usize {
    let start = ports[index].0;
    ports
        .iter()
        .enumerate()
        .skip(index + 1)
        .find(|(i, p)| u64::from(p.0) > u64::from(start) + (i - index) as u64)
        .map_or(ports.len() - 1, |(i, _)| i - 1)
}

/// `env` with `more` applied as Docker's `ReplaceOrAppendEnvValues`: a variable already
/// there keeps its place and takes the new value, others are appended.
pub fn replace_or_append(env: &mut Vec<String>, more: impl IntoIterator<Item = String>) {
    for v in more {
        let key = v.split_once('=').map_or(v.as_str(), |(k, _)| k).to_string();
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
        {
            Some(slot) => *slot = v,
            None => env.push(v),
        }
    }
}

impl Networks {
    /// At create: checks `HostConfig.Links` against the (already normalised) network mode
    /// and finds the linked containers, as Docker's `registerLinks`. Links on a user
    /// network are not legacy links (Docker ignores them there; the CLI also puts them in
    /// `EndpointSettings.Links`).
    pub fn prepare_links(&self, host: &HostConfig) -> Result<Vec<LegacyLink>> {
        let links = host.links.clone().unwrap_or_default();
        if links.is_empty() {
            return Ok(Vec::new());
        }
        match NetworkMode::parse(&host.network_mode) {
            NetworkMode::Host => return Err(EngineError::invalid(HOST_AND_LINKS)),
            NetworkMode::Container(_) => return Err(EngineError::invalid(CONTAINER_AND_LINKS)),
            NetworkMode::Named(_) => return Ok(Vec::new()),
            NetworkMode::Bridge | NetworkMode::None => {}
        }
        let mut out: Vec<LegacyLink> = Vec::new();
        for l in &links {
            let (name, alias) = parse_link(l)?;
            let not_found = |name: &str| {
                EngineError::invalid(format!(
                    "could not get container for {name}: No such container: {name}"
                ))
            };
            let mut child = self
                .containers
                .lookup(&name)
                .map_err(|_| not_found(&name))?;
            while let NetworkMode::Container(other) =
                NetworkMode::parse(&child.host_config.network_mode)
            {
                child = self
                    .containers
                    .lookup(&other)
                    .map_err(|_| not_found(&other))?;
            }
            if NetworkMode::parse(&child.host_config.network_mode) == NetworkMode::Host {
                return Err(EngineError::invalid(HOST_AND_LINKS));
            }
            // A second link under the same alias is ignored, as Docker does (its name
            // is taken).
            if !out.iter().any(|o| o.alias == alias) {
                out.push(LegacyLink {
                    child: child.id,
                    alias,
                });
            }
        }
        Ok(out)
    }

    /// The linked containers that still exist, with the link.
    fn children(&self, rec: &ContainerRecord) -> Vec<(LegacyLink, ContainerRecord)> {
        rec.links
            .iter()
            .filter_map(|l| Some((l.clone(), self.containers.get(&l.child).ok()?)))
            .collect()
    }

    /// True when the container is on the default bridge (legacy links apply there only).
    fn on_default_bridge(rec: &ContainerRecord) -> bool {
        rec.endpoints_config.contains_key(BRIDGE)
    }

    /// Inspect's `HostConfig.Links`: `/<child>:/<container>/<alias>`, `null` without any.
    pub fn inspect_links(&self, rec: &ContainerRecord) -> Option<Vec<String>> {
        let links: Vec<String> = self
            .children(rec)
            .into_iter()
            .map(|(l, child)| format!("{}:{}/{}", child.name, rec.name, l.alias))
            .collect();
        (!links.is_empty()).then_some(links)
    }

    /// The link names of every linked container (`/<parent>/<alias>`), which ps lists
    /// among its names, by child id.
    pub fn link_names(all: &[ContainerRecord]) -> HashMap<String, Vec<String>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for parent in all {
            for l in &parent.links {
                out.entry(l.child.clone())
                    .or_default()
                    .push(format!("{}/{}", parent.name, l.alias));
            }
        }
        out
    }

    /// The default-bridge addresses of a running container (IPv4 first).
    async fn bridge_addrs(&self, id: &str) -> Vec<IpAddr> {
        let Ok(bridge) = self.resolve(BRIDGE) else {
            return Vec::new();
        };
        self.mgr
            .endpoints(id)
            .await
            .into_iter()
            .filter(|e| e.network_id == bridge.id)
            .flat_map(|e| e.addrs())
            .collect()
    }

    /// At start (and exec): the legacy link variables of a container on the default
    /// bridge. Every linked container must be running there, as with Docker.
    pub async fn legacy_link_env(&self, rec: &ContainerRecord) -> Result<Vec<String>> {
        if !Self::on_default_bridge(rec) {
            return Ok(Vec::new());
        }
        let mut env = Vec::new();
        for (l, child) in self.children(rec) {
            let link_name = format!("{}/{}", rec.name, l.alias);
            if !child.state.running {
                return Err(EngineError::internal(format!(
                    "Cannot link to a non running container: {} AS {link_name}",
                    child.name
                )));
            }
            let Some(ip) = self
                .bridge_addrs(&child.id)
                .await
                .into_iter()
                .find(IpAddr::is_ipv4)
            else {
                return Err(EngineError::internal(format!(
                    "container {} not attached to default bridge network",
                    child.id
                )));
            };
            let vars = link_env(
                &link_name,
                &ip.to_string(),
                child.config.env.as_deref().unwrap_or_default(),
                &exposed_keys(&child),
            );
            replace_or_append(&mut env, vars);
        }
        Ok(env)
    }

    /// The `/etc/hosts` lines of a container's legacy links: `<alias> <hostname> <name>`
    /// (the name only when it differs from the alias) for each address the linked
    /// container has on the default bridge.
    pub async fn link_hosts(&self, rec: &ContainerRecord) -> Vec<(String, IpAddr)> {
        if !Self::on_default_bridge(rec) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (l, child) in self.children(rec) {
            if !child.state.running {
                continue;
            }
            let name = child.name.trim_start_matches('/');
            let mut names = format!("{} {}", l.alias, Self::hostname_of(&child));
            if l.alias != name {
                names = format!("{names} {name}");
            }
            for ip in self.bridge_addrs(&child.id).await {
                out.push((names.clone(), ip));
            }
        }
        out
    }

    /// After a container got its addresses: rewrites `/etc/hosts` of the running
    /// containers that link to it (Docker's parent update), so they see its new address.
    pub async fn refresh_parents(&self, child: &ContainerRecord) {
        for parent in self.containers.list() {
            if parent.id == child.id
                || !parent.state.running
                || !parent.links.iter().any(|l| l.child == child.id)
            {
                continue;
            }
            self.refresh_hosts(&parent).await;
        }
    }

    /// Rewrites a running container's `/etc/hosts` (its links changed).
    pub async fn refresh_hosts(&self, rec: &ContainerRecord) {
        let (endpoints, _) = self.attached(&rec.id);
        if !endpoints.is_empty() {
            let _ = self.write_hosts(rec, &endpoints).await;
        }
    }

    /// The container's link aliases on its user networks (`EndpointSettings.Links`).
    pub fn dns_links(&self, rec: &ContainerRecord) -> Vec<DnsLink> {
        let mut out = Vec::new();
        for (key, es) in &rec.endpoints_config {
            let Ok(net) = self.resolve(key) else { continue };
            if net.driver != "bridge" || net.name == BRIDGE {
                continue;
            }
            for l in es.links.iter().flatten() {
                if let Ok((target, alias)) = parse_link(l) {
                    out.push(DnsLink {
                        network: net.id.clone(),
                        alias,
                        target,
                    });
                }
            }
        }
        out
    }

    /// Points the container's embedded DNS (if it has one) at its current link aliases.
    pub(super) fn update_dns_links(&self, rec: &ContainerRecord) {
        let links = self.dns_links(rec);
        self.with_attached(|m| {
            if let Some(dns) = m.get(&rec.id).and_then(|a| a.dns.as_ref()) {
                dns.set_links(links);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_links_as_docker() {
        assert_eq!(parse_link("web").unwrap(), ("web".into(), "web".into()));
        assert_eq!(parse_link("web:db").unwrap(), ("web".into(), "db".into()));
        assert_eq!(
            parse_link("/web:/app/db").unwrap(),
            ("web".into(), "db".into())
        );
        assert_eq!(
            parse_link("a:b:c").unwrap_err().to_string(),
            "bad format for links: a:b:c"
        );
        assert_eq!(
            parse_link("").unwrap_err().to_string(),
            "empty string specified for links"
        );
    }

    #[test]
    fn env_of_a_link_as_docker_20_10() {
        let env = link_env(
            "/app/db-1",
            "10.0.0.2",
            &s(&["FOO=bar", "PATH=/bin", "HOME=/", "A=x=y", "NOVALUE"]),
            &s(&["80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"]),
        );
        let mut sorted = env.clone();
        sorted.sort();
        let want = s(&[
            "DB_1_ENV_A=x=y",
            "DB_1_ENV_FOO=bar",
            "DB_1_NAME=/app/db-1",
            "DB_1_PORT=udp://10.0.0.2:53",
            "DB_1_PORT_53_UDP=udp://10.0.0.2:53",
            "DB_1_PORT_53_UDP_ADDR=10.0.0.2",
            "DB_1_PORT_53_UDP_PORT=53",
            "DB_1_PORT_53_UDP_PROTO=udp",
            "DB_1_PORT_8000_TCP=tcp://10.0.0.2:8000",
            "DB_1_PORT_8000_TCP_ADDR=10.0.0.2",
            "DB_1_PORT_8000_TCP_ADDR=10.0.0.2",
            "DB_1_PORT_8000_TCP_END=tcp://10.0.0.2:8002",
            "DB_1_PORT_8000_TCP_PORT=8000",
            "DB_1_PORT_8000_TCP_PORT_END=8002",
            "DB_1_PORT_8000_TCP_PORT_START=8000",
            "DB_1_PORT_8000_TCP_PROTO=tcp",
            "DB_1_PORT_8000_TCP_PROTO=tcp",
            "DB_1_PORT_8000_TCP_START=tcp://10.0.0.2:8000",
            "DB_1_PORT_8001_TCP=tcp://10.0.0.2:8001",
            "DB_1_PORT_8001_TCP_ADDR=10.0.0.2",
            "DB_1_PORT_8001_TCP_PORT=8001",
            "DB_1_PORT_8001_TCP_PROTO=tcp",
            "DB_1_PORT_8002_TCP=tcp://10.0.0.2:8002",
            "DB_1_PORT_8002_TCP_ADDR=10.0.0.2",
            "DB_1_PORT_8002_TCP_PORT=8002",
            "DB_1_PORT_8002_TCP_PROTO=tcp",
            "DB_1_PORT_80_TCP=tcp://10.0.0.2:80",
            "DB_1_PORT_80_TCP_ADDR=10.0.0.2",
            "DB_1_PORT_80_TCP_PORT=80",
            "DB_1_PORT_80_TCP_PROTO=tcp",
        ]);
        assert_eq!(sorted, want);
        // Duplicates collapse where they are merged into the process environment.
        let mut merged = Vec::new();
        replace_or_append(&mut merged, env);
        replace_or_append(&mut merged, s(&["DB_1_NAME=mine"]));
        assert_eq!(merged.len(), want.len() - 2);
        assert!(merged.contains(&"DB_1_NAME=mine".to_string()));
        assert_eq!(
            link_env("/a/web", "10.0.0.3", &[], &[]),
            s(&["WEB_NAME=/a/web"])
        );
    }
}
