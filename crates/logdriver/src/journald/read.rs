//! Reading a container's journal entries back, through `journalctl --output=json`.
//!
//! Docker links libsystemd (sd-journal) for this; berth runs `journalctl` instead, so the
//! daemon links no C library and needs nothing where journald is absent. `journalctl`
//! ships with journald itself (package `systemd`), knows every journal file version, and
//! `--after-cursor` makes following incremental (docs/engine.md, Log drivers).

use std::io;
use std::process::Command;

use berth_units::{SubSeconds, Timestamp};
use serde_json::Value;

use crate::{LogEntry, LogReader};

/// Reads one container's entries, remembering the cursor of the last one.
#[derive(Debug)]
pub struct JournalReader {
    container_id: String,
    namespace: Option<String>,
    cursor: Option<String>,
}

impl JournalReader {
    /// A reader of the entries whose `CONTAINER_ID_FULL` is `container_id`.
    pub fn new(container_id: &str, namespace: Option<&str>) -> Self {
        JournalReader {
            container_id: container_id.into(),
            namespace: namespace.map(str::to_string),
            cursor: None,
        }
    }
}

impl LogReader for JournalReader {
    fn read_new(&mut self) -> io::Result<Vec<LogEntry>> {
        let mut cmd = Command::new("journalctl");
        cmd.args(["--output=json", "--all", "--no-pager", "--quiet"]);
        if let Some(ns) = &self.namespace {
            cmd.arg(format!("--namespace={ns}"));
        }
        if let Some(c) = &self.cursor {
            cmd.arg(format!("--after-cursor={c}"));
        }
        cmd.arg(format!("CONTAINER_ID_FULL={}", self.container_id));
        let out = cmd.output().map_err(|e| {
            io::Error::new(e.kind(), format!("run journalctl to read the journal: {e}"))
        })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            if err.contains("No journal files") || out.stdout.is_empty() && err.trim().is_empty() {
                return Ok(Vec::new());
            }
            return Err(io::Error::other(format!("journalctl: {}", err.trim())));
        }
        let mut entries = Vec::new();
        for line in out.stdout.split(|b| *b == b'\n') {
            let Ok(v) = serde_json::from_slice::<Value>(line) else {
                continue;
            };
            if let Some(c) = v.get("__CURSOR").and_then(Value::as_str) {
                self.cursor = Some(c.to_string());
            }
            entries.push(entry(&v));
        }
        Ok(entries)
    }

    fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(250)
    }
}

/// A journal entry (as `journalctl -o json` prints it) as a log line.
pub(crate) fn entry(v: &Value) -> LogEntry {
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
    let mut log = match v.get("MESSAGE") {
        Some(Value::String(s)) => s.clone(),
        // Binary values come as arrays of bytes.
        Some(Value::Array(a)) => {
            let bytes: Vec<u8> = a
                .iter()
                .filter_map(Value::as_u64)
                .filter_map(|b| u8::try_from(b).ok())
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => String::new(),
    };
    if text("CONTAINER_PARTIAL_MESSAGE") != "true" {
        log.push('\n');
    }
    let stream = if text("PRIORITY") == "3" {
        "stderr"
    } else {
        "stdout"
    };
    let time = berth_units::parse_rfc3339(text("SYSLOG_TIMESTAMP"))
        .or_else(|| {
            let micros: i128 = text("__REALTIME_TIMESTAMP").parse().ok()?;
            Some(Timestamp::from_nanos(micros * 1000))
        })
        .unwrap_or_default();
    LogEntry {
        log,
        stream: stream.into(),
        time: time.to_rfc3339(SubSeconds::Nanos),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_from_journalctl_json() {
        let v: Value = serde_json::from_str(
            r#"{"MESSAGE":"hi","PRIORITY":"3","SYSLOG_TIMESTAMP":"2024-01-02T03:04:05.5Z"}"#,
        )
        .unwrap();
        let e = entry(&v);
        assert_eq!(
            (e.log.as_str(), e.stream.as_str(), e.time.as_str()),
            ("hi\n", "stderr", "2024-01-02T03:04:05.500000000Z")
        );
        let v: Value = serde_json::from_str(
            r#"{"MESSAGE":[104,105],"CONTAINER_PARTIAL_MESSAGE":"true","__REALTIME_TIMESTAMP":"1000001"}"#,
        )
        .unwrap();
        let e = entry(&v);
        assert_eq!(
            (e.log.as_str(), e.stream.as_str(), e.time.as_str()),
            ("hi", "stdout", "1970-01-01T00:00:01.000001000Z")
        );
    }
}
