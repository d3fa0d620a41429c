//! RFC 3339 timestamps and the proleptic Gregorian calendar under them.
//!
//! The calendar conversions are Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (<https://howardhinnant.github.io/date_algorithms.html>): exact for every `i64` day count
//! a timestamp can hold, no tables, no time zones (everything is UTC, as docker stores it).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: i64 = 86_400;
const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Days since 1970-01-01 of the civil date `year-month-day` (month 1..=12, day 1..=31).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, small(month), small(day))
}

/// A value the calendar arithmetic keeps within 0..=400 (months, days, hours, ...).
fn small(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// A UTC date and time of day, broken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// The year (proleptic Gregorian; 1 is Go's zero time).
    pub year: i64,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    /// 0..=23.
    pub hour: u32,
    /// 0..=59.
    pub minute: u32,
    /// 0..=59.
    pub second: u32,
    /// 0 = Sunday … 6 = Saturday.
    pub weekday: u32,
}

impl DateTime {
    /// The weekday's three-letter English name ("Mon").
    pub fn weekday_abbrev(&self) -> &'static str {
        const NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        NAMES.get(self.weekday as usize).copied().unwrap_or("???")
    }

    /// The month's three-letter English name ("Jan").
    pub fn month_abbrev(&self) -> &'static str {
        const NAMES: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        NAMES
            .get(self.month.wrapping_sub(1) as usize)
            .copied()
            .unwrap_or("???")
    }
}

/// How many fractional-second digits an RFC 3339 text gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubSeconds {
    /// None: `2024-01-02T03:04:05Z` (Go's `time.RFC3339`).
    Omit,
    /// Always nine digits: `2024-01-02T03:04:05.000000000Z` (docker's json-file logs and the
    /// runtime's state files).
    Nanos,
    /// Up to nine, trailing zeros dropped, none for whole seconds:
    /// `2024-01-02T03:04:05.5Z` (Go's `time.RFC3339Nano`, what the Engine API sends).
    Trimmed,
}

/// An instant: seconds and nanoseconds since 1970-01-01T00:00:00Z (seconds may be
/// negative; `nanos` is always 0..1e9 and counts forward).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Whole seconds since the epoch.
    pub secs: i64,
    /// Nanoseconds past `secs` (0..1e9).
    pub nanos: u32,
}

impl Timestamp {
    /// The epoch.
    pub const EPOCH: Timestamp = Timestamp { secs: 0, nanos: 0 };

    /// An instant from seconds and nanoseconds (nanoseconds ≥ 1e9 carry into the seconds).
    pub fn new(secs: i64, nanos: u32) -> Timestamp {
        Timestamp {
            secs: secs + i64::from(nanos / 1_000_000_000),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// The current time.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }

    /// A `SystemTime` as a timestamp (also before the epoch).
    pub fn from_system_time(t: SystemTime) -> Timestamp {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp::new(
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Err(e) => {
                let d = e.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                match d.subsec_nanos() {
                    0 => Timestamp::new(-secs, 0),
                    n => Timestamp::new(-secs - 1, 1_000_000_000 - n),
                }
            }
        }
    }

    /// The instant as a `SystemTime`; `None` before the epoch (which includes Go's zero time,
    /// `0001-01-01T00:00:00Z`, docker's "never").
    pub fn to_system_time(self) -> Option<SystemTime> {
        let secs = u64::try_from(self.secs).ok()?;
        UNIX_EPOCH.checked_add(Duration::new(secs, self.nanos))
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(self) -> i128 {
        i128::from(self.secs) * NANOS_PER_SEC + i128::from(self.nanos)
    }

    /// Nanoseconds since the epoch as Go's `Time.UnixNano` (an int64, so it saturates outside
    /// the years 1678-2262).
    pub fn unix_nano(self) -> i64 {
        i64::try_from(self.as_nanos()).unwrap_or(if self.secs < 0 { i64::MIN } else { i64::MAX })
    }

    /// The instant `nanos` nanoseconds after the epoch (negative: before).
    pub fn from_nanos(nanos: i128) -> Timestamp {
        let secs = nanos.div_euclid(NANOS_PER_SEC);
        let rem = nanos.rem_euclid(NANOS_PER_SEC);
        Timestamp {
            secs: i64::try_from(secs).unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX }),
            nanos: u32::try_from(rem).unwrap_or(0),
        }
    }

    /// Go's zero time (`0001-01-01T00:00:00Z`), which docker writes for "never".
    pub fn go_zero() -> Timestamp {
        Timestamp::new(days_from_civil(1, 1, 1) * SECS_PER_DAY, 0)
    }

    /// Whether this is before the epoch (docker's "never" included).
    pub fn is_before_epoch(self) -> bool {
        self.secs < 0
    }

    /// The UTC date and time of day.
    pub fn civil(self) -> DateTime {
        let days = self.secs.div_euclid(SECS_PER_DAY);
        let sod = self.secs.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year,
            month,
            day,
            hour: small(sod / 3600),
            minute: small(sod % 3600 / 60),
            second: small(sod % 60),
            // 1970-01-01 was a Thursday.
            weekday: small((days + 4).rem_euclid(7)),
        }
    }

    /// RFC 3339 in UTC (`2024-01-02T03:04:05Z`) with the given fractional seconds.
    pub fn to_rfc3339(self, sub: SubSeconds) -> String {
        let c = self.civil();
        let mut out = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        );
        match sub {
            SubSeconds::Omit => {}
            SubSeconds::Nanos => out.push_str(&format!(".{:09}", self.nanos)),
            SubSeconds::Trimmed if self.nanos != 0 => {
                let digits = format!("{:09}", self.nanos);
                out.push('.');
                out.push_str(digits.trim_end_matches('0'));
            }
            SubSeconds::Trimmed => {}
        }
        out.push('Z');
        out
    }

    /// Parses RFC 3339: `2006-01-02T15:04:05[.999999999](Z|±07:00)` (`t` or a space also
    /// separate date and time, `z` is `Z`). `None` for anything else, out-of-range fields
    /// included.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let year = digits(s, 0..4)?;
        let (month, day) = (digits(s, 5..7)?, digits(s, 8..10)?);
        let (hour, minute, second) = (digits(s, 11..13)?, digits(s, 14..16)?, digits(s, 17..19)?);
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut rest = &s[19..];
        let mut nanos = 0u32;
        if let Some(frac) = rest.strip_prefix('.') {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            for (i, c) in frac.bytes().take(9).take(n).enumerate() {
                nanos += u32::from(c - b'0') * 10u32.pow(8 - u32::try_from(i).unwrap_or(8));
            }
            rest = &frac[n..];
        }
        let offset = match rest.as_bytes() {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let (oh, om) = (digits(rest, 1..3)?, digits(rest, 4..6)?);
                if oh > 23 || om > 59 {
                    return None;
                }
                let secs = i64::from(oh * 3600 + om * 60);
                if *sign == b'-' {
                    -secs
                } else {
                    secs
                }
            }
            _ => return None,
        };
        let days = days_from_civil(i64::from(year), month, day);
        let secs = days * SECS_PER_DAY + i64::from(hour * 3600 + minute * 60 + second) - offset;
        Some(Timestamp { secs, nanos })
    }
}

/// `s[range]` as a number when it is all ASCII digits.
fn digits(s: &str, range: std::ops::Range<usize>) -> Option<u32> {
    let t = s.get(range)?;
    if !t.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// [`Timestamp::parse_rfc3339`].
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(s)
}

/// Now, as RFC 3339 with nine fractional digits (docker's log and state timestamps).
pub fn now_rfc3339_nanos() -> String {
    Timestamp::now().to_rfc3339(SubSeconds::Nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_over_four_centuries() {
        for days in (-200_000..200_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn formats_known_instants() {
        let t = |s, n| Timestamp::new(s, n);
        assert_eq!(
            t(0, 0).to_rfc3339(SubSeconds::Nanos),
            "1970-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            t(951_782_400, 5).to_rfc3339(SubSeconds::Nanos),
            "2000-02-29T00:00:00.000000005Z"
        );
        assert_eq!(
            t(1_700_000_000, 0).to_rfc3339(SubSeconds::Omit),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            t(1_700_000_000, 0).to_rfc3339(SubSeconds::Trimmed),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            t(1_465_331_471, 853_781_916).to_rfc3339(SubSeconds::Trimmed),
            "2016-06-07T20:31:11.853781916Z"
        );
        assert_eq!(
            t(1_465_331_471, 500_000_000).to_rfc3339(SubSeconds::Trimmed),
            "2016-06-07T20:31:11.5Z"
        );
        assert_eq!(
            Timestamp::go_zero().to_rfc3339(SubSeconds::Omit),
            "0001-01-01T00:00:00Z"
        );
    }

    #[test]
    fn parses_offsets_fractions_and_separators() {
        let p = |s| parse_rfc3339(s);
        assert_eq!(p("1970-01-01T00:00:00Z"), Some(Timestamp::EPOCH));
        assert_eq!(
            p("2023-11-14T22:13:20Z").map(|t| t.secs),
            Some(1_700_000_000)
        );
        assert_eq!(
            p("2023-11-14T23:13:20.123456789+01:00"),
            Some(Timestamp::new(1_700_000_000, 123_456_789))
        );
        assert_eq!(
            p("2023-11-14 21:13:20.5-01:00"),
            Some(Timestamp::new(1_700_000_000, 500_000_000))
        );
        assert_eq!(
            p("2023-11-14t22:13:20.1234567891z"),
            Some(Timestamp::new(1_700_000_000, 123_456_789))
        );
        assert_eq!(p("0001-01-01T00:00:00Z"), Some(Timestamp::go_zero()));
        assert!(Timestamp::go_zero().to_system_time().is_none());
        for bad in [
            "yesterday",
            "2023-11-14T22:13:20",
            "2023-13-14T22:13:20Z",
            "2023-11-14T24:13:20Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20+0100",
            "2023-11-14T22:13:20Zjunk",
            "+023-11-14T22:13:20Z",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn system_time_and_nanos_conversions() {
        let t = Timestamp::new(1_700_000_000, 42);
        assert_eq!(Timestamp::from_system_time(t.to_system_time().unwrap()), t);
        assert_eq!(Timestamp::from_nanos(t.as_nanos()), t);
        let before = UNIX_EPOCH - Duration::new(1, 250_000_000);
        let b = Timestamp::from_system_time(before);
        assert_eq!(b, Timestamp::new(-2, 750_000_000));
        assert_eq!(b.as_nanos(), -1_250_000_000);
        assert_eq!(Timestamp::from_nanos(-1_250_000_000), b);
    }

    #[test]
    fn weekdays_and_names() {
        // 2026-01-01 is a Thursday.
        let c = parse_rfc3339("2026-01-01T00:00:00Z").unwrap().civil();
        assert_eq!((c.weekday_abbrev(), c.month_abbrev()), ("Thu", "Jan"));
        let c = parse_rfc3339("2024-02-29T12:34:56Z").unwrap().civil();
        assert_eq!(
            (c.weekday_abbrev(), c.month_abbrev(), c.day),
            ("Thu", "Feb", 29)
        );
    }
}
