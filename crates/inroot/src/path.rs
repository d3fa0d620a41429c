//! Lexical handling of paths inside a root (no lookups).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Lexically cleaned components of a path inside a root (`filepath.Join("/", p)`: `..` stops
/// at the root, `.` and `/` dropped).
pub fn clean(path: &str) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// `path` made relative (leading `/` stripped, `.` dropped); `..` is kept for `openat2` to
/// clamp at the root.
pub fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect()
}

/// The relative path of `comps` (`.` when empty), for `openat2`.
pub(crate) fn joined(comps: &[OsString]) -> PathBuf {
    if comps.is_empty() {
        PathBuf::from(".")
    } else {
        comps.iter().collect()
    }
}

/// `/a/b` for display and errors.
pub(crate) fn display(comps: &[OsString]) -> String {
    if comps.is_empty() {
        "/".to_string()
    } else {
        format!("/{}", joined(comps).display())
    }
}

/// Components of a link text, keeping `..` (resolved by the caller), dropping `.` and `/`.
pub(crate) fn clean_keep_dotdot(text: &[u8]) -> Vec<OsString> {
    Path::new(OsStr::from_bytes(text))
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// The components of an archive entry name relative to the extraction point (`/` and `.`
/// dropped, `a/../b` folded to `b`); `None` when a `..` would climb above it or the name
/// holds a NUL byte.
pub(crate) fn entry_components(raw: &[u8]) -> Option<Vec<OsString>> {
    if raw.contains(&0) {
        return None;
    }
    let mut out: Vec<OsString> = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop()?;
            }
            c => out.push(OsStr::from_bytes(c).to_os_string()),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_stays_at_root() {
        assert_eq!(clean("/../../etc/./passwd"), vec!["etc", "passwd"]);
        assert!(clean("/").is_empty());
        assert_eq!(relative(Path::new("/a/./b/../c")), Path::new("a/b/../c"));
        assert_eq!(joined(&[]), Path::new("."));
        assert_eq!(display(&clean("a//b")), "/a/b");
    }

    #[test]
    fn entry_names_never_climb() {
        assert_eq!(entry_components(b"../x"), None);
        assert_eq!(entry_components(b"a/../../x"), None);
        assert_eq!(entry_components(b"a\0b"), None);
        assert_eq!(entry_components(b"./a/../b").unwrap(), vec!["b"]);
        assert_eq!(entry_components(b"/abs/name").unwrap(), vec!["abs", "name"]);
        assert!(entry_components(b"./").unwrap().is_empty());
        assert_eq!(
            clean_keep_dotdot(b"/x/./../y"),
            vec![OsString::from("x"), "..".into(), "y".into()]
        );
    }
}
