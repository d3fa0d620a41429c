//! Compose's override rules for several files (and `extends`), on canonical trees:
//! mappings merge key by key, sequences append and then keep one entry per identity (a port
//! per host/published/target/protocol, a mount per target, …: the later one wins), scalars
//! and `command`/`entrypoint`/`healthcheck.test` are replaced, `!reset` removes and
//! `!override` replaces whatever the earlier file said.

use crate::yaml::{Node, Value};

/// Merges `over` into `base` (`path` is the dotted path of `base`, `*` matching any key).
pub fn merge(base: &mut Node, over: Node, path: &[String]) {
    match over.tag.as_deref() {
        Some("override") => {
            let mut o = over;
            o.tag = None;
            *base = o;
            return;
        }
        Some("reset") => return,
        _ => {}
    }
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let replace = matches!(
        p.as_slice(),
        ["services", _, "command" | "entrypoint"] | ["services", _, "healthcheck", "test"]
    );
    if replace {
        *base = over;
        return;
    }
    if over.is_null() {
        return;
    }
    if let ["services", _, "logging"] = p.as_slice() {
        let (bd, od) = (
            base.get("driver").and_then(Node::scalar_text),
            over.get("driver").and_then(Node::scalar_text),
        );
        if bd.is_some() && od.is_some() && bd != od {
            *base = over;
            return;
        }
    }
    match (&mut base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => {
            for (k, v) in o {
                if v.tag.as_deref() == Some("reset") {
                    b.retain(|(bk, _)| bk.name != k.name);
                    continue;
                }
                match b.iter_mut().find(|(bk, _)| bk.name == k.name) {
                    Some((_, slot)) => {
                        let mut sub = path.to_vec();
                        sub.push(k.name.clone());
                        merge(slot, v, &sub);
                    }
                    None => {
                        let mut v = v;
                        v.tag = None;
                        b.push((k, v));
                    }
                }
            }
        }
        (Value::Seq(b), Value::Seq(o)) => {
            b.extend(o);
            unique(b, &p);
        }
        (_, v) => {
            base.value = v;
            base.mark = over.mark;
        }
    }
}

/// The identity of a sequence entry at `path`, when entries there must be unique.
fn identity(item: &Node, path: &[&str]) -> Option<String> {
    let text = |k: &str| item.get(k).and_then(Node::scalar_text).unwrap_or_default();
    match path {
        ["services", _, "ports"] => Some(format!(
            "{}:{}:{}/{}",
            text("host_ip"),
            text("published"),
            text("target"),
            text("protocol")
        )),
        ["services", _, "volumes" | "devices"] => Some(text("target")),
        ["services", _, "secrets"] => Some(match text("target") {
            t if !t.is_empty() => t,
            _ => format!("/run/secrets/{}", text("source")),
        }),
        ["services", _, "configs"] => Some(match text("target") {
            t if !t.is_empty() => t,
            _ => format!("/{}", text("source")),
        }),
        ["services", _, "env_file"] => Some(text("path")),
        ["services", _, _] | ["services", _, "build", _] | ["services", _, "networks", _, _] => {
            item.scalar_text()
        }
        _ => None,
    }
}

/// Keeps one entry per identity: the last one, in the place of the first.
pub fn unique(items: &mut Vec<Node>, path: &[&str]) {
    let ids: Vec<Option<String>> = items.iter().map(|i| identity(i, path)).collect();
    if ids.iter().all(Option::is_none) {
        return;
    }
    let mut out: Vec<(Option<String>, Node)> = Vec::new();
    for (id, item) in ids.into_iter().zip(items.drain(..)) {
        match id
            .as_ref()
            .and_then(|id| out.iter_mut().find(|(o, _)| o.as_ref() == Some(id)))
        {
            Some(slot) => slot.1 = item,
            None => out.push((id, item)),
        }
    }
    *items = out.into_iter().map(|(_, n)| n).collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::load::parse;

    fn merged(a: &str, b: &str) -> String {
        let mut base = parse(a, "a").unwrap();
        let over = parse(b, "b").unwrap();
        merge(&mut base, over, &[]);
        crate::yaml::emit::to_yaml(&base)
    }

    #[test]
    fn override_rules() {
        let out = merged(
            "services:\n  web:\n    image: a\n    command: [x, y]\n    environment:\n      A: \"1\"\n    ports:\n      - {target: 80, published: \"8080\", protocol: tcp}\n    dns: [1.1.1.1]\n",
            "services:\n  web:\n    image: b\n    command: [z]\n    environment:\n      B: \"2\"\n    ports:\n      - {target: 80, published: \"8080\", protocol: tcp, host_ip: \"\"}\n      - {target: 81, protocol: tcp}\n    dns: [1.1.1.1, 8.8.8.8]\n",
        );
        assert_eq!(
            out,
            "services:\n  web:\n    image: b\n    command:\n      - z\n    environment:\n      A: \"1\"\n      B: \"2\"\n    ports:\n      - target: 80\n        published: \"8080\"\n        protocol: tcp\n        host_ip: \"\"\n      - target: 81\n        protocol: tcp\n    dns:\n      - 1.1.1.1\n      - 8.8.8.8\n"
        );
    }

    #[test]
    fn reset_and_override_tags() {
        let out = merged(
            "services:\n  web:\n    ports: [{target: 80}]\n    environment: {A: \"1\"}\n",
            "services:\n  web:\n    ports: !reset []\n    environment: !override {B: \"2\"}\n",
        );
        assert_eq!(out, "services:\n  web:\n    environment:\n      B: \"2\"\n");
    }
}
