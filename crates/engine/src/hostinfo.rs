//! Facts about the host the daemon reports (`/info`, stats) or decides by (cgroup namespace).

/// MemTotal of /proc/meminfo in bytes (0 when unreadable); Docker also reports it as the memory
/// limit of an unlimited container.
pub fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// A pure cgroup v2 host (the unified hierarchy mounted at /sys/fs/cgroup).
pub fn cgroup_v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// True when the host accounts swap (v1 `memory.memsw.*`; always on v2).
pub fn swap_accounting() -> bool {
    use berth_cgroups::{Layout, Version};
    match Layout::host() {
        Ok(l) if l.version == Version::V1 => {
            l.v1.iter()
                .filter(|m| m.controllers.iter().any(|c| c == "memory"))
                .any(|m| m.mount_point.join("memory.memsw.limit_in_bytes").exists())
        }
        Ok(_) => true,
        Err(_) => false,
    }
}

/// A key of the host's /etc/os-release (Docker reports the host's distribution).
pub fn os_release(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix('=')?;
        Some(v.trim_matches('"').to_string())
    })
}
