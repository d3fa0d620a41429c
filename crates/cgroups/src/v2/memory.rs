//! v2 memory: memory.max, memory.low (reservation), memory.swap.max (OCI swap is
//! memory+swap, v2 wants swap alone).

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::error::{CgroupError, Result};
use crate::fs;

/// Applies `m` to `dir`. swappiness, kernel memory and disabling the OOM killer have no v2
/// interface and are ignored, like runc does.
pub(crate) fn apply(dir: &Path, m: &LinuxMemory) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let swap = swap_max(m.swap().unwrap_or(0), limit)?;
    if limit > 0 && m.check_before_update() == Some(true) {
        if let Some(current) = fs::read_u64_opt(dir, "memory.current")? {
            if u64::try_from(limit).is_ok_and(|limit| current > limit) {
                return Err(CgroupError::InvalidResource {
                    field: "memory.limit",
                    value: limit.to_string(),
                    reason: format!(
                        "below the current usage of {current} bytes (checkBeforeUpdate)"
                    ),
                });
            }
        }
    }
    if swap != 0 {
        // A memory cgroup without memory.swap.max has no swap accounting: an unlimited swap
        // needs nothing, a finite one cannot be honoured.
        let accounting = dir.join("memory.swap.max").exists() || !dir.join("memory.max").exists();
        if accounting {
            fs::write(dir, "memory.swap.max", v2_value(swap))?;
        } else if swap > 0 {
            return Err(CgroupError::ControllerMissing {
                controller: "memory swap accounting (memory.swap.max)".into(),
                field: "memory.swap",
            });
        }
    }
    if limit != 0 {
        fs::write(dir, "memory.max", v2_value(limit))?;
    }
    if let Some(r) = m.reservation().filter(|&r| r != 0) {
        fs::write(dir, "memory.low", v2_value(r))?;
    }
    Ok(())
}

/// -1 is "max" on v2.
pub(crate) fn v2_value(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Converts OCI memory+swap to v2's swap-only value: 0 means "do not set", -1 "max".
/// An unlimited memory with no swap given means unlimited swap too.
pub fn swap_max(memsw: i64, memory: i64) -> Result<i64> {
    let invalid = |reason: &str| CgroupError::InvalidResource {
        field: "memory.swap",
        value: memsw.to_string(),
        reason: reason.into(),
    };
    if memory == -1 && memsw == 0 {
        return Ok(-1);
    }
    if memsw == -1 || memsw == 0 {
        return Ok(memsw);
    }
    if memory == 0 || memory == -1 {
        return Err(invalid("a swap limit needs a memory limit"));
    }
    if memsw < memory {
        return Err(invalid("memory+swap must be at least the memory limit"));
    }
    Ok(memsw - memory)
}
