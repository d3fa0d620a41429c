//! v1 memory controller: limit, memory+swap, soft limit, swappiness, kernel TCP, OOM killer.

use oci_spec::runtime::LinuxMemory;

use super::Dirs;
use crate::error::{CgroupError, Result};
use crate::fs;

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW: &str = "memory.memsw.limit_in_bytes";

/// Applies `m` to the memory directory.
pub(crate) fn apply(dirs: &Dirs<'_>, m: &LinuxMemory) -> Result<()> {
    let any = m.limit().is_some()
        || m.swap().is_some()
        || m.reservation().is_some()
        || m.swappiness().is_some()
        || m.kernel_tcp().is_some()
        || m.disable_oom_killer().is_some();
    if !any {
        return Ok(());
    }
    let dir = dirs.get("memory", "memory")?;
    // OCI swap on v1 is the memory+swap total; only write it where swap accounting exists.
    let swap = match m.swap() {
        Some(s) if fs::read_opt(dir, MEMSW)?.is_none() => {
            if s > 0 {
                return Err(CgroupError::ControllerMissing {
                    controller: "memory swap accounting (memory.memsw.*)".into(),
                    field: "memory.swap",
                });
            }
            None
        }
        s => s,
    };
    match (m.limit(), swap) {
        (Some(limit), Some(swap)) => {
            // memory.limit must stay <= memsw.limit at every step: raise memsw first when
            // the new limit exceeds the current memsw limit.
            let cur_memsw = fs::read_u64(dir, MEMSW)?;
            let grows = u64::try_from(limit).map_or(true, |limit| limit > cur_memsw);
            if grows {
                fs::write(dir, MEMSW, swap.to_string())?;
                fs::write(dir, LIMIT, limit.to_string())?;
            } else {
                fs::write(dir, LIMIT, limit.to_string())?;
                fs::write(dir, MEMSW, swap.to_string())?;
            }
        }
        (Some(limit), None) => fs::write(dir, LIMIT, limit.to_string())?,
        (None, Some(swap)) => fs::write(dir, MEMSW, swap.to_string())?,
        (None, None) => {}
    }
    if let Some(r) = m.reservation() {
        fs::write(dir, "memory.soft_limit_in_bytes", r.to_string())?;
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(CgroupError::InvalidResource {
                field: "memory.swappiness",
                value: s.to_string(),
                reason: "must be between 0 and 100".into(),
            });
        }
        fs::write(dir, "memory.swappiness", s.to_string())?;
    }
    // memory.kernel is deprecated in the runtime spec and gone from recent kernels: ignored.
    if let Some(k) = m.kernel_tcp() {
        fs::write(dir, "memory.kmem.tcp.limit_in_bytes", k.to_string())?;
    }
    if let Some(d) = m.disable_oom_killer() {
        fs::write(dir, "memory.oom_control", if d { "1" } else { "0" })?;
    }
    Ok(())
}
