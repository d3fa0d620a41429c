//! What a driver is given (a [`Message`]) and what a reader gives back (a [`LogEntry`]).

use berth_units::{SubSeconds, Timestamp};
use serde::{Deserialize, Serialize};

/// The container stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// "stdout" or "stderr", as Docker's log formats spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    /// The stream a stored name denotes (anything but "stderr" is stdout).
    pub fn parse(s: &str) -> Stream {
        if s == "stderr" {
            Stream::Stderr
        } else {
            Stream::Stdout
        }
    }
}

/// One line of output as the shim hands it to a driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Where it came from.
    pub stream: Stream,
    /// The bytes, without the line's newline.
    pub line: &'a [u8],
    /// True when the line was cut (16 KiB without a newline, or output ended mid-line):
    /// readers give it back without a newline.
    pub partial: bool,
    /// When it was read.
    pub time: Timestamp,
}

impl<'a> Message<'a> {
    /// A message from a chunk of output that ends in a newline (a complete line) or not
    /// (a partial one).
    pub fn from_output(stream: Stream, data: &'a [u8], time: Timestamp) -> Self {
        match data.strip_suffix(b"\n") {
            Some(line) => Message {
                stream,
                line,
                partial: false,
                time,
            },
            None => Message {
                stream,
                line: data,
                partial: true,
                time,
            },
        }
    }

    /// The line as `logs` gives it back: with its newline unless partial.
    pub fn output(&self) -> String {
        let mut s = String::from_utf8_lossy(self.line).into_owned();
        if !self.partial {
            s.push('\n');
        }
        s
    }
}

/// One log line read back (json-file's own shape: every reader gives these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The bytes (lossy UTF-8), newline included when the output had one.
    pub log: String,
    /// "stdout" or "stderr".
    pub stream: String,
    /// RFC 3339 with nanoseconds, UTC.
    pub time: String,
}

impl LogEntry {
    /// The entry a message reads back as.
    pub fn from_message(msg: &Message<'_>) -> Self {
        LogEntry {
            log: msg.output(),
            stream: msg.stream.as_str().into(),
            time: msg.time.to_rfc3339(SubSeconds::Nanos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_and_partial_lines() {
        let t = Timestamp::new(1, 5);
        let m = Message::from_output(Stream::Stderr, b"hi\n", t);
        assert_eq!((m.line, m.partial), (&b"hi"[..], false));
        assert_eq!(LogEntry::from_message(&m).log, "hi\n");
        let p = Message::from_output(Stream::Stdout, b"cut", t);
        assert!(p.partial);
        assert_eq!(p.output(), "cut");
        assert_eq!(
            LogEntry::from_message(&p).time,
            "1970-01-01T00:00:01.000000005Z"
        );
    }
}
