//! v1 cpu controller (shares, CFS quota/period/burst, idle, realtime) and the cpuset values.

use oci_spec::runtime::LinuxCpu;

use super::Dirs;
use crate::error::Result;
use crate::fs;

/// Applies `c` to the cpu and cpuset directories.
pub(crate) fn apply(dirs: &Dirs<'_>, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        fs::write(dirs.get("cpu", "cpu.shares")?, "cpu.shares", s.to_string())?;
    }
    let period = c.period().filter(|&p| p != 0);
    let quota = c.quota().filter(|&q| q != 0);
    if period.is_some() || quota.is_some() {
        let dir = dirs.get("cpu", "cpu.quota")?;
        match (period, quota) {
            (Some(p), Some(q)) => {
                // The kernel checks quota against period (and the parent's limits) on each
                // write; if the period cannot go first, set the quota first.
                if fs::write(dir, "cpu.cfs_period_us", p.to_string()).is_err() {
                    fs::write(dir, "cpu.cfs_quota_us", q.to_string())?;
                    fs::write(dir, "cpu.cfs_period_us", p.to_string())?;
                } else {
                    fs::write(dir, "cpu.cfs_quota_us", q.to_string())?;
                }
            }
            (Some(p), None) => fs::write(dir, "cpu.cfs_period_us", p.to_string())?,
            (None, Some(q)) => fs::write(dir, "cpu.cfs_quota_us", q.to_string())?,
            (None, None) => {}
        }
    }
    if let Some(b) = c.burst() {
        fs::write(
            dirs.get("cpu", "cpu.burst")?,
            "cpu.cfs_burst_us",
            b.to_string(),
        )?;
    }
    if let Some(i) = c.idle() {
        fs::write(dirs.get("cpu", "cpu.idle")?, "cpu.idle", i.to_string())?;
    }
    if let Some(p) = c.realtime_period().filter(|&p| p != 0) {
        fs::write(
            dirs.get("cpu", "cpu.realtimePeriod")?,
            "cpu.rt_period_us",
            p.to_string(),
        )?;
    }
    if let Some(r) = c.realtime_runtime().filter(|&r| r != 0) {
        fs::write(
            dirs.get("cpu", "cpu.realtimeRuntime")?,
            "cpu.rt_runtime_us",
            r.to_string(),
        )?;
    }
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        fs::write(dirs.get("cpuset", "cpu.cpus")?, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        fs::write(dirs.get("cpuset", "cpu.mems")?, "cpuset.mems", mems)?;
    }
    Ok(())
}
