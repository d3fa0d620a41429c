//! Create options berth checks the way Docker does before anything is made: the log
//! driver, the runtime name and `StorageOpt`.

use berth_api_types::HostConfig;

use crate::error::{EngineError, Result};

/// The runtime containers run with (the only one; `/info` lists it).
pub const DEFAULT_RUNTIME: &str = "berth";

/// Create options berth checks as Docker does, filling in their defaults: the log driver
/// (json-file), the runtime, and `StorageOpt` (a size needs a quota-capable backing store,
/// which overlay here never has).
pub fn check_create_options(host: &mut HostConfig) -> Result<()> {
    match host.log_config.kind.as_str() {
        "" => host.log_config.kind = "json-file".into(),
        "json-file" | "none" => {}
        // Docker's own drivers: a known name berth does not have.
        d @ ("local" | "journald" | "syslog" | "gelf" | "fluentd" | "awslogs" | "splunk"
        | "gcplogs" | "logentries" | "etwlogs") => {
            return Err(EngineError::invalid(format!(
                "logging driver {d} is not available in berth: use json-file or none"
            )))
        }
        d => {
            return Err(EngineError::invalid(format!(
                "error looking up logging plugin {d}: plugin \"{d}\" not found"
            )))
        }
    }
    match host.runtime.as_str() {
        "" => host.runtime = DEFAULT_RUNTIME.into(),
        DEFAULT_RUNTIME => {}
        r => {
            return Err(EngineError::invalid(format!(
                "unknown or invalid runtime name: {r}"
            )))
        }
    }
    if let Some(opts) = &host.storage_opt {
        if let Some(k) = opts.keys().next() {
            let message = if k == "size" {
                "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"
                    .to_string()
            } else {
                format!("Unknown option {k}")
            };
            return Err(EngineError::invalid(message));
        }
    }
    Ok(())
}
