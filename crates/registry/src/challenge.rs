//! `WWW-Authenticate` challenges (RFC 7235), as registries send them.

use std::collections::BTreeMap;

/// One authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="..."`.
    Basic,
    /// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="..."`.
    Bearer {
        /// Token endpoint URL.
        realm: String,
        /// The `service` parameter to pass to it.
        service: Option<String>,
        /// The scope the registry asked for, if it said.
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses a `WWW-Authenticate` value; unknown schemes are skipped.
    pub fn parse(header: &str) -> Vec<Challenge> {
        let mut out = Vec::new();
        for (scheme, params) in parse_challenges(header) {
            match scheme.to_ascii_lowercase().as_str() {
                "basic" => out.push(Challenge::Basic),
                "bearer" => {
                    if let Some(realm) = params.get("realm") {
                        out.push(Challenge::Bearer {
                            realm: realm.clone(),
                            service: params.get("service").cloned(),
                            scope: params.get("scope").cloned(),
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// Splits a header into (scheme, params) pairs. Parameters are `key=token` or
/// `key="quoted string"` (with `\` escapes), separated by commas; a new challenge starts at
/// a token not followed by `=`.
fn parse_challenges(s: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t' || b[*i] == b',') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && !matches!(b[i], b' ' | b'\t' | b',' | b'=') {
            i += 1;
        }
        let token = s[start..i].to_owned();
        // Look past spaces for '=' to tell a parameter from a new scheme.
        let mut j = i;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if j < b.len() && b[j] == b'=' && !out.is_empty() {
            i = j + 1;
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            let value = if i < b.len() && b[i] == b'"' {
                i += 1;
                let mut v = String::new();
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                    v.push(ch);
                    i += ch.len_utf8();
                }
                i += 1; // closing quote
                v
            } else {
                let vs = i;
                while i < b.len() && b[i] != b',' {
                    i += 1;
                }
                s[vs..i].trim().to_owned()
            };
            if let Some(last) = out.last_mut() {
                last.1.insert(token.to_ascii_lowercase(), value);
            }
        } else {
            out.push((token, BTreeMap::new()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_challenge() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        );
        assert_eq!(
            c,
            vec![Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            }]
        );
    }

    #[test]
    fn parses_basic_and_multiple() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="basic-realm""#),
            vec![Challenge::Basic]
        );
        let c =
            Challenge::parse(r#"Basic realm="x", Bearer realm=https://t/token, service = "s\"q""#);
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[1],
            Challenge::Bearer {
                realm: "https://t/token".into(),
                service: Some("s\"q".into()),
                scope: None
            }
        );
        assert!(Challenge::parse("Negotiate").is_empty());
        assert!(Challenge::parse("Bearer service=x").is_empty(), "no realm");
    }
}
