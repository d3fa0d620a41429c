//! Docker's syslog message formats (its srslog formatters), each message ending in `\n`:
//!
//! - default (`""`): `<PRI>Jan _2 15:04:05 TAG[PID]: MSG`
//! - `rfc3164`: `<PRI>Jan _2 15:04:05 HOST TAG[PID]: MSG`
//! - `rfc5424`: `<PRI>1 2006-01-02T15:04:05Z HOST TAG PID TAG - MSG`
//! - `rfc5424micro`: as rfc5424 with microseconds in the time.
//!
//! Times are in the local zone ([`berth_units::local_time`]), as Go's `time.Now()` in Docker's driver:
//! `Z` at UTC, else the offset (`+01:00`); PID is the shim's.

use berth_units::{SubSeconds, Timestamp};

use crate::LogError;

/// A message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Docker's default (no hostname).
    Unix,
    /// RFC 3164.
    Rfc3164,
    /// RFC 5424, seconds.
    Rfc5424,
    /// RFC 5424, microseconds.
    Rfc5424Micro,
}

impl Format {
    /// Parses `syslog-format`.
    pub fn parse(s: &str) -> Result<Format, LogError> {
        match s {
            "" => Ok(Format::Unix),
            "rfc3164" => Ok(Format::Rfc3164),
            "rfc5424" => Ok(Format::Rfc5424),
            "rfc5424micro" => Ok(Format::Rfc5424Micro),
            _ => Err(LogError::BadOpt("Invalid syslog format".into())),
        }
    }
}

/// A facility, already shifted (`daemon` = 3 << 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(pub u32);

const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp",
];

impl Facility {
    /// Parses `syslog-facility`: a name (`daemon`, `local0` …) or its number; `daemon` when
    /// empty.
    pub fn parse(s: &str) -> Result<Facility, LogError> {
        if s.is_empty() {
            return Ok(Facility(3 << 3));
        }
        let n = if let Some(i) = FACILITIES.iter().position(|f| *f == s) {
            u32::try_from(i).ok()
        } else if let Some(l) = s.strip_prefix("local").and_then(|d| d.parse::<u32>().ok()) {
            (l <= 7).then_some(16 + l)
        } else {
            s.parse::<u32>().ok().filter(|n| *n <= 23)
        };
        n.map(|n| Facility(n << 3))
            .ok_or_else(|| LogError::BadOpt("invalid syslog facility".into()))
    }
}

/// Go's `time.Stamp`: `Jan _2 15:04:05` (local wall time: `t` already shifted).
fn stamp(t: Timestamp) -> String {
    let c = t.civil();
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        c.month_abbrev(),
        c.day,
        c.hour,
        c.minute,
        c.second
    )
}

/// Go's `Z07:00`: `Z` at UTC, else `+01:00`.
fn zone_suffix(offset: i32) -> String {
    if offset == 0 {
        return "Z".into();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
}

/// Go's `time.RFC3339` (`2006-01-02T15:04:05Z07:00`), or with `.000000` microseconds
/// (rfc5424micro), of the local wall time `t` at `offset`.
fn rfc3339(t: Timestamp, offset: i32, micros: bool) -> String {
    let s = t.to_rfc3339(SubSeconds::Omit);
    let civil = s.trim_end_matches('Z');
    if micros {
        format!("{civil}.{:06}{}", t.nanos / 1000, zone_suffix(offset))
    } else {
        format!("{civil}{}", zone_suffix(offset))
    }
}

/// One formatted message, newline-terminated; `offset` is the local zone's offset from
/// UTC (seconds) at `time`.
#[allow(clippy::too_many_arguments)]
pub fn message(
    format: Format,
    priority: u32,
    time: Timestamp,
    offset: i32,
    host: &str,
    tag: &str,
    pid: u32,
    msg: &str,
) -> String {
    let msg = msg.trim_end_matches('\n');
    let local = Timestamp::from_nanos(time.as_nanos() + i128::from(offset) * 1_000_000_000);
    match format {
        Format::Unix => format!("<{priority}>{} {tag}[{pid}]: {msg}\n", stamp(local)),
        Format::Rfc3164 => format!("<{priority}>{} {host} {tag}[{pid}]: {msg}\n", stamp(local)),
        Format::Rfc5424 => format!(
            "<{priority}>1 {} {host} {tag} {pid} {tag} - {msg}\n",
            rfc3339(local, offset, false)
        ),
        Format::Rfc5424Micro => format!(
            "<{priority}>1 {} {host} {tag} {pid} {tag} - {msg}\n",
            rfc3339(local, offset, true)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_docker() {
        // 2024-01-02T03:04:05.25Z
        let t = Timestamp::new(1_704_164_645, 250_000_000);
        let m = |f| message(f, 30, t, 0, "h", "tag", 7, "hi");
        assert_eq!(m(Format::Unix), "<30>Jan  2 03:04:05 tag[7]: hi\n");
        assert_eq!(m(Format::Rfc3164), "<30>Jan  2 03:04:05 h tag[7]: hi\n");
        assert_eq!(
            m(Format::Rfc5424),
            "<30>1 2024-01-02T03:04:05Z h tag 7 tag - hi\n"
        );
        assert_eq!(
            m(Format::Rfc5424Micro),
            "<30>1 2024-01-02T03:04:05.250000Z h tag 7 tag - hi\n"
        );
        // In a zone east of UTC (Docker writes the daemon's local time).
        let m = |f| message(f, 30, t, 5 * 3600 + 1800, "h", "tag", 7, "hi");
        assert_eq!(m(Format::Unix), "<30>Jan  2 08:34:05 tag[7]: hi\n");
        assert_eq!(m(Format::Rfc3164), "<30>Jan  2 08:34:05 h tag[7]: hi\n");
        assert_eq!(
            m(Format::Rfc5424),
            "<30>1 2024-01-02T08:34:05+05:30 h tag 7 tag - hi\n"
        );
        let m = |f| message(f, 30, t, -8 * 3600, "h", "tag", 7, "hi");
        assert_eq!(
            m(Format::Rfc5424Micro),
            "<30>1 2024-01-01T19:04:05.250000-08:00 h tag 7 tag - hi\n"
        );
        assert_eq!(Facility::parse("local7").unwrap(), Facility(23 << 3));
        assert_eq!(Facility::parse("").unwrap(), Facility(24));
        assert!(Facility::parse("local8").is_err());
        assert!(Format::parse("json").is_err());
    }
}
