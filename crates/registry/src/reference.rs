//! Image references with Docker's normalisation (`busybox` → `docker.io/library/busybox:latest`).
//!
//! Grammar (docker/distribution's `reference` package):
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] path-component ( "/" path-component )*      (≤ 255 chars)
//! domain     := host [ ":" port ]          host: dns labels, or an IPv6 literal in []
//! path-comp  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! ```
//! The first component is a domain when it contains `.` or `:` or is `localhost` (or has an
//! uppercase letter, as Docker decides); otherwise the domain is `docker.io`, and a single
//! component on docker.io gets the `library/` prefix.

use std::fmt;
use std::str::FromStr;

use berth_content::Digest;

use crate::RegistryError;

/// Docker Hub's canonical name.
pub const DOCKER_HUB: &str = "docker.io";
/// Maximum length of a repository name including its domain.
const NAME_MAX: usize = 255;

/// A fully normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises `s`; with neither tag nor digest, the tag is `latest` (what
    /// `docker pull` and `docker run` do).
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        let mut r = Self::parse_named(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some("latest".to_owned());
        }
        Ok(r)
    }

    /// Parses and normalises `s` without adding a default tag (`docker push user/app`
    /// pushes every tag; `docker images busybox` filters by name).
    pub fn parse_named(s: &str) -> Result<Self, RegistryError> {
        let invalid = |reason: String| RegistryError::InvalidReference {
            input: s.chars().take(300).collect(),
            reason,
        };
        if s.is_empty() {
            return Err(invalid("empty reference".into()));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let digest = Digest::parse(d).map_err(|e| invalid(e.to_string()))?;
                (rest, Some(digest))
            }
            None => (s, None),
        };
        // A tag follows the last ':' if no '/' comes after it (else the ':' is a port).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(|r| invalid(r.into()))?;
        }
        if name.is_empty() {
            return Err(invalid("missing repository name".into()));
        }
        let (registry, path) = split_domain(name);
        if let Some(registry) = &registry {
            check_domain(registry).map_err(invalid)?;
        }
        let registry = match registry.as_deref() {
            None | Some("index.docker.io") => DOCKER_HUB.to_owned(),
            Some(r) => r.to_owned(),
        };
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid("repository name must be lowercase".into()));
        }
        check_path(path).map_err(invalid)?;
        if path.len() == 64 && path.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                "cannot specify a 64-byte hexadecimal string as a repository name".into(),
            ));
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        if registry.len() + 1 + repository.len() > NAME_MAX {
            return Err(invalid(format!(
                "repository name must not be longer than {NAME_MAX} characters"
            )));
        }
        Ok(Reference {
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// A reference from already-normalised parts (validated like [`Reference::parse`]).
    pub fn from_parts(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<&Digest>,
    ) -> Result<Self, RegistryError> {
        let mut s = format!("{registry}/{repository}");
        if let Some(t) = tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = digest {
            s.push('@');
            s.push_str(d.as_str());
        }
        Self::parse_named(&s)
    }

    /// The registry's host (and port): `docker.io`, `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path within the registry: `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Docker's short display name: `busybox`, `user/app`, `host:5000/a/b`.
    pub fn familiar_name(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.repository)
                .to_owned()
        } else {
            self.name()
        }
    }

    /// Docker's short display form with tag and digest: `busybox:latest`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        self.push_suffix(&mut s);
        s
    }

    /// What goes after `/manifests/` in the API: the digest if there is one, else the tag.
    pub fn api_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Self, RegistryError> {
        Self::from_parts(&self.registry, &self.repository, Some(tag), None)
    }

    /// The same repository pinned to `digest` (the tag is kept for display).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same repository with neither tag nor digest.
    pub fn repository_only(&self) -> Self {
        Reference {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_str());
        }
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// Splits off the domain as Docker does: the first component is a domain if it has a `.`
/// or `:`, is `localhost`, or has an uppercase letter.
fn split_domain(name: &str) -> (Option<String>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first.to_owned()), rest)
        }
        _ => (None, name),
    }
}

fn check_tag(tag: &str) -> Result<(), &'static str> {
    let b = tag.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if b.is_empty() {
        return Err("empty tag");
    }
    if b.len() > 128 {
        return Err("tag longer than 128 characters");
    }
    if !word(b[0]) || !b.iter().all(|&c| word(c) || c == b'.' || c == b'-') {
        return Err("invalid tag format (allowed: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})");
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), String> {
    let (host, port) = if let Some(v6) = domain.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("invalid registry address {domain:?}"))?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("invalid IPv6 registry address {domain:?}"));
        }
        match after {
            "" => return Ok(()),
            p => (None, p.strip_prefix(':').ok_or("invalid registry port")?),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (Some(h), p),
            None => (Some(domain), ""),
        }
    };
    if let Some(host) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !host.split('.').all(label_ok) {
            return Err(format!("invalid registry host {host:?}"));
        }
    }
    let bad_port = port.is_empty() || port.len() > 5 || !port.bytes().all(|c| c.is_ascii_digit());
    if (!port.is_empty() || domain.ends_with(':')) && bad_port {
        return Err(format!("invalid registry port {port:?}"));
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), String> {
    for component in path.split('/') {
        if !path_component_ok(component.as_bytes()) {
            return Err(format!(
                "invalid repository path component {component:?} (allowed: lowercase letters, \
                 digits and single separators . _ __ -)"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*`
fn path_component_ok(c: &[u8]) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if c.is_empty() || !alnum(c[0]) || !alnum(c[c.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < c.len() {
        if alnum(c[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < c.len() && !alnum(c[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|&b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        let cases = [
            ("busybox", "docker.io/library/busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36"),
            ("library/busybox", "docker.io/library/busybox:latest"),
            ("docker.io/busybox", "docker.io/library/busybox:latest"),
            (
                "index.docker.io/busybox",
                "docker.io/library/busybox:latest",
            ),
            ("docker.io/library/busybox:x", "docker.io/library/busybox:x"),
            ("user/app", "docker.io/user/app:latest"),
            ("user/app/sub:v1", "docker.io/user/app/sub:v1"),
            ("host:5000/a/b:tag", "host:5000/a/b:tag"),
            ("host:5000/a", "host:5000/a:latest"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/app:1", "localhost:5000/app:1"),
            ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest"),
            ("[::1]:5000/x:t", "[::1]:5000/x:t"),
            ("ghcr.io/o/r", "ghcr.io/o/r:latest"),
            ("a.b.c/d-e/f__g/h.i", "a.b.c/d-e/f__g/h.i:latest"),
            ("my-reg.io/x--y", "my-reg.io/x--y:latest"),
            ("Host.io/app", "Host.io/app:latest"),
            ("busybox:V1_x.y-z", "docker.io/library/busybox:V1_x.y-z"),
        ];
        for (input, want) in cases {
            assert_eq!(full(input), want, "{input}");
        }
    }

    #[test]
    fn digests_and_tags_together() {
        let r = Reference::parse(&format!("busybox@{D}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().as_str(), D);
        assert_eq!(r.api_reference(), D);
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
        assert_eq!(r.familiar(), format!("busybox@{D}"));

        let r = Reference::parse(&format!("host:5000/a:v2@{D}")).unwrap();
        assert_eq!(r.tag(), Some("v2"));
        assert_eq!(r.registry(), "host:5000");
        assert_eq!(r.repository(), "a");
        assert_eq!(r.api_reference(), D, "the digest wins");
    }

    #[test]
    fn familiar_forms() {
        for (input, want) in [
            ("busybox", "busybox:latest"),
            ("docker.io/library/busybox:1", "busybox:1"),
            ("user/app", "user/app:latest"),
            ("docker.io/library/a/b", "library/a/b:latest"),
            ("host:5000/a/b:tag", "host:5000/a/b:tag"),
        ] {
            assert_eq!(Reference::parse(input).unwrap().familiar(), want, "{input}");
        }
        let named = Reference::parse_named("user/app").unwrap();
        assert_eq!(named.tag(), None);
        assert_eq!(named.familiar(), "user/app");
        assert_eq!(named.name(), "docker.io/user/app");
    }

    #[test]
    fn invalid_references_say_why() {
        let too_long = format!("a/{}", "b".repeat(300));
        let long_tag = format!("busybox:{}", "t".repeat(129));
        let hex64 = "a".repeat(64);
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("Busybox", "lowercase"),
            ("user/App", "lowercase"),
            ("docker.io/User/app", "lowercase"),
            ("busybox:", "empty tag"),
            ("busybox:-bad", "tag"),
            ("busybox:a+b", "tag"),
            (long_tag.as_str(), "128"),
            (too_long.as_str(), "255"),
            ("busybox@sha256:../x", "invalid digest"),
            ("busybox@sha256:abc", "invalid digest"),
            (
                "busybox@md5:d41d8cd98f00b204e9800998ecf8427e",
                "invalid digest",
            ),
            ("a//b", "path component"),
            ("a/b/", "path component"),
            ("-a/b", "path component"),
            ("a/b_", "path component"),
            ("a/b...c", "path component"),
            ("a/b___c", "path component"),
            ("a/b c", "path component"),
            ("host:port/a", "port"),
            ("host:123456/a", "port"),
            ("ho_st.io/a", "host"),
            ("-host.io/a", "host"),
            ("[::1/a", "invalid"),
            (hex64.as_str(), "64-byte"),
            (":tag", "missing repository"),
            (
                "@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "missing",
            ),
        ];
        for (input, want) in cases {
            let err = Reference::parse(input).expect_err(input).to_string();
            assert!(err.contains(want), "{input:?}: {err}");
            assert!(err.contains("invalid reference"), "{input:?}: {err}");
        }
    }

    #[test]
    fn edits_keep_normalisation() {
        let r = Reference::parse("busybox:1").unwrap();
        assert_eq!(
            r.with_tag("2").unwrap().to_string(),
            "docker.io/library/busybox:2"
        );
        assert!(r.with_tag("bad tag").is_err());
        let d: Digest = D.parse().unwrap();
        assert_eq!(r.with_digest(d).api_reference(), D);
        assert_eq!(r.repository_only().to_string(), "docker.io/library/busybox");
        let p = Reference::from_parts("127.0.0.1:5000", "x/y", Some("t"), None).unwrap();
        assert_eq!(p.familiar(), "127.0.0.1:5000/x/y:t");
    }
}
