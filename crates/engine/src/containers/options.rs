//! Create options berth checks the way Docker does before anything is made: the log
//! driver, the runtime name and `StorageOpt`.

use berth_api_types::HostConfig;

use super::LogDefaults;
use crate::error::{EngineError, Result};

/// The runtime containers run with (the only one; `/info` lists it).
pub const DEFAULT_RUNTIME: &str = "berth";

/// Create options berth checks as Docker does, filling in their defaults: the log driver
/// (the daemon's, its options merged in), the runtime, and `StorageOpt` (a size needs a quota-capable backing store,
/// which overlay here never has).
pub fn check_create_options(host: &mut HostConfig, log: &LogDefaults) -> Result<()> {
    super::logging::merge_and_check(host, log)?;
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
