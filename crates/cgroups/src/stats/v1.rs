//! Reading usage from v1 hierarchies.

use std::path::Path;

use super::{device, parse_dev, BlkioStats, CpuStats, HugetlbStats, MemoryStats, PidsStats, Stats};
use crate::cgroup::Cgroup;
use crate::error::Result;
use crate::fs;

/// v1 reports "unlimited" as the largest page-aligned i64.
const UNLIMITED_V1: u64 = 0x7FFF_FFFF_FFFF_F000;

fn limit(v: u64) -> Option<u64> {
    (v < UNLIMITED_V1).then_some(v)
}

pub(super) fn stats(cg: &Cgroup) -> Result<Stats> {
    let mut s = Stats::default();
    if let Some(dir) = cg.v1_path("memory") {
        s.memory = Some(memory(dir)?);
    }
    if let Some(dir) = cg.v1_path("cpuacct") {
        let mut c = cpuacct(dir)?;
        if let Some(cpu) = cg.v1_path("cpu") {
            let st = fs::read_flat_keyed(cpu, "cpu.stat")?;
            c.periods = st.get("nr_periods").copied().unwrap_or(0);
            c.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
            c.throttled_ns = st.get("throttled_time").copied().unwrap_or(0);
        }
        s.cpu = Some(c);
    }
    if let Some(dir) = cg.v1_path("pids") {
        let max = fs::read(dir, "pids.max")?;
        s.pids = Some(PidsStats {
            current: fs::read_u64(dir, "pids.current")?,
            limit: fs::parse_limit(dir, "pids.max", &max)?,
        });
    }
    if let Some(dir) = cg.v1_path("blkio") {
        s.blkio = Some(blkio(dir)?);
    }
    if let Some(dir) = cg.v1_path("hugetlb") {
        for size in hugepage_sizes(dir) {
            let f = |what: &str| fs::read_u64_opt(dir, &format!("hugetlb.{size}.{what}"));
            s.hugetlb.insert(
                size.clone(),
                HugetlbStats {
                    usage: f("usage_in_bytes")?.unwrap_or(0),
                    max_usage: f("max_usage_in_bytes")?,
                    failcnt: f("failcnt")?.unwrap_or(0),
                },
            );
        }
    }
    Ok(s)
}

fn memory(dir: &Path) -> Result<MemoryStats> {
    let stat = fs::read_flat_keyed(dir, "memory.stat")?;
    let usage = fs::read_u64(dir, "memory.usage_in_bytes")?;
    let memsw_usage = fs::read_u64_opt(dir, "memory.memsw.usage_in_bytes")?;
    let pick = |a: &str, b: &str| stat.get(a).or_else(|| stat.get(b)).copied().unwrap_or(0);
    Ok(MemoryStats {
        usage,
        max_usage: fs::read_u64_opt(dir, "memory.max_usage_in_bytes")?,
        limit: limit(fs::read_u64(dir, "memory.limit_in_bytes")?),
        failcnt: fs::read_u64_opt(dir, "memory.failcnt")?.unwrap_or(0),
        cache: pick("total_cache", "cache"),
        rss: pick("total_rss", "rss"),
        swap_usage: memsw_usage.map(|m| m.saturating_sub(usage)),
        swap_limit: fs::read_u64_opt(dir, "memory.memsw.limit_in_bytes")?.and_then(limit),
        oom_kill: oom_kill(dir)?,
        stat,
    })
}

pub(super) fn oom_kill(dir: &Path) -> Result<u64> {
    Ok(fs::read_flat_keyed(dir, "memory.oom_control")?
        .get("oom_kill")
        .copied()
        .unwrap_or(0))
}

fn cpuacct(dir: &Path) -> Result<CpuStats> {
    let per_cpu = fs::read_opt(dir, "cpuacct.usage_percpu")?.unwrap_or_default();
    let (user_ns, system_ns) = match (
        fs::read_u64_opt(dir, "cpuacct.usage_user")?,
        fs::read_u64_opt(dir, "cpuacct.usage_sys")?,
    ) {
        (Some(u), Some(s)) => (u, s),
        _ => {
            // cpuacct.stat counts USER_HZ ticks, 100 per second on every Linux ABI.
            let st = fs::read_flat_keyed(dir, "cpuacct.stat")?;
            let ns = |k: &str| st.get(k).copied().unwrap_or(0) * 10_000_000;
            (ns("user"), ns("system"))
        }
    };
    Ok(CpuStats {
        total_ns: fs::read_u64(dir, "cpuacct.usage")?,
        per_cpu_ns: per_cpu
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect(),
        user_ns,
        system_ns,
        ..Default::default()
    })
}

fn blkio(dir: &Path) -> Result<BlkioStats> {
    let mut devices = Vec::new();
    for (file, bytes) in [
        ("blkio.throttle.io_service_bytes_recursive", true),
        ("blkio.throttle.io_serviced_recursive", false),
    ] {
        for line in fs::read_opt(dir, file)?.unwrap_or_default().lines() {
            let mut it = line.split_whitespace();
            let (Some(dev), Some(op), Some(v)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let (Some((major, minor)), Ok(v)) = (parse_dev(dev), v.parse::<u64>()) else {
                continue;
            };
            let d = device(&mut devices, major, minor);
            match (op, bytes) {
                ("Read", true) => d.read_bytes = v,
                ("Write", true) => d.write_bytes = v,
                ("Read", false) => d.read_ops = v,
                ("Write", false) => d.write_ops = v,
                _ => {}
            }
        }
    }
    Ok(BlkioStats { devices })
}

fn hugepage_sizes(dir: &Path) -> Vec<String> {
    let mut sizes: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name
                .strip_prefix("hugetlb.")?
                .strip_suffix(".limit_in_bytes")?;
            Some(size.to_string())
        })
        .collect();
    sizes.sort();
    sizes
}
