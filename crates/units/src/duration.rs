//! Go durations (`time.ParseDuration`, `time.Duration.String`) and go-units'
//! `HumanDuration`.

use std::fmt;
use std::time::Duration;

/// A Go duration that does not parse; the text is Go's own error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Not a duration at all (or out of range): `time: invalid duration "abc"`.
    Invalid(String),
    /// A number without a unit: `time: missing unit in duration "5"`.
    MissingUnit(String),
    /// An unknown unit: `time: unknown unit "d" in duration "1d"`.
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Invalid(s) => write!(f, "time: invalid duration {s:?}"),
            DurationError::MissingUnit(s) => write!(f, "time: missing unit in duration {s:?}"),
            DurationError::UnknownUnit { unit, input } => {
                write!(f, "time: unknown unit {unit:?} in duration {input:?}")
            }
        }
    }
}

impl std::error::Error for DurationError {}

const NANOS_PER_UNIT: [(&str, u64); 9] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000), // U+00B5 micro sign
    ("μs", 1_000), // U+03BC Greek small letter mu
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("", 0),
];

/// Parses a Go duration (`"300ms"`, `"-1.5h"`, `"2h45m"`, `"0"`) into nanoseconds, exactly as
/// Go's `time.ParseDuration` does (units ns, us/µs, ms, s, m, h; a bare number other than 0 is
/// an error; out of `i64` range is an error).
pub fn parse_go_duration(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_string());
    let mut s = input;
    let neg = s.starts_with('-');
    if let Some(rest) = s.strip_prefix(['-', '+']) {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let whole: u64 = if int_len == 0 {
            0
        } else {
            s[..int_len].parse().map_err(|_| invalid())?
        };
        s = &s[int_len..];
        // The fraction, as digits and their scale (Go keeps at most what fits).
        let (mut frac, mut scale) = (0u64, 1f64);
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for c in rest[..frac_len].bytes() {
                if overflow {
                    continue;
                }
                match frac
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(c - b'0')))
                {
                    Some(v) if v < LIMIT => {
                        frac = v;
                        scale *= 10.0;
                    }
                    _ => overflow = true,
                }
            }
            s = &rest[frac_len..];
            if int_len == 0 && frac_len == 0 {
                return Err(invalid());
            }
        } else if int_len == 0 {
            return Err(invalid());
        }
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(input.to_string()));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let per = NANOS_PER_UNIT
            .iter()
            .find(|(name, _)| *name == unit && !name.is_empty())
            .map(|(_, n)| *n)
            .ok_or_else(|| DurationError::UnknownUnit {
                unit: unit.to_string(),
                input: input.to_string(),
            })?;
        let mut v = whole.checked_mul(per).ok_or_else(invalid)?;
        if v > LIMIT {
            return Err(invalid());
        }
        if frac > 0 {
            // Go: v += int64(float64(f) * (float64(unit) / scale)).
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let extra = (frac as f64 * (per as f64 / scale)) as u64;
            v = v.checked_add(extra).ok_or_else(invalid)?;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        // -(1<<63) is i64::MIN, still in range.
        return Ok(0i64.wrapping_sub_unsigned(total));
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// `v / unit` with Go's trimmed decimal fraction ("1.5", "200").
fn frac(v: u128, unit: u128) -> String {
    let (int, rest) = (v / unit, v % unit);
    if rest == 0 {
        return int.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{rest:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

/// Go's `time.Duration.String()` of `nanos` nanoseconds ("200ms", "1.5s", "1m30s",
/// "1h0m0s", "-2s").
pub fn format_go_duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = u128::from(nanos.unsigned_abs());
    let body = match n {
        0 => return "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", frac(n, 1_000)),
        n if n < 1_000_000_000 => format!("{}ms", frac(n, 1_000_000)),
        n => {
            let (h, m) = (n / 3_600_000_000_000, n / 60_000_000_000 % 60);
            let s = frac(n % 60_000_000_000, 1_000_000_000);
            if h > 0 {
                format!("{h}h{m}m{s}s")
            } else if m > 0 {
                format!("{m}m{s}s")
            } else {
                format!("{s}s")
            }
        }
    };
    format!("{sign}{body}")
}

/// go-units' `HumanDuration`: "Less than a second", "1 second", "About a minute",
/// "5 minutes", "About an hour", "3 hours", "4 days", "2 weeks", "3 months", "2 years" (what
/// docker prints for CREATED and STATUS).
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 1 {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = secs / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go: int(d.Hours() + 0.5).
    let hours = (secs + 1800) / 3600;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", secs / 3600 / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let ok = |s| parse_go_duration(s).unwrap();
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("-0"), 0);
        assert_eq!(ok("30s"), 30_000_000_000);
        assert_eq!(ok("1m30s"), 90_000_000_000);
        assert_eq!(ok("500ms"), 500_000_000);
        assert_eq!(ok("1.5s"), 1_500_000_000);
        assert_eq!(ok(".5s"), 500_000_000);
        assert_eq!(ok("1.s"), 1_000_000_000);
        assert_eq!(ok("-1.5h"), -5_400_000_000_000);
        assert_eq!(ok("+2h45m"), 9_900_000_000_000);
        assert_eq!(ok("10us"), 10_000);
        assert_eq!(ok("10µs"), 10_000);
        assert_eq!(ok("10μs"), 10_000);
        assert_eq!(ok("1h1m1s1ms1us1ns"), 3_661_001_001_001);
        assert_eq!(ok("9223372036854775807ns"), i64::MAX);
        assert_eq!(ok("-9223372036854775808ns"), i64::MIN);
        assert_eq!(ok("0.3333333333333333333h"), 1_200_000_000_000);
    }

    #[test]
    fn rejects_like_go() {
        let err = |s| parse_go_duration(s).unwrap_err().to_string();
        assert_eq!(err("5"), "time: missing unit in duration \"5\"");
        assert_eq!(err("abc"), "time: invalid duration \"abc\"");
        assert_eq!(err(""), "time: invalid duration \"\"");
        assert_eq!(err("."), "time: invalid duration \".\"");
        assert_eq!(err("-"), "time: invalid duration \"-\"");
        assert_eq!(err("1d"), "time: unknown unit \"d\" in duration \"1d\"");
        assert_eq!(err("1s "), "time: unknown unit \"s \" in duration \"1s \"");
        assert_eq!(
            err("9223372036854775808ns"),
            "time: invalid duration \"9223372036854775808ns\""
        );
        assert_eq!(err("3000000h"), "time: invalid duration \"3000000h\"");
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(0), "0s");
        assert_eq!(format_go_duration(999), "999ns");
        assert_eq!(format_go_duration(1_500), "1.5µs");
        assert_eq!(format_go_duration(200_000_000), "200ms");
        assert_eq!(format_go_duration(1_500_000_000), "1.5s");
        assert_eq!(format_go_duration(90_000_000_000), "1m30s");
        assert_eq!(format_go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(format_go_duration(-2_000_000_000), "-2s");
        for s in ["1h2m3.5s", "45m0s", "1.25ms", "7ns"] {
            assert_eq!(format_go_duration(parse_go_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn human_durations_as_go_units() {
        let h = |s| human_duration(Duration::from_secs(s));
        assert_eq!(
            human_duration(Duration::from_millis(400)),
            "Less than a second"
        );
        assert_eq!(h(1), "1 second");
        assert_eq!(h(59), "59 seconds");
        assert_eq!(h(60), "About a minute");
        assert_eq!(h(300), "5 minutes");
        assert_eq!(h(3600), "About an hour");
        assert_eq!(h(5399), "About an hour");
        assert_eq!(h(5400), "2 hours");
        assert_eq!(h(47 * 3600), "47 hours");
        assert_eq!(h(3 * 86_400), "3 days");
        assert_eq!(h(20 * 86_400), "2 weeks");
        assert_eq!(h(90 * 86_400), "3 months");
        assert_eq!(h(800 * 86_400), "2 years");
    }
}
