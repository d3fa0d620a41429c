//! docker's human-readable sizes and durations (go-units), and id truncation.

/// Go's `%.{precision}g` for a non-negative float: shortest form with `precision`
/// significant digits, trailing zeros removed, exponent form when the exponent is < -4 or
/// ≥ precision (so 999.9 with precision 3 prints "1e+03", as docker does).
pub fn go_format_g(value: f64, precision: usize) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let precision = precision.max(1);
    // Round to `precision` significant digits via scientific formatting.
    let sci = format!("{:.*e}", precision - 1, value);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= precision as i32 {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{value:.decimals$}"))
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn scaled(size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut size = size;
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// `units.HumanSizeWithPrecision`: base 1000 ("4.26MB" with precision 3).
pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    let (v, unit) = scaled(size, 1000.0, &DECIMAL_UNITS);
    format!("{}{unit}", go_format_g(v, precision))
}

/// `units.HumanSize`: base 1000, 4 significant digits ("1.235MB").
pub fn human_size(size: f64) -> String {
    human_size_with_precision(size, 4)
}

/// The sizes `docker images`/`ps -s`/`system df` print: 3 significant digits ("1.23MB").
pub fn docker_size(size: i64) -> String {
    human_size_with_precision(size as f64, 3)
}

/// `units.BytesSize`: base 1024 ("1.5GiB"), 4 significant digits.
pub fn bytes_size(size: f64) -> String {
    let (v, unit) = scaled(size, 1024.0, &BINARY_UNITS);
    format!("{}{unit}", go_format_g(v, 4))
}

/// `units.HumanDuration` ("Less than a second", "About a minute", "5 minutes", ...).
pub fn human_duration(d: std::time::Duration) -> String {
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
    let hours = (d.as_secs_f64() / 3600.0).round() as u64;
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

/// The first 12 characters of an id, after an optional `sha256:` prefix.
pub fn truncate_id(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

/// docker's `Ellipsis`: cut to `max` characters, the last one replaced by "…".
pub fn ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes_match_docker() {
        assert_eq!(docker_size(4_261_550), "4.26MB");
        assert_eq!(docker_size(0), "0B");
        assert_eq!(docker_size(999), "999B");
        assert_eq!(docker_size(1_000), "1kB");
        assert_eq!(docker_size(1_234_567), "1.23MB");
        assert_eq!(docker_size(72_800_000), "72.8MB");
        assert_eq!(docker_size(187_000_000), "187MB");
        assert_eq!(docker_size(999_900), "1e+03kB");
        assert_eq!(docker_size(1_500_000_000), "1.5GB");
        assert_eq!(human_size(1_234_567.0), "1.235MB");
        assert_eq!(human_size(2_000_000.0), "2MB");
        assert_eq!(bytes_size(1536.0), "1.5KiB");
        assert_eq!(bytes_size(67_108_864.0), "64MiB");
        assert_eq!(go_format_g(0.0001234, 3), "0.000123");
        assert_eq!(go_format_g(0.00001234, 3), "1.23e-05");
    }

    #[test]
    fn durations_match_docker() {
        let s = Duration::from_secs;
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(39)), "39 seconds");
        assert_eq!(human_duration(s(60)), "About a minute");
        assert_eq!(human_duration(s(119)), "About a minute");
        assert_eq!(human_duration(s(300)), "5 minutes");
        assert_eq!(human_duration(s(3600)), "About an hour");
        assert_eq!(human_duration(s(2 * 3600)), "2 hours");
        assert_eq!(human_duration(s(47 * 3600)), "47 hours");
        assert_eq!(human_duration(s(3 * 86400)), "3 days");
        assert_eq!(human_duration(s(15 * 86400)), "2 weeks");
        assert_eq!(human_duration(s(90 * 86400)), "3 months");
        assert_eq!(human_duration(s(800 * 86400)), "2 years");
    }

    #[test]
    fn ids_and_ellipsis() {
        assert_eq!(
            truncate_id("sha256:b189fa6a73fe4ca09ea51e3e19e1405d"),
            "b189fa6a73fe"
        );
        assert_eq!(truncate_id("b189fa6a73fe4ca09ea5"), "b189fa6a73fe");
        assert_eq!(ellipsis("echo Coucou !", 20), "echo Coucou !");
        assert_eq!(
            ellipsis("sh -c 'while true; do sleep 1; done'", 20),
            "sh -c 'while true; …"
        );
    }
}
