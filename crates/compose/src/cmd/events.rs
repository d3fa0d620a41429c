//! `events [--json] [SERVICE…]`: the daemon's container events for the project's containers
//! (`GET /events` filtered by the project label), one line each as Compose v2 prints them.

use berth_cli_format::events::Message;
use berth_client::transport::{query, BodyLines};
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

/// One event as Compose sees it: a container event of the project, without the
/// `com.docker.compose.*` attributes, printed with the docker CLI's shared formatting.
#[derive(Debug, PartialEq)]
pub struct Event {
    /// The message (attributes filtered).
    pub message: Message,
    /// The service label.
    pub service: String,
}

impl Event {
    /// From a `/events` message; None for anything but a container event.
    pub fn from_message(v: &Value) -> Option<Event> {
        let mut message = Message::from_value(v);
        if message.kind != "container" {
            return None;
        }
        let service = message.attributes.get(SERVICE).cloned().unwrap_or_default();
        message
            .attributes
            .retain(|k, _| !k.starts_with("com.docker.compose."));
        Some(Event { message, service })
    }

    /// Compose v2's text line, in local time: `2006-01-02 15:04:05.000000 container
    /// <action> <id> (k=v, …)`.
    pub fn line(&self) -> String {
        self.message.compose_line()
    }

    /// Compose v2's `--json` object (keys in Go's sorted map order, Go's escaping, the time
    /// in local time as Go's JSON writes it).
    pub fn json(&self) -> String {
        let m = &self.message;
        let v = json!({
            "action": m.action,
            "attributes": m.attributes,
            "id": m.id,
            "service": self.service,
            "time": m.json_time(),
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
    let mut lines = BodyLines::new(resp.into_body());
    while let Some(line) = lines.next_line().await? {
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
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
        // in local time: this test runs with the process's zone, so compare with it
        let off = berth_cli_format::local_time::offset_at(1_733_400_000);
        let local = berth_cli_format::local_time::format_with_offset(
            1_733_400_000_123_456_789,
            off,
            berth_cli_format::local_time::Layout::SpacedMicros,
        );
        assert_eq!(
            e.line(),
            format!("{local} container start abc (image=busybox, name=p-web-1)\n")
        );
        assert_eq!(
            e.json(),
            format!(
                r#"{{"action":"start","attributes":{{"image":"busybox","name":"p-web-1"}},"id":"abc","service":"web","time":"{}","type":"container"}}"#,
                berth_cli_format::local_time::format_with_offset(
                    1_733_400_000_123_456_789,
                    off,
                    berth_cli_format::local_time::Layout::Rfc3339Nano
                )
            )
        );
        assert!(Event::from_message(&json!({"Type": "network"})).is_none());
    }
}
