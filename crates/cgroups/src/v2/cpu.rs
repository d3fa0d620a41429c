//! v2 cpu: cpu.weight (from OCI shares), cpu.max (quota and period), cpu.max.burst,
//! cpu.idle, and cpuset.cpus/mems.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::error::{CgroupError, Result};
use crate::fs;

/// Applies `c` to `dir`.
pub(crate) fn apply(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        fs::write(dir, "cpu.weight", shares_to_weight(s).to_string())?;
    }
    let period = c.period().filter(|&p| p != 0);
    let quota = c.quota().filter(|&q| q != 0);
    if period.is_some() || quota.is_some() {
        // cpu.max holds "$QUOTA $PERIOD"; keep the half that is not being changed.
        let current = fs::read_opt(dir, "cpu.max")?.unwrap_or_else(|| "max 100000".into());
        let mut parts = current.split_whitespace();
        let cur_quota = parts.next().unwrap_or("max").to_string();
        let cur_period = parts.next().unwrap_or("100000").to_string();
        let q = match quota {
            Some(q) if q < 0 => "max".to_string(),
            Some(q) => q.to_string(),
            None => cur_quota,
        };
        let p = period.map_or(cur_period, |p| p.to_string());
        fs::write(dir, "cpu.max", format!("{q} {p}"))?;
    }
    if let Some(b) = c.burst() {
        fs::write(dir, "cpu.max.burst", b.to_string())?;
    }
    if let Some(i) = c.idle() {
        fs::write(dir, "cpu.idle", i.to_string())?;
    }
    if c.realtime_period().is_some_and(|p| p != 0) || c.realtime_runtime().is_some_and(|r| r != 0) {
        return Err(CgroupError::ControllerMissing {
            controller: "cpu realtime (v1 only)".into(),
            field: "cpu.realtimeRuntime",
        });
    }
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        fs::write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        fs::write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

/// Maps v1 shares [2, 262144] linearly onto v2 weight [1, 10000] (the conversion runc,
/// crun and Docker have used): 1024 shares → weight 39, 2 → 1, 262144 → 10000.
pub fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}
