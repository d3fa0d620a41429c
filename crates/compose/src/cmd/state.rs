//! What exists on the daemon for a project: its containers (by service and number), and the
//! order services go in (the dependency graph, level by level).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::file::model::Project;

use super::labels::*;

/// One container of the project, from `GET /containers/json`.
#[derive(Debug, Clone)]
pub struct Container {
    /// Id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Its service label.
    pub service: String,
    /// Its number label.
    pub number: u32,
    /// `running`, `exited`, `created`, `paused`, …
    pub state: String,
    /// The `Status` text (`Up 3 seconds (healthy)`).
    pub status: String,
    /// The config-hash label.
    pub hash: String,
    /// The image as given at create.
    pub image: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The raw summary.
    pub raw: Value,
}

impl Container {
    /// From a `/containers/json` entry.
    pub fn from_summary(v: &Value) -> Container {
        let labels: BTreeMap<String, String> = v
            .get("Labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Container {
            id: s("Id"),
            name: v
                .get("Names")
                .and_then(|n| n.get(0))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            service: labels.get(SERVICE).cloned().unwrap_or_default(),
            number: labels.get(NUMBER).and_then(|n| n.parse().ok()).unwrap_or(0),
            state: s("State"),
            status: s("Status"),
            hash: labels.get(CONFIG_HASH).cloned().unwrap_or_default(),
            image: s("Image"),
            labels,
            raw: v.clone(),
        }
    }

    /// True when running (or paused, or restarting).
    pub fn is_running(&self) -> bool {
        matches!(self.state.as_str(), "running" | "paused" | "restarting")
    }
}

/// Services in dependency order, grouped in levels whose members can go in parallel
/// (each level depends only on earlier ones). `reverse` gives the order for stopping.
pub fn levels(p: &Project, only: &BTreeSet<String>, reverse: bool) -> Vec<Vec<String>> {
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    let wanted: Vec<&String> = p.services.keys().filter(|s| only.contains(*s)).collect();
    while placed.len() < wanted.len() {
        let level: Vec<String> = wanted
            .iter()
            .filter(|s| !placed.contains(**s))
            .filter(|s| {
                p.services[**s]
                    .depends_on
                    .keys()
                    .all(|d| placed.contains(d) || !only.contains(d))
            })
            .map(|s| s.to_string())
            .collect();
        if level.is_empty() {
            break; // a cycle: the loader refuses those
        }
        placed.extend(level.iter().cloned());
        out.push(level);
    }
    if reverse {
        out.reverse();
    }
    out
}

/// The services whose containers `svc` names when it is created: `network_mode`, `ipc` and
/// `pid` of `service:x`, `volumes_from` and `links`. Those containers must exist first.
pub fn container_references(svc: &crate::file::model::Service) -> BTreeSet<&str> {
    let modes = [&svc.network_mode, &svc.ipc, &svc.pid];
    modes
        .into_iter()
        .filter_map(|m| m.strip_prefix("service:"))
        .chain(
            svc.volumes_from
                .iter()
                .filter(|v| !v.starts_with("container:"))
                .map(|v| v.split(':').next().unwrap_or(v)),
        )
        .chain(svc.links.iter().map(|l| l.split(':').next().unwrap_or(l)))
        .collect()
}

/// `names` and everything they depend on (transitively), or all services when empty.
pub fn with_dependencies(p: &Project, names: &[String], deps: bool) -> BTreeSet<String> {
    if names.is_empty() {
        return p.services.keys().cloned().collect();
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(n) = todo.pop() {
        if !out.insert(n.clone()) || !deps {
            continue;
        }
        if let Some(s) = p.services.get(&n) {
            todo.extend(
                s.depends_on
                    .keys()
                    .filter(|d| p.services.contains_key(*d))
                    .cloned(),
            );
        }
    }
    out
}

/// The number of containers a service wants (`--scale`, `scale`, `deploy.replicas`, 1).
pub fn replicas(p: &Project, service: &str, overrides: &BTreeMap<String, u32>) -> u32 {
    if let Some(n) = overrides.get(service) {
        return *n;
    }
    let s = &p.services[service];
    let n = s
        .scale
        .or(s.deploy.as_ref().and_then(|d| d.replicas))
        .unwrap_or(1);
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::container_references;
    use crate::file::model::Service;

    #[test]
    fn a_service_names_the_containers_it_shares_with_or_links_to() {
        let svc = Service {
            network_mode: "service:db".into(),
            ipc: "service:shm".into(),
            pid: "host".into(),
            volumes_from: vec!["data:ro".into(), "container:other".into()],
            links: vec!["cache:c".into(), "queue".into()],
            ..Default::default()
        };
        let refs: Vec<&str> = container_references(&svc).into_iter().collect();
        assert_eq!(refs, ["cache", "data", "db", "queue", "shm"]);
        assert!(container_references(&Service::default()).is_empty());
    }
}
