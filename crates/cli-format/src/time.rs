//! RFC 3339 timestamps (as the API sends them) and docker's relative times and status.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_api_types::ContainerState;
use berth_units::{SubSeconds, Timestamp};

use crate::units::human_duration;

/// Parses `2006-01-02T15:04:05.999999999Z07:00`; `None` for malformed input and for times
/// before the epoch (Go's zero time `0001-01-01T00:00:00Z` is docker's "never").
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    berth_units::parse_rfc3339(s)?.to_system_time()
}

/// Formats a time as RFC 3339 with nanoseconds (trailing zeros trimmed) in UTC, like the API.
pub fn format_rfc3339(t: SystemTime) -> String {
    Timestamp::from_system_time(t).to_rfc3339(SubSeconds::Trimmed)
}

/// Time elapsed from `then` to `now` (zero when `then` is in the future).
fn since(then: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

/// A unix timestamp in seconds as a time (before 1970: 1970, as the API's `Created` means).
pub fn unix_time(unix_secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(unix_secs).unwrap_or(0))
}

/// "5 minutes ago" for a unix timestamp, as `docker ps`/`images` print CREATED.
pub fn ago(unix_secs: i64, now: SystemTime) -> String {
    let then = unix_time(unix_secs);
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
