//! `/events` messages printed as the docker CLI's `events` (`prettyPrintEvent`) and
//! Compose v2's `events` (`api.Event.String`) print them: both in local time, attributes
//! sorted by key (Compose prints Go's map order, which is random; sorted is one of them).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::local_time::{self, Layout};

/// One `/events` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Nanoseconds since the epoch (`timeNano`, else `time`).
    pub time_nanos: i64,
    /// `Type` (`container`, `network`, …).
    pub kind: String,
    /// `Action` (`start`, `exec_start: sh`, …).
    pub action: String,
    /// `Actor.ID`.
    pub id: String,
    /// `Actor.Attributes`.
    pub attributes: BTreeMap<String, String>,
}

impl Message {
    /// Reads a message as the API sends it.
    pub fn from_value(v: &Value) -> Message {
        let s = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let time_nanos = match v.get("timeNano").and_then(Value::as_i64) {
            Some(n) if n != 0 => n,
            _ => v
                .get("time")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .saturating_mul(1_000_000_000),
        };
        Message {
            time_nanos,
            kind: s("/Type"),
            action: s("/Action"),
            id: s("/Actor/ID"),
            attributes: v
                .pointer("/Actor/Attributes")
                .and_then(Value::as_object)
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn attribute_list(&self) -> String {
        self.attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The docker CLI's line: `2006-01-02T15:04:05.000000000Z07:00 <type> <action> <id>
    /// (k=v, …)`, the attributes only when there are some.
    pub fn docker_line(&self) -> String {
        let t = local_time::format(self.time_nanos, Layout::Rfc3339NanoFixed);
        let mut line = format!("{t} {} {} {}", self.kind, self.action, self.id);
        if !self.attributes.is_empty() {
            line.push_str(&format!(" ({})", self.attribute_list()));
        }
        line
    }

    /// Compose's line: `2006-01-02 15:04:05.000000 container <action> <id> (k=v, …)` and a
    /// newline (Compose then prints it with `Println`, so a blank line follows).
    pub fn compose_line(&self) -> String {
        let t = local_time::format(self.time_nanos, Layout::SpacedMicros);
        format!(
            "{t} container {} {} ({})\n",
            self.action,
            self.id,
            self.attribute_list()
        )
    }

    /// The time as Go's JSON writes a `time.Time` (RFC 3339, trimmed nanoseconds, local
    /// offset), for Compose's `--json`.
    pub fn json_time(&self) -> String {
        local_time::format(self.time_nanos, Layout::Rfc3339Nano)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_prints() {
        let m = Message::from_value(&json!({
            "Type": "container", "Action": "start", "time": 1733400000,
            "timeNano": 1_733_400_000_123_456_789i64,
            "Actor": {"ID": "abc", "Attributes": {"name": "p-web-1", "image": "busybox"}}
        }));
        assert_eq!(m.time_nanos, 1_733_400_000_123_456_789);
        assert_eq!(m.attribute_list(), "image=busybox, name=p-web-1");
        let plain = Message::from_value(
            &json!({"Type": "network", "Action": "create", "time": 5, "Actor": {"ID": "n"}}),
        );
        assert_eq!(plain.time_nanos, 5_000_000_000);
        assert!(plain.docker_line().ends_with(" network create n"));
    }
}
