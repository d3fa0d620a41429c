//! Resource usage of a cgroup: what `docker stats` and `runc events --stats` report.

mod v1;
mod v2;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cgroup::Cgroup;
use crate::error::Result;
use crate::layout::Version;

/// A snapshot of a cgroup's usage. Sections are `None` when the controller is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Memory and swap.
    pub memory: Option<MemoryStats>,
    /// CPU time and throttling.
    pub cpu: Option<CpuStats>,
    /// Process count.
    pub pids: Option<PidsStats>,
    /// Block I/O per device.
    pub blkio: Option<BlkioStats>,
    /// Hugepage usage by page size ("2MB").
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

/// Memory usage in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Current usage (v1 memory.usage_in_bytes, v2 memory.current).
    pub usage: u64,
    /// Peak usage, where the kernel records it (v1 max_usage_in_bytes, v2 memory.peak).
    pub max_usage: Option<u64>,
    /// The limit; `None` when unlimited.
    pub limit: Option<u64>,
    /// Times the limit was hit (v1 failcnt, v2 memory.events max).
    pub failcnt: u64,
    /// Page cache (v1 total_cache, v2 file).
    pub cache: u64,
    /// Anonymous memory (v1 total_rss, v2 anon).
    pub rss: u64,
    /// Swap in use (v1 memsw usage minus memory usage, v2 memory.swap.current).
    pub swap_usage: Option<u64>,
    /// Swap limit; on v1 the memory+swap limit, on v2 swap alone; `None` when unlimited.
    pub swap_limit: Option<u64>,
    /// OOM kills in this cgroup.
    pub oom_kill: u64,
    /// memory.stat as read (docker computes "usage minus cache" from inactive_file).
    pub stat: BTreeMap<String, u64>,
}

/// CPU usage in nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    /// Total CPU time.
    pub total_ns: u64,
    /// Per-CPU time (v1 only; empty on v2).
    pub per_cpu_ns: Vec<u64>,
    /// Time in user mode.
    pub user_ns: u64,
    /// Time in kernel mode.
    pub system_ns: u64,
    /// CFS periods that elapsed with a quota set.
    pub periods: u64,
    /// Periods in which the group was throttled.
    pub throttled_periods: u64,
    /// Total time throttled.
    pub throttled_ns: u64,
}

/// Process count.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    /// Processes and threads now.
    pub current: u64,
    /// The limit; `None` when unlimited.
    pub limit: Option<u64>,
}

/// Block I/O totals per device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStats {
    /// One entry per device with I/O.
    pub devices: Vec<BlkioDeviceStats>,
}

/// Bytes and operations of one block device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioDeviceStats {
    /// Device major.
    pub major: u64,
    /// Device minor.
    pub minor: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Read operations.
    pub read_ops: u64,
    /// Write operations.
    pub write_ops: u64,
}

/// Hugepage usage of one page size.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugetlbStats {
    /// Bytes in use.
    pub usage: u64,
    /// Peak (v1 only).
    pub max_usage: Option<u64>,
    /// Allocation failures.
    pub failcnt: u64,
}

impl Cgroup {
    /// Reads the usage of every controller present.
    pub fn stats(&self) -> Result<Stats> {
        match self.version {
            Version::V1 => v1::stats(self),
            Version::V2 => v2::stats(self.v2_dir()?),
        }
    }

    /// How many processes the OOM killer killed in this cgroup (v1 memory.oom_control
    /// `oom_kill`, v2 memory.events `oom_kill`).
    pub fn oom_kill_count(&self) -> Result<u64> {
        match self.version {
            Version::V1 => match self.v1_path("memory") {
                Some(dir) => v1::oom_kill(dir),
                None => Ok(0),
            },
            Version::V2 => v2::oom_kill(self.v2_dir()?),
        }
    }
}

/// Parses "MAJ:MIN" into numbers.
pub(crate) fn parse_dev(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Finds or adds the entry for a device.
pub(crate) fn device(
    list: &mut Vec<BlkioDeviceStats>,
    major: u64,
    minor: u64,
) -> &mut BlkioDeviceStats {
    let pos = match list
        .iter()
        .position(|d| d.major == major && d.minor == minor)
    {
        Some(p) => p,
        None => {
            list.push(BlkioDeviceStats {
                major,
                minor,
                ..Default::default()
            });
            list.len() - 1
        }
    };
    &mut list[pos]
}
