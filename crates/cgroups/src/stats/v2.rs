//! Reading usage from a cgroup v2 directory.

use std::path::Path;

use super::{device, parse_dev, BlkioStats, CpuStats, HugetlbStats, MemoryStats, PidsStats, Stats};
use crate::error::Result;
use crate::fs;

pub(super) fn stats(dir: &Path) -> Result<Stats> {
    let mut s = Stats::default();
    if let Some(current) = fs::read_u64_opt(dir, "memory.current")? {
        let stat = fs::read_flat_keyed(dir, "memory.stat")?;
        let events = fs::read_flat_keyed(dir, "memory.events")?;
        let max = fs::read(dir, "memory.max")?;
        let swap_max = fs::read_opt(dir, "memory.swap.max")?;
        s.memory = Some(MemoryStats {
            usage: current,
            max_usage: fs::read_u64_opt(dir, "memory.peak")?,
            limit: fs::parse_limit(dir, "memory.max", &max)?,
            failcnt: events.get("max").copied().unwrap_or(0),
            cache: stat.get("file").copied().unwrap_or(0),
            rss: stat.get("anon").copied().unwrap_or(0),
            swap_usage: fs::read_u64_opt(dir, "memory.swap.current")?,
            swap_limit: match swap_max {
                Some(t) => fs::parse_limit(dir, "memory.swap.max", &t)?,
                None => None,
            },
            oom_kill: events.get("oom_kill").copied().unwrap_or(0),
            stat,
        });
    }
    // cpu.stat exists in every v2 cgroup (usage is accounted without the cpu controller).
    let cpu = fs::read_flat_keyed(dir, "cpu.stat")?;
    if !cpu.is_empty() {
        let us = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
        s.cpu = Some(CpuStats {
            total_ns: us("usage_usec"),
            per_cpu_ns: Vec::new(),
            user_ns: us("user_usec"),
            system_ns: us("system_usec"),
            periods: cpu.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
            throttled_ns: us("throttled_usec"),
        });
    }
    if let Some(current) = fs::read_u64_opt(dir, "pids.current")? {
        let max = fs::read(dir, "pids.max")?;
        s.pids = Some(PidsStats {
            current,
            limit: fs::parse_limit(dir, "pids.max", &max)?,
        });
    }
    if let Some(io) = fs::read_opt(dir, "io.stat")? {
        s.blkio = Some(io_stat(&io));
    }
    for entry in std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
    {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some(size) = name
            .strip_prefix("hugetlb.")
            .and_then(|n| n.strip_suffix(".current"))
        else {
            continue;
        };
        let events = fs::read_flat_keyed(dir, &format!("hugetlb.{size}.events"))?;
        s.hugetlb.insert(
            size.to_string(),
            HugetlbStats {
                usage: fs::read_u64(dir, &name)?,
                max_usage: None,
                failcnt: events.get("max").copied().unwrap_or(0),
            },
        );
    }
    Ok(s)
}

pub(super) fn oom_kill(dir: &Path) -> Result<u64> {
    Ok(fs::read_flat_keyed(dir, "memory.events")?
        .get("oom_kill")
        .copied()
        .unwrap_or(0))
}

/// Parses io.stat lines: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`.
fn io_stat(text: &str) -> BlkioStats {
    let mut devices = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((major, minor)) = it.next().and_then(parse_dev) else {
            continue;
        };
        let d = device(&mut devices, major, minor);
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let v = v.parse().unwrap_or(0);
            match k {
                "rbytes" => d.read_bytes = v,
                "wbytes" => d.write_bytes = v,
                "rios" => d.read_ops = v,
                "wios" => d.write_ops = v,
                _ => {}
            }
        }
    }
    BlkioStats { devices }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_stat_parses_per_device() {
        let s = io_stat("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=5\n");
        assert_eq!(s.devices.len(), 2);
        assert_eq!((s.devices[0].read_bytes, s.devices[0].write_ops), (10, 2));
        assert_eq!(
            (
                s.devices[1].major,
                s.devices[1].minor,
                s.devices[1].read_bytes
            ),
            (253, 1, 5)
        );
    }
}
