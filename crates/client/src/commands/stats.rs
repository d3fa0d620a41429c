//! `berth stats`: live resource usage of containers, computed from the daemon's samples the
//! way docker's CLI computes it (CPU % from the deltas against the host's CPU time, memory
//! without the inactive page cache).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_api_types::{ContainerStats, ContainerSummary};
use berth_cli_format::units::{bytes_size, human_size_with_precision, truncate_id};
use berth_cli_format::Format;
use hyper::Method;
use serde_json::{json, Value};

use super::{out, Ctx};
use crate::error::{CliError, CliResult};
use crate::transport::{query, seg, BodyLines};

/// `docker stats`' default table.
pub const STATS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// Column titles.
pub fn stats_headers() -> Value {
    json!({"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O", "PIDs": "PIDS"})
}

/// What `berth stats` was asked.
#[derive(Debug, Clone, Default)]
pub struct StatsArgs {
    /// `-a`: stopped containers too (when no names are given).
    pub all: bool,
    /// `--no-stream`: one table, then exit.
    pub no_stream: bool,
    /// `--no-trunc`.
    pub no_trunc: bool,
    /// `--format`.
    pub format: Option<String>,
    /// Containers named on the command line (empty = all running, followed as they come).
    pub containers: Vec<String>,
    /// Only containers with these labels (`key=value`; compose's project and service).
    pub labels: Vec<String>,
}

/// The numbers of one row, computed from a sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// CPU %, of one CPU (so up to 100 × CPUs).
    pub cpu_percent: f64,
    /// Memory in use without the inactive page cache.
    pub memory: f64,
    /// Its limit.
    pub memory_limit: f64,
    /// Memory %.
    pub memory_percent: f64,
    /// Bytes received and sent over all interfaces.
    pub net: (f64, f64),
    /// Bytes read and written over all devices.
    pub block: (f64, f64),
    /// Processes.
    pub pids: u64,
}

impl Usage {
    /// docker's calculations (cli/command/container/stats_helpers.go).
    pub fn of(s: &ContainerStats) -> Usage {
        let cpu_delta =
            s.cpu_stats.cpu_usage.total_usage as f64 - s.precpu_stats.cpu_usage.total_usage as f64;
        let system_delta =
            s.cpu_stats.system_cpu_usage as f64 - s.precpu_stats.system_cpu_usage as f64;
        let mut cpus = f64::from(s.cpu_stats.online_cpus);
        if cpus == 0.0 {
            cpus = s
                .cpu_stats
                .cpu_usage
                .percpu_usage
                .as_ref()
                .map_or(0, Vec::len) as f64;
        }
        let cpu_percent = if system_delta > 0.0 && cpu_delta > 0.0 {
            cpu_delta / system_delta * cpus * 100.0
        } else {
            0.0
        };
        let m = &s.memory_stats;
        let cache = match m.stats.get("total_inactive_file") {
            Some(v) => Some(*v),
            None => m.stats.get("inactive_file").copied(),
        };
        let memory = match cache {
            Some(c) if c < m.usage => (m.usage - c) as f64,
            _ => m.usage as f64,
        };
        let memory_limit = m.limit as f64;
        let memory_percent = if memory_limit > 0.0 {
            memory / memory_limit * 100.0
        } else {
            0.0
        };
        let net = s
            .networks
            .iter()
            .flatten()
            .fold((0.0, 0.0), |(r, t), (_, n)| {
                (r + n.rx_bytes as f64, t + n.tx_bytes as f64)
            });
        let mut block = (0.0, 0.0);
        for e in s.blkio_stats.io_service_bytes_recursive.iter().flatten() {
            match e.op.to_ascii_lowercase().as_str() {
                "read" => block.0 += e.value as f64,
                "write" => block.1 += e.value as f64,
                _ => {}
            }
        }
        Usage {
            cpu_percent,
            memory,
            memory_limit,
            memory_percent,
            net,
            block,
            pids: s.pids_stats.current,
        }
    }
}

/// One table row (the fields docker's `--format` knows).
pub fn stats_row(container: &str, id: &str, name: &str, u: &Usage, no_trunc: bool) -> Value {
    let id = if no_trunc {
        id.to_string()
    } else {
        truncate_id(id)
    };
    let pair = |(a, b): (f64, f64)| {
        format!(
            "{} / {}",
            human_size_with_precision(a, 3),
            human_size_with_precision(b, 3)
        )
    };
    json!({
        "Container": container,
        "ID": id,
        "Name": name.trim_start_matches('/'),
        "CPUPerc": format!("{:.2}%", u.cpu_percent),
        "MemUsage": format!("{} / {}", bytes_size(u.memory), bytes_size(u.memory_limit)),
        "MemPerc": format!("{:.2}%", u.memory_percent),
        "NetIO": pair(u.net),
        "BlockIO": pair(u.block),
        "PIDs": u.pids.to_string(),
    })
}

/// The latest row of each followed container, in the order they were first seen.
type Board = Arc<Mutex<Vec<(String, Option<Value>, bool)>>>;

/// `berth stats`.
pub async fn stats(ctx: &Ctx, args: StatsArgs) -> CliResult<i32> {
    let format = Format::parse(args.format.as_deref().unwrap_or(""), STATS_TABLE)
        .map_err(|e| CliError::msg(format!("template parsing error: {e}")))?;
    let named = !args.containers.is_empty();
    let targets = if named {
        args.containers.clone()
    } else {
        list(ctx, args.all, &args.labels).await?
    };
    if args.no_stream {
        let mut rows = Vec::new();
        let mut failed = false;
        let tasks: Vec<_> = targets
            .iter()
            .map(|c| {
                let client = ctx.client.clone();
                let c = c.clone();
                let no_trunc = args.no_trunc;
                tokio::spawn(async move { one(&client, &c, no_trunc).await })
            })
            .collect();
        for t in tasks {
            match t.await.map_err(|e| CliError::msg(e.to_string()))? {
                Ok(r) => rows.push(r),
                Err(e) => {
                    eprintln!("{e}");
                    failed = true;
                }
            }
        }
        out(&format
            .render(&rows, &stats_headers())
            .map_err(|e| CliError::msg(e.to_string()))?);
        return Ok(if failed { 1 } else { 0 });
    }
    let board: Board = Arc::new(Mutex::new(Vec::new()));
    let mut followed: Vec<String> = Vec::new();
    let mut tick = 0u32;
    loop {
        if !named && tick % 2 == 0 {
            // New containers join the table; finished streams drop out (docker follows
            // events for the same effect).
            for c in list(ctx, args.all, &args.labels).await? {
                if !followed.contains(&c) {
                    followed.push(c.clone());
                    follow(ctx, &board, c, args.no_trunc);
                }
            }
        } else if named && followed.is_empty() {
            for c in &targets {
                followed.push(c.clone());
                follow(ctx, &board, c.clone(), args.no_trunc);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        tick += 1;
        let rows: Vec<Value> = {
            let mut b = board
                .lock()
                .map_err(|_| CliError::msg("stats board poisoned"))?;
            if named {
                if let Some((c, _, _)) = b.iter().find(|(_, row, ended)| *ended && row.is_none()) {
                    return Err(CliError::msg(format!("No such container: {c}")));
                }
            } else {
                b.retain(|(c, _, ended)| {
                    if *ended {
                        followed.retain(|f| f != c);
                    }
                    !*ended
                });
            }
            b.iter().filter_map(|(_, r, _)| r.clone()).collect()
        };
        if tick % 2 == 0 {
            let table = format
                .render(&rows, &stats_headers())
                .map_err(|e| CliError::msg(e.to_string()))?;
            // docker clears the screen and homes the cursor before each table.
            out(&format!("\x1b[2J\x1b[H{table}"));
        }
    }
}

/// Names (or ids) of the containers to show when none are named.
async fn list(ctx: &Ctx, all: bool, labels: &[String]) -> CliResult<Vec<String>> {
    let mut q = Vec::new();
    if all {
        q.push(("all", "1".to_string()));
    }
    if !labels.is_empty() {
        q.push(("filters", json!({ "label": labels }).to_string()));
    }
    let q = if q.is_empty() {
        String::new()
    } else {
        query(&q)
    };
    let list: Vec<ContainerSummary> = ctx.client.get_json(&format!("/containers/json{q}")).await?;
    Ok(list.into_iter().map(|c| truncate_id(&c.id)).collect())
}

/// One sample (`stream=false`: the daemon waits for a second sample to fill precpu).
async fn one(client: &crate::transport::Client, c: &str, no_trunc: bool) -> CliResult<Value> {
    let s: ContainerStats = client
        .get_json(&format!("/containers/{}/stats?stream=false", seg(c)))
        .await?;
    Ok(stats_row(c, &s.id, &s.name, &Usage::of(&s), no_trunc))
}

/// Follows one container's stream into the board until it ends.
fn follow(ctx: &Ctx, board: &Board, c: String, no_trunc: bool) {
    if let Ok(mut b) = board.lock() {
        b.push((c.clone(), None, false));
    }
    let client = ctx.client.clone();
    let board = board.clone();
    tokio::spawn(async move {
        let update = |row: Option<Value>, ended: bool| {
            if let Ok(mut b) = board.lock() {
                if let Some(e) = b.iter_mut().find(|(name, _, _)| *name == c) {
                    if row.is_some() {
                        e.1 = row;
                    }
                    e.2 |= ended;
                }
            }
        };
        let path = format!("/containers/{}/stats?stream=true", seg(&c));
        let resp = match client.request(Method::GET, &path, None, false, &[]).await {
            Ok(r) => r,
            Err(_) => {
                update(None, true);
                return;
            }
        };
        let mut lines = BodyLines::new(resp.into_body());
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(s) = berth_api_types::json::from_slice::<ContainerStats>(&line) {
                let row = stats_row(&c, &s.id, &s.name, &Usage::of(&s), no_trunc);
                update(Some(row), false);
            }
        }
        update(None, true);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api_types::{CpuStats, CpuUsage, MemoryStats, NetworkStats};

    #[test]
    fn docker_arithmetic() {
        let mut s = ContainerStats {
            id: "0123456789abcdef0123".into(),
            name: "/web".into(),
            ..Default::default()
        };
        s.precpu_stats = CpuStats {
            cpu_usage: CpuUsage {
                total_usage: 1_000_000_000,
                ..Default::default()
            },
            system_cpu_usage: 100_000_000_000,
            online_cpus: 2,
            ..Default::default()
        };
        s.cpu_stats = CpuStats {
            cpu_usage: CpuUsage {
                total_usage: 1_500_000_000,
                ..Default::default()
            },
            system_cpu_usage: 102_000_000_000,
            online_cpus: 2,
            ..Default::default()
        };
        s.memory_stats = MemoryStats {
            usage: 12 << 20,
            limit: 1 << 30,
            stats: [("inactive_file".to_string(), 2u64 << 20)].into(),
            ..Default::default()
        };
        s.networks = Some(
            [(
                "eth0".to_string(),
                NetworkStats {
                    rx_bytes: 1500,
                    tx_bytes: 0,
                    ..Default::default()
                },
            )]
            .into(),
        );
        s.pids_stats.current = 3;
        let u = Usage::of(&s);
        assert!((u.cpu_percent - 50.0).abs() < 1e-9, "{}", u.cpu_percent);
        let row = stats_row("web", &s.id, &s.name, &u, false);
        assert_eq!(row["ID"], "0123456789ab");
        assert_eq!(row["Name"], "web");
        assert_eq!(row["CPUPerc"], "50.00%");
        assert_eq!(row["MemUsage"], "10MiB / 1GiB");
        assert_eq!(row["MemPerc"], "0.98%");
        assert_eq!(row["NetIO"], "1.5kB / 0B");
        assert_eq!(row["BlockIO"], "0B / 0B");
        assert_eq!(row["PIDs"], "3");
    }
}
