//! berth-cgroups: a container's cgroup on v1, v1/v2 hybrid and pure v2 hosts.
//!
//! [`Cgroup::new`] resolves OCI `linux.cgroupsPath` to one directory per hierarchy
//! ([`path`]), using the host [`Layout`] read once from /proc/self/mountinfo. The resolved
//! [`Cgroup`] is serialisable (the runtime keeps it in state.json) and offers create,
//! apply_resources ([`v1`] or [`v2`]), add_process, freeze/thaw ([`freezer`]), pids,
//! [`Stats`], oom_kill_count and destroy. Device rules become v1 `devices.allow/deny` lines
//! or a cgroup v2 eBPF program ([`devices`]). [`systemd`] is the systemd driver: a transient
//! scope unit made over D-Bus holds the container.

pub mod cgroup;
pub mod devices;
pub mod error;
pub mod freezer;
mod fs;
pub mod layout;
pub mod path;
pub mod stats;
pub mod systemd;
pub mod v1;
pub mod v2;

pub use cgroup::{Cgroup, V1Dir, V2Dir};
pub use error::{CgroupError, Result};
pub use layout::{detect, Layout, OwnCgroups, UnifiedMount, V1Mount, Version};
pub use path::CgroupsPath;
pub use stats::{
    BlkioDeviceStats, BlkioStats, CpuStats, HugetlbStats, MemoryStats, PidsStats, Stats,
};
