//! `--health-*` and `--no-healthcheck` of `run`/`create` → `Config.Healthcheck`, as docker's CLI
//! builds it (durations in Go's syntax, nanoseconds on the wire).

use berth_api_types::HealthConfig;

use crate::cli::CreateOpts;
use crate::error::{CliError, CliResult};

/// Parses a Go duration ("30s", "1m30s", "500ms", "1h", "0") into nanoseconds.
pub fn parse_duration(s: &str) -> CliResult<i64> {
    berth_units::parse_go_duration(s).map_err(CliError::msg)
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
        assert_eq!(
            parse_duration("5").unwrap_err().to_string(),
            "time: missing unit in duration \"5\""
        );
        assert!(parse_duration("abc").is_err());
    }
}
