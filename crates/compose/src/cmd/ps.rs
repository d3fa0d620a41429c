//! `ps`, `ls`, `images`, `top`, `port`: tables as Compose v2 prints them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use berth_api_types::ContainerSummary;
use berth_cli_format::{rows::display_ports, tabwrite, time::ago};
use serde_json::{json, Value};

use super::labels::*;
use super::runner::Runner;
use super::state::Container;
use super::Failure;

/// `ps` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PsArgs {
    /// Show all stopped containers (including those created by the run command)
    #[arg(short, long)]
    pub all: bool,
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Display services
    #[arg(long)]
    pub services: bool,
    /// Format output using a custom template: 'table', 'json', or a Go template
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]
    #[arg(long)]
    pub status: Vec<String>,
    /// Filter services by a property (supported filters: status)
    #[arg(long)]
    pub filter: Vec<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Services
    pub service_names: Vec<String>,
}

fn command_of(v: &Value, trunc: bool) -> String {
    let c = v.get("Command").and_then(Value::as_str).unwrap_or_default();
    if trunc && c.chars().count() > 20 {
        let s: String = c.chars().take(19).collect();
        format!("\"{s}…\"")
    } else {
        format!("\"{c}\"")
    }
}

/// `ps`.
pub async fn ps(r: &Runner, args: &PsArgs) -> Result<i32, Failure> {
    let mut statuses: Vec<String> = args.status.clone();
    for f in &args.filter {
        if let Some(s) = f.strip_prefix("status=") {
            statuses.push(s.into());
        } else {
            return Err(Failure::msg(format!("unsupported filter {f:?}")));
        }
    }
    let only: BTreeSet<&String> = args.service_names.iter().collect();
    for s in &only {
        if r.from_file && !r.loaded.project.services.contains_key(*s) {
            return Err(Failure::msg(format!("no such service: {s}")));
        }
    }
    let containers: Vec<Container> = r
        .containers(if args.all { None } else { Some(false) })
        .await?
        .into_iter()
        .filter(|c| args.all || !statuses.is_empty() || c.is_running())
        .filter(|c| statuses.is_empty() || statuses.contains(&c.state))
        .filter(|c| only.is_empty() || only.contains(&c.service))
        .collect();
    if args.quiet {
        for c in &containers {
            println!("{}", c.id);
        }
        return Ok(0);
    }
    if args.services {
        let s: BTreeSet<&String> = containers.iter().map(|c| &c.service).collect();
        for n in s {
            println!("{n}");
        }
        return Ok(0);
    }
    let now = SystemTime::now();
    let rows: Vec<Value> = containers
        .iter()
        .map(|c| {
            let summary: Option<ContainerSummary> = serde_json::from_value(c.raw.clone()).ok();
            let ports = summary.map(|s| display_ports(&s.ports)).unwrap_or_default();
            let created = c.raw.get("Created").and_then(Value::as_i64).unwrap_or(0);
            json!({
                "ID": c.id, "Name": c.name, "Image": c.image, "Command": command_of(&c.raw, !args.no_trunc),
                "Project": r.name(), "Service": c.service, "CreatedAt": created,
                "RunningFor": ago(created, now), "State": c.state, "Status": c.status,
                "Health": health_of(&c.status), "ExitCode": exit_code_of(&c.status),
                "Publishers": c.raw.get("Ports").cloned().unwrap_or(json!([])),
                "Ports": ports, "Labels": c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "LocalVolumes": "0", "Mounts": "", "Networks": "", "Size": "",
            })
        })
        .collect();
    match args.format.as_str() {
        "table" => {
            let mut text = String::from("NAME\tIMAGE\tCOMMAND\tSERVICE\tCREATED\tSTATUS\tPORTS\n");
            for v in &rows {
                text.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    v["Name"].as_str().unwrap_or_default(),
                    v["Image"].as_str().unwrap_or_default(),
                    v["Command"].as_str().unwrap_or_default(),
                    v["Service"].as_str().unwrap_or_default(),
                    v["RunningFor"].as_str().unwrap_or_default(),
                    v["Status"].as_str().unwrap_or_default(),
                    v["Ports"].as_str().unwrap_or_default(),
                ));
            }
            print!("{}", tabwrite(text.trim_end_matches('\n')));
            println!();
        }
        "json" => {
            for v in &rows {
                println!("{v}");
            }
        }
        tpl => {
            let tpl = tpl.strip_prefix("table ").unwrap_or(tpl);
            for v in &rows {
                let line = berth_cli_format::render(tpl, v).map_err(Failure::msg)?;
                println!("{line}");
            }
        }
    }
    Ok(0)
}

fn health_of(status: &str) -> &'static str {
    if status.contains("(healthy)") {
        "healthy"
    } else if status.contains("(unhealthy)") {
        "unhealthy"
    } else if status.contains("(health: starting)") {
        "starting"
    } else {
        ""
    }
}

fn exit_code_of(status: &str) -> i64 {
    status
        .strip_prefix("Exited (")
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `ls`: projects on the daemon, from the labels of their containers.
pub async fn ls(
    api: &super::api::Api,
    all: bool,
    quiet: bool,
    format: &str,
) -> Result<i32, Failure> {
    let filters = json!({ "label": [PROJECT] }).to_string();
    let q = berth_client::transport::query(&[("all", "true".into()), ("filters", filters)]);
    let list = api.get(&format!("/containers/json{q}")).await?;
    let mut projects: BTreeMap<String, (BTreeMap<String, usize>, BTreeSet<String>)> =
        BTreeMap::new();
    for c in list.as_array().cloned().unwrap_or_default() {
        let c = Container::from_summary(&c);
        let Some(p) = c.labels.get(PROJECT) else {
            continue;
        };
        let entry = projects.entry(p.clone()).or_default();
        *entry.0.entry(c.state.clone()).or_default() += 1;
        if let Some(f) = c.labels.get(CONFIG_FILES) {
            entry.1.insert(f.clone());
        }
    }
    let rows: Vec<(String, String, String)> = projects
        .into_iter()
        .filter(|(_, (states, _))| all || states.contains_key("running"))
        .map(|(name, (states, files))| {
            let status = states
                .iter()
                .map(|(s, n)| format!("{s}({n})"))
                .collect::<Vec<_>>()
                .join(", ");
            (
                name,
                status,
                files.into_iter().collect::<Vec<_>>().join(","),
            )
        })
        .collect();
    if quiet {
        for (n, _, _) in rows {
            println!("{n}");
        }
        return Ok(0);
    }
    if format == "json" {
        let v: Vec<Value> = rows
            .iter()
            .map(|(n, s, f)| json!({"Name": n, "Status": s, "ConfigFiles": f}))
            .collect();
        println!("{}", Value::from(v));
        return Ok(0);
    }
    let mut text = String::from("NAME\tSTATUS\tCONFIG FILES\n");
    for (n, s, f) in rows {
        text.push_str(&format!("{n}\t{s}\t{f}\n"));
    }
    print!("{}", tabwrite(text.trim_end_matches('\n')));
    println!();
    Ok(0)
}

/// `images`: the images the project's containers use.
pub async fn images(r: &Runner, quiet: bool, services: &[String]) -> Result<i32, Failure> {
    let containers: Vec<Container> = r
        .containers(None)
        .await?
        .into_iter()
        .filter(|c| services.is_empty() || services.contains(&c.service))
        .collect();
    let mut text = String::from("CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE\n");
    for c in &containers {
        let img = r.api.image(&c.image).await?.unwrap_or(json!({}));
        let id = img.get("Id").and_then(Value::as_str).unwrap_or_default();
        let short = id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect::<String>();
        if quiet {
            println!("{id}");
            continue;
        }
        let (repo, tag) = super::api::split_tag(&c.image);
        let size = img.get("Size").and_then(Value::as_i64).unwrap_or(0);
        text.push_str(&format!(
            "{}\t{repo}\t{tag}\t{short}\t{}\n",
            c.name,
            berth_cli_format::units::human_size(size as f64)
        ));
    }
    if !quiet {
        print!("{}", tabwrite(text.trim_end_matches('\n')));
        println!();
    }
    Ok(0)
}

/// `top`.
pub async fn top(r: &Runner, services: &[String]) -> Result<i32, Failure> {
    for c in r.containers(Some(false)).await? {
        if !c.is_running() || !(services.is_empty() || services.contains(&c.service)) {
            continue;
        }
        let t = r.api.get(&format!("/containers/{}/top", c.id)).await?;
        println!("{}", c.name);
        let mut text = String::new();
        let titles: Vec<String> = t["Titles"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect();
        text.push_str(&titles.join("\t"));
        for p in t["Processes"].as_array().cloned().unwrap_or_default() {
            let cells: Vec<String> = p
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect();
            text.push('\n');
            text.push_str(&cells.join("\t"));
        }
        print!("{}", tabwrite(&text));
        println!("\n");
    }
    Ok(0)
}

/// `port SERVICE PRIVATE_PORT`.
pub async fn port(
    r: &Runner,
    service: &str,
    private: &str,
    protocol: &str,
    index: u32,
) -> Result<i32, Failure> {
    let c = r
        .containers(Some(false))
        .await?
        .into_iter()
        .find(|c| c.service == service && c.number == index)
        .ok_or_else(|| Failure::msg(format!("service \"{service}\" is not running")))?;
    let info = r.api.inspect(&c.id).await?;
    let key = format!("{private}/{protocol}");
    let binding = info
        .pointer("/NetworkSettings/Ports")
        .and_then(|p| p.get(&key))
        .and_then(Value::as_array)
        .and_then(|a| a.first().cloned());
    match binding {
        Some(b) => {
            println!(
                "{}:{}",
                b["HostIp"].as_str().unwrap_or_default(),
                b["HostPort"].as_str().unwrap_or_default()
            );
            Ok(0)
        }
        None => Err(Failure::msg(format!(
            "no port {key} for container {}",
            c.name
        ))),
    }
}
