//! `linux.maskedPaths` and `linux.readonlyPaths`: Docker's defaults, none when privileged
//! (moby's `WithMaskedPaths` / `WithReadonlyPaths`).

/// Paths Docker masks.
pub const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only.
pub const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// `linux.maskedPaths`.
pub fn masked(privileged: bool) -> Vec<String> {
    listed(MASKED, privileged)
}

/// `linux.readonlyPaths`.
pub fn readonly(privileged: bool) -> Vec<String> {
    listed(READONLY, privileged)
}

fn listed(paths: &[&str], privileged: bool) -> Vec<String> {
    if privileged {
        Vec::new()
    } else {
        paths.iter().map(|p| p.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileged_containers_see_everything() {
        assert!(masked(false).contains(&"/proc/kcore".to_string()));
        assert!(readonly(false).contains(&"/proc/sys".to_string()));
        assert!(masked(true).is_empty() && readonly(true).is_empty());
    }
}
