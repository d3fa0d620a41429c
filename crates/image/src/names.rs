//! Minimal docker reference normalisation for names found in archives
//! (`busybox` → `docker.io/library/busybox:latest`) and the reverse (familiar) form.
//!
//! The registry crate owns full reference parsing; this covers the `repo:tag` strings that
//! `docker save` archives carry.

/// Normalises `name[:tag]` to `domain/path:tag`; `None` when it is not a plausible name.
pub fn normalize_tagged(name: &str) -> Option<String> {
    if name.is_empty() || name.contains('@') || name.chars().any(char::is_whitespace) {
        return None;
    }
    let (repo, tag) = match name.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (name, "latest"),
    };
    let (domain, path) = match repo.split_once('/') {
        Some((d, rest)) if d.contains('.') || d.contains(':') || d == "localhost" => {
            (d.to_string(), rest.to_string())
        }
        Some(_) => ("docker.io".to_string(), repo.to_string()),
        None => ("docker.io".to_string(), format!("library/{repo}")),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io".into()
    } else {
        domain
    };
    let path = if domain == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    if path.is_empty() || tag.is_empty() || path != path.to_ascii_lowercase() {
        return None;
    }
    Some(format!("{domain}/{path}:{tag}"))
}

/// The short form Docker shows (`docker.io/library/busybox:latest` → `busybox:latest`).
pub fn familiar(name: &str) -> String {
    let rest = name.strip_prefix("docker.io/").unwrap_or(name);
    rest.strip_prefix("library/").unwrap_or(rest).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let n = |s| normalize_tagged(s).unwrap();
        assert_eq!(n("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("user/app:1"), "docker.io/user/app:1");
        assert_eq!(n("localhost:5000/a/b:t"), "localhost:5000/a/b:t");
        assert_eq!(n("localhost:5000/a"), "localhost:5000/a:latest");
        assert!(normalize_tagged("Upper").is_none());
        assert_eq!(
            familiar("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(familiar("docker.io/user/app:1"), "user/app:1");
        assert_eq!(familiar("127.0.0.1:5000/x:1"), "127.0.0.1:5000/x:1");
    }
}
