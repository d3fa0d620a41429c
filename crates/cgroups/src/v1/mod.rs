//! Applying `linux.resources` to v1 hierarchies (one directory per controller).
//!
//! A controller is required only when a value for it is actually set, so an empty
//! `blockIO: {}` does not fail on a host without blkio.

pub mod blkio;
pub mod cpu;
pub mod cpuset;
pub mod memory;

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use crate::cgroup::Cgroup;
use crate::devices::{self, Rule};
use crate::error::{CgroupError, Result};
use crate::fs;

/// Looks up controller directories, failing with the field that needed the controller.
pub(crate) struct Dirs<'a>(pub &'a Cgroup);

impl Dirs<'_> {
    pub(crate) fn get(&self, controller: &str, field: &'static str) -> Result<&Path> {
        self.0
            .v1_path(controller)
            .ok_or_else(|| CgroupError::ControllerMissing {
                controller: controller.to_string(),
                field,
            })
    }
}

/// Applies every section of `r` that sets something.
pub(crate) fn apply(cg: &Cgroup, r: &LinuxResources) -> Result<()> {
    let dirs = Dirs(cg);
    if let Some(m) = r.memory() {
        memory::apply(&dirs, m)?;
    }
    if let Some(c) = r.cpu() {
        cpu::apply(&dirs, c)?;
    }
    if let Some(p) = r.pids() {
        fs::write(dirs.get("pids", "pids")?, "pids.max", pids_max(p.limit()))?;
    }
    if let Some(b) = r.block_io() {
        blkio::apply(&dirs, b)?;
    }
    if let Some(list) = r.devices() {
        let rules = Rule::from_oci_list(list)?;
        if !rules.is_empty() {
            devices::v1::apply(dirs.get("devices", "devices")?, &rules)?;
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        let size = hugepage_size(h.page_size())?;
        let file = format!("hugetlb.{size}.limit_in_bytes");
        fs::write(
            dirs.get("hugetlb", "hugepageLimits")?,
            &file,
            h.limit().to_string(),
        )?;
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            fs::write(
                dirs.get("net_cls", "network.classID")?,
                "net_cls.classid",
                id.to_string(),
            )?;
        }
        for p in n.priorities().iter().flatten() {
            let line = format!("{} {}", p.name(), p.priority());
            fs::write(
                dirs.get("net_prio", "network.priorities")?,
                "net_prio.ifpriomap",
                line,
            )?;
        }
    }
    for (device, limits) in r.rdma().iter().flatten() {
        let line = crate::v2::rdma_line(device, limits)?;
        fs::write(dirs.get("rdma", "rdma")?, "rdma.max", line)?;
    }
    if let Some(u) = r.unified() {
        if !u.is_empty() {
            return Err(CgroupError::InvalidResource {
                field: "unified",
                value: format!("{:?}", u.keys().collect::<Vec<_>>()),
                reason: "unified keys need cgroup v2 and this host uses v1 controllers".into(),
            });
        }
    }
    Ok(())
}

/// OCI pids.limit: a positive number, or unlimited for 0 and negative values.
pub(crate) fn pids_max(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".into()
    }
}

/// Validates a hugepage size such as "2MB" or "1GB" (used in file names).
pub(crate) fn hugepage_size(size: &str) -> Result<&str> {
    let ok =
        !size.is_empty() && size.ends_with('B') && size.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(size)
    } else {
        Err(CgroupError::InvalidResource {
            field: "hugepageLimits.pageSize",
            value: size.into(),
            reason: "expected a size like 2MB or 1GB".into(),
        })
    }
}
