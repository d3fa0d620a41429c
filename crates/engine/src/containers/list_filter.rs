//! The filters of `GET /containers/json` (`docker ps --filter`), with dockerd's semantics:
//! `name` is a regular expression over the name with and without its slash (an exact value
//! also matches), `id` an ID prefix, `before`/`since` name a container and cut the
//! newest-first list around it, `publish`/`expose` take a port or a port range with an
//! optional protocol and look at the listed ports (public and private), `network` a network
//! name or ID prefix. Values that cannot be valid are refused with dockerd's errors.

use std::collections::{BTreeMap, BTreeSet};

use berth_api_types::ContainerSummary;
use regex::Regex;

use crate::error::{EngineError, ErrorKind, Result};
use crate::record::ContainerRecord;

/// The filter keys `docker ps` accepts.
const KEYS: &[&str] = &[
    "status", "name", "id", "label", "ancestor", "exited", "before", "since", "is-task", "health",
    "network", "volume", "publish", "expose",
];

/// Container states a `status` filter may name.
const STATES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// Health states a `health` filter may name.
const HEALTH: &[&str] = &["starting", "healthy", "unhealthy", "none"];

/// Where a container stands relative to the `before`/`since` cut of a newest-first list.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Cut {
    /// Listed if the other filters match.
    Keep,
    /// Not listed.
    Skip,
    /// Not listed, and neither is any older container.
    Stop,
}

/// The parsed filters that need more than a string comparison.
#[derive(Debug, Default)]
pub(super) struct ListFilter {
    names: Option<Vec<Pattern>>,
    ids: Option<Vec<String>>,
    publish: Option<BTreeSet<String>>,
    expose: Option<BTreeSet<String>>,
    networks: Option<Vec<String>>,
    is_task: Option<bool>,
    /// The `before` container's ID, until the list reaches it.
    before: Option<String>,
    /// The `since` container's ID.
    since: Option<String>,
}

/// A filter value: matched exactly, or as an unanchored regular expression.
#[derive(Debug)]
struct Pattern {
    text: String,
    regex: Option<Regex>,
}

impl Pattern {
    fn new(text: &str) -> Self {
        Pattern {
            text: text.to_string(),
            // dockerd skips a value that is not a valid expression (it can still match exactly).
            regex: Regex::new(text).ok(),
        }
    }

    fn matches(&self, source: &str) -> bool {
        self.text == source || self.regex.as_ref().is_some_and(|r| r.is_match(source))
    }
}

fn invalid(key: &str, value: &str) -> EngineError {
    EngineError::invalid(format!("invalid filter '{key}={value}'"))
}

/// A `publish`/`expose` value as the set of `port/proto` keys it names (`80`, `80/udp`,
/// `8000-8002/tcp`).
fn port_keys(key: &str, value: &str) -> Result<BTreeSet<String>> {
    if value.contains(':') {
        return Err(EngineError::invalid(format!(
            "filter for '{key}' should not contain ':': {value}"
        )));
    }
    let (ports, proto) = value.split_once('/').unwrap_or((value, "tcp"));
    let proto = if proto.is_empty() { "tcp" } else { proto };
    let bad = || {
        EngineError::invalid(format!(
            "error while looking up for {key} {value}: invalid port range: {ports}"
        ))
    };
    let parse = |s: &str| s.parse::<u16>().map_err(|_| bad());
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let p = parse(ports)?;
            (p, p)
        }
    };
    if end < start {
        return Err(bad());
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

impl ListFilter {
    /// Checks the keys and values of `filters`; `lookup` finds the containers `before` and
    /// `since` name (its error, e.g. "No such container", is returned as is).
    pub(super) fn parse(
        filters: &BTreeMap<String, Vec<String>>,
        lookup: impl Fn(&str) -> Result<ContainerRecord>,
    ) -> Result<Self> {
        for key in filters.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(EngineError::invalid(format!("invalid filter '{key}'")));
            }
        }
        let values = |key: &str| filters.get(key).filter(|v| !v.is_empty());
        if let Some(bad) = values("status")
            .into_iter()
            .flatten()
            .find(|v| !STATES.contains(&v.as_str()))
        {
            return Err(invalid("status", bad));
        }
        if let Some(bad) = values("health")
            .into_iter()
            .flatten()
            .find(|v| !HEALTH.contains(&v.as_str()))
        {
            return Err(EngineError::invalid(format!(
                "Unrecognised filter value for health: {bad}"
            )));
        }
        let mut f = ListFilter {
            names: values("name").map(|vs| vs.iter().map(|v| Pattern::new(v)).collect()),
            ids: values("id").cloned(),
            networks: values("network").cloned(),
            ..Default::default()
        };
        for (key, slot) in [("publish", &mut f.publish), ("expose", &mut f.expose)] {
            if let Some(vs) = values(key) {
                let mut set = BTreeSet::new();
                for v in vs {
                    set.extend(port_keys(key, v)?);
                }
                *slot = Some(set);
            }
        }
        if let Some(vs) = values("is-task") {
            let has = |want: &str| vs.iter().any(|v| v == want);
            f.is_task = Some(if has("true") {
                true
            } else if has("false") {
                false
            } else {
                // dockerd prints the values as Go prints a slice.
                return Err(invalid("is-task", &format!("[{}]", vs.join(" "))));
            });
        }
        // dockerd's text for a container these name that does not exist.
        let find = |v: &str| {
            lookup(v).map(|r| r.id).map_err(|e| match e.kind() {
                ErrorKind::NotFound => EngineError::not_found(format!("no such container {v}")),
                _ => e,
            })
        };
        for v in values("before").into_iter().flatten() {
            f.before = Some(find(v)?);
        }
        for v in values("since").into_iter().flatten() {
            f.since = Some(find(v)?);
        }
        Ok(f)
    }

    /// The `before`/`since` verdict for the next container of the newest-first list.
    pub(super) fn cut(&mut self, id: &str) -> Cut {
        if let Some(before) = &self.before {
            if before == id {
                self.before = None;
            }
            return Cut::Skip;
        }
        if self.since.as_deref() == Some(id) {
            return Cut::Stop;
        }
        Cut::Keep
    }

    /// The filters a record alone decides: name, id, is-task.
    pub(super) fn matches_record(&self, rec: &ContainerRecord) -> bool {
        let name = rec.name.as_str();
        let short = name.trim_start_matches('/');
        let slashed = format!("/{short}");
        let any = |ps: &Option<Vec<Pattern>>, sources: &[&str]| {
            ps.as_ref()
                .is_none_or(|ps| ps.iter().any(|p| sources.iter().any(|s| p.matches(s))))
        };
        // berth runs no swarm: no container is a task.
        let is_task_ok = self.is_task != Some(true);
        any(&self.names, &[&slashed, short])
            && self
                .ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|i| rec.id.starts_with(i.as_str())))
            && is_task_ok
    }

    /// The filters decided on the listed form: `network` (a network's name, or a prefix of
    /// its ID) and `publish`/`expose` (one listed port whose public, resp. private, side is
    /// named by either filter).
    pub(super) fn matches_summary(&self, summary: &ContainerSummary) -> bool {
        let nets = &summary.network_settings.networks;
        let on_network = self.networks.as_ref().is_none_or(|wanted| {
            wanted.iter().any(|w| {
                nets.contains_key(w)
                    || nets.values().any(|ep| {
                        !ep.network_id.is_empty() && ep.network_id.starts_with(w.as_str())
                    })
            })
        });
        let ports_ok = (self.publish.is_none() && self.expose.is_none())
            || summary.ports.iter().any(|p| {
                let public = format!("{}/{}", p.public_port, p.kind);
                let private = format!("{}/{}", p.private_port, p.kind);
                self.publish.as_ref().is_some_and(|s| s.contains(&public))
                    || self.expose.as_ref().is_some_and(|s| s.contains(&private))
            });
        on_network && ports_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        m
    }

    fn rec(id: &str, name: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: format!("/{name}"),
            ..Default::default()
        }
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<ListFilter> {
        ListFilter::parse(&filters(pairs), |r| {
            if r == "missing" {
                Err(EngineError::not_found(format!("No such container: {r}")))
            } else {
                Ok(rec(&format!("{r}-id"), r))
            }
        })
    }

    #[test]
    fn name_is_a_regex_over_the_name_with_and_without_its_slash() {
        let r = rec("abc", "web-1");
        for (pat, want) in [
            ("web", true),
            ("^web-1$", true),
            ("^/web-1$", true),
            ("b-", true),
            ("^eb", false),
            ("db", false),
            ("web-[0-9]+", true),
            ("(", false),
        ] {
            let f = parse(&[("name", pat)]).unwrap();
            assert_eq!(f.matches_record(&r), want, "{pat}");
        }
        let f = parse(&[("name", "db"), ("name", "web")]).unwrap();
        assert!(f.matches_record(&r));
    }

    #[test]
    fn id_is_a_prefix() {
        let r = rec("0123abcd", "x");
        assert!(parse(&[("id", "0123")]).unwrap().matches_record(&r));
        assert!(parse(&[("id", "0123abcd")]).unwrap().matches_record(&r));
        assert!(!parse(&[("id", "123")]).unwrap().matches_record(&r));
    }

    #[test]
    fn unknown_keys_and_impossible_values_are_refused() {
        let msg = |pairs: &[(&str, &str)]| parse(pairs).unwrap_err().to_string();
        assert!(msg(&[("colour", "red")]).contains("invalid filter 'colour'"));
        assert!(msg(&[("status", "sleeping")]).contains("invalid filter 'status=sleeping'"));
        assert!(msg(&[("health", "ok")]).contains("Unrecognised filter value for health: ok"));
        assert!(msg(&[("is-task", "yes")]).contains("invalid filter 'is-task=[yes]'"));
        assert!(msg(&[("publish", "8080:80")]).contains("should not contain ':'"));
        assert!(msg(&[("expose", "http")]).contains("invalid port range"));
        assert!(msg(&[("before", "missing")]).contains("no such container missing"));
    }

    #[test]
    fn ports_and_ranges_default_to_tcp() {
        assert_eq!(
            port_keys("publish", "80").unwrap(),
            BTreeSet::from(["80/tcp".to_string()])
        );
        assert_eq!(
            port_keys("expose", "53/udp").unwrap(),
            BTreeSet::from(["53/udp".to_string()])
        );
        assert_eq!(port_keys("expose", "8000-8002/tcp").unwrap().len(), 3);
        assert!(port_keys("expose", "9-3").is_err());
    }

    #[test]
    fn publish_looks_at_public_ports_and_expose_at_private_ones() {
        let s = ContainerSummary {
            ports: vec![
                berth_api_types::Port {
                    private_port: 80,
                    public_port: 32768,
                    kind: "tcp".into(),
                    ..Default::default()
                },
                berth_api_types::Port {
                    private_port: 53,
                    kind: "udp".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let m = |pairs: &[(&str, &str)]| parse(pairs).unwrap().matches_summary(&s);
        assert!(m(&[("publish", "32768")]));
        assert!(m(&[("publish", "32760-32770/tcp")]));
        assert!(!m(&[("publish", "80")]));
        assert!(m(&[("expose", "80")]));
        assert!(m(&[("expose", "53/udp")]));
        assert!(!m(&[("expose", "53")]));
        assert!(m(&[("expose", "53"), ("publish", "32768")]));
        assert!(m(&[]));
        assert!(!parse(&[("expose", "1")])
            .unwrap()
            .matches_summary(&ContainerSummary::default()));
    }

    #[test]
    fn is_task_true_lists_nothing_on_a_daemon_without_swarm() {
        let r = rec("a", "a");
        assert!(!parse(&[("is-task", "true")]).unwrap().matches_record(&r));
        assert!(parse(&[("is-task", "false")]).unwrap().matches_record(&r));
    }

    #[test]
    fn before_skips_up_to_its_container_and_since_stops_there() {
        // Newest first: c, b, a.
        let mut f = parse(&[("before", "b")]).unwrap();
        let got: Vec<Cut> = ["c-id", "b-id", "a-id"]
            .iter()
            .map(|id| f.cut(id))
            .collect();
        assert_eq!(got, [Cut::Skip, Cut::Skip, Cut::Keep]);
        let mut f = parse(&[("since", "b")]).unwrap();
        assert_eq!(f.cut("c-id"), Cut::Keep);
        assert_eq!(f.cut("b-id"), Cut::Stop);
    }

    #[test]
    fn network_matches_a_name_or_an_id_prefix() {
        let mut s = ContainerSummary::default();
        s.network_settings.networks.insert(
            "front".into(),
            berth_api_types::EndpointSettings {
                network_id: "f00dcafe".into(),
                ..Default::default()
            },
        );
        let m = |v: &str| parse(&[("network", v)]).unwrap().matches_summary(&s);
        assert!(m("front"));
        assert!(m("f00d"));
        assert!(!m("fro"));
        assert!(!m("back"));
    }
}
