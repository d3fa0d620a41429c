//! `GET /containers/{id}/stats`: Docker's `StatsJSON` (snake_case field names, as Docker's).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One sample of a container's resource usage, with the previous CPU sample.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerStats {
    /// Container name with its leading slash.
    pub name: String,
    /// Container id.
    pub id: String,
    /// When this sample was read (RFC 3339; the zero time for a stopped container).
    pub read: String,
    /// When the previous sample was read.
    pub preread: String,
    /// Process count.
    pub pids_stats: PidsStats,
    /// Block I/O.
    pub blkio_stats: BlkioStats,
    /// Windows only; always 0.
    pub num_procs: u32,
    /// Windows only; empty.
    pub storage_stats: BTreeMap<String, u64>,
    /// CPU now.
    pub cpu_stats: CpuStats,
    /// CPU at the previous sample.
    pub precpu_stats: CpuStats,
    /// Memory.
    pub memory_stats: MemoryStats,
    /// Per interface, read from the container's network namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<BTreeMap<String, NetworkStats>>,
}

/// `pids_stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PidsStats {
    /// Processes and threads.
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// Limit (absent when unlimited).
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// `blkio_stats`: lists of per-device entries (`null` where the kernel has no data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStats {
    /// Bytes per device and operation.
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
    /// Operations per device and operation.
    pub io_serviced_recursive: Option<Vec<BlkioEntry>>,
    /// v1 only.
    pub io_queue_recursive: Option<Vec<BlkioEntry>>,
    /// v1 only.
    pub io_service_time_recursive: Option<Vec<BlkioEntry>>,
    /// v1 only.
    pub io_wait_time_recursive: Option<Vec<BlkioEntry>>,
    /// v1 only.
    pub io_merged_recursive: Option<Vec<BlkioEntry>>,
    /// v1 only.
    pub io_time_recursive: Option<Vec<BlkioEntry>>,
    /// v1 only.
    pub sectors_recursive: Option<Vec<BlkioEntry>>,
}

/// One `{major, minor, op, value}` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioEntry {
    /// Device major.
    pub major: u64,
    /// Device minor.
    pub minor: u64,
    /// "read"/"write" (v2) or "Read"/"Write"/"Total" (v1).
    pub op: String,
    /// Bytes or operations.
    pub value: u64,
}

/// `cpu_stats` / `precpu_stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    /// The container's CPU time.
    pub cpu_usage: CpuUsage,
    /// The host's CPU time (all CPUs, nanoseconds), the denominator of CPU %.
    #[serde(skip_serializing_if = "is_zero")]
    pub system_cpu_usage: u64,
    /// CPUs online.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub online_cpus: u32,
    /// CFS throttling.
    pub throttling_data: ThrottlingData,
}

/// `cpu_usage`, nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    /// Total.
    pub total_usage: u64,
    /// Per CPU (cgroup v1 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percpu_usage: Option<Vec<u64>>,
    /// Kernel mode.
    pub usage_in_kernelmode: u64,
    /// User mode.
    pub usage_in_usermode: u64,
}

/// `throttling_data`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottlingData {
    /// Periods with a quota.
    pub periods: u64,
    /// Periods throttled.
    pub throttled_periods: u64,
    /// Time throttled (ns).
    pub throttled_time: u64,
}

/// `memory_stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryStats {
    /// Current usage (page cache included).
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak (v1).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_usage: u64,
    /// memory.stat as the kernel writes it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stats: BTreeMap<String, u64>,
    /// Times the limit was hit (v1).
    #[serde(skip_serializing_if = "is_zero")]
    pub failcnt: u64,
    /// The limit, or the host's memory when unlimited.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// One interface of `networks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStats {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Sent packets dropped.
    pub tx_dropped: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
