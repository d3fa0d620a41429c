//! Docker's `journald` driver: one journal entry per line, sent as a datagram in the
//! journal's native protocol to `/run/systemd/journal/socket` (or a namespace's
//! `/run/systemd/journal.<ns>/socket`), with the fields Docker sets: `CONTAINER_ID` (short),
//! `CONTAINER_ID_FULL`, `CONTAINER_NAME`, `CONTAINER_TAG`, `IMAGE_NAME`,
//! `SYSLOG_IDENTIFIER` (the tag), `PRIORITY` (6 stdout, 3 stderr), `SYSLOG_TIMESTAMP`,
//! `CONTAINER_PARTIAL_MESSAGE=true` on cut lines, and the `labels`/`env` attributes.
//! [`read`] reads them back through `journalctl`.

pub mod read;

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use berth_units::SubSeconds;

use crate::{LogConfig, LogDriver, LogError, Message, Stream};

/// The journal's native socket (of a namespace, when given).
pub fn socket_path(namespace: Option<&str>) -> PathBuf {
    match namespace {
        Some(ns) => PathBuf::from(format!("/run/systemd/journal.{ns}/socket")),
        None => PathBuf::from("/run/systemd/journal/socket"),
    }
}

/// The journald driver.
#[derive(Debug)]
pub struct JournaldDriver {
    socket: UnixDatagram,
    path: PathBuf,
    /// The fields every entry carries, encoded once.
    fixed: Vec<u8>,
}

impl JournaldDriver {
    /// Checks the journal socket is there (Docker refuses to start the container otherwise)
    /// and prepares the container's fields.
    pub fn open(config: &LogConfig) -> Result<Self, LogError> {
        let path = socket_path(config.journal_namespace.as_deref());
        if !path.exists() {
            return Err(LogError::BadOpt(
                "journald is not enabled on this host".into(),
            ));
        }
        let socket = UnixDatagram::unbound().map_err(|e| LogError::io("socket", &path, e))?;
        let c = &config.container;
        let mut fixed = Vec::new();
        let short: String = c.id.chars().take(12).collect();
        for (k, v) in [
            ("CONTAINER_ID", short.as_str()),
            ("CONTAINER_ID_FULL", &c.id),
            ("CONTAINER_NAME", &c.name),
            ("CONTAINER_TAG", &c.tag),
            ("IMAGE_NAME", &c.image_name),
            ("SYSLOG_IDENTIFIER", &c.tag),
        ] {
            field(&mut fixed, k, v.as_bytes());
        }
        for (k, v) in &c.attrs {
            let key = field_name(k);
            if !key.is_empty() {
                field(&mut fixed, &key, v.as_bytes());
            }
        }
        Ok(JournaldDriver {
            socket,
            path,
            fixed,
        })
    }
}

/// Appends one field: `KEY=value\n`, or `KEY\n<u64 le length>value\n` when the value holds
/// a newline.
fn field(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    out.extend_from_slice(key.as_bytes());
    if value.contains(&b'\n') {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Docker's journald key rule: upper case, anything but `A-Z0-9_` becomes `_`, no leading
/// underscores (those are the journal's trusted fields).
fn field_name(k: &str) -> String {
    k.chars()
        .map(|c| {
            let c = c.to_ascii_uppercase();
            if c.is_ascii_uppercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('_')
        .to_string()
}

impl LogDriver for JournaldDriver {
    fn log(&mut self, msg: &Message<'_>) -> io::Result<()> {
        let mut dgram = self.fixed.clone();
        field(&mut dgram, "MESSAGE", msg.line);
        let priority: &[u8] = if msg.stream == Stream::Stderr {
            b"3"
        } else {
            b"6"
        };
        field(&mut dgram, "PRIORITY", priority);
        let time = msg.time.to_rfc3339(SubSeconds::Trimmed);
        field(&mut dgram, "SYSLOG_TIMESTAMP", time.as_bytes());
        if msg.partial {
            field(&mut dgram, "CONTAINER_PARTIAL_MESSAGE", b"true");
        }
        self.socket.send_to(&dgram, &self.path).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_protocol_fields() {
        let mut out = Vec::new();
        field(&mut out, "A", b"x");
        field(&mut out, "B", b"1\n2");
        assert_eq!(out, b"A=x\nB\n\x03\0\0\0\0\0\0\x001\n2\n");
        assert_eq!(field_name("com.example-app"), "COM_EXAMPLE_APP");
        assert_eq!(field_name("_x"), "X");
    }
}
