//! A container's log driver, as Docker resolves it: the daemon's `log-driver`/`log-opts`
//! merged into the container's `LogConfig` at create, then the `berth_logdriver::LogConfig`
//! the shim writes with and `logs` reads with.

use std::collections::BTreeMap;

use berth_api_types::HostConfig;
use berth_logdriver::tag::{self, TagFacts};
use berth_logdriver::{ContainerInfo, LogConfig, LogError};

use super::Containers;
use crate::error::{EngineError, Result};
use crate::record::ContainerRecord;

/// The daemon's log settings (daemon.json `log-driver`, `log-opts`).
#[derive(Debug, Clone, Default)]
pub struct LogDefaults {
    /// The default driver (`json-file` unless daemon.json says otherwise).
    pub driver: String,
    /// Its options.
    pub opts: BTreeMap<String, String>,
    /// A journald namespace to log to instead of the system journal
    /// (`BERTH_JOURNAL_NAMESPACE` in the daemon's environment; tests use it).
    pub journal_namespace: Option<String>,
}

impl LogDefaults {
    /// The daemon's driver and options, checked as Docker checks them at start.
    pub fn new(driver: &str, opts: BTreeMap<String, String>) -> std::result::Result<Self, String> {
        berth_logdriver::validate(driver, &opts)
            .and_then(|()| check_regexes(&opts))
            .map_err(|e| format!("failed to set log opts: {e}"))?;
        Ok(LogDefaults {
            driver: driver.to_string(),
            opts,
            journal_namespace: std::env::var("BERTH_JOURNAL_NAMESPACE")
                .ok()
                .filter(|s| !s.is_empty()),
        })
    }
}

/// Docker's `mergeAndVerifyLogConfig`: no driver means the daemon's; the daemon's options
/// fill in what a container using the daemon's driver did not set; then the options are
/// checked for the driver.
pub fn merge_and_check(host: &mut HostConfig, defaults: &LogDefaults) -> Result<()> {
    let cfg = &mut host.log_config;
    if cfg.kind.is_empty() {
        cfg.kind = if defaults.driver.is_empty() {
            "json-file".into()
        } else {
            defaults.driver.clone()
        };
    }
    if cfg.kind == defaults.driver {
        for (k, v) in &defaults.opts {
            cfg.config.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    berth_logdriver::validate(&cfg.kind, &cfg.config)
        .and_then(|()| check_regexes(&cfg.config))
        .map_err(|e| EngineError::invalid(e.to_string()))
}

/// `labels-regex` and `env-regex` must compile (Docker finds out when the container
/// starts, with the same "failed to initialize logging driver" error; berth at create, so
/// that nothing is made).
fn check_regexes(opts: &BTreeMap<String, String>) -> std::result::Result<(), LogError> {
    for key in ["labels-regex", "env-regex"] {
        regex_opt(opts, key)?;
    }
    Ok(())
}

/// The compiled `key` option, if set and not empty.
fn regex_opt(
    opts: &BTreeMap<String, String>,
    key: &str,
) -> std::result::Result<Option<regex::Regex>, LogError> {
    match opts.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(re) => regex::Regex::new(re).map(Some).map_err(|e| {
            LogError::BadOpt(format!(
                "failed to initialize logging driver: error parsing regexp: {}",
                e.to_string().lines().last().unwrap_or_default().trim()
            ))
        }),
    }
}

impl Containers {
    /// The driver configuration of `rec` (what the shim opens, what `logs` reads).
    pub(crate) fn log_config(&self, rec: &ContainerRecord) -> Result<LogConfig> {
        let opts = rec.host_config.log_config.config.clone();
        let name = rec.name.trim_start_matches('/');
        let facts = TagFacts {
            id: &rec.id,
            name,
            image_id: &rec.image,
            image_name: &rec.config.image,
        };
        let tag = tag::expand(opts.get("tag").map_or("", String::as_str), &facts)
            .map_err(|e| EngineError::invalid(e.to_string()))?;
        Ok(LogConfig {
            driver: rec.host_config.log_config.kind.clone(),
            container: ContainerInfo {
                id: rec.id.clone(),
                name: name.to_string(),
                image_name: rec.config.image.clone(),
                tag,
                attrs: attrs(rec, &opts).map_err(|e| EngineError::invalid(e.to_string()))?,
            },
            opts,
            dir: self.data_dir(&rec.id),
            json_path: rec.log_path.clone().into(),
            journal_namespace: self.log.journal_namespace.clone(),
        })
    }
}

/// Docker's extra attributes (`ExtraAttributes`): the container labels named by `labels`
/// (comma-separated) or whose key matches `labels-regex` (a search, not anchored), and the
/// environment variables named by `env` or matching `env-regex`.
fn attrs(
    rec: &ContainerRecord,
    opts: &BTreeMap<String, String>,
) -> std::result::Result<BTreeMap<String, String>, LogError> {
    let mut out = BTreeMap::new();
    let keys = |k: &str| -> Vec<String> {
        opts.get(k)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let labels = rec.config.labels.clone().unwrap_or_default();
    for k in keys("labels") {
        if let Some(v) = labels.get(&k) {
            out.insert(k, v.clone());
        }
    }
    if let Some(re) = regex_opt(opts, "labels-regex")? {
        for (k, v) in labels.iter().filter(|(k, _)| re.is_match(k)) {
            out.insert(k.clone(), v.clone());
        }
    }
    let env: BTreeMap<&str, &str> = rec
        .config
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.split_once('='))
        .collect();
    for k in keys("env") {
        if let Some(v) = env.get(k.as_str()) {
            out.insert(k, v.to_string());
        }
    }
    if let Some(re) = regex_opt(opts, "env-regex")? {
        for (k, v) in env.iter().filter(|(k, _)| re.is_match(k)) {
            out.insert(k.to_string(), v.to_string());
        }
    }
    Ok(out)
}
