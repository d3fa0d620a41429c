//! `--health-*` and `--no-healthcheck` of `run`/`create` → `Config.Healthcheck`, as docker's CLI
//! builds it (durations in Go's syntax, nanoseconds on the wire).

use berth_api_types::HealthConfig;

use crate::cli::CreateOpts;
use crate::error::{CliError, CliResult};

/// Parses a Go duration ("30s", "1m30s", "500ms", "1h", "0") into nanoseconds.
pub fn parse_duration(s: &str) -> CliResult<i64> {
    let bad = || CliError::msg(format!("time: invalid duration \"{s}\""));
    let t = s.trim();
    if t == "0" {
        return Ok(0);
    }
    let (neg, mut rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let num: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += num * mult;
    }
    Ok(if neg { -(total as i64) } else { total as i64 })
}

/// The health check the flags ask for (None: keep the image's).
pub fn config(o: &CreateOpts) -> CliResult<Option<HealthConfig>> {
    let any_flag = o.health_cmd.is_some()
        || o.health_interval.is_some()
        || o.health_timeout.is_some()
        || o.health_start_period.is_some()
        || o.health_start_interval.is_some()
        || o.health_retries.is_some();
    if o.no_healthcheck {
        if any_flag {
            return Err(CliError::msg(
                "--no-healthcheck conflicts with --health-* options",
            ));
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }));
    }
    if !any_flag {
        return Ok(None);
    }
    let dur = |flag: &str, v: &Option<String>| -> CliResult<i64> {
        let n = v.as_deref().map(parse_duration).transpose()?.unwrap_or(0);
        if n < 0 {
            return Err(CliError::msg(format!("--{flag} cannot be negative")));
        }
        Ok(n)
    };
    let retries = o.health_retries.unwrap_or(0);
    if retries < 0 {
        return Err(CliError::msg("--health-retries cannot be negative"));
    }
    Ok(Some(HealthConfig {
        test: o
            .health_cmd
            .as_ref()
            .map(|c| vec!["CMD-SHELL".to_string(), c.clone()]),
        interval: dur("health-interval", &o.health_interval)?,
        timeout: dur("health-timeout", &o.health_timeout)?,
        start_period: dur("health-start-period", &o.health_start_period)?,
        start_interval: dur("health-start-interval", &o.health_start_interval)?,
        retries,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("30s").unwrap(), 30_000_000_000);
        assert_eq!(parse_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration("500ms").unwrap(), 500_000_000);
        assert_eq!(parse_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_duration("0").unwrap(), 0);
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("abc").is_err());
    }
}
