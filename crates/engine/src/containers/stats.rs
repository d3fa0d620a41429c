//! `GET /containers/{id}/stats`: samples of a container's cgroup (v1 or v2), its network
//! namespace's interface counters and the host's CPU time, in Docker's `StatsJSON` shape.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::stream::JsonStream;
use berth_api_types::query::StatsOptions;
use berth_api_types::{
    BlkioEntry, BlkioStats, ContainerStats, CpuStats, CpuUsage, MemoryStats, NetworkStats,
    PidsStats, ThrottlingData,
};
use berth_cgroups::Cgroup;

use super::Containers;
use crate::record::ContainerRecord;

/// Docker's zero time, the `read` of a container that is not running.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// Time between two samples of a stream (Docker's collector interval).
const INTERVAL: Duration = Duration::from_secs(1);

impl Containers {
    /// One sample (`stream=false`, after a second one to fill `precpu_stats` unless
    /// `one-shot`), or one per second until the client goes away or the container is removed.
    pub async fn stats(
        self: &Arc<Self>,
        reference: &str,
        opts: StatsOptions,
    ) -> Result<JsonStream<ContainerStats>> {
        let rec = self.lookup(reference)?;
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let this = self.clone();
        // Resolved once per stream: the host's cgroup layout does not change between samples.
        let cgroup = Arc::new(
            Cgroup::new(
                Some(&super::resources::driver_cgroups_path(
                    &self.cgroup_driver,
                    &rec.host_config.resources.cgroup_parent,
                    &rec.id,
                )),
                &rec.id,
            )
            .ok(),
        );
        tokio::spawn(async move {
            let mut previous = Sample::default();
            let mut first = true;
            while let Ok(rec) = this.get(&rec.id) {
                let cgroup = cgroup.clone();
                let now = tokio::task::spawn_blocking(move || {
                    Sample::read(&rec, cgroup.as_ref().as_ref())
                })
                .await
                .unwrap_or_default();
                let skip = first && !opts.stream && !opts.one_shot && now.running;
                let out = now.to_api(&previous);
                previous = now;
                first = false;
                if skip {
                    tokio::time::sleep(INTERVAL).await;
                    continue;
                }
                if tx.send(out).await.is_err() || !opts.stream {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(INTERVAL) => {}
                    _ = tx.closed() => break,
                }
            }
        });
        Ok(rx)
    }
}

/// What one read of the kernel's counters gave.
#[derive(Debug, Clone, Default)]
struct Sample {
    id: String,
    name: String,
    running: bool,
    read: String,
    cgroup: Option<berth_cgroups::Stats>,
    /// The cgroup's interface (blkio op names differ: "read" on v2, "Read" on v1).
    v2: bool,
    system_cpu_ns: u64,
    online_cpus: u32,
    host_memory: u64,
    networks: Option<BTreeMap<String, NetworkStats>>,
}

impl Sample {
    fn read(rec: &ContainerRecord, cgroup: Option<&Cgroup>) -> Sample {
        let mut s = Sample {
            id: rec.id.clone(),
            name: rec.name.clone(),
            ..Default::default()
        };
        if !rec.state.running || rec.state.pid <= 0 {
            return s;
        }
        s.running = true;
        s.read = crate::logfile::now();
        s.cgroup = cgroup.and_then(|c| c.stats().ok());
        s.v2 = cgroup.is_some_and(|c| c.version == berth_cgroups::Version::V2);
        s.system_cpu_ns = system_cpu_ns().unwrap_or(0);
        s.online_cpus = std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            .unwrap_or(1);
        s.host_memory = crate::hostinfo::mem_total();
        if rec.host_config.network_mode != "host" {
            s.networks = net_dev(rec.state.pid);
        }
        s
    }

    fn cpu(&self) -> CpuStats {
        let Some(c) = self.cgroup.as_ref().and_then(|c| c.cpu.as_ref()) else {
            return CpuStats {
                system_cpu_usage: self.system_cpu_ns,
                online_cpus: self.online_cpus,
                ..Default::default()
            };
        };
        CpuStats {
            cpu_usage: CpuUsage {
                total_usage: c.total_ns,
                percpu_usage: (!c.per_cpu_ns.is_empty()).then(|| c.per_cpu_ns.clone()),
                usage_in_kernelmode: c.system_ns,
                usage_in_usermode: c.user_ns,
            },
            system_cpu_usage: self.system_cpu_ns,
            online_cpus: self.online_cpus,
            throttling_data: ThrottlingData {
                periods: c.periods,
                throttled_periods: c.throttled_periods,
                throttled_time: c.throttled_ns,
            },
        }
    }

    fn to_api(&self, previous: &Sample) -> ContainerStats {
        let mut out = ContainerStats {
            name: self.name.clone(),
            id: self.id.clone(),
            read: if self.running {
                self.read.clone()
            } else {
                ZERO_TIME.into()
            },
            preread: if previous.running {
                previous.read.clone()
            } else {
                ZERO_TIME.into()
            },
            ..Default::default()
        };
        if !self.running {
            return out;
        }
        out.cpu_stats = self.cpu();
        if previous.running {
            out.precpu_stats = previous.cpu();
        }
        out.networks = self.networks.clone();
        let Some(cg) = &self.cgroup else { return out };
        if let Some(p) = &cg.pids {
            out.pids_stats = PidsStats {
                current: p.current,
                limit: p.limit.unwrap_or(0),
            };
        }
        if let Some(m) = &cg.memory {
            out.memory_stats = MemoryStats {
                usage: m.usage,
                max_usage: m.max_usage.unwrap_or(0),
                stats: m.stat.clone(),
                failcnt: m.failcnt,
                limit: m
                    .limit
                    .filter(|l| *l < self.host_memory || self.host_memory == 0)
                    .unwrap_or(self.host_memory),
            };
        }
        if let Some(b) = &cg.blkio {
            let (read, write) = if self.v2 {
                ("read", "write")
            } else {
                ("Read", "Write")
            };
            let mut bytes = Vec::new();
            let mut ops = Vec::new();
            for d in &b.devices {
                let entry = |op: &str, value| BlkioEntry {
                    major: d.major,
                    minor: d.minor,
                    op: op.into(),
                    value,
                };
                bytes.push(entry(read, d.read_bytes));
                bytes.push(entry(write, d.write_bytes));
                ops.push(entry(read, d.read_ops));
                ops.push(entry(write, d.write_ops));
            }
            out.blkio_stats = BlkioStats {
                io_service_bytes_recursive: Some(bytes),
                io_serviced_recursive: Some(ops),
                ..Default::default()
            };
        }
        out
    }
}

/// The host's CPU time over all CPUs, in nanoseconds (`/proc/stat`'s first line, the
/// denominator Docker's clients use for CPU %).
fn system_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: u64 = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on every Linux ABI berth runs on.
    Some(ticks * (1_000_000_000 / 100))
}

/// Interface counters of the container's network namespace, without `lo`
/// (`/proc/<pid>/net/dev` shows the namespace of that process).
fn net_dev(pid: i64) -> Option<BTreeMap<String, NetworkStats>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if v.len() < 12 {
            continue;
        }
        out.insert(
            name.to_string(),
            NetworkStats {
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
            },
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_counters_read() {
        assert!(system_cpu_ns().unwrap_or(0) > 0);
        assert!(crate::hostinfo::mem_total() > 0);
        let own = net_dev(i64::from(std::process::id())).expect("own net/dev");
        assert!(!own.contains_key("lo"));
    }

    #[test]
    fn a_stopped_container_reads_as_zero() {
        let s = Sample {
            id: "abc".into(),
            name: "/x".into(),
            ..Default::default()
        };
        let api = s.to_api(&Sample::default());
        assert_eq!(api.read, ZERO_TIME);
        assert_eq!(api.preread, ZERO_TIME);
        assert_eq!(api.cpu_stats, CpuStats::default());
        let js = serde_json::to_value(&api).expect("json");
        assert_eq!(js["name"], "/x");
        assert!(js.get("networks").is_none());
        assert_eq!(js["memory_stats"], serde_json::json!({}));
    }
}
