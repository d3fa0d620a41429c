//! The bpf(2) syscall, for cgroup v2 device filters (BPF_PROG_TYPE_CGROUP_DEVICE).
//!
//! Only the five commands a device filter needs: load a program, attach it to a cgroup,
//! list the programs attached to a cgroup, open one of those by id, and detach it.
//! The `bpf_attr` union is modelled by one `#[repr(C)]` struct per command holding the
//! leading fields that command reads; the kernel treats the bytes we do not pass as zero.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `BPF_PROG_TYPE_CGROUP_DEVICE` from `<linux/bpf.h>`.
pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE`, the attach type of device programs.
pub const BPF_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: several programs may be attached to one cgroup.
pub const BPF_F_ALLOW_MULTI: u32 = 2;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;

/// Size of the verifier log buffer kept for load errors.
const LOG_SIZE: u32 = 64 * 1024;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// Calls bpf(2) with `attr`, returning the non-negative result.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed #[repr(C)] struct laid out as the
    // leading fields of `union bpf_attr` for `cmd`, and its exact size is passed, so the
    // kernel reads and writes only inside it. Pointers stored in it (by the callers) refer
    // to buffers that outlive this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            attr_size::<T>(),
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The size of a bpf attribute struct, as bpf(2) takes it.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the attribute structs are a few dozen bytes"
)]
const fn attr_size<T>() -> libc::c_uint {
    std::mem::size_of::<T>() as libc::c_uint
}

/// Wraps a file descriptor the kernel just returned to us.
fn owned_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = libc::c_int::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: bpf(2) returned a new file descriptor that nothing else owns; the kernel
    // opens it with O_CLOEXEC.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A descriptor as the `u32` fields of `union bpf_attr` hold it (never negative).
fn fd_u32(fd: BorrowedFd<'_>) -> io::Result<u32> {
    u32::try_from(fd.as_raw_fd()).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))
}

/// A count as the `u32` fields of `union bpf_attr` hold it.
fn count_u32(n: usize) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))
}

/// An error from [`prog_load_cgroup_device`]: the errno plus the verifier's log.
#[derive(Debug)]
pub struct LoadError {
    /// The errno bpf(2) returned.
    pub error: io::Error,
    /// The verifier log (empty when the verifier did not write one).
    pub log: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        if !self.log.is_empty() {
            write!(f, "; verifier log: {}", self.log.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Loads a `BPF_PROG_TYPE_CGROUP_DEVICE` program made of raw 8-byte `struct bpf_insn`s
/// (already encoded in little-endian/native order) and returns its file descriptor.
pub fn prog_load_cgroup_device(insns: &[[u8; 8]], license: &CStr) -> Result<OwnedFd, LoadError> {
    let mut log = vec![0u8; LOG_SIZE as usize];
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: count_u32(insns.len()).map_err(|error| LoadError {
            error,
            log: String::new(),
        })?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: LOG_SIZE,
        log_buf: log.as_mut_ptr() as u64,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    attr.prog_name[..11].copy_from_slice(b"berth_devcg");
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => owned_fd(fd).map_err(|error| LoadError {
            error,
            log: String::new(),
        }),
        Err(error) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            Err(LoadError {
                error,
                log: String::from_utf8_lossy(&log[..end]).into_owned(),
            })
        }
    }
}

/// Attaches `prog` to the cgroup directory `cgroup` as a device filter.
pub fn prog_attach(prog: BorrowedFd<'_>, cgroup: BorrowedFd<'_>, flags: u32) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup)?,
        attach_bpf_fd: fd_u32(prog)?,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// Detaches the device filter `prog` from the cgroup directory `cgroup`.
pub fn prog_detach(prog: BorrowedFd<'_>, cgroup: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup)?,
        attach_bpf_fd: fd_u32(prog)?,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// Lists the ids of the device programs attached directly to the cgroup directory `cgroup`.
pub fn prog_query(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: fd_u32(cgroup)?,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: count_u32(ids.len())?,
            ..Default::default()
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // ENOSPC: more programs than slots; prog_cnt now holds the real count.
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC) && attr.prog_cnt as usize > ids.len() =>
            {
                ids = vec![0u32; attr.prog_cnt as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

/// Opens the loaded program with id `id`.
pub fn prog_get_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..Default::default()
    };
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).and_then(owned_fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_layouts_match_the_kernel_union() {
        // Offsets from <linux/bpf.h>; a wrong layout would make the kernel read garbage.
        assert_eq!(std::mem::size_of::<AttachAttr>(), 20);
        assert_eq!(std::mem::size_of::<QueryAttr>(), 32);
        assert_eq!(std::mem::size_of::<GetFdByIdAttr>(), 12);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
    }
}
