//! Go's `time.ParseDuration` (HEALTHCHECK's `--interval=1m30s`).

/// Nanoseconds of a Go duration string (`300ms`, `1.5h`, `2h45m`, `-1s`, `0`).
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        if num_len == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => return Err(format!("time: unknown unit {other:?} in duration {s:?}")),
        };
        rest = &rest[unit_len..];
        total += value * unit;
    }
    if total > i64::MAX as f64 {
        return Err(format!("time: invalid duration {s:?}"));
    }
    let n = total.round() as i64;
    Ok(if neg { -n } else { n })
}

/// Go's `Duration.String()` for the values HEALTHCHECK messages print (`1ms`, `1m30s`).
pub fn format_go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    if ns.abs() < 1_000_000_000 {
        for (div, unit) in [(1_000_000, "ms"), (1_000, "µs"), (1, "ns")] {
            if ns.abs() >= div {
                return format!("{}{unit}", trim_float(ns as f64 / div as f64));
            }
        }
    }
    let mut out = String::new();
    let secs = ns as f64 / 1e9;
    let h = (secs / 3600.0).trunc();
    let m = ((secs - h * 3600.0) / 60.0).trunc();
    let s = secs - h * 3600.0 - m * 60.0;
    if h != 0.0 {
        out.push_str(&format!("{h}h"));
    }
    if h != 0.0 || m != 0.0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{}s", trim_float(s)));
    out
}

fn trim_float(f: f64) -> String {
    let s = format!("{f:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("-1s"), Ok(-1_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("1x").is_err());
        assert_eq!(format_go_duration(1_000_000), "1ms");
        assert_eq!(format_go_duration(90_000_000_000), "1m30s");
    }
}
