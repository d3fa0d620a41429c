//! Seccomp: compiling `linux.seccomp` with libseccomp and loading it; converting Docker's
//! profile format (the one in Docker's default seccomp.json) to the OCI form.

use std::collections::HashSet;
use std::str::FromStr;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};

use crate::error::{Error, Result};

const EPERM: u32 = 1;

fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction> {
    Ok(match name_of(&a).as_str() {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(
            i32::try_from(errno.unwrap_or(EPERM))
                .map_err(|_| Error::Seccomp("errnoRet out of range".into()))?,
        ),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(
            u16::try_from(errno.unwrap_or(EPERM))
                .map_err(|_| Error::Seccomp("errnoRet out of range for a trace".into()))?,
        ),
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        other => return Err(Error::Seccomp(format!("unsupported action {other}"))),
    })
}

fn compare(op: LinuxSeccompOperator, value: u64, value_two: Option<u64>) -> (ScmpCompareOp, u64) {
    match name_of(&op).as_str() {
        "SCMP_CMP_NE" => (ScmpCompareOp::NotEqual, value),
        "SCMP_CMP_LT" => (ScmpCompareOp::Less, value),
        "SCMP_CMP_LE" => (ScmpCompareOp::LessOrEqual, value),
        "SCMP_CMP_GE" => (ScmpCompareOp::GreaterEqual, value),
        "SCMP_CMP_GT" => (ScmpCompareOp::Greater, value),
        "SCMP_CMP_MASKED_EQ" => (ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0)),
        _ => (ScmpCompareOp::Equal, value),
    }
}

/// Compiles the spec's seccomp section into a filter (not loaded yet).
/// A syscall argument's index (0 to 5) as libseccomp takes it.
fn arg_index(syscall: usize, index: usize) -> Result<u32> {
    u32::try_from(index).map_err(|_| {
        Error::Seccomp(format!(
            "syscalls[{syscall}].args: index {index} out of range"
        ))
    })
}

pub(crate) fn compile(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let err =
        |what: &str, e: libseccomp::error::SeccompError| Error::Seccomp(format!("{what}: {e}"));
    let default = action(s.default_action(), s.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| err("new filter", e))?;
    // We set no_new_privs ourselves when the spec asks for it.
    ctx.set_ctl_nnp(false).map_err(|e| err("ctl nnp", e))?;
    for (i, arch) in s.architectures().iter().flatten().enumerate() {
        let name = name_of(arch);
        let a = ScmpArch::from_str(&name)
            .map_err(|_| Error::Seccomp(format!("architectures[{i}]: unknown {name}")))?;
        if a != ScmpArch::native() {
            ctx.add_arch(a)
                .map_err(|e| err(&format!("architectures[{i}]"), e))?;
        }
    }
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let act = action(sc.action(), sc.errno_ret())
            .map_err(|e| Error::Seccomp(format!("syscalls[{i}].action: {e}")))?;
        if act == default {
            continue;
        }
        let conds: Vec<ScmpArgCompare> = sc
            .args()
            .iter()
            .flatten()
            .map(|a| {
                let (op, datum) = compare(a.op(), a.value(), a.value_two());
                Ok(ScmpArgCompare::new(arg_index(i, a.index())?, op, datum))
            })
            .collect::<Result<_>>()?;
        let distinct: HashSet<u32> = sc
            .args()
            .iter()
            .flatten()
            .map(|a| arg_index(i, a.index()))
            .collect::<Result<_>>()?;
        for name in sc.names() {
            // Syscalls this libseccomp or architecture does not know are skipped, like runc.
            let Ok(sys) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let res = if conds.is_empty() {
                ctx.add_rule(act, sys)
            } else if distinct.len() == conds.len() {
                ctx.add_rule_conditional(act, sys, &conds)
            } else {
                // libseccomp cannot AND two conditions on one argument: one rule each.
                conds
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, sys, &[*c]).map(|_| ()))
                    .map(|_| &mut ctx)
            };
            res.map_err(|e| err(&format!("syscalls[{i}] ({name})"), e))?;
        }
    }
    Ok(ctx)
}

/// A filter ready to load: compiled here, or the program the runtime compiled (or found in
/// its cache) before it handed the config to the init.
pub(crate) enum Filter {
    Compiled(ScmpFilterContext),
    Program(Vec<u8>),
}

impl Filter {
    /// The spec's filter: `program` when the runtime passed one, else compiled now.
    pub(crate) fn prepare(s: &LinuxSeccomp, program: Option<&[u8]>) -> Result<Filter> {
        match program {
            Some(p) if berth_sys::seccomp::decode(p).is_some() => Ok(Filter::Program(p.to_vec())),
            _ => compile(s).map(Filter::Compiled),
        }
    }

    /// Installs the filter on the calling thread.
    pub(crate) fn load(&self) -> Result<()> {
        match self {
            Filter::Compiled(ctx) => ctx.load().map_err(|e| Error::Seccomp(format!("load: {e}"))),
            Filter::Program(p) => berth_sys::seccomp::set_mode_filter(p)
                .map_err(|e| Error::Seccomp(format!("load: {e}"))),
        }
    }
}

/// Where compiled programs are kept, under the runtime's root.
const CACHE_DIR: &str = ".seccomp";

/// The BPF program of `s` for this host, as libseccomp's `seccomp_load` would install it:
/// from `<root>/.seccomp/<key>.bpf`, or compiled and kept there. Compiling Docker's default
/// profile is half of the CPU time of a `runtime exec` (a health probe) and of a create;
/// every container with the same profile shares one program. The key covers the profile,
/// libseccomp's version, the architecture and this runtime binary (its inode, size and
/// mtime), so a program is never reused across any of those. `None` when it cannot be had:
/// the init then compiles the profile itself and reports any error.
pub(crate) fn cached_program(root: &std::path::Path, s: &LinuxSeccomp) -> Option<Vec<u8>> {
    use sha2::Digest;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    let exe = std::fs::metadata("/proc/self/exe").ok()?;
    let version = libseccomp::ScmpVersion::current().ok()?;
    let mut h = sha2::Sha256::new();
    h.update(serde_json::to_vec(s).ok()?);
    h.update(format!(
        "\0{}.{}.{}\0{:?}\0{}:{}:{}:{}.{}",
        version.major,
        version.minor,
        version.micro,
        ScmpArch::native(),
        exe.dev(),
        exe.ino(),
        exe.size(),
        exe.mtime(),
        exe.mtime_nsec()
    ));
    let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let dir = root.join(CACHE_DIR);
    let path = dir.join(format!("{key}.bpf"));
    if let Ok(p) = std::fs::read(&path) {
        if berth_sys::seccomp::decode(&p).is_some() {
            return Some(p);
        }
    }
    let ctx = compile(s).ok()?;
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir);
    let tmp = dir.join(format!("{key}.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .ok()
        .and_then(|f| ctx.export_bpf(&f).ok())
        .and_then(|()| std::fs::rename(&tmp, &path).ok());
    if written.is_none() {
        let _ = std::fs::remove_file(&tmp);
        return None;
    }
    std::fs::read(&path)
        .ok()
        .filter(|p| berth_sys::seccomp::decode(p).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn programs_are_compiled_once_and_kept_by_profile() {
        let profile = |name: &str| -> LinuxSeccomp {
            serde_json::from_value(json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["read", "write", name], "action": "SCMP_ACT_ALLOW"}]
            }))
            .unwrap()
        };
        let root = std::env::temp_dir().join(format!("berth-seccomp-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let a = cached_program(&root, &profile("exit")).unwrap();
        assert!(berth_sys::seccomp::decode(&a).is_some());
        let files = || std::fs::read_dir(root.join(CACHE_DIR)).unwrap().count();
        assert_eq!(files(), 1);
        // The same profile: the kept program, nothing compiled or written.
        assert_eq!(cached_program(&root, &profile("exit")).unwrap(), a);
        assert_eq!(files(), 1);
        // Another profile: a program of its own.
        let b = cached_program(&root, &profile("exit_group")).unwrap();
        assert_ne!(a, b);
        assert_eq!(files(), 2);
        // What the init loads is that program, or the profile compiled when none was passed.
        assert!(matches!(
            Filter::prepare(&profile("exit"), Some(&a)).unwrap(),
            Filter::Program(p) if p == a
        ));
        assert!(matches!(
            Filter::prepare(&profile("exit"), Some(&[1, 2, 3])).unwrap(),
            Filter::Compiled(_)
        ));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
