//! The last steps before the container's program runs: stdio, rlimits, oom_score_adj, user
//! and groups, the five capability sets, no_new_privileges, seccomp, cwd, env and execve.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use crate::seccomp::Filter;
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, Linux, PosixRlimitType, Process};
use rustix::process::{Resource, Rlimit};

use crate::error::{invalid, Context, Error, Result};

fn resource(t: PosixRlimitType) -> Option<Resource> {
    use PosixRlimitType as T;
    Some(match t {
        T::RlimitCpu => Resource::Cpu,
        T::RlimitFsize => Resource::Fsize,
        T::RlimitData => Resource::Data,
        T::RlimitStack => Resource::Stack,
        T::RlimitCore => Resource::Core,
        T::RlimitRss => Resource::Rss,
        T::RlimitNproc => Resource::Nproc,
        T::RlimitNofile => Resource::Nofile,
        T::RlimitMemlock => Resource::Memlock,
        T::RlimitAs => Resource::As,
        T::RlimitLocks => Resource::Locks,
        T::RlimitSigpending => Resource::Sigpending,
        T::RlimitMsgqueue => Resource::Msgqueue,
        T::RlimitNice => Resource::Nice,
        T::RlimitRtprio => Resource::Rtprio,
        T::RlimitRttime => Resource::Rttime,
    })
}

/// Sets the spec's rlimits. A hard limit above the current one cannot be granted without
/// CAP_SYS_RESOURCE: it is clamped to the current hard limit (the soft limit with it)
/// instead of failing the container, which is what every caller that copies a host's
/// default (1048576 open files) into the spec would otherwise hit.
pub fn set_rlimits(process: &Process) -> Result<()> {
    for (i, rl) in process.rlimits().iter().flatten().enumerate() {
        let Some(res) = resource(rl.typ()) else {
            continue;
        };
        let field = format!("process.rlimits[{i}]");
        if rl.soft() > rl.hard() {
            return Err(invalid(field, "soft limit above hard limit"));
        }
        let cur = rustix::process::getrlimit(res);
        let mut hard = rl.hard();
        if let Some(cur_hard) = cur.maximum {
            if hard > cur_hard && !has_sys_resource() {
                hard = cur_hard;
            }
        }
        let soft = rl.soft().min(hard);
        let limit = Rlimit {
            current: (soft != u64::MAX).then_some(soft),
            maximum: (hard != u64::MAX).then_some(hard),
        };
        rustix::process::setrlimit(res, limit)
            .map_err(|e| invalid(field, format!("setrlimit: {e}")))?;
    }
    Ok(())
}

fn has_sys_resource() -> bool {
    caps::has_cap(None, CapSet::Effective, Capability::CAP_SYS_RESOURCE).unwrap_or(false)
}

/// Writes process.oomScoreAdj (raising always works; lowering needs CAP_SYS_RESOURCE).
pub fn set_oom_score_adj(process: &Process) -> Result<()> {
    let Some(adj) = process.oom_score_adj() else {
        return Ok(());
    };
    let path = "/proc/self/oom_score_adj";
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current.trim() == adj.to_string() {
        return Ok(());
    }
    std::fs::write(path, adj.to_string()).map_err(|e| {
        invalid(
            "process.oomScoreAdj",
            format!("cannot set {adj} (current {}): {e}", current.trim()),
        )
    })
}

fn to_caps(set: &Option<Capabilities>, field: &str) -> Result<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        let name = format!("CAP_{c}");
        let cap: Capability = name
            .parse()
            .map_err(|_| invalid(field, format!("unknown capability {name}")))?;
        out.insert(cap);
    }
    Ok(out)
}

/// Switches to the process's user and capabilities, sets no_new_privs and loads seccomp,
/// in the order that keeps each step permitted. With no_new_privs the filter is returned
/// instead of loaded: the caller loads it as late as possible, right before execve.
pub(crate) fn drop_privileges(
    process: &Process,
    linux: Option<&Linux>,
    program: Option<&[u8]>,
) -> Result<Option<Filter>> {
    let user = process.user();
    let caps_spec = process.capabilities().clone().unwrap_or_default();
    let bounding = to_caps(caps_spec.bounding(), "process.capabilities.bounding")?;
    let effective = to_caps(caps_spec.effective(), "process.capabilities.effective")?;
    let permitted = to_caps(caps_spec.permitted(), "process.capabilities.permitted")?;
    let inheritable = to_caps(caps_spec.inheritable(), "process.capabilities.inheritable")?;
    let ambient = to_caps(caps_spec.ambient(), "process.capabilities.ambient")?;
    let nnp = process.no_new_privileges() == Some(true);
    let seccomp = linux.and_then(|l| l.seccomp().as_ref());

    // Compile before dropping anything: libseccomp errors then still reach the runtime.
    let filter = seccomp.map(|s| Filter::prepare(s, program)).transpose()?;

    for cap in caps::all() {
        if !bounding.contains(&cap) {
            // Caps the running kernel does not know fail with EINVAL: nothing to drop.
            let _ = caps::drop(None, CapSet::Bounding, cap);
        }
    }
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while we have it.
    if !nnp {
        if let Some(f) = &filter {
            f.load()?;
        }
    }
    let mut groups: Vec<rustix::process::Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| rustix::process::Gid::from_raw(*g))
        .collect();
    groups.dedup();
    // setgroups is denied in user namespaces with /proc/<pid>/setgroups "deny".
    if let Err(e) = rustix::thread::set_thread_groups(&groups) {
        if !groups.is_empty() {
            return Err(e).sys(|| "process.user.additionalGids: setgroups".into());
        }
    }
    rustix::thread::set_keep_capabilities(true).sys(|| "keep capabilities".into())?;
    let gid = rustix::process::Gid::from_raw(user.gid());
    let uid = rustix::process::Uid::from_raw(user.uid());
    rustix::thread::set_thread_res_gid(gid, gid, gid)
        .map_err(|e| invalid("process.user.gid", format!("setresgid {}: {e}", user.gid())))?;
    rustix::thread::set_thread_res_uid(uid, uid, uid)
        .map_err(|e| invalid("process.user.uid", format!("setresuid {}: {e}", user.uid())))?;
    rustix::thread::set_keep_capabilities(false).sys(|| "keep capabilities".into())?;
    let capfail = |set: &str, e: caps::errors::CapsError| {
        invalid(format!("process.capabilities.{set}"), e.to_string())
    };
    // Permitted is still full here: narrow inheritable and effective first, permitted last.
    caps::set(None, CapSet::Inheritable, &inheritable).map_err(|e| capfail("inheritable", e))?;
    caps::set(None, CapSet::Effective, &effective).map_err(|e| capfail("effective", e))?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(|e| capfail("permitted", e))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| capfail("ambient", e))?;
    // The kernel refuses an ambient capability that is not both permitted and inheritable;
    // runc skips those (with a warning in its log), so a bundle from `runc spec` (ambient
    // without inheritable) runs. Do the same.
    for cap in ambient {
        if permitted.contains(&cap) && inheritable.contains(&cap) {
            caps::raise(None, CapSet::Ambient, cap).map_err(|e| capfail("ambient", e))?;
        }
    }
    if let Some(mask) = user.umask() {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask));
    }
    if nnp {
        rustix::thread::set_no_new_privs(true).sys(|| "no_new_privs".into())?;
        return Ok(filter);
    }
    Ok(None)
}

/// Reopens stdin, stdout and stderr that are a `/dev/null` (any node of that device, such
/// as the host's, which the runtime's caller passed) on the container's own /dev/null, as
/// runc does: container root could otherwise chmod or chown the host's node through
/// /proc/self/fd/0. Must run after the root switch (or after joining the container's mount
/// namespace, for exec).
pub fn reopen_dev_null() -> Result<()> {
    let null = match rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) {
        Ok(fd) => fd,
        // A container without /dev/null: nothing to reopen onto (and nothing of ours to hide).
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e).sys(|| "open /dev/null in the container".into()),
    };
    let null_rdev = rustix::fs::fstat(&null)
        .sys(|| "stat /dev/null".into())?
        .st_rdev;
    let is_null = |st: rustix::fs::Stat| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::CharacterDevice
            && st.st_rdev == null_rdev
    };
    if rustix::fs::fstat(std::io::stdin()).is_ok_and(is_null) {
        rustix::stdio::dup2_stdin(&null).sys(|| "reopen stdin on /dev/null".into())?;
    }
    if rustix::fs::fstat(std::io::stdout()).is_ok_and(is_null) {
        rustix::stdio::dup2_stdout(&null).sys(|| "reopen stdout on /dev/null".into())?;
    }
    if rustix::fs::fstat(std::io::stderr()).is_ok_and(is_null) {
        rustix::stdio::dup2_stderr(&null).sys(|| "reopen stderr on /dev/null".into())?;
    }
    Ok(())
}

/// chdir to process.cwd (after the user switch, so the user's permissions apply).
pub fn chdir(process: &Process) -> Result<()> {
    rustix::process::chdir(process.cwd()).map_err(|e| {
        invalid(
            "process.cwd",
            format!("chdir {}: {e}", process.cwd().display()),
        )
    })
}

/// The environment as a list of (key, value).
pub fn env_pairs(process: &Process) -> Vec<(String, String)> {
    process
        .env()
        .iter()
        .flatten()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Finds args[0] like execvp would, using the process's PATH, inside the current root.
pub fn resolve_program(process: &Process) -> Result<PathBuf> {
    let arg0 = process
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .ok_or_else(|| invalid("process.args", "empty"))?;
    if arg0.contains('/') {
        let p = if Path::new(arg0).is_absolute() {
            PathBuf::from(arg0)
        } else {
            process.cwd().join(arg0)
        };
        // runc's words (Go's exec.LookPath): clients map "no such file or directory" to
        // exit 127 and "permission denied" to 126.
        return match std::fs::metadata(&p) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(PathBuf::from(arg0)),
            Ok(_) => Err(invalid(
                "process.args[0]",
                format!("exec: {arg0:?}: permission denied"),
            )),
            Err(e) => Err(invalid(
                "process.args[0]",
                format!("exec: {arg0:?}: stat {arg0}: {}", go_error_text(&e)),
            )),
        };
    }
    let path = env_pairs(process)
        .into_iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v)
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(arg0);
        if let Ok(m) = std::fs::metadata(&cand) {
            if m.is_file() {
                return Ok(cand);
            }
        }
    }
    Err(invalid(
        "process.args[0]",
        format!("{arg0:?}: executable file not found in $PATH"),
    ))
}

/// execve the program with exactly the spec's environment (the cwd is set already).
/// Only returns on failure.
pub fn exec(process: &Process, program: &Path) -> Error {
    let args = process.args().clone().unwrap_or_default();
    let err = std::process::Command::new(program)
        .arg0(&args[0])
        .args(&args[1..])
        .env_clear()
        .envs(env_pairs(process))
        .exec();
    invalid(
        "process.args",
        format!("exec {}: {}", program.display(), go_error_text(&err)),
    )
}

/// An OS error as Go (and so runc) prints it: `permission denied`, not
/// `Permission denied (os error 13)`.
pub fn go_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => &text[..i],
        _ => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
