//! The time texts logs use.

/// Parses Docker's `since`/`until` (unix seconds with optional fraction, or RFC 3339) into
/// nanoseconds since the epoch.
pub fn parse_time(s: &str) -> Option<i128> {
    if let Ok(f) = s.parse::<f64>() {
        return f.is_finite().then(|| seconds_to_nanos(f));
    }
    rfc3339_nanos(s)
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "fractions of a nanosecond are dropped on purpose; `as` saturates past i128"
)]
fn seconds_to_nanos(seconds: f64) -> i128 {
    (seconds * 1e9) as i128
}

/// Nanoseconds since the epoch of an RFC 3339 time (`…Z` or `±hh:mm`).
pub fn rfc3339_nanos(s: &str) -> Option<i128> {
    berth_units::parse_rfc3339(s).map(berth_units::Timestamp::as_nanos)
}

/// Now as RFC 3339 with nanoseconds.
pub fn now() -> String {
    berth_units::time::now_rfc3339_nanos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse() {
        assert_eq!(rfc3339_nanos("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(parse_time("2.25"), Some(2_250_000_000));
        assert_eq!(rfc3339_nanos("1970-01-01T01:00:00+01:00"), Some(0));
    }
}
