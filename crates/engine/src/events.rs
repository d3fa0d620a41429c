//! The event bus behind `GET /events`: a broadcast channel plus a short replay buffer, with
//! Docker's filters (type, event, container, image, label, volume, network, daemon).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use berth_api_types::{EventActor, EventMessage, Filters};
use tokio::sync::broadcast;

use crate::record::ContainerRecord;

const REPLAY: usize = 1024;

/// Publishes events to subscribers and keeps the last ones for `since`.
#[derive(Debug)]
pub struct EventBus {
    tx: broadcast::Sender<EventMessage>,
    recent: Mutex<VecDeque<EventMessage>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(1024).0,
            recent: Mutex::new(VecDeque::new()),
        }
    }
}

impl EventBus {
    /// Publishes one event (time filled in).
    pub fn publish(&self, mut ev: EventMessage) {
        if ev.time_nano == 0 {
            let now = berth_units::Timestamp::now();
            ev.time = now.secs;
            ev.time_nano = now.unix_nano();
        }
        if ev.scope.is_empty() {
            ev.scope = "local".into();
        }
        if ev.kind == "container" || ev.kind == "image" {
            ev.status.get_or_insert_with(|| ev.action.clone());
            ev.id.get_or_insert_with(|| ev.actor.id.clone());
        }
        {
            let mut r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if r.len() >= REPLAY {
                r.pop_front();
            }
            r.push_back(ev.clone());
        }
        let _ = self.tx.send(ev);
    }

    /// A container event about `rec`: its image as the user named it, its labels, `extra`.
    pub fn for_container(&self, action: &str, rec: &ContainerRecord, extra: &[(&str, String)]) {
        let image = if rec.config.image.is_empty() {
            rec.image.clone()
        } else {
            rec.config.image.clone()
        };
        self.container(
            action,
            &rec.id,
            &rec.name,
            &image,
            extra,
            &rec.config.labels.clone().unwrap_or_default(),
        );
    }

    /// A container event with the usual attributes.
    pub fn container(
        &self,
        action: &str,
        id: &str,
        name: &str,
        image: &str,
        extra: &[(&str, String)],
        labels: &BTreeMap<String, String>,
    ) {
        let mut attributes = labels.clone();
        attributes.insert("name".into(), name.trim_start_matches('/').to_string());
        attributes.insert("image".into(), image.to_string());
        for (k, v) in extra {
            attributes.insert(k.to_string(), v.clone());
        }
        self.publish(EventMessage {
            from: Some(image.to_string()),
            kind: "container".into(),
            action: action.into(),
            actor: EventActor {
                id: id.into(),
                attributes,
            },
            ..Default::default()
        });
    }

    /// Subscribes, returning the replayed events newer than `since_nanos` first.
    pub fn subscribe(
        &self,
        since_nanos: Option<i128>,
    ) -> (Vec<EventMessage>, broadcast::Receiver<EventMessage>) {
        let r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        let replay = match since_nanos {
            Some(s) => r
                .iter()
                .filter(|e| i128::from(e.time_nano) >= s)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        (replay, rx)
    }
}

/// True when `ev` passes Docker's event filters.
pub fn matches(filters: &Filters, ev: &EventMessage) -> bool {
    for (key, values) in &filters.0 {
        if values.is_empty() {
            continue;
        }
        let name = ev.actor.attributes.get("name").cloned().unwrap_or_default();
        let ok = match key.as_str() {
            "type" => values.contains(&ev.kind),
            "event" => values
                .iter()
                .any(|v| *v == ev.action || ev.action.split(':').next() == Some(v.as_str())),
            "container" => {
                ev.kind == "container"
                    && values
                        .iter()
                        .any(|v| *v == name || ev.actor.id.starts_with(v.as_str()))
            }
            "image" => values.iter().any(|v| {
                ev.actor.attributes.get("image") == Some(v)
                    || (ev.kind == "image" && (ev.actor.id == *v || name == *v))
            }),
            "label" => berth_api_types::labels_match(&ev.actor.attributes, values),
            // Docker's `fuzzyMatchName`: a prefix of the actor's id or name, whatever the
            // event's type.
            "network" => values
                .iter()
                .any(|v| ev.actor.id.starts_with(v.as_str()) || name.starts_with(v.as_str())),
            "volume" | "daemon" | "plugin" | "node" | "service" | "secret" | "config" => {
                ev.kind == *key && values.iter().any(|v| *v == ev.actor.id || *v == name)
            }
            "scope" => values.contains(&ev.scope),
            _ => true,
        };
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_type_event_and_container_name() {
        let bus = EventBus::default();
        let (_, mut rx) = bus.subscribe(None);
        bus.container("start", "abc123", "/web", "busybox", &[], &BTreeMap::new());
        let ev = rx.try_recv().unwrap();
        let f = |k: &str, v: &str| Filters(BTreeMap::from([(k.to_string(), vec![v.to_string()])]));
        assert!(matches(&f("type", "container"), &ev));
        assert!(!matches(&f("type", "image"), &ev));
        assert!(matches(&f("event", "start"), &ev));
        assert!(!matches(&f("event", "die"), &ev));
        assert!(matches(&f("container", "web"), &ev));
        assert!(matches(&f("container", "abc"), &ev));
        assert!(!matches(&f("container", "db"), &ev));
        assert_eq!(ev.status.as_deref(), Some("start"));
        let (replay, _) = bus.subscribe(Some(0));
        assert_eq!(replay.len(), 1);
    }

    #[test]
    fn network_filter_matches_a_prefix_of_id_or_name() {
        let ev = EventMessage {
            kind: "network".into(),
            action: "connect".into(),
            actor: EventActor {
                id: "0123456789abcdef".into(),
                attributes: BTreeMap::from([
                    ("name".to_string(), "backend".to_string()),
                    ("type".to_string(), "bridge".to_string()),
                    ("container".to_string(), "c0ffee".to_string()),
                ]),
            },
            ..Default::default()
        };
        let f = |k: &str, v: &str| Filters(BTreeMap::from([(k.to_string(), vec![v.to_string()])]));
        for v in ["backend", "back", "0123456789abcdef", "0123"] {
            assert!(matches(&f("network", v), &ev), "{v}");
        }
        for v in ["frontend", "end", "abcdef"] {
            assert!(!matches(&f("network", v), &ev), "{v}");
        }
        assert!(matches(&f("type", "network"), &ev));
        assert!(!matches(&f("type", "container"), &ev));
        // Docker's `container` filter looks at the actor, not the attribute.
        assert!(!matches(&f("container", "c0ffee"), &ev));
    }
}
