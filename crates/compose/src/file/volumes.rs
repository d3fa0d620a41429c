//! Volume short syntax (`[source:]target[:options]`) → long syntax (compose-go's
//! `format.ParseVolume`): a path source is a bind that creates its host path, anything
//! else a named (or, alone, anonymous) volume.

use crate::yaml::{Key, Node, Value};

use super::LoadError;

/// A parsed short-syntax mount.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Short {
    /// Source (empty for an anonymous volume).
    pub source: String,
    /// Target path, cleaned.
    pub target: String,
    /// `ro`.
    pub read_only: bool,
    /// `nocopy`.
    pub nocopy: bool,
    /// Bind propagation (`rshared`, …).
    pub propagation: String,
    /// SELinux label (`z`, `Z`).
    pub selinux: String,
}

/// True when a source names a host path rather than a volume.
pub fn is_path(source: &str) -> bool {
    source.starts_with(['.', '/', '~'])
}

/// Parses one short-syntax mount.
pub fn parse(spec: &str) -> Result<Short, String> {
    if spec.is_empty() {
        return Err("invalid empty volume spec".into());
    }
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "invalid spec: {spec}: empty section between colons"
        ));
    }
    let mut v = Short::default();
    let opts = match parts.as_slice() {
        [t] => {
            v.target = t.to_string();
            None
        }
        [s, t] => {
            v.source = s.to_string();
            v.target = t.to_string();
            None
        }
        [s, t, o] => {
            v.source = s.to_string();
            v.target = t.to_string();
            Some(*o)
        }
        _ => return Err(format!("invalid spec: {spec}: too many colons")),
    };
    for o in opts.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => v.read_only = true,
            "rw" => v.read_only = false,
            "nocopy" => v.nocopy = true,
            "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" => {
                v.propagation = o.to_string()
            }
            "z" | "Z" => v.selinux = o.to_string(),
            _ => {}
        }
    }
    v.target = clean(&v.target);
    Ok(v)
}

/// `path.Clean` for container paths.
pub fn clean(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Rewrites a service's `volumes:` list in long syntax.
pub fn canonical(node: &mut Node, path: &str) -> Result<(), LoadError> {
    let Value::Seq(items) = &mut node.value else {
        return Err(LoadError::Invalid {
            mark: node.mark.clone(),
            path: path.into(),
            message: "must be a sequence".into(),
        });
    };
    for item in items.iter_mut() {
        let Some(text) = item.as_str().map(str::to_string) else {
            continue;
        };
        let v = parse(&text).map_err(|message| LoadError::Invalid {
            mark: item.mark.clone(),
            path: path.into(),
            message,
        })?;
        let m = item.mark.clone();
        let k = |n: &str| Key {
            name: n.into(),
            mark: m.clone(),
        };
        let bind = is_path(&v.source);
        let mut e = vec![(
            k("type"),
            Node::str(if bind { "bind" } else { "volume" }, &m),
        )];
        if !v.source.is_empty() {
            e.push((k("source"), Node::str(&v.source, &m)));
        }
        e.push((k("target"), Node::str(&v.target, &m)));
        if v.read_only {
            e.push((k("read_only"), Node::new(Value::Bool(true), m.clone())));
        }
        let mut opts = Node::map(&m);
        if bind {
            if !v.selinux.is_empty() {
                opts.set("selinux", Node::str(&v.selinux, &m));
            }
            if !v.propagation.is_empty() {
                opts.set("propagation", Node::str(&v.propagation, &m));
            }
            opts.set("create_host_path", Node::new(Value::Bool(true), m.clone()));
            e.push((k("bind"), opts));
        } else {
            if v.nocopy {
                opts.set("nocopy", Node::new(Value::Bool(true), m.clone()));
            }
            e.push((k("volume"), opts));
        }
        *item = Node::new(Value::Map(e), m.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        let v = parse("data:/data/").unwrap();
        assert_eq!((v.source.as_str(), v.target.as_str()), ("data", "/data"));
        let v = parse("./src:/src:ro,rshared").unwrap();
        assert!(v.read_only && v.propagation == "rshared" && is_path(&v.source));
        assert_eq!(parse("/anon").unwrap().source, "");
        assert!(parse("a::b").is_err());
        assert!(parse("a:b:c:d").is_err());
        assert_eq!(clean("/a/./b/../c/"), "/a/c");
    }
}
