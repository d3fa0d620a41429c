//! `network create|ls|rm|prune|connect|disconnect` (`network inspect` is `inspect --type
//! network`), with docker's flags and output.

use std::collections::BTreeMap;

use berth_api_types::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, Network, NetworkConnectRequest,
    NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
};
use berth_cli_format::units::truncate_id;
use berth_cli_format::Format;
use clap::Subcommand;
use hyper::Method;
use serde_json::{json, Value};

use super::{filters, for_each, out, Ctx};
use crate::cli::ListFmt;
use crate::error::{CliError, CliResult};
use crate::transport::{query, seg};

/// `network` subcommands.
#[derive(Debug, Subcommand)]
pub enum NetworkCmd {
    /// Create a network.
    Create {
        /// Driver to manage the Network.
        #[arg(short, long, default_value = "bridge")]
        driver: String,
        /// Subnet in CIDR format that represents a network segment.
        #[arg(long)]
        subnet: Vec<String>,
        /// IPv4 or IPv6 Gateway for the master subnet.
        #[arg(long)]
        gateway: Vec<String>,
        /// Allocate container ip from a sub-range.
        #[arg(long = "ip-range")]
        ip_range: Vec<String>,
        /// Restrict external access to the network.
        #[arg(long)]
        internal: bool,
        /// Enable manual container attachment.
        #[arg(long)]
        attachable: bool,
        /// Set metadata on a network.
        #[arg(long)]
        label: Vec<String>,
        /// Set driver specific options.
        #[arg(short, long = "opt")]
        opt: Vec<String>,
        /// IP Address Management Driver.
        #[arg(long = "ipam-driver", default_value = "default")]
        ipam_driver: String,
        /// Set IPAM driver specific options.
        #[arg(long = "ipam-opt")]
        ipam_opt: Vec<String>,
        /// Enable or disable IPv6 networking.
        #[arg(long)]
        ipv6: bool,
        /// Network name.
        name: String,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls {
        /// Do not truncate the output.
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        #[command(flatten)]
        /// --format and --quiet.
        fmt: ListFmt,
    },
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm {
        /// Do not error if the network does not exist.
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        /// The networks (names or ids).
        networks: Vec<String>,
    },
    /// Remove all unused networks.
    Prune {
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Provide filter values (e.g. "until=<timestamp>").
        #[arg(long = "filter")]
        filter: Vec<String>,
    },
    /// Connect a container to a network.
    Connect {
        /// Add network-scoped alias for the container.
        #[arg(long)]
        alias: Vec<String>,
        /// IPv4 address (e.g., "172.30.100.104").
        #[arg(long)]
        ip: Option<String>,
        /// IPv6 address.
        #[arg(long)]
        ip6: Option<String>,
        /// driver options for the network.
        #[arg(long = "driver-opt")]
        driver_opt: Vec<String>,
        /// The network (name or id).
        network: String,
        /// The container (name or id).
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect {
        /// Force the container to disconnect from a network.
        #[arg(short, long)]
        force: bool,
        /// The network (name or id).
        network: String,
        /// The container (name or id).
        container: String,
    },
}

/// `network ls` default format.
pub const NETWORKS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

fn kv(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// Pairs `--subnet`s with `--gateway`s and `--ip-range`s like docker's CLI.
pub fn ipam_configs(
    subnets: &[String],
    gateways: &[String],
    ranges: &[String],
) -> CliResult<Vec<IpamConfig>> {
    if subnets.is_empty() && (!gateways.is_empty() || !ranges.is_empty()) {
        return Err(CliError::msg(
            "every ip-range or gateway must have a corresponding subnet",
        ));
    }
    if gateways.len() > subnets.len() || ranges.len() > subnets.len() {
        return Err(CliError::msg(
            "every ip-range or gateway must have a corresponding subnet",
        ));
    }
    Ok(subnets
        .iter()
        .enumerate()
        .map(|(i, s)| IpamConfig {
            subnet: s.clone(),
            gateway: gateways.get(i).cloned().unwrap_or_default(),
            ip_range: ranges.get(i).cloned().unwrap_or_default(),
            auxiliary_addresses: None,
        })
        .collect())
}

/// One `network ls` row (`{{.ID}}`, `{{.Name}}`, …).
pub fn network_row(n: &Network, trunc: bool) -> Value {
    let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "ID": if trunc { truncate_id(&n.id) } else { n.id.clone() },
        "Name": n.name,
        "Driver": n.driver,
        "Scope": n.scope,
        "IPv4": n.enable_ipv4.to_string(),
        "IPv6": n.enable_ipv6.to_string(),
        "Internal": n.internal.to_string(),
        "Labels": labels.join(","),
        "CreatedAt": n.created,
    })
}

fn headers() -> Value {
    json!({"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
        "IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
        "CreatedAt": "CREATED"})
}

/// Runs a `network` subcommand.
pub async fn run(ctx: &Ctx, cmd: NetworkCmd) -> CliResult<i32> {
    match cmd {
        NetworkCmd::Create {
            driver,
            subnet,
            gateway,
            ip_range,
            internal,
            attachable,
            label,
            opt,
            ipam_driver,
            ipam_opt,
            ipv6,
            name,
        } => {
            let config = ipam_configs(&subnet, &gateway, &ip_range)?;
            let req = NetworkCreateRequest {
                name,
                driver,
                internal,
                attachable,
                enable_ipv6: ipv6.then_some(true),
                ipam: Some(Ipam {
                    driver: ipam_driver,
                    config: Some(config),
                    options: Some(kv(&ipam_opt)),
                }),
                options: Some(kv(&opt)),
                labels: Some(kv(&label)),
            };
            let r: NetworkCreateResponse = ctx.client.post_json("/networks/create", &req).await?;
            out(&format!("{}\n", r.id));
            Ok(0)
        }
        NetworkCmd::Ls { no_trunc, fmt } => ls(ctx, no_trunc, fmt).await,
        NetworkCmd::Rm { force, networks } => {
            for_each(&networks, |n| async move {
                match ctx
                    .client
                    .call(Method::DELETE, &format!("/networks/{}", seg(&n)), None)
                    .await
                {
                    Ok(_) => {
                        out(&format!("{n}\n"));
                        Ok(())
                    }
                    Err(e) if force && e.is_not_found() => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await
        }
        NetworkCmd::Prune { force, filter } => {
            if !force
                && !super::system::confirm(
                    "WARNING! This will remove all custom networks not used by at least one container.",
                )?
            {
                return Ok(0);
            }
            let f = filters(&filter)?;
            let q = if f.is_empty() {
                String::new()
            } else {
                query(&[("filters", f.to_json())])
            };
            let v: Value = ctx
                .client
                .post_json(&format!("/networks/prune{q}"), &json!(null))
                .await?;
            if let Some(list) = v
                .get("NetworksDeleted")
                .and_then(|l| l.as_array())
                .filter(|l| !l.is_empty())
            {
                let mut s = String::from("Deleted Networks:\n");
                for n in list {
                    s.push_str(&format!("{}\n", n.as_str().unwrap_or("")));
                }
                out(&s);
            }
            Ok(0)
        }
        NetworkCmd::Connect {
            alias,
            ip,
            ip6,
            driver_opt,
            network,
            container,
        } => {
            let ipam = (ip.is_some() || ip6.is_some()).then(|| EndpointIpamConfig {
                ipv4_address: ip.unwrap_or_default(),
                ipv6_address: ip6.unwrap_or_default(),
                link_local_ips: None,
            });
            let req = NetworkConnectRequest {
                container,
                endpoint_config: Some(EndpointSettings {
                    ipam_config: ipam,
                    aliases: (!alias.is_empty()).then_some(alias),
                    driver_opts: (!driver_opt.is_empty()).then(|| kv(&driver_opt)),
                    ..Default::default()
                }),
            };
            let body = serde_json::to_value(&req).map_err(|e| CliError::msg(e.to_string()))?;
            ctx.client
                .call(
                    Method::POST,
                    &format!("/networks/{}/connect", seg(&network)),
                    Some(&body),
                )
                .await?;
            Ok(0)
        }
        NetworkCmd::Disconnect {
            force,
            network,
            container,
        } => {
            let req = NetworkDisconnectRequest { container, force };
            let body = serde_json::to_value(&req).map_err(|e| CliError::msg(e.to_string()))?;
            ctx.client
                .call(
                    Method::POST,
                    &format!("/networks/{}/disconnect", seg(&network)),
                    Some(&body),
                )
                .await?;
            Ok(0)
        }
    }
}

async fn ls(ctx: &Ctx, no_trunc: bool, fmt: ListFmt) -> CliResult<i32> {
    let f = filters(&fmt.filter)?;
    let q = if f.is_empty() {
        String::new()
    } else {
        query(&[("filters", f.to_json())])
    };
    let mut list: Vec<Network> = ctx.client.get_json(&format!("/networks{q}")).await?;
    list.sort_by(|a, b| a.name.cmp(&b.name));
    if fmt.quiet {
        let s: String = list
            .iter()
            .map(|n| {
                format!(
                    "{}\n",
                    if no_trunc {
                        n.id.clone()
                    } else {
                        truncate_id(&n.id)
                    }
                )
            })
            .collect();
        out(&s);
        return Ok(0);
    }
    let rows: Vec<Value> = list.iter().map(|n| network_row(n, !no_trunc)).collect();
    let format = fmt.format.clone().unwrap_or_default();
    let f = Format::parse(&format, NETWORKS_TABLE)
        .map_err(|e| CliError::msg(format!("template parsing error: {e}")))?;
    let text = f
        .render(&rows, &headers())
        .map_err(|e| CliError::msg(format!("template: {e}")))?;
    out(&if matches!(f, Format::Json) {
        super::go_json_escape(&text)
    } else {
        text
    });
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipam_pairs_like_docker() {
        let c = ipam_configs(
            &["10.1.0.0/24".into()],
            &["10.1.0.254".into()],
            &["10.1.0.128/25".into()],
        )
        .unwrap();
        assert_eq!(c[0].gateway, "10.1.0.254");
        assert_eq!(c[0].ip_range, "10.1.0.128/25");
        assert!(ipam_configs(&[], &["10.0.0.1".into()], &[]).is_err());
    }

    #[test]
    fn rows_truncate_ids() {
        let n = Network {
            id: "a".repeat(64),
            name: "n".into(),
            driver: "bridge".into(),
            scope: "local".into(),
            ..Default::default()
        };
        assert_eq!(network_row(&n, true)["ID"], "a".repeat(12));
        assert_eq!(network_row(&n, false)["ID"], "a".repeat(64));
    }
}
