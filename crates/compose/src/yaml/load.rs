//! YAML text → [`Node`] tree: saphyr-parser events, anchors and aliases, merge keys (`<<`),
//! and the YAML 1.2 core schema for plain scalars (as go-yaml v3, which Compose uses, reads them).

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::node::{Key, Mark, Node, Value};

/// A YAML syntax error.
#[derive(Debug, thiserror::Error)]
#[error("{mark}: {message}")]
pub struct YamlError {
    /// Where.
    pub mark: Mark,
    /// What.
    pub message: String,
}

/// Parses the first document of `text`; an empty document is `Null`.
pub fn parse(text: &str, file: &str) -> Result<Node, YamlError> {
    let file: Arc<str> = Arc::from(file);
    let mut loader = Loader {
        file: file.clone(),
        anchors: HashMap::new(),
        stack: Vec::new(),
        root: None,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| YamlError {
            mark: Mark {
                file: file.clone(),
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        })?;
        if loader.event(ev, span)? {
            break;
        }
    }
    Ok(loader.root.unwrap_or(Node::new(
        Value::Null,
        Mark {
            file,
            line: 0,
            col: 0,
        },
    )))
}

enum Open {
    Seq(Node, usize),
    Map(Node, usize, Option<Key>),
}

struct Loader {
    file: Arc<str>,
    anchors: HashMap<usize, Node>,
    stack: Vec<Open>,
    root: Option<Node>,
}

impl Loader {
    fn mark(&self, span: &Span) -> Mark {
        Mark {
            file: self.file.clone(),
            line: span.start.line(),
            col: span.start.col() + 1,
        }
    }

    /// Handles one event; true once the first document is complete.
    fn event(&mut self, ev: Event<'_>, span: Span) -> Result<bool, YamlError> {
        let mark = self.mark(&span);
        match ev {
            Event::DocumentEnd => return Ok(self.root.is_some()),
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix.clone());
                let value = if style == ScalarStyle::Plain && tag.as_deref() != Some("str") {
                    resolve_plain(&text)
                } else {
                    Value::Str(text.into_owned())
                };
                let mut node = Node::new(value, mark);
                node.tag = tag.filter(|t| t != "str");
                self.complete(node, anchor)?;
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or(YamlError {
                    mark,
                    message: "unknown anchor".into(),
                })?;
                self.complete(node, 0)?;
            }
            Event::SequenceStart(anchor, tag) => {
                let mut node = Node::new(Value::Seq(Vec::new()), mark);
                node.tag = tag.map(|t| t.suffix.clone());
                self.stack.push(Open::Seq(node, anchor));
            }
            Event::MappingStart(anchor, tag) => {
                let mut node = Node::new(Value::Map(Vec::new()), mark);
                node.tag = tag.map(|t| t.suffix.clone());
                self.stack.push(Open::Map(node, anchor, None));
            }
            Event::SequenceEnd => {
                if let Some(Open::Seq(node, anchor)) = self.stack.pop() {
                    self.complete(node, anchor)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Open::Map(mut node, anchor, _)) = self.stack.pop() {
                    apply_merge_keys(&mut node)?;
                    self.complete(node, anchor)?;
                }
            }
            _ => {}
        }
        Ok(false)
    }

    /// A finished node goes into its parent (or becomes the root).
    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Open::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, pending)) => match pending.take() {
                None => {
                    let name = node.scalar_text().ok_or_else(|| YamlError {
                        mark: node.mark.clone(),
                        message: "mapping keys must be strings".into(),
                    })?;
                    let name = if node.is_null() { String::new() } else { name };
                    *pending = Some(Key {
                        name,
                        mark: node.mark,
                    });
                }
                Some(key) => {
                    if let Value::Map(entries) = &mut map.value {
                        if key.name != "<<" && entries.iter().any(|(k, _)| k.name == key.name) {
                            return Err(YamlError {
                                message: format!("mapping key {:?} already defined", key.name),
                                mark: key.mark,
                            });
                        }
                        entries.push((key, node));
                    }
                }
            },
        }
        Ok(())
    }
}

/// `<<: *a` / `<<: [*a, *b]`: keys of the merged mappings that the mapping does not set
/// itself are added (an earlier merged mapping wins over a later one).
fn apply_merge_keys(node: &mut Node) -> Result<(), YamlError> {
    let Value::Map(entries) = &mut node.value else {
        return Ok(());
    };
    if !entries.iter().any(|(k, _)| k.name == "<<") {
        return Ok(());
    }
    let mut sources = Vec::new();
    let mut own = Vec::new();
    for (k, v) in std::mem::take(entries) {
        if k.name == "<<" {
            match v.value {
                Value::Map(_) => sources.push(v),
                Value::Seq(items) => sources.extend(items),
                _ => {
                    return Err(YamlError {
                        mark: v.mark,
                        message: "map merge requires map or sequence of maps as the value".into(),
                    })
                }
            }
        } else {
            own.push((k, v));
        }
    }
    for src in sources {
        let Value::Map(src_entries) = src.value else {
            return Err(YamlError {
                mark: src.mark,
                message: "map merge requires map or sequence of maps as the value".into(),
            });
        };
        for (k, v) in src_entries {
            if !own.iter().any(|(o, _)| o.name == k.name) {
                own.push((k, v));
            }
        }
    }
    *entries = own;
    Ok(())
}

/// The YAML 1.2 core schema for a plain scalar.
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(s) {
        return Value::Int(i);
    }
    if looks_like_float(s) {
        if let Ok(f) = s.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(s.to_string())
}

fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if let Some(h) = digits.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = digits.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(bin) = digits.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        // go-yaml v3 reads `0440` as octal (strconv.ParseInt base 0)
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

fn looks_like_float(s: &str) -> bool {
    let t = s.trim_start_matches(['-', '+']);
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => seen_digit = true,
            '.' if !seen_dot => seen_dot = true,
            'e' | 'E' if seen_digit => {
                if matches!(chars.peek(), Some('-' | '+')) {
                    chars.next();
                }
                return chars.clone().count() > 0 && chars.all(|c| c.is_ascii_digit());
            }
            _ => return false,
        }
    }
    seen_digit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_anchors_merge_keys_and_marks() {
        let text = "a: &x\n  k: 1\n  j: two\nb:\n  <<: *x\n  j: three\nc: '8080'\nd: 0x10\ne: 1.5\nf: ~\ng: yes\n";
        let n = parse(text, "f.yaml").unwrap();
        let b = n.get("b").unwrap();
        assert_eq!(b.get("k").unwrap().value, Value::Int(1));
        assert_eq!(b.get("j").unwrap().value, Value::Str("three".into()));
        assert_eq!(n.get("c").unwrap().value, Value::Str("8080".into()));
        assert_eq!(n.get("d").unwrap().value, Value::Int(16));
        assert_eq!(n.get("e").unwrap().value, Value::Float(1.5));
        assert!(n.get("f").unwrap().is_null());
        assert_eq!(n.get("g").unwrap().value, Value::Str("yes".into()));
        assert_eq!(n.get("c").unwrap().mark.line, 7);
    }

    #[test]
    fn syntax_errors_and_duplicate_keys_name_the_line() {
        let e = parse("a: 1\nb: [\n", "f.yaml").unwrap_err();
        assert!(e.to_string().starts_with("f.yaml:"), "{e}");
        let e = parse("a: 1\na: 2\n", "f.yaml").unwrap_err();
        assert_eq!(e.mark.line, 2, "{e}");
    }
}
