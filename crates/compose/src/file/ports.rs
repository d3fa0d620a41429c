//! Port short syntax (`[ip:][host[-range]:]container[-range][/proto]`, or a bare number) →
//! long syntax entries, one per container port (docker's `nat.ParsePortSpec`).

use crate::yaml::{Key, Node, Value};

use super::LoadError;

/// One parsed port mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Host IP ("" for all).
    pub host_ip: String,
    /// Container port.
    pub target: u32,
    /// Host port or range ("" for an ephemeral one).
    pub published: String,
    /// tcp, udp or sctp.
    pub protocol: String,
}

fn range(s: &str) -> Result<(u32, u32), String> {
    let parse = |p: &str| -> Result<u32, String> {
        p.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 65535)
            .ok_or_else(|| format!("invalid port {p:?}"))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if b < a {
                return Err(format!("invalid range specified for port: {s}"));
            }
            Ok((a, b))
        }
        None => {
            let a = parse(s)?;
            Ok((a, a))
        }
    }
}

/// Parses one short-syntax port.
pub fn parse(spec: &str) -> Result<Vec<Spec>, String> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let (ip, host, container) = if let Some(after) = rest.strip_prefix('[') {
        let (ip, tail) = after
            .split_once(']')
            .ok_or_else(|| format!("invalid port spec {spec:?}"))?;
        let tail = tail.strip_prefix(':').unwrap_or(tail);
        let (h, c) = tail.rsplit_once(':').unwrap_or(("", tail));
        (ip.to_string(), h.to_string(), c.to_string())
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.as_slice() {
            [c] => (String::new(), String::new(), c.to_string()),
            [h, c] => (String::new(), h.to_string(), c.to_string()),
            [ip, h, c] => (ip.to_string(), h.to_string(), c.to_string()),
            _ => {
                // an unbracketed IPv6 address: everything before the last two colons
                let c = parts[parts.len() - 1];
                let h = parts[parts.len() - 2];
                (
                    parts[..parts.len() - 2].join(":"),
                    h.to_string(),
                    c.to_string(),
                )
            }
        }
    };
    if container.is_empty() {
        return Err(format!("no port specified: {spec}<empty>"));
    }
    let (c0, c1) = range(&container)?;
    let mut out = Vec::new();
    if host.is_empty() {
        for p in c0..=c1 {
            out.push(Spec {
                host_ip: ip.clone(),
                target: p,
                published: String::new(),
                protocol: proto.clone(),
            });
        }
        return Ok(out);
    }
    let (h0, h1) = range(&host)?;
    if c0 == c1 {
        out.push(Spec {
            host_ip: ip,
            target: c0,
            published: if h0 == h1 {
                h0.to_string()
            } else {
                host.clone()
            },
            protocol: proto,
        });
        return Ok(out);
    }
    if h1 - h0 != c1 - c0 {
        return Err(format!(
            "invalid ranges specified for container and host Ports: {container} and {host}"
        ));
    }
    for i in 0..=(c1 - c0) {
        out.push(Spec {
            host_ip: ip.clone(),
            target: c0 + i,
            published: (h0 + i).to_string(),
            protocol: proto.clone(),
        });
    }
    Ok(out)
}

fn entry(s: &Spec, mark: &crate::yaml::Mark) -> Node {
    let k = |n: &str| Key {
        name: n.into(),
        mark: mark.clone(),
    };
    let mut m = vec![(k("mode"), Node::str("ingress", mark))];
    if !s.host_ip.is_empty() {
        m.push((k("host_ip"), Node::str(&s.host_ip, mark)));
    }
    m.push((
        k("target"),
        Node::new(Value::Int(s.target.into()), mark.clone()),
    ));
    if !s.published.is_empty() {
        m.push((k("published"), Node::str(&s.published, mark)));
    }
    m.push((k("protocol"), Node::str(&s.protocol, mark)));
    Node::new(Value::Map(m), mark.clone())
}

/// Rewrites a `ports:` list in long syntax.
pub fn canonical(node: &mut Node, path: &str) -> Result<(), LoadError> {
    let Value::Seq(items) = &node.value else {
        return Err(LoadError::Invalid {
            mark: node.mark.clone(),
            path: path.into(),
            message: "must be a sequence".into(),
        });
    };
    let mut out = Vec::new();
    for item in items {
        match &item.value {
            Value::Map(_) => {
                let mut m = item.clone();
                if m.get("mode").is_none() {
                    m.set("mode", Node::str("ingress", &item.mark));
                }
                if m.get("protocol").is_none() {
                    m.set("protocol", Node::str("tcp", &item.mark));
                }
                if let Some(p) = m.get_mut("published") {
                    if let Some(t) = p.scalar_text() {
                        *p = Node::str(t, &p.mark);
                    }
                }
                out.push(m);
            }
            _ => {
                let text = item.scalar_text().ok_or_else(|| LoadError::Invalid {
                    mark: item.mark.clone(),
                    path: path.into(),
                    message: "invalid port".into(),
                })?;
                let specs = parse(&text).map_err(|message| LoadError::Invalid {
                    mark: item.mark.clone(),
                    path: path.into(),
                    message,
                })?;
                out.extend(specs.iter().map(|s| entry(s, &item.mark)));
            }
        }
    }
    node.value = Value::Seq(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> (String, u32, String, String) {
        let v = parse(s).unwrap();
        assert_eq!(v.len(), 1, "{s}");
        (
            v[0].host_ip.clone(),
            v[0].target,
            v[0].published.clone(),
            v[0].protocol.clone(),
        )
    }

    #[test]
    fn short_forms() {
        assert_eq!(one("80"), ("".into(), 80, "".into(), "tcp".into()));
        assert_eq!(
            one("4001:8081"),
            ("".into(), 8081, "4001".into(), "tcp".into())
        );
        assert_eq!(
            one("127.0.0.1:53:53/udp"),
            ("127.0.0.1".into(), 53, "53".into(), "udp".into())
        );
        assert_eq!(
            one("[::1]:80:8080"),
            ("::1".into(), 8080, "80".into(), "tcp".into())
        );
        assert_eq!(
            one("8000-8010:80"),
            ("".into(), 80, "8000-8010".into(), "tcp".into())
        );
        assert_eq!(parse("9000-9001:9000-9001").unwrap().len(), 2);
        assert_eq!(parse("3000-3002").unwrap().len(), 3);
        assert!(parse("1-2:3-5").is_err());
        assert!(parse("80/xyz").is_err());
        assert!(parse("99999").is_err());
    }
}
