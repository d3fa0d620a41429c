//! `volume create | ls | rm | prune` (`volume inspect` is `inspect --type volume`).

use std::cmp::Ordering;

use berth_api_types::volume::{Volume, VolumeCreateOptions, VolumeListResponse};
use berth_api_types::Labels;
use berth_cli_format::units::docker_size;
use berth_cli_format::Format;
use clap::{Args, Subcommand};
use hyper::Method;
use serde_json::{json, Value};

use super::{filters, for_each, out, Ctx};
use crate::error::{CliError, CliResult};
use crate::transport::{query, seg};

/// `volume` subcommands.
#[derive(Debug, Subcommand)]
pub enum VolumeCmd {
    /// Create a volume.
    Create(CreateArgs),
    /// List volumes.
    #[command(visible_alias = "list")]
    Ls {
        /// Format output using a custom template ('table', 'json' or a Go template).
        #[arg(long)]
        format: Option<String>,
        /// Only display volume names.
        #[arg(short, long)]
        quiet: bool,
        /// Provide filter values (e.g. "dangling=true").
        #[arg(short, long = "filter")]
        filter: Vec<String>,
    },
    /// Remove one or more volumes.
    #[command(visible_alias = "remove")]
    Rm {
        /// Force the removal of one or more volumes.
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        /// The volumes (names).
        volumes: Vec<String>,
    },
    /// Remove unused local volumes.
    Prune {
        /// Remove all unused volumes, not just anonymous ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        force: bool,
        /// Provide filter values (e.g. "label=<label>").
        #[arg(long = "filter")]
        filter: Vec<String>,
    },
}

/// Flags of `volume create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Specify volume driver name.
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume.
    #[arg(long = "label")]
    pub label: Vec<String>,
    /// Set driver specific options.
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Specify volume name.
    #[arg(long, hide = true)]
    pub name: Option<String>,
    /// The volume name.
    pub volume: Option<String>,
}

/// Runs a `volume` subcommand.
pub async fn run(ctx: &Ctx, cmd: VolumeCmd) -> CliResult<i32> {
    match cmd {
        VolumeCmd::Create(a) => create(ctx, a).await,
        VolumeCmd::Ls {
            format,
            quiet,
            filter,
        } => ls(ctx, format, quiet, filter).await,
        VolumeCmd::Rm { force, volumes } => rm(ctx, force, volumes).await,
        VolumeCmd::Prune { all, force, filter } => prune(ctx, all, force, filter).await,
    }
}

fn key_values(list: &[String], labels: bool) -> CliResult<Labels> {
    let mut out = Labels::new();
    for item in list {
        match item.split_once('=') {
            Some((k, v)) => out.insert(k.to_string(), v.to_string()),
            // docker: a bare label key has an empty value; an option needs `key=value`.
            None if labels => out.insert(item.clone(), String::new()),
            None => {
                return Err(CliError::msg(format!(
                    "invalid argument \"{item}\" for \"-o, --opt\" flag: invalid key value pair format in driver options"
                )))
            }
        };
    }
    Ok(out)
}

async fn create(ctx: &Ctx, a: CreateArgs) -> CliResult<i32> {
    let name = match (a.name, a.volume) {
        (Some(n), Some(v)) if n != v => {
            return Err(CliError::msg(format!(
                "conflicting options: cannot specify a volume-name through both --name and as a positional arg ({n} and {v})"
            )))
        }
        (n, v) => n.or(v).unwrap_or_default(),
    };
    let body = VolumeCreateOptions {
        name,
        driver: a.driver,
        driver_opts: key_values(&a.opt, false)?,
        labels: key_values(&a.label, true)?,
    };
    let v: Volume = ctx.client.post_json("/volumes/create", &body).await?;
    out(&format!("{}\n", v.name));
    Ok(0)
}

/// Go's `sortorder.NaturalLess`: digit runs compare by value.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let n = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let m = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (&x[..n], &y[..m]);
                let ta = std::str::from_utf8(na)
                    .unwrap_or("")
                    .trim_start_matches('0');
                let tb = std::str::from_utf8(nb)
                    .unwrap_or("")
                    .trim_start_matches('0');
                let o = ta.len().cmp(&tb.len()).then(ta.cmp(tb)).then(n.cmp(&m));
                if o != Ordering::Equal {
                    return o;
                }
                x = &x[n..];
                y = &y[m..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

/// The fields `volume ls --format` offers.
pub fn volume_row(v: &Volume) -> Value {
    let labels: Vec<String> = v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let (links, size) = match &v.usage_data {
        Some(u) if u.size >= 0 => (u.ref_count.to_string(), docker_size(u.size)),
        Some(u) => (u.ref_count.to_string(), "N/A".into()),
        None => ("N/A".into(), "N/A".into()),
    };
    json!({"Name": v.name, "Driver": v.driver, "Scope": v.scope, "Mountpoint": v.mountpoint,
        "Labels": labels.join(","), "Links": links, "Size": size, "Group": "N/A",
        "Availability": "N/A", "Status": "N/A"})
}

/// Column titles of `volume ls`.
pub fn volume_headers() -> Value {
    json!({"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE",
        "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE",
        "Group": "GROUP", "Availability": "AVAILABILITY", "Status": "STATUS"})
}

/// `volume ls` default format.
pub const VOLUMES_TABLE: &str = "table {{.Driver}}\t{{.Name}}";

async fn ls(ctx: &Ctx, format: Option<String>, quiet: bool, filter: Vec<String>) -> CliResult<i32> {
    let f = filters(&filter)?;
    let q = if f.is_empty() {
        String::new()
    } else {
        query(&[("filters", f.to_json())])
    };
    let mut list: VolumeListResponse = ctx.client.get_json(&format!("/volumes{q}")).await?;
    list.volumes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    for w in &list.warnings {
        eprintln!("{w}");
    }
    let format = format.unwrap_or_default();
    let format = if quiet && format.is_empty() {
        "{{.Name}}".to_string()
    } else {
        format
    };
    let rows: Vec<Value> = list.volumes.iter().map(volume_row).collect();
    let f = Format::parse(&format, VOLUMES_TABLE)
        .map_err(|e| CliError::msg(format!("template parsing error: {e}")))?;
    out(&f
        .render(&rows, &volume_headers())
        .map_err(|e| CliError::msg(e.to_string()))?);
    Ok(0)
}

async fn rm(ctx: &Ctx, force: bool, names: Vec<String>) -> CliResult<i32> {
    let q = if force {
        query(&[("force", "1".to_string())])
    } else {
        String::new()
    };
    for_each(&names, |n| {
        let path = format!("/volumes/{}{q}", seg(&n));
        async move {
            ctx.client.call(Method::DELETE, &path, None).await?;
            out(&format!("{n}\n"));
            Ok(())
        }
    })
    .await
}

async fn prune(ctx: &Ctx, all: bool, force: bool, filter: Vec<String>) -> CliResult<i32> {
    let mut f = filters(&filter)?;
    if all {
        if f.0.contains_key("all") {
            return Err(CliError::msg(
                "conflicting options: cannot specify both --all and --filter all=1",
            ));
        }
        f.add("all", "true");
    }
    let warning = if all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !force && !super::system::confirm(warning)? {
        return Ok(0);
    }
    let q = if f.is_empty() {
        String::new()
    } else {
        query(&[("filters", f.to_json())])
    };
    let v: Value = ctx
        .client
        .post_json(&format!("/volumes/prune{q}"), &json!(null))
        .await?;
    let mut s = String::new();
    let mut reclaimed = 0;
    if let Some(list) = v
        .get("VolumesDeleted")
        .and_then(|l| l.as_array())
        .filter(|l| !l.is_empty())
    {
        s.push_str("Deleted Volumes:\n");
        for n in list {
            s.push_str(&format!("{}\n", n.as_str().unwrap_or("")));
        }
        s.push('\n');
        reclaimed = v
            .get("SpaceReclaimed")
            .and_then(|r| r.as_i64())
            .unwrap_or(0);
    }
    s.push_str(&format!(
        "Total reclaimed space: {}\n",
        docker_size(reclaimed)
    ));
    out(&s);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_and_rows() {
        let mut v = vec!["v10", "v2", "a", "v1"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["a", "v1", "v2", "v10"]);
        let vol = Volume {
            name: "data".into(),
            driver: "local".into(),
            scope: "local".into(),
            labels: [("a".to_string(), "b".to_string())].into(),
            ..Default::default()
        };
        let r = volume_row(&vol);
        assert_eq!(r["Labels"], "a=b");
        assert_eq!(r["Size"], "N/A");
        let f = Format::parse("", VOLUMES_TABLE).unwrap();
        assert_eq!(
            f.render(&[r], &volume_headers()).unwrap(),
            "DRIVER    VOLUME NAME\nlocal     data\n"
        );
    }
}
