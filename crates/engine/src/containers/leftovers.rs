//! What a task leaves on the host when its daemon died: processes (shims, runtime calls)
//! found by the state dir their command line names, and the host's mount points. Used by
//! [`super::tasks::ShimRuntime`] for the reconcile at daemon start.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// True for a 64-hex-digit container id.
pub(super) fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The mount points listed in `/proc/self/mountinfo` (octal escapes decoded).
pub(super) fn mount_points() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .collect()
}

/// Decodes mountinfo's `\ooo` escapes (space, tab, newline, backslash).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            // Only bytes are escaped (\377 at most); anything larger is kept as written.
            match u8::try_from(v) {
                Ok(byte) => out.push(byte),
                Err(_) => out.extend_from_slice(&b[i..i + 4]),
            }
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Processes whose command line names a state dir `<state_root>/<id>` (shims and runtime
/// invocations for that container), by container id.
pub(super) fn processes_by_container(state_root: &Path) -> BTreeMap<String, Vec<i32>> {
    let me = i32::try_from(std::process::id()).unwrap_or(-1);
    let mut out: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        for arg in cmdline.split(|b| *b == 0) {
            let arg = Path::new(std::ffi::OsStr::from_bytes(arg));
            let Ok(rest) = arg.strip_prefix(state_root) else {
                continue;
            };
            let mut comps = rest.components();
            let (Some(first), None) = (comps.next(), comps.next()) else {
                continue;
            };
            let id = first.as_os_str().to_string_lossy();
            if is_container_id(&id) {
                out.entry(id.into_owned()).or_default().push(pid);
                break;
            }
        }
    }
    out
}

/// True while `pid` exists and is not a zombie.
pub(super) fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // "pid (comm) S …": the state follows the last ')'.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_and_ids() {
        assert_eq!(unescape_mountinfo(r"/a\040b\134c"), r"/a b\c");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert!(is_container_id(&"ab".repeat(32)));
        assert!(!is_container_id("abc"));
    }

    #[test]
    fn this_process_is_alive_and_not_listed() {
        assert!(alive(i32::try_from(std::process::id()).unwrap()));
        assert!(processes_by_container(Path::new("/nonexistent/berth-test")).is_empty());
    }
}
