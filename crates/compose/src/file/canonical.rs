//! Short syntax → long syntax on the tree, as compose-go's `transform` package does: ports,
//! volumes, depends_on, environment/labels lists, networks lists, commands as strings, …
//! After this every value has the shape the typed model reads.

use crate::yaml::{Key, Mark, Node, Value};

use super::LoadError;

fn err(mark: &Mark, path: &str, message: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        mark: mark.clone(),
        path: path.to_string(),
        message: message.into(),
    }
}

fn mk_map(entries: Vec<(&str, Node)>, mark: &Mark) -> Node {
    Node::new(
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    (
                        Key {
                            name: k.to_string(),
                            mark: mark.clone(),
                        },
                        v,
                    )
                })
                .collect(),
        ),
        mark.clone(),
    )
}

fn b(v: bool, mark: &Mark) -> Node {
    Node::new(Value::Bool(v), mark.clone())
}

fn int(v: i64, mark: &Mark) -> Node {
    Node::new(Value::Int(v), mark.clone())
}

/// `KEY=VALUE` list or mapping → mapping; `KEY` alone is a null value (`nulls`) or an empty
/// string. Later entries win.
pub fn key_value_map(node: &mut Node, sep: char, nulls: bool) {
    if let Value::Seq(items) = &node.value {
        let mut out: Vec<(Key, Node)> = Vec::new();
        for item in items {
            let text = item.scalar_text().unwrap_or_default();
            let (k, v) = match text.split_once(sep) {
                Some((k, v)) => (k.to_string(), Node::str(v, &item.mark)),
                None if nulls => (text.clone(), Node::new(Value::Null, item.mark.clone())),
                None => (text.clone(), Node::str("", &item.mark)),
            };
            out.retain(|(key, _)| key.name != k);
            out.push((
                Key {
                    name: k,
                    mark: item.mark.clone(),
                },
                v,
            ));
        }
        node.value = Value::Map(out);
    }
    if let Value::Map(entries) = &mut node.value {
        for (_, v) in entries.iter_mut() {
            if !v.is_null() || !nulls {
                if let Some(t) = v.scalar_text() {
                    *v = Node::str(t, &v.mark);
                } else if v.is_null() {
                    *v = Node::str("", &v.mark);
                }
            }
        }
    }
}

/// A string → a one-item list.
fn string_or_list(node: &mut Node) {
    if let Some(t) = node.scalar_text() {
        node.value = Value::Seq(vec![Node::str(t, &node.mark)]);
    }
}

/// A shell-words string → a list of words.
fn shell_command(node: &mut Node, path: &str) -> Result<(), LoadError> {
    if let Value::Str(s) = &node.value {
        let words = shlex::split(s).ok_or_else(|| err(&node.mark, path, "invalid command line"))?;
        node.value = Value::Seq(words.iter().map(|w| Node::str(w, &node.mark)).collect());
    }
    Ok(())
}

/// Canonicalises one service in place (`name` for messages).
pub fn service(svc: &mut Node, name: &str) -> Result<(), LoadError> {
    let p = |k: &str| format!("services.{name}.{k}");
    if svc.is_null() {
        *svc = Node::map(&svc.mark);
    }
    if svc.as_map().is_none() {
        return Err(err(
            &svc.mark,
            &format!("services.{name}"),
            "must be a mapping",
        ));
    }
    if let Some(build) = svc.get_mut("build") {
        if let Some(ctx) = build.scalar_text() {
            *build = mk_map(vec![("context", Node::str(ctx, &build.mark))], &build.mark);
        }
        for k in ["args", "labels"] {
            if let Some(n) = build.get_mut(k) {
                key_value_map(n, '=', k == "args");
            }
        }
        if let Some(n) = build.get_mut("additional_contexts") {
            key_value_map(n, '=', false);
        }
        if let Some(n) = build.get_mut("extra_hosts") {
            extra_hosts(n);
        }
        if let Some(n) = build.get_mut("secrets") {
            file_refs(n);
        }
        if let Some(n) = build.get_mut("ssh") {
            if let Value::Map(m) = &n.value {
                let items = m
                    .iter()
                    .map(|(k, v)| {
                        Node::str(
                            format!("{}={}", k.name, v.scalar_text().unwrap_or_default()),
                            &v.mark,
                        )
                    })
                    .collect();
                n.value = Value::Seq(items);
            } else {
                string_or_list(n);
            }
        }
    }
    for k in ["command", "entrypoint"] {
        if let Some(n) = svc.get_mut(k) {
            shell_command(n, &p(k))?;
        }
    }
    for k in ["environment"] {
        if let Some(n) = svc.get_mut(k) {
            key_value_map(n, '=', true);
        }
    }
    for k in ["labels", "annotations", "sysctls", "storage_opt"] {
        if let Some(n) = svc.get_mut(k) {
            key_value_map(n, '=', false);
        }
    }
    for k in ["dns", "dns_search", "tmpfs", "label_file", "profiles"] {
        if let Some(n) = svc.get_mut(k) {
            string_or_list(n);
        }
    }
    if let Some(n) = svc.get_mut("extra_hosts") {
        extra_hosts(n);
    }
    if let Some(n) = svc.get_mut("expose") {
        if let Value::Seq(items) = &mut n.value {
            for i in items.iter_mut() {
                if let Some(t) = i.scalar_text() {
                    *i = Node::str(t, &i.mark);
                }
            }
        }
    }
    if let Some(n) = svc.get_mut("depends_on") {
        if let Value::Seq(items) = &n.value {
            let entries = items
                .iter()
                .map(|i| {
                    let dep = mk_map(
                        vec![
                            ("condition", Node::str("service_started", &i.mark)),
                            ("required", b(true, &i.mark)),
                        ],
                        &i.mark,
                    );
                    (
                        Key {
                            name: i.scalar_text().unwrap_or_default(),
                            mark: i.mark.clone(),
                        },
                        dep,
                    )
                })
                .collect();
            n.value = Value::Map(entries);
        } else if let Value::Map(entries) = &mut n.value {
            for (_, d) in entries.iter_mut() {
                if d.is_null() {
                    *d = Node::map(&d.mark);
                }
                if d.get("condition").is_none() {
                    d.set("condition", Node::str("service_started", &d.mark));
                }
                if d.get("required").is_none() {
                    d.set("required", b(true, &d.mark));
                }
            }
        }
    }
    if let Some(n) = svc.get_mut("networks") {
        if let Value::Seq(items) = &n.value {
            let entries = items
                .iter()
                .map(|i| {
                    (
                        Key {
                            name: i.scalar_text().unwrap_or_default(),
                            mark: i.mark.clone(),
                        },
                        Node::new(Value::Null, i.mark.clone()),
                    )
                })
                .collect();
            n.value = Value::Map(entries);
        }
    }
    if let Some(n) = svc.get_mut("env_file") {
        string_or_list(n);
        if let Value::Seq(items) = &mut n.value {
            for i in items.iter_mut() {
                if let Some(t) = i.scalar_text() {
                    *i = mk_map(
                        vec![
                            ("path", Node::str(t, &i.mark)),
                            ("required", b(true, &i.mark)),
                        ],
                        &i.mark,
                    );
                } else if i.get("required").is_none() {
                    i.set("required", b(true, &i.mark));
                }
            }
        }
    }
    if let Some(n) = svc.get_mut("extends") {
        if let Some(t) = n.scalar_text() {
            *n = mk_map(vec![("service", Node::str(t, &n.mark))], &n.mark);
        }
    }
    for k in ["secrets", "configs"] {
        if let Some(n) = svc.get_mut(k) {
            file_refs(n);
        }
    }
    if let Some(n) = svc.get_mut("devices") {
        if let Value::Seq(items) = &mut n.value {
            for i in items.iter_mut() {
                if let Some(t) = i.as_str().map(str::to_string) {
                    let parts: Vec<&str> = t.split(':').collect();
                    let (src, dst, perm) = match parts.as_slice() {
                        [s] => (*s, *s, "rwm"),
                        [s, d] => (*s, *d, "rwm"),
                        [s, d, p] => (*s, *d, *p),
                        _ => {
                            return Err(err(
                                &i.mark,
                                &p("devices"),
                                format!("invalid device {t:?}"),
                            ))
                        }
                    };
                    *i = mk_map(
                        vec![
                            ("source", Node::str(src, &i.mark)),
                            ("target", Node::str(dst, &i.mark)),
                            ("permissions", Node::str(perm, &i.mark)),
                        ],
                        &i.mark,
                    );
                }
            }
        }
    }
    if let Some(n) = svc.get_mut("ulimits") {
        if let Value::Map(entries) = &mut n.value {
            for (_, v) in entries.iter_mut() {
                if let Value::Int(i) = v.value {
                    *v = mk_map(vec![("single", int(i, &v.mark))], &v.mark);
                }
            }
        }
    }
    if let Some(h) = svc.get_mut("healthcheck") {
        if let Some(t) = h.get_mut("test") {
            if let Some(s) = t.as_str().map(str::to_string) {
                t.value = Value::Seq(vec![Node::str("CMD-SHELL", &t.mark), Node::str(s, &t.mark)]);
            }
        }
    }
    if let Some(n) = svc.get_mut("ports") {
        super::ports::canonical(n, &p("ports"))?;
    }
    if let Some(n) = svc.get_mut("volumes") {
        super::volumes::canonical(n, &p("volumes"))?;
    }
    if let Some(l) = svc.get_mut("logging") {
        if let Some(o) = l.get_mut("options") {
            key_value_map(o, '=', false);
        }
    }
    for hook in ["pre_start", "post_start", "pre_stop"] {
        if let Some(Value::Seq(items)) = svc.get_mut(hook).map(|n| &mut n.value) {
            for i in items.iter_mut() {
                if let Some(c) = i.get_mut("command") {
                    shell_command(c, &p(hook))?;
                }
                if let Some(e) = i.get_mut("environment") {
                    key_value_map(e, '=', true);
                }
            }
        }
    }
    if let Some(d) = svc.get_mut("deploy") {
        if let Some(l) = d.get_mut("labels") {
            key_value_map(l, '=', false);
        }
    }
    Ok(())
}

fn extra_hosts(n: &mut Node) {
    match &n.value {
        Value::Map(m) => {
            let mut items: Vec<String> = Vec::new();
            for (k, v) in m {
                match &v.value {
                    Value::Seq(ips) => {
                        items.extend(ips.iter().map(|ip| {
                            format!("{}={}", k.name, ip.scalar_text().unwrap_or_default())
                        }))
                    }
                    _ => items.push(format!(
                        "{}={}",
                        k.name,
                        v.scalar_text().unwrap_or_default()
                    )),
                }
            }
            items.sort();
            n.value = Value::Seq(items.into_iter().map(|s| Node::str(s, &n.mark)).collect());
        }
        Value::Seq(items) => {
            let mut out: Vec<String> = items
                .iter()
                .filter_map(Node::scalar_text)
                .map(|s| match s.split_once('=') {
                    Some(_) => s,
                    // `host:ip` (the IP may be IPv6, so split at the first colon)
                    None => match s.split_once(':') {
                        Some((h, ip)) => format!("{h}={ip}"),
                        None => s,
                    },
                })
                .collect();
            out.sort();
            out.dedup();
            n.value = Value::Seq(out.into_iter().map(|s| Node::str(s, &n.mark)).collect());
        }
        _ => {}
    }
}

fn file_refs(n: &mut Node) {
    if let Value::Seq(items) = &mut n.value {
        for i in items.iter_mut() {
            if let Some(t) = i.scalar_text() {
                *i = mk_map(vec![("source", Node::str(t, &i.mark))], &i.mark);
            }
        }
    }
}

/// `external: {name: x}` (legacy) → `external: true` + `name: x`; null → `{}`.
pub fn resource(node: &mut Node) {
    if node.is_null() {
        *node = Node::map(&node.mark);
    }
    let legacy = node
        .get("external")
        .and_then(|e| e.get("name"))
        .and_then(Node::scalar_text);
    if let Some(ext) = node.get_mut("external") {
        if ext.as_map().is_some() {
            *ext = b(true, &ext.mark);
        }
    }
    if let Some(name) = legacy {
        node.set("name", Node::str(name, &node.mark));
    }
    for k in ["labels", "driver_opts"] {
        if let Some(n) = node.get_mut(k) {
            key_value_map(n, '=', false);
        }
    }
}
