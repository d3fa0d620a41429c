//! Instants in the local time zone, as Go's `time.Local` prints them (the docker CLI's
//! `events`, Compose's `events`, the syslog log driver's timestamps): the zone is `TZ` when set (`""` is UTC, a leading `:` is
//! dropped, then a file path, a name under /usr/share/zoneinfo or a POSIX rule), else
//! /etc/localtime; one that cannot be read is UTC, as in Go.
//!
//! **Why tz-rs.** The offset at an instant needs the TZif rules of the zone; tz-rs is a
//! small, dependency-free, maintained reader of TZif files and POSIX TZ strings. chrono's
//! local zone pulls iana-time-zone and more; the `time` crate refuses the local offset in a
//! multi-threaded process; jiff is several times larger for what is one lookup here.
//! It is behind the `local-zone` feature so that the crate stays dependency-free by default.

use std::sync::OnceLock;

use crate::{SubSeconds, Timestamp};
use tz::TimeZone;

/// Layouts of Go's `time.Format` that the CLIs use with local times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `2006-01-02T15:04:05.000000000Z07:00` (docker's `jsonmessage.RFC3339NanoFixed`).
    Rfc3339NanoFixed,
    /// `2006-01-02T15:04:05.999999999Z07:00` (`time.RFC3339Nano`, how Go's JSON writes a
    /// time).
    Rfc3339Nano,
    /// `2006-01-02 15:04:05.000000` (Compose's event lines).
    SpacedMicros,
}

fn zone_from(tz: Option<&str>) -> Option<TimeZone> {
    match tz {
        None => TimeZone::local().ok(),
        Some("") => None,
        Some(s) => TimeZone::from_posix_tz(s.strip_prefix(':').unwrap_or(s)).ok(),
    }
}

fn zone() -> Option<&'static TimeZone> {
    static ZONE: OnceLock<Option<TimeZone>> = OnceLock::new();
    ZONE.get_or_init(|| zone_from(std::env::var("TZ").ok().as_deref()))
        .as_ref()
}

/// The local zone's offset from UTC at `unix_secs`, in seconds.
pub fn offset_at(unix_secs: i64) -> i32 {
    offset_in(zone(), unix_secs)
}

fn offset_in(zone: Option<&TimeZone>, unix_secs: i64) -> i32 {
    zone.and_then(|z| z.find_local_time_type(unix_secs).ok())
        .map(|t| t.ut_offset())
        .unwrap_or(0)
}

/// Formats `nanos` since the epoch in the local zone.
pub fn format(nanos: i64, layout: Layout) -> String {
    format_with_offset(nanos, offset_at(nanos.div_euclid(1_000_000_000)), layout)
}

/// Formats `nanos` since the epoch at a fixed UTC offset (seconds).
pub fn format_with_offset(nanos: i64, offset: i32, layout: Layout) -> String {
    let shifted = Timestamp::from_nanos(i128::from(nanos) + i128::from(offset) * 1_000_000_000);
    let sub = match layout {
        Layout::Rfc3339Nano => SubSeconds::Trimmed,
        Layout::Rfc3339NanoFixed | Layout::SpacedMicros => SubSeconds::Nanos,
    };
    // 2006-01-02T15:04:05[.nnnnnnnnn]Z
    let text = shifted.to_rfc3339(sub);
    let civil = text.trim_end_matches('Z');
    match layout {
        Layout::SpacedMicros => format!("{} {}", &civil[..10], &civil[11..26]),
        Layout::Rfc3339NanoFixed | Layout::Rfc3339Nano => {
            format!("{civil}{}", zone_suffix(offset))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_733_400_000_123_456_789; // 2024-12-05T12:00:00.123456789Z

    #[test]
    fn layouts() {
        assert_eq!(
            format_with_offset(T, 0, Layout::Rfc3339NanoFixed),
            "2024-12-05T12:00:00.123456789Z"
        );
        assert_eq!(
            format_with_offset(T, 3600, Layout::Rfc3339NanoFixed),
            "2024-12-05T13:00:00.123456789+01:00"
        );
        assert_eq!(
            format_with_offset(1_733_400_000_000_000_000, -19800, Layout::Rfc3339Nano),
            "2024-12-05T06:30:00-05:30"
        );
        assert_eq!(
            format_with_offset(T, 3600, Layout::SpacedMicros),
            "2024-12-05 13:00:00.123456"
        );
    }

    #[test]
    fn zones_as_go_reads_tz() {
        // a POSIX rule, a zoneinfo name (when the host has the database), UTC for "" and junk
        assert_eq!(offset_in(zone_from(Some("EST5")).as_ref(), 0), -5 * 3600);
        assert_eq!(offset_in(zone_from(Some("")).as_ref(), 0), 0);
        assert_eq!(offset_in(zone_from(Some("no such zone 1")).as_ref(), 0), 0);
        if std::path::Path::new("/usr/share/zoneinfo/Europe/Paris").exists() {
            let paris = zone_from(Some(":Europe/Paris"));
            assert_eq!(offset_in(paris.as_ref(), 1_733_400_000), 3600);
            assert_eq!(offset_in(paris.as_ref(), 1_720_000_000), 7200);
        }
    }
}
