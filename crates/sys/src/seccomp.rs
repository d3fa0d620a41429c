//! seccomp(2) `SECCOMP_SET_MODE_FILTER` with a program compiled earlier: the classic-BPF
//! instructions libseccomp exports (`seccomp_export_bpf`), loaded the way its
//! `seccomp_load` loads them when no filter flag is set.

use std::io;

/// Size of one `struct sock_filter` (code u16, jt u8, jf u8, k u32) in an exported program.
pub const INSN_SIZE: usize = 8;

/// The kernel's limit on a program's length (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// Decodes an exported program (native byte order) into instructions; `None` when `bytes`
/// is not a whole, non-empty program within the kernel's limit.
pub fn decode(bytes: &[u8]) -> Option<Vec<libc::sock_filter>> {
    if bytes.is_empty() || bytes.len() % INSN_SIZE != 0 || bytes.len() / INSN_SIZE > MAX_INSNS {
        return None;
    }
    Some(
        bytes
            .chunks_exact(INSN_SIZE)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}

/// Installs `program` (an exported program, see [`decode`]) as a seccomp filter of the
/// calling thread, without flags. Needs no_new_privs or CAP_SYS_ADMIN, as the kernel says.
pub fn set_mode_filter(program: &[u8]) -> io::Result<()> {
    let mut insns = decode(program)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a seccomp BPF program"))?;
    let prog = libc::sock_fprog {
        // decode() bounds the length by MAX_INSNS, which fits a u16.
        len: libc::c_ushort::try_from(insns.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp program too long"))?,
        filter: insns.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `insns`, a live array of exactly `prog.len` initialised
    // sock_filter structs; the kernel only reads (copies) it during the call, and both
    // outlive the call. SECCOMP_SET_MODE_FILTER with flags 0 takes no other pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0 as libc::c_uint,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_whole_programs_only() {
        // BPF_RET | BPF_K, SECCOMP_RET_ALLOW
        let mut allow = Vec::new();
        allow.extend_from_slice(&0x06u16.to_ne_bytes());
        allow.extend_from_slice(&[0, 0]);
        allow.extend_from_slice(&0x7fff_0000u32.to_ne_bytes());
        let insns = decode(&allow).unwrap();
        assert_eq!(insns.len(), 1);
        assert_eq!((insns[0].code, insns[0].k), (0x06, 0x7fff_0000));
        assert!(decode(&[]).is_none());
        assert!(decode(&allow[..7]).is_none());
        assert!(decode(&vec![0u8; INSN_SIZE * (MAX_INSNS + 1)]).is_none());
    }

    #[test]
    fn a_filter_loads_on_a_thread_with_no_new_privs() {
        // Allow everything, on a thread of its own (a filter stays with its thread).
        let mut allow = Vec::new();
        allow.extend_from_slice(&0x06u16.to_ne_bytes());
        allow.extend_from_slice(&[0, 0]);
        allow.extend_from_slice(&0x7fff_0000u32.to_ne_bytes());
        let out = std::thread::spawn(move || {
            // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only and affects this
            // short-lived thread alone.
            let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            assert_eq!(rc, 0);
            (set_mode_filter(&allow), set_mode_filter(&[1, 2, 3]))
        })
        .join()
        .unwrap();
        assert!(out.0.is_ok(), "{:?}", out.0);
        assert!(out.1.is_err());
    }
}
