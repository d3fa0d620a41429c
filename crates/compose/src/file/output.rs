//! The project written out as Compose v2 writes it: canonical YAML (`config`), JSON
//! (`config --format json`) and the service JSON that `com.docker.compose.config-hash` hashes.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::yaml::{self, Node, Value};

use super::model::{Project, Service};

/// Go's `json.Marshal` escaping of `<`, `>`, `&`, U+2028 and U+2029 (serde_json leaves them).
fn go_escape(s: String) -> String {
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return s;
    }
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// `json.Marshal` of a value, as Go writes it.
pub fn go_json<T: Serialize>(v: &T) -> String {
    go_escape(serde_json::to_string(v).unwrap_or_default())
}

/// Compose v2's `ServiceHash`: sha256 of the service's JSON without build, pull_policy,
/// scale, deploy.replicas, depends_on and profiles.
pub fn config_hash(svc: &Service) -> String {
    let mut s = svc.clone();
    s.build = None;
    s.pull_policy.clear();
    s.scale = None;
    if let Some(d) = &mut s.deploy {
        d.replicas = None;
    }
    s.depends_on.clear();
    s.profiles.clear();
    let digest = Sha256::digest(go_json(&s).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compose v2's `NetworkHash`: sha256 of the network's JSON.
pub fn network_hash(n: &super::model::Network) -> String {
    sha256_hex(&go_json(n))
}

/// Compose v2's `VolumeHash`: sha256 of the volume's JSON, the driver defaulting to `local`.
pub fn volume_hash(v: &super::model::Volume) -> String {
    let mut v = v.clone();
    if v.driver.is_empty() {
        v.driver = "local".into();
    }
    sha256_hex(&go_json(&v))
}

fn to_node<T: Serialize>(v: &T) -> Node {
    let json = serde_json::to_string(v).unwrap_or_default();
    yaml::load::parse(&json, "").unwrap_or_else(|_| Node::map(&Default::default()))
}

fn json_to_node(v: &serde_json::Value) -> Node {
    to_node(v)
}

/// Drops what go-yaml leaves out but `encoding/json` keeps (nil commands, empty structs).
fn yaml_cleanup(n: &mut Node) {
    if let Value::Map(entries) = &mut n.value {
        // children first: a struct whose only field was nil is then empty
        for (_, v) in entries.iter_mut() {
            yaml_cleanup(v);
        }
        entries.retain(|(k, v)| {
            !(matches!(k.name.as_str(), "command" | "entrypoint") && v.is_null()
                || matches!(k.name.as_str(), "ipam" | "resources" | "placement" | "exec")
                    && v.as_map().is_some_and(Vec::is_empty))
        });
    } else if let Value::Seq(items) = &mut n.value {
        for i in items.iter_mut() {
            yaml_cleanup(i);
        }
    }
}

fn with_extensions(mut n: Node, ext: &super::model::Extensions) -> Node {
    for (k, v) in ext {
        n.set(k, json_to_node(v));
    }
    n
}

/// The project as a tree: `yaml_form` drops what go-yaml omits and encoding/json keeps.
fn tree(p: &Project, yaml_form: bool) -> Node {
    let clean = |mut n: Node| {
        if yaml_form {
            yaml_cleanup(&mut n);
        }
        n
    };
    let mut root = Node::map(&Default::default());
    root.set("name", Node::str(&p.name, &Default::default()));
    let mut services = Node::map(&Default::default());
    for (name, s) in &p.services {
        let n = clean(to_node(s));
        services.set(
            name,
            if yaml_form {
                with_extensions(n, &s.extensions)
            } else {
                n
            },
        );
    }
    root.set("services", services);
    if !p.networks.is_empty() {
        let mut m = Node::map(&Default::default());
        for (k, v) in &p.networks {
            let n = clean(to_node(v));
            m.set(
                k,
                if yaml_form {
                    with_extensions(n, &v.extensions)
                } else {
                    n
                },
            );
        }
        root.set("networks", m);
    }
    if !p.volumes.is_empty() {
        let mut m = Node::map(&Default::default());
        for (k, v) in &p.volumes {
            let n = to_node(v);
            m.set(
                k,
                if yaml_form {
                    with_extensions(n, &v.extensions)
                } else {
                    n
                },
            );
        }
        root.set("volumes", m);
    }
    for (key, objs) in [("secrets", &p.secrets), ("configs", &p.configs)] {
        if !objs.is_empty() {
            root.set(key, to_node(objs));
        }
    }
    if !p.models.is_empty() {
        root.set("models", to_node(&p.models));
    }
    with_extensions(root, &p.extensions)
}

/// `docker compose config` YAML (`$` written `$$`, so that the output loads back).
pub fn yaml(p: &Project) -> String {
    yaml::emit::to_yaml(&tree(p, true)).replace('$', "$$")
}

/// `docker compose config --format json`: the project's keys sorted (a Go map), each
/// object's in struct order, two-space indent, no final newline.
pub fn json(p: &Project) -> String {
    let mut root = tree(p, false);
    if let Value::Map(entries) = &mut root.value {
        entries.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    }
    let mut out = String::new();
    write_json(&mut out, &root, 0);
    go_escape(out).replace('$', "$$")
}

fn write_json(out: &mut String, n: &Node, indent: usize) {
    let pad = |out: &mut String, i: usize| out.extend(std::iter::repeat_n(' ', i));
    match &n.value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(&b.to_string()),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&serde_json::Value::from(*f).to_string()),
        Value::Str(s) => out.push_str(&serde_json::Value::from(s.as_str()).to_string()),
        Value::Seq(items) if items.is_empty() => out.push_str("[]"),
        Value::Map(entries) if entries.is_empty() => out.push_str("{}"),
        Value::Seq(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                pad(out, indent + 2);
                write_json(out, item, indent + 2);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push(']');
        }
        Value::Map(entries) => {
            out.push_str("{\n");
            for (i, (k, v)) in entries.iter().enumerate() {
                pad(out, indent + 2);
                out.push_str(&serde_json::Value::from(k.name.as_str()).to_string());
                out.push_str(": ");
                write_json(out, v, indent + 2);
                out.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push('}');
        }
    }
}
