//! The local time zone, as Go's `time.Local` (which Docker's syslog driver formats its
//! times in): `TZ` when set (`""` is UTC, a leading `:` is dropped, then a file path, a
//! name under /usr/share/zoneinfo or a POSIX rule), else /etc/localtime; a zone that cannot
//! be read is UTC, as in Go.
//!
//! tz-rs reads the TZif rules (dependency-free, as the shim that links this crate wants);
//! `berth-cli-format::local_time` does the same for the CLIs' output.

use std::sync::OnceLock;

use tz::TimeZone;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_as_go_reads_tz() {
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
