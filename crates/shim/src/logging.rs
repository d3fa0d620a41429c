//! The shim's log driver: the one `--log-config` names, or a plain json-file log (build
//! steps).

use berth_logdriver::{jsonfile::JsonFileDriver, LogConfig, LogDriver};

use crate::ShimArgs;

/// Opens the driver `args` ask for; the error is what the start fails with.
pub(crate) fn open(args: &ShimArgs) -> Result<Box<dyn LogDriver>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("failed to initialize logging driver: {e}");
    match &args.log_config {
        Some(path) => {
            let text =
                std::fs::read(path).map_err(|e| fail(&format!("{}: {e}", path.display())))?;
            let config: LogConfig = serde_json::from_slice(&text)
                .map_err(|e| fail(&format!("{}: {e}", path.display())))?;
            berth_logdriver::open(&config).map_err(|e| fail(&e))
        }
        None => JsonFileDriver::plain(&args.log, args.max_size, args.max_file)
            .map(|d| Box::new(d) as Box<dyn LogDriver>)
            .map_err(|e| fail(&format!("{}: {e}", args.log.display()))),
    }
}
