//! [`Node`] tree → YAML text, written as go-yaml v3 (indent 2) writes it, which is what
//! `docker compose config` prints: block style, strings quoted only when they must be.

use super::node::{format_float, Node, Value};

/// The YAML document for `node` (ends with a newline).
pub fn to_yaml(node: &Node) -> String {
    let mut out = String::new();
    match &node.value {
        Value::Map(m) if !m.is_empty() => write_map(&mut out, node, 0),
        Value::Seq(s) if !s.is_empty() => write_seq(&mut out, node, 0),
        _ => {
            out.push_str(&scalar(node, 0));
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn is_block(n: &Node) -> bool {
    match &n.value {
        Value::Map(m) => !m.is_empty(),
        Value::Seq(s) => !s.is_empty(),
        _ => false,
    }
}

fn write_map(out: &mut String, node: &Node, indent: usize) {
    let Value::Map(entries) = &node.value else {
        return;
    };
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str(&quote(&k.name, indent));
        out.push(':');
        write_value(out, v, indent);
    }
}

fn write_value(out: &mut String, v: &Node, indent: usize) {
    match &v.value {
        Value::Map(_) if is_block(v) => {
            out.push('\n');
            pad(out, indent + 2);
            write_map(out, v, indent + 2);
        }
        Value::Seq(_) if is_block(v) => {
            out.push('\n');
            pad(out, indent + 2);
            write_seq(out, v, indent + 2);
        }
        _ => {
            out.push(' ');
            out.push_str(&scalar(v, indent + 2));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, node: &Node, indent: usize) {
    let Value::Seq(items) = &node.value else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str("- ");
        match &item.value {
            Value::Map(_) if is_block(item) => write_map(out, item, indent + 2),
            Value::Seq(_) if is_block(item) => write_seq(out, item, indent + 2),
            _ => {
                out.push_str(&scalar(item, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn scalar(n: &Node, indent: usize) -> String {
    match &n.value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                ".nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 { ".inf" } else { "-.inf" }.into()
            } else {
                format_float(*f)
            }
        }
        Value::Str(s) => quote(s, indent),
        Value::Map(_) => "{}".into(),
        Value::Seq(_) => "[]".into(),
    }
}

/// A string as go-yaml writes it: plain when it reads back as the same string, double quotes
/// when plain would read as another type, a literal block for several lines, else single
/// quotes (or double quotes when it has characters single quotes cannot carry).
pub fn quote(s: &str, indent: usize) -> String {
    if s.is_empty() {
        return "\"\"".into();
    }
    if !matches!(super::load::resolve_plain(s), Value::Str(_)) || is_old_bool(s) {
        return double(s);
    }
    if s.contains('\n') {
        if literal_ok(s) {
            let mut out = String::from(if s.ends_with('\n') { "|" } else { "|-" });
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(&" ".repeat(indent));
                    out.push_str(line);
                }
            }
            return out;
        }
        return double(s);
    }
    if plain_ok(s) {
        return s.to_string();
    }
    if s.chars().all(|c| !c.is_control() || c == '\t') {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double(s)
}

fn literal_ok(s: &str) -> bool {
    !s.starts_with(' ')
        && !s.contains("\n\n\n")
        && s.split('\n')
            .all(|l| !l.ends_with(' ') && !l.ends_with('\t'))
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn plain_ok(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    if first.is_whitespace() || s.ends_with(char::is_whitespace) {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-x`, `?x`, `:x` are plain when followed by a non-space
        let second = s.chars().nth(1);
        if !("-?:".contains(first) && second.is_some_and(|c| !c.is_whitespace())) {
            return false;
        }
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if s.chars().any(|c| c.is_control() || c == '\u{feff}') {
        return false;
    }
    !(s == "-" || s.starts_with("---") || s.starts_with("..."))
}

fn double(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::load::parse;

    #[test]
    fn round_trips_compose_like_documents() {
        let text = "name: app\nservices:\n  web:\n    command:\n      - node\n      - index.js\n    environment:\n      A: \"1\"\n      B: null\n    ports:\n      - mode: ingress\n        target: 80\n        published: \"8080\"\n    volume: {}\n    x: '*a'\n    z: \"yes\"\n";
        let n = parse(text, "f").unwrap();
        assert_eq!(to_yaml(&n), text);
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        let n = parse("a:\n  b: \"x\\ny\"\n", "f").unwrap();
        assert_eq!(to_yaml(&n), "a:\n  b: |-\n    x\n    y\n");
    }
}
