//! `events [--json] [SERVICE…]`: the daemon's container events for the project's containers
//! (`GET /events` filtered by the project label), one line each as Compose v2 prints them.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use berth_client::transport::{next_chunk, query};
use berth_units::{SubSeconds, Timestamp};
use hyper::Method;
use serde_json::{json, Value};

use super::labels::{PROJECT, SERVICE};
use super::runner::Runner;
use super::Failure;

/// `events` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    /// Output events as a stream of json objects
    #[arg(long)]
    pub json: bool,
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Services
    pub services: Vec<String>,
}

/// One event as Compose sees it.
#[derive(Debug, PartialEq)]
pub struct Event {
    /// Nanoseconds since the epoch.
    pub time_nano: i64,
    /// The service label.
    pub service: String,
    /// The container id.
    pub id: String,
    /// The action (`start`, `die`, `exec_start: sh`, …).
    pub action: String,
    /// The actor's attributes without the `com.docker.compose.*` ones.
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// From a `/events` message; None for anything but a container event.
    pub fn from_message(v: &Value) -> Option<Event> {
        if v.get("Type").and_then(Value::as_str) != Some("container") {
            return None;
        }
        let attrs = v.pointer("/Actor/Attributes").and_then(Value::as_object);
        let attr = |k: &str| {
            attrs
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let time_nano = match v.get("timeNano").and_then(Value::as_i64) {
            Some(n) if n != 0 => n,
            _ => v.get("time").and_then(Value::as_i64).unwrap_or(0) * 1_000_000_000,
        };
        Some(Event {
            time_nano,
            service: attr(SERVICE),
            id: v
                .pointer("/Actor/ID")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            action: v
                .get("Action")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            attributes: attrs
                .map(|a| {
                    a.iter()
                        .filter(|(k, _)| !k.starts_with("com.docker.compose."))
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    fn timestamp(&self) -> Timestamp {
        let t = UNIX_EPOCH + Duration::from_nanos(self.time_nano.max(0) as u64);
        Timestamp::from_system_time(t)
    }

    /// Compose v2's text line: `2006-01-02 15:04:05.000000 container <action> <id> (k=v, …)`
    /// (attributes sorted; Go prints them in map order).
    pub fn line(&self) -> String {
        let rfc = self.timestamp().to_rfc3339(SubSeconds::Nanos);
        // 2006-01-02T15:04:05.000000000Z → 2006-01-02 15:04:05.000000
        let t = format!("{} {}", &rfc[..10], &rfc[11..26]);
        let attrs: Vec<String> = self
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{t} container {} {} ({})\n",
            self.action,
            self.id,
            attrs.join(", ")
        )
    }

    /// Compose v2's `--json` object (keys in Go's sorted map order, Go's escaping).
    pub fn json(&self) -> String {
        let v = json!({
            "action": self.action,
            "attributes": self.attributes,
            "id": self.id,
            "service": self.service,
            "time": self.timestamp().to_rfc3339(SubSeconds::Trimmed),
            "type": "container",
        });
        crate::file::output::go_json(&v)
    }
}

/// `events`: follows the daemon's events until it closes the stream (or `--until`).
pub async fn events(r: &Runner, a: &EventsArgs) -> Result<i32, Failure> {
    let filters = json!({ "label": [format!("{PROJECT}={}", r.name())] }).to_string();
    let mut q = vec![("filters", filters)];
    if let Some(s) = &a.since {
        q.push(("since", s.clone()));
    }
    if let Some(u) = &a.until {
        q.push(("until", u.clone()));
    }
    let resp = r
        .api
        .client
        .request(
            Method::GET,
            &format!("/events{}", query(&q)),
            None,
            false,
            &[],
        )
        .await?;
    let mut body = resp.into_body();
    let mut pending = Vec::new();
    while let Some(chunk) = next_chunk(&mut body).await? {
        pending.extend_from_slice(&chunk);
        while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            let Ok(v) = serde_json::from_slice::<Value>(line.trim_ascii()) else {
                continue;
            };
            let Some(e) = Event::from_message(&v) else {
                continue;
            };
            if !a.services.is_empty() && !a.services.contains(&e.service) {
                continue;
            }
            if a.json {
                super::print(&format!("{}\n", e.json()));
            } else {
                // Compose prints the event's String(), which ends in a newline, with Println
                super::print(&format!("{}\n", e.line()));
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_as_compose_prints_them() {
        let msg = json!({
            "Type": "container", "Action": "start", "time": 1733400000,
            "timeNano": 1_733_400_000_123_456_789i64,
            "Actor": {"ID": "abc", "Attributes": {
                "com.docker.compose.service": "web", "com.docker.compose.project": "p",
                "name": "p-web-1", "image": "busybox"}}
        });
        let e = Event::from_message(&msg).expect("container event");
        assert_eq!(e.service, "web");
        assert_eq!(
            e.line(),
            "2024-12-05 12:00:00.123456 container start abc (image=busybox, name=p-web-1)\n"
        );
        assert_eq!(
            e.json(),
            r#"{"action":"start","attributes":{"image":"busybox","name":"p-web-1"},"id":"abc","service":"web","time":"2024-12-05T12:00:00.123456789Z","type":"container"}"#
        );
        assert!(Event::from_message(&json!({"Type": "network"})).is_none());
    }
}
