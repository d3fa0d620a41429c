//! RFC 3339 timestamps (as the API sends them) and docker's relative times and status.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_api_types::ContainerState;

use crate::units::human_duration;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parses `2006-01-02T15:04:05.999999999Z07:00`; `None` for malformed input and for Go's
/// zero time (`0001-01-01T00:00:00Z`, "never").
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if y <= 1 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = digits.parse().ok()?;
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' => 0,
        b'+' | b'-' => {
            let sign = if b[i] == b'-' { -1 } else { 1 };
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    if secs < 0 {
        return None;
    }
    Some(UNIX_EPOCH + Duration::new(secs as u64, nanos))
}

/// Formats a time as RFC 3339 with nanoseconds in UTC, like the API does.
pub fn format_rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if d.subsec_nanos() != 0 {
        let frac = format!("{:09}", d.subsec_nanos());
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Time elapsed from `then` to `now` (zero when `then` is in the future).
fn since(then: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

/// "5 minutes ago" for a unix timestamp, as `docker ps`/`images` print CREATED.
pub fn ago(unix_secs: i64, now: SystemTime) -> String {
    let then = UNIX_EPOCH + Duration::from_secs(unix_secs.max(0) as u64);
    format!("{} ago", human_duration(since(then, now)))
}

/// The `Status` column of `docker ps` for a container state ("Up 5 minutes (healthy)",
/// "Exited (0) 2 hours ago", "Created", "Restarting (1) 3 seconds ago", "Dead", ...).
pub fn container_status(state: &ContainerState, now: SystemTime) -> String {
    let health = state.health.as_ref().map(|h| match h.status.as_str() {
        "starting" => " (health: starting)".to_string(),
        "" | "none" => String::new(),
        s => format!(" ({s})"),
    });
    let started = parse_rfc3339(&state.started_at);
    let finished = parse_rfc3339(&state.finished_at);
    if state.running {
        if state.paused {
            return format!(
                "Up {} (Paused)",
                human_duration(started.map(|s| since(s, now)).unwrap_or_default())
            );
        }
        if state.restarting {
            return format!(
                "Restarting ({}) {} ago",
                state.exit_code,
                human_duration(finished.map(|f| since(f, now)).unwrap_or_default())
            );
        }
        return format!(
            "Up {}{}",
            human_duration(started.map(|s| since(s, now)).unwrap_or_default()),
            health.unwrap_or_default()
        );
    }
    match state.status.as_str() {
        "removing" => return "Removal In Progress".into(),
        "dead" => return "Dead".into(),
        _ => {}
    }
    if started.is_none() {
        return "Created".into();
    }
    match finished {
        None => String::new(),
        Some(f) => format!(
            "Exited ({}) {} ago",
            state.exit_code,
            human_duration(since(f, now))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = parse_rfc3339("2016-06-07T20:31:11.853781916Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_465_331_471
        );
        assert_eq!(format_rfc3339(t), "2016-06-07T20:31:11.853781916Z");
        let off = parse_rfc3339("2016-06-07T22:31:11+02:00").unwrap();
        assert_eq!(
            off.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_465_331_471
        );
        assert!(parse_rfc3339("0001-01-01T00:00:00Z").is_none());
        assert!(parse_rfc3339("garbage").is_none());
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn status_strings_match_docker() {
        let now = parse_rfc3339("2024-01-01T12:00:00Z").unwrap();
        let mut s = ContainerState {
            status: "created".into(),
            started_at: "0001-01-01T00:00:00Z".into(),
            finished_at: "0001-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        assert_eq!(container_status(&s, now), "Created");
        s.status = "running".into();
        s.running = true;
        s.started_at = "2024-01-01T11:55:00Z".into();
        assert_eq!(container_status(&s, now), "Up 5 minutes");
        s.health = Some(berth_api_types::Health {
            status: "healthy".into(),
            ..Default::default()
        });
        assert_eq!(container_status(&s, now), "Up 5 minutes (healthy)");
        s.health = None;
        s.paused = true;
        assert_eq!(container_status(&s, now), "Up 5 minutes (Paused)");
        s.paused = false;
        s.running = false;
        s.status = "exited".into();
        s.finished_at = "2024-01-01T10:00:00Z".into();
        assert_eq!(container_status(&s, now), "Exited (0) 2 hours ago");
        s.exit_code = 137;
        s.finished_at = "2024-01-01T11:59:59.5Z".into();
        assert_eq!(
            container_status(&s, now),
            "Exited (137) Less than a second ago"
        );
        s.status = "dead".into();
        assert_eq!(container_status(&s, now), "Dead");
        assert_eq!(ago(1_704_110_400 - 39, now), "39 seconds ago");
        assert_eq!(ago(1_704_110_400 - 70, now), "About a minute ago");
    }
}
