//! Resolving OCI `linux.cgroupsPath` to a path inside each hierarchy.
//!
//! Four forms, as runc treats them:
//! - absolute `/a/b`: relative to each hierarchy's root;
//! - relative `a/b`: relative to the caller's own cgroup in each hierarchy (on pure v2, to
//!   its parent, since a cgroup with processes cannot delegate controllers);
//! - systemd `slice:prefix:name`: `<expanded slice>/<prefix>-<name>.scope`, computed without
//!   talking to systemd (`system.slice` when the slice is empty);
//! - absent: like the relative path `<container id>` (runc's cgroupfs driver default).
//!
//! `..` never climbs out: paths are cleaned lexically first, as runc's CleanPath does.

use crate::error::{CgroupError, Result};

/// A parsed `linux.cgroupsPath`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CgroupsPath {
    /// Relative to each hierarchy root; stored cleaned, without the leading slash.
    Absolute(String),
    /// Relative to the caller's own cgroup; stored cleaned.
    Relative(String),
}

impl CgroupsPath {
    /// Parses the OCI field; `None` means the runtime default for `container_id`.
    pub fn parse(cgroups_path: Option<&str>, container_id: &str) -> Result<CgroupsPath> {
        let raw = match cgroups_path {
            None | Some("") => {
                let id = clean(container_id);
                if id.is_empty() || id.contains('/') {
                    return Err(invalid(
                        container_id,
                        "container id is not a valid cgroup name",
                    ));
                }
                return Ok(CgroupsPath::Relative(id));
            }
            Some(p) => p,
        };
        if let Some(path) = systemd_path(raw)? {
            return Ok(CgroupsPath::Absolute(path));
        }
        let cleaned = clean(raw);
        if cleaned.is_empty() {
            return Err(invalid(
                raw,
                "path names the hierarchy root or the caller's own cgroup",
            ));
        }
        Ok(if raw.starts_with('/') {
            CgroupsPath::Absolute(cleaned)
        } else {
            CgroupsPath::Relative(cleaned)
        })
    }
}

fn invalid(path: &str, reason: &str) -> CgroupError {
    CgroupError::InvalidPath {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// Lexically cleans a path and drops leading `..`: the result has no leading slash and
/// cannot name anything above its base.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// Recognises `slice:prefix:name` and returns the absolute path (without leading slash).
fn systemd_path(raw: &str) -> Result<Option<String>> {
    let parts: Vec<&str> = raw.split(':').collect();
    if parts.len() != 3 || raw.contains('/') {
        return Ok(None);
    }
    let (slice, prefix, name) = (parts[0], parts[1], parts[2]);
    if !(slice.is_empty() || slice.ends_with(".slice")) {
        return Ok(None);
    }
    if name.is_empty() {
        return Err(invalid(raw, "systemd form slice:prefix:name needs a name"));
    }
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    let mut path = expand_slice(slice).ok_or_else(|| invalid(raw, "malformed systemd slice"))?;
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    if !path.is_empty() {
        path.push('/');
    }
    path.push_str(&unit);
    Ok(Some(path))
}

/// `a-b-c.slice` → `a.slice/a-b.slice/a-b-c.slice`; `-.slice` → "" (the root slice).
pub fn expand_slice(slice: &str) -> Option<String> {
    let base = slice.strip_suffix(".slice")?;
    if base == "-" {
        return Some(String::new());
    }
    if base.is_empty()
        || base.contains('/')
        || base.starts_with('-')
        || base.ends_with('-')
        || base.contains("--")
    {
        return None;
    }
    let mut out = Vec::new();
    let mut prefix = String::new();
    for comp in base.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(comp);
        out.push(format!("{prefix}.slice"));
    }
    Some(out.join("/"))
}

/// The cgroup (relative to the hierarchy root, no leading slash) of a parsed path in one
/// hierarchy. `own` is the caller's cgroup there (from /proc/self/cgroup), `mount_root` the
/// cgroup shown at the mount point, `parent_of_own` asks for the parent of `own` (pure v2).
pub fn inner_path(
    path: &CgroupsPath,
    own: Option<&str>,
    mount_root: &str,
    parent_of_own: bool,
) -> String {
    match path {
        CgroupsPath::Absolute(p) => p.clone(),
        CgroupsPath::Relative(p) => {
            let own = own.unwrap_or("/");
            // Inside a cgroup namespace or a bind mount, /proc/self/cgroup paths start with
            // the mount's root; strip it to get a path below the mount point.
            let own = match own.strip_prefix(mount_root.trim_end_matches('/')) {
                Some(rest) if mount_root != "/" => rest,
                _ => own,
            };
            let mut base = clean(own);
            if parent_of_own {
                base = match base.rsplit_once('/') {
                    Some((parent, _)) => parent.to_string(),
                    None => String::new(),
                };
            }
            if base.is_empty() {
                p.clone()
            } else {
                format!("{base}/{p}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(p: Option<&str>) -> CgroupsPath {
        CgroupsPath::parse(p, "ctr1").unwrap()
    }

    #[test]
    fn absolute_paths_are_cleaned_and_rooted() {
        assert_eq!(
            parse(Some("/docker/abc")),
            CgroupsPath::Absolute("docker/abc".into())
        );
        assert_eq!(
            parse(Some("/a/../../b/./c/")),
            CgroupsPath::Absolute("b/c".into())
        );
        assert!(CgroupsPath::parse(Some("/"), "c").is_err());
        assert!(CgroupsPath::parse(Some("/a/.."), "c").is_err());
        let p = parse(Some("/docker/abc"));
        assert_eq!(
            inner_path(&p, Some("/user.slice"), "/", false),
            "docker/abc"
        );
    }

    #[test]
    fn relative_paths_hang_below_the_own_cgroup() {
        let p = parse(Some("a/b"));
        assert_eq!(p, CgroupsPath::Relative("a/b".into()));
        assert_eq!(
            inner_path(&p, Some("/process_api/xyz"), "/", false),
            "process_api/xyz/a/b"
        );
        assert_eq!(inner_path(&p, Some("/"), "/", false), "a/b");
        // pure v2: the parent of the own cgroup
        assert_eq!(
            inner_path(&p, Some("/user.slice/session-1.scope"), "/", true),
            "user.slice/a/b"
        );
        assert_eq!(inner_path(&p, Some("/"), "/", true), "a/b");
        // a bind-mounted hierarchy root is stripped
        assert_eq!(
            inner_path(&p, Some("/docker/x/y"), "/docker/x", false),
            "y/a/b"
        );
        // relative .. cannot climb above the own cgroup
        assert_eq!(
            parse(Some("../../etc")),
            CgroupsPath::Relative("etc".into())
        );
        assert!(CgroupsPath::parse(Some(".."), "c").is_err());
    }

    #[test]
    fn systemd_form_maps_to_a_scope_under_the_slice() {
        assert_eq!(
            parse(Some("system.slice:docker:abc")),
            CgroupsPath::Absolute("system.slice/docker-abc.scope".into())
        );
        assert_eq!(
            parse(Some("machine-pod1.slice:cri:abc")),
            CgroupsPath::Absolute("machine.slice/machine-pod1.slice/cri-abc.scope".into())
        );
        assert_eq!(
            parse(Some(":runc:x")),
            CgroupsPath::Absolute("system.slice/runc-x.scope".into())
        );
        assert_eq!(
            parse(Some("-.slice::x")),
            CgroupsPath::Absolute("x.scope".into())
        );
        assert_eq!(
            parse(Some("user.slice:p:sub.slice")),
            CgroupsPath::Absolute("user.slice/sub.slice".into())
        );
        assert!(CgroupsPath::parse(Some("system.slice:docker:"), "c").is_err());
        assert!(CgroupsPath::parse(Some("bad-.slice:p:n"), "c").is_err());
        // colons without the slice form are a plain relative path
        assert_eq!(parse(Some("a:b:c")), CgroupsPath::Relative("a:b:c".into()));
    }

    #[test]
    fn default_is_the_container_id_relative_to_the_own_cgroup() {
        let p = parse(None);
        assert_eq!(p, CgroupsPath::Relative("ctr1".into()));
        assert_eq!(inner_path(&p, Some("/"), "/", false), "ctr1");
        assert_eq!(parse(Some("")), CgroupsPath::Relative("ctr1".into()));
        assert!(CgroupsPath::parse(None, "..").is_err());
    }
}
