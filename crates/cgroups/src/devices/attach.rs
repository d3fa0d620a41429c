//! Installing a compiled device program on a cgroup v2 directory, replacing the previous
//! one: load, attach the new program (BPF_F_ALLOW_MULTI), then detach the programs that
//! were attached before — so there is no moment without a filter.

use std::os::fd::AsFd;
use std::path::Path;

use berth_sys::bpf;

use super::bpf::{compile, Insn};
use super::Rule;
use crate::error::{CgroupError, Result};

/// Compiles `rules` and makes the resulting program the device filter of `dir`.
pub fn apply_v2(dir: &Path, rules: &[Rule]) -> Result<()> {
    let insns: Vec<[u8; 8]> = compile(rules).iter().map(Insn::encode).collect();
    let prog = bpf::prog_load_cgroup_device(&insns, c"Apache-2.0").map_err(|source| {
        CgroupError::BpfLoad {
            path: dir.into(),
            source,
        }
    })?;
    let bpf_err = |op: &'static str| {
        move |source| CgroupError::Bpf {
            op,
            path: dir.into(),
            source,
        }
    };
    let cgroup = std::fs::File::open(dir).map_err(|source| CgroupError::Io {
        op: "open",
        path: dir.into(),
        source,
    })?;
    let old = bpf::prog_query(cgroup.as_fd()).map_err(bpf_err("query"))?;
    bpf::prog_attach(prog.as_fd(), cgroup.as_fd(), bpf::BPF_F_ALLOW_MULTI)
        .map_err(bpf_err("attach"))?;
    for id in old {
        let old_prog = match bpf::prog_get_fd_by_id(id) {
            Ok(fd) => fd,
            // detached and freed meanwhile
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(bpf_err("open")(e)),
        };
        bpf::prog_detach(old_prog.as_fd(), cgroup.as_fd()).map_err(bpf_err("detach"))?;
    }
    Ok(())
}

/// The ids of the device programs attached to `dir` (for tests and diagnostics).
pub fn attached_programs(dir: &Path) -> Result<Vec<u32>> {
    let cgroup = std::fs::File::open(dir).map_err(|source| CgroupError::Io {
        op: "open",
        path: dir.into(),
        source,
    })?;
    bpf::prog_query(cgroup.as_fd()).map_err(|source| CgroupError::Bpf {
        op: "query",
        path: dir.into(),
        source,
    })
}
