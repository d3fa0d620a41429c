//! `volumes [SERVICE…]`: the project's volumes, as Compose v2's `volumes` (v2.40): all the
//! volumes carrying the project label; with services, only those mounted by the services'
//! running containers. Printed by the docker CLI's volume formatter (`table` = DRIVER and
//! VOLUME NAME, `json`, a Go template), `-q` the names; in the daemon's order.

use std::collections::BTreeSet;

use berth_api_types::volume::Volume;
use berth_cli_format::Format;
use berth_client::commands::volume::{volume_headers, volume_row, VOLUMES_TABLE};
use serde_json::Value;

use super::labels::{PROJECT, SERVICE};
use super::runner::Runner;
use super::Failure;

/// `volumes` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct VolumesArgs {
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a custom template: 'table' (default), 'table TEMPLATE', 'json', 'TEMPLATE'
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Services
    pub services: Vec<String>,
}

/// `volumes`.
pub async fn volumes(r: &Runner, args: &VolumesArgs) -> Result<i32, Failure> {
    if r.from_file {
        for s in &args.services {
            if !r.loaded.project.services.contains_key(s) {
                return Err(Failure::msg(format!("no such service: {s}")));
            }
        }
    }
    let name = r.name();
    let mut list: Vec<Value> = r.api.volumes(&format!("{PROJECT}={name}")).await?;
    if !args.services.is_empty() {
        // as v2: the mounts of the services' running containers
        let mounted: BTreeSet<String> = r
            .api
            .containers(name, None, false)
            .await?
            .iter()
            .filter(|c| {
                let service = c["Labels"][SERVICE].as_str().unwrap_or_default();
                args.services.iter().any(|s| s == service)
            })
            .flat_map(|c| c["Mounts"].as_array().cloned().unwrap_or_default())
            .filter_map(|m| m["Name"].as_str().map(String::from))
            .collect();
        list.retain(|v| v["Name"].as_str().is_some_and(|n| mounted.contains(n)));
    }
    if args.quiet {
        for v in &list {
            println!("{}", v["Name"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    let rows: Vec<Value> = list
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Volume>(v).ok())
        .map(|v| volume_row(&v))
        .collect();
    let format = Format::parse(&args.format, VOLUMES_TABLE)
        .map_err(|e| Failure::msg(format!("template parsing error: {e}")))?;
    let text = format
        .render(&rows, &volume_headers())
        .map_err(|e| Failure::msg(e.to_string()))?;
    print!("{text}");
    Ok(0)
}
