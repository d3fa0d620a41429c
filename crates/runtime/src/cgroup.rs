//! The container's cgroup comes from `berth_cgroups` (v1, hybrid and v2 hosts); this module
//! only adds what the runtime asks of it.

pub use berth_cgroups::{Cgroup, Version};

/// True when the controllers live on the unified (v2) hierarchy.
pub(crate) fn is_v2(cg: &Cgroup) -> bool {
    cg.version == Version::V2
}
