//! Applying `linux.resources` to a cgroup v2 directory. Every function takes the directory,
//! so it is unit-tested against a fake cgroupfs tree.

pub mod cpu;
pub mod io;
pub mod memory;

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use crate::devices::{self, Rule};
use crate::error::{CgroupError, Result};
use crate::fs;
use crate::v1::{hugepage_size, pids_max};

/// Applies every section of `r` that sets something to `dir`.
pub(crate) fn apply(dir: &Path, r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        memory::apply(dir, m)?;
    }
    if let Some(c) = r.cpu() {
        cpu::apply(dir, c)?;
    }
    if let Some(p) = r.pids() {
        fs::write(dir, "pids.max", pids_max(p.limit()))?;
    }
    if let Some(b) = r.block_io() {
        io::apply(dir, b)?;
    }
    for h in r.hugepage_limits().iter().flatten() {
        let size = hugepage_size(h.page_size())?;
        fs::write(dir, &format!("hugetlb.{size}.max"), h.limit().to_string())?;
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(CgroupError::ControllerMissing {
                controller: "net_cls/net_prio (v1 only)".into(),
                field: "network",
            });
        }
    }
    for (device, limits) in r.rdma().iter().flatten() {
        fs::write(dir, "rdma.max", rdma_line(device, limits)?)?;
    }
    for (key, value) in r.unified().iter().flatten() {
        write_unified(dir, key, value)?;
    }
    if let Some(list) = r.devices() {
        // An empty list leaves the filter as it is (v1 does the same).
        let rules = Rule::from_oci_list(list)?;
        if !rules.is_empty() {
            devices::attach::apply_v2(dir, &rules)?;
        }
    }
    Ok(())
}

/// `<device> hca_handle=N hca_object=M` for rdma.max (same format on v1).
pub(crate) fn rdma_line(device: &str, l: &oci_spec::runtime::LinuxRdma) -> Result<String> {
    if device.is_empty() || device.contains(char::is_whitespace) || device.contains('/') {
        return Err(CgroupError::InvalidResource {
            field: "rdma",
            value: device.into(),
            reason: "not an RDMA device name".into(),
        });
    }
    let mut line = device.to_string();
    if let Some(h) = l.hca_handles() {
        line.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = l.hca_objects() {
        line.push_str(&format!(" hca_object={o}"));
    }
    Ok(line)
}

/// Writes one `linux.resources.unified` entry: the key must be a plain file name of a
/// controller interface ("memory.high"), never a path.
fn write_unified(dir: &Path, key: &str, value: &str) -> Result<()> {
    let valid = key.contains('.')
        && !key.starts_with('.')
        && !key.contains('/')
        && !key.starts_with("cgroup.");
    if !valid {
        return Err(CgroupError::InvalidResource {
            field: "unified",
            value: key.into(),
            reason: "key must name a controller file such as memory.high".into(),
        });
    }
    if !dir.join(key).exists() {
        let controller = key.split('.').next().unwrap_or(key);
        return Err(CgroupError::ControllerMissing {
            controller: controller.into(),
            field: "unified",
        });
    }
    fs::write(dir, key, value)
}

/// Makes every controller available at the root reach `leaf`: for each ancestor from the
/// mount point down to `leaf`'s parent, enables in cgroup.subtree_control what its
/// cgroup.controllers offers and is not enabled yet. Controllers the kernel refuses (e.g. a
/// threaded-only one) are skipped, as runc does.
pub(crate) fn enable_controllers(mount_point: &Path, leaf: &Path) -> Result<()> {
    let Ok(rel) = leaf.strip_prefix(mount_point) else {
        return Ok(());
    };
    let mut dir = mount_point.to_path_buf();
    for comp in rel.components() {
        let available = fs::read_opt(&dir, "cgroup.controllers")?.unwrap_or_default();
        let enabled = fs::read_opt(&dir, "cgroup.subtree_control")?.unwrap_or_default();
        let missing: Vec<String> = available
            .split_whitespace()
            .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
            .map(|c| format!("+{c}"))
            .collect();
        if !missing.is_empty()
            && fs::write(&dir, "cgroup.subtree_control", missing.join(" ")).is_err()
        {
            for c in &missing {
                let _ = fs::write(&dir, "cgroup.subtree_control", c);
            }
        }
        dir.push(comp);
    }
    Ok(())
}
