//! What a driver is opened with ([`LogConfig`]) and Docker's option checks ([`validate`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::LogError;

/// The drivers berth has.
pub const DRIVERS: &[&str] = &["json-file", "local", "journald", "syslog", "none"];

/// Docker's other built-in drivers (named, but not in berth).
const DOCKER_ONLY: &[&str] = &[
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "gcplogs",
    "logentries",
    "etwlogs",
];

/// The options each driver takes (Docker's lists). `labels-regex` and `env-regex` are
/// compiled by the engine, which picks the attributes (the shim links no regex engine).
fn known_opts(driver: &str) -> &'static [&'static str] {
    match driver {
        "json-file" => &[
            "max-file",
            "max-size",
            "compress",
            "labels",
            "env",
            "tag",
            "labels-regex",
            "env-regex",
        ],
        "local" => &["max-file", "max-size", "compress"],
        "journald" => &["tag", "labels", "env", "labels-regex", "env-regex"],
        "syslog" => &[
            "syslog-address",
            "syslog-facility",
            "syslog-format",
            "syslog-tls-ca-cert",
            "syslog-tls-cert",
            "syslog-tls-key",
            "syslog-tls-skip-verify",
            "tag",
            "labels",
            "env",
            "labels-regex",
            "env-regex",
        ],
        _ => &[],
    }
}

/// Docker's "dual logging" cache options, taken by drivers that cannot be read back.
const CACHE_OPTS: &[&str] = &[
    "cache-disabled",
    "cache-max-size",
    "cache-max-file",
    "cache-compress",
];

/// True for drivers `logs` reads directly (the others get a local cache).
pub fn can_read(driver: &str) -> bool {
    matches!(driver, "json-file" | "local" | "journald")
}

/// Checks a driver name and its options as Docker does at create time (and for
/// daemon.json's `log-driver`/`log-opts`): unknown names, unknown options and bad values
/// are refused with Docker's texts.
pub fn validate(driver: &str, opts: &BTreeMap<String, String>) -> Result<(), LogError> {
    if DOCKER_ONLY.contains(&driver) {
        return Err(LogError::Unavailable(driver.into()));
    }
    if !DRIVERS.contains(&driver) {
        return Err(LogError::UnknownDriver(driver.into()));
    }
    for (k, v) in opts {
        let cache = driver != "none" && !can_read(driver) && CACHE_OPTS.contains(&k.as_str());
        if !cache && !known_opts(driver).contains(&k.as_str()) {
            return Err(LogError::UnknownOpt {
                opt: k.clone(),
                driver: driver.into(),
            });
        }
        check_value(k, v)?;
    }
    if driver == "syslog" {
        crate::syslog::Address::parse(opts.get("syslog-address").map_or("", String::as_str))?;
        crate::syslog::Facility::parse(opts.get("syslog-facility").map_or("", String::as_str))?;
        crate::syslog::Format::parse(opts.get("syslog-format").map_or("", String::as_str))?;
    }
    Ok(())
}

/// Docker's checks of option values (the json-file driver's texts, which Docker gives when
/// it starts the container; berth checks at create so nothing is made).
fn check_value(key: &str, value: &str) -> Result<(), LogError> {
    let init = |why: String| {
        Err(LogError::BadOpt(format!(
            "failed to initialize logging driver: {why}"
        )))
    };
    match key {
        "max-size" | "cache-max-size" => match berth_units::from_human_size(value) {
            Ok(n) if n > 0 => Ok(()),
            Ok(0) => init(format!("{key} must be a positive number")),
            Ok(_) => init(format!("invalid size: '{value}'")),
            Err(e) => init(e.to_string()),
        },
        "max-file" | "cache-max-file" => match value.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(()),
            Ok(_) => init(format!("{key} cannot be less than 1")),
            Err(_) => init(format!("strconv.Atoi: parsing {value:?}: invalid syntax")),
        },
        "compress" | "cache-compress" | "cache-disabled" | "syslog-tls-skip-verify" => {
            match parse_bool(value) {
                Some(_) => Ok(()),
                None => init(format!(
                    "strconv.ParseBool: parsing {value:?}: invalid syntax"
                )),
            }
        }
        "tag" => crate::tag::check(value),
        _ => Ok(()),
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The container facts drivers put into their records (resolved by the daemon).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Full container id.
    pub id: String,
    /// Name, without the leading slash.
    pub name: String,
    /// The image as the user named it (`Config.Image`).
    pub image_name: String,
    /// The `tag` option expanded (`{{.ID}}`, the short id, by default).
    pub tag: String,
    /// Extra attributes from the `labels` and `env` options (key → value).
    pub attrs: BTreeMap<String, String>,
}

/// Everything a driver is opened with: what the daemon writes to the container's state dir
/// for the shim, and what `logs` reads with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    /// The driver (one of [`DRIVERS`]).
    pub driver: String,
    /// Its options, the daemon's defaults merged in.
    pub opts: BTreeMap<String, String>,
    /// The container.
    pub container: ContainerInfo,
    /// The container's directory (its json-file log, `local-logs/`, the cache).
    pub dir: PathBuf,
    /// The json-file log (`<dir>/<id>-json.log`).
    pub json_path: PathBuf,
    /// A journald namespace to log to instead of the system journal
    /// (`/run/systemd/journal.<ns>/socket`; daemon setting, used by tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_namespace: Option<String>,
}

impl LogConfig {
    /// An option's value.
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.opts.get(key).map(String::as_str)
    }

    /// The local driver's file: `<dir>/local-logs/container.log` (Docker's layout).
    pub fn local_path(&self) -> PathBuf {
        self.dir.join("local-logs").join("container.log")
    }

    /// The dual-logging cache file of a driver that cannot be read back, unless disabled:
    /// `<dir>/container-cached.log`.
    pub fn cache_path(&self) -> Option<PathBuf> {
        let disabled = self
            .opt("cache-disabled")
            .and_then(parse_bool)
            .unwrap_or(false);
        (!can_read(&self.driver) && self.driver != "none" && !disabled)
            .then(|| self.dir.join("container-cached.log"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn docker_texts_for_bad_names_and_opts() {
        let e = validate("nope", &opts(&[])).unwrap_err().to_string();
        assert_eq!(
            e,
            "error looking up logging plugin nope: plugin \"nope\" not found"
        );
        let e = validate("local", &opts(&[("tag", "x")])).unwrap_err();
        assert_eq!(e.to_string(), "unknown log opt 'tag' for local log driver");
        let err = |d: &str, kv: &[(&str, &str)]| validate(d, &opts(kv)).unwrap_err().to_string();
        assert!(validate(
            "json-file",
            &opts(&[("max-size", "10m"), ("max-file", "3")])
        )
        .is_ok());
        assert_eq!(
            err("json-file", &[("max-size", "-5")]),
            "failed to initialize logging driver: invalid size: '-5'"
        );
        assert_eq!(
            err("json-file", &[("max-file", "0")]),
            "failed to initialize logging driver: max-file cannot be less than 1"
        );
        assert_eq!(
            err("json-file", &[("foo", "1")]),
            "unknown log opt 'foo' for json-file log driver"
        );
        for bad in ["", "-5", "m", "1x", "1..2", "0"] {
            assert!(
                validate("local", &opts(&[("max-size", bad)])).is_err(),
                "{bad}"
            );
        }
        assert!(validate("local", &opts(&[("max-size", "1k"), ("compress", "false")])).is_ok());
        assert!(validate("syslog", &opts(&[("cache-disabled", "true")])).is_ok());
        assert!(validate("json-file", &opts(&[("cache-disabled", "true")])).is_err());
        assert!(validate("syslog", &opts(&[("syslog-address", "ftp://x")])).is_err());
        assert!(validate("gelf", &opts(&[])).is_err());
        assert!(validate("none", &opts(&[])).is_ok());
    }
}
