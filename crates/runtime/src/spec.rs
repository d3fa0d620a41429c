//! Loading and checking a bundle's config.json: every error names the offending field.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{invalid, Error, Result};

/// Reads `<bundle>/config.json`, reporting parse errors with the JSON path of the bad field.
pub fn load(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let bytes = std::fs::read(&path).map_err(|source| Error::ReadSpec {
        path: path.clone(),
        source,
    })?;
    parse(&path, &bytes)
}

/// Parses a spec document; `path` is only used in error messages.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Spec> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        Error::ParseSpec {
            path: path.to_path_buf(),
            field: if field == "." {
                "(document)".into()
            } else {
                field
            },
            message: inner.to_string(),
        }
    })
}

/// The absolute path of the rootfs (`root.path`, relative to the bundle).
pub fn rootfs(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| invalid("root", "missing"))?;
    let p = root.path();
    let abs = if p.is_absolute() {
        p.clone()
    } else {
        bundle.join(p)
    };
    match std::fs::metadata(&abs) {
        Ok(m) if m.is_dir() => Ok(abs),
        Ok(_) => Err(invalid(
            "root.path",
            format!("{} is not a directory", abs.display()),
        )),
        Err(e) => Err(invalid("root.path", format!("{}: {e}", abs.display()))),
    }
}

/// Checks what serde cannot: a process to run, sane namespaces and mounts.
pub fn validate(spec: &Spec, need_process: bool) -> Result<()> {
    if need_process {
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| invalid("process", "missing"))?;
        if process.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(invalid("process.args", "must name a program to run"));
        }
        if !process.cwd().is_absolute() {
            return Err(invalid(
                "process.cwd",
                format!("{:?} is not an absolute path", process.cwd()),
            ));
        }
    }
    let mut seen = HashSet::new();
    if let Some(linux) = spec.linux() {
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            let field = format!("linux.namespaces[{i}]");
            if ns.typ() == LinuxNamespaceType::Time {
                return Err(invalid(
                    format!("{field}.type"),
                    "time namespaces are not supported",
                ));
            }
            if !seen.insert(ns.typ()) {
                return Err(invalid(
                    format!("{field}.type"),
                    format!("namespace {:?} listed twice", ns.typ()),
                ));
            }
            if let Some(p) = ns.path() {
                if !p.exists() {
                    return Err(invalid(
                        format!("{field}.path"),
                        format!("{} does not exist", p.display()),
                    ));
                }
            }
        }
        let has_userns = seen.contains(&LinuxNamespaceType::User);
        if !has_userns
            && (linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
                || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty()))
        {
            return Err(invalid(
                "linux.uidMappings",
                "id mappings need a user namespace in linux.namespaces",
            ));
        }
        for (key, _) in linux.sysctl().iter().flatten() {
            if key.contains("..") || key.contains('/') && key.starts_with('/') {
                return Err(invalid(format!("linux.sysctl.{key}"), "not a sysctl name"));
            }
        }
    }
    // Without one, the rootfs would be set up in (and pivot_root would change) the caller's
    // mount namespace: refuse, with the field to fix.
    if need_process && !seen.contains(&LinuxNamespaceType::Mount) {
        return Err(invalid(
            "linux.namespaces",
            "a container needs a mount namespace: add {\"type\": \"mount\"} (or join one by path)",
        ));
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
        && !seen.contains(&LinuxNamespaceType::Uts)
    {
        return Err(invalid(
            "hostname",
            "setting a hostname needs a uts namespace in linux.namespaces",
        ));
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            return Err(invalid(
                format!("mounts[{i}].destination"),
                format!("{:?} is not an absolute path", m.destination()),
            ));
        }
    }
    Ok(())
}

/// Checks a container id the way runc does (it becomes a directory name).
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_namespace_names_the_field() {
        let doc = br#"{"ociVersion":"1.2.0","root":{"path":"rootfs"},
            "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"foo"}]}}"#;
        let err = parse(Path::new("config.json"), doc)
            .unwrap_err()
            .to_string();
        assert!(err.contains("linux.namespaces[2].type"), "{err}");
        assert!(err.contains("foo"), "{err}");
    }

    #[test]
    fn malformed_json_is_an_error() {
        let err = parse(Path::new("c.json"), b"{\"ociVersion\": ")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.json"), "{err}");
    }

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("abc-1.2_x").is_ok());
        assert!(validate_id("../etc").is_err());
        assert!(validate_id("").is_err());
        assert!(validate_id("a/b").is_err());
    }
}
