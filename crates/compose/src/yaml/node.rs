//! The YAML tree the loader works on: values with the file, line and column they came from,
//! so that every later step (interpolation, merging, validation) can name where a key is.

use std::fmt;
use std::sync::Arc;

/// Where a node was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    /// The file (as given to the loader; empty for generated nodes).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}", self.file);
        }
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A YAML value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (quoted, or plain that is not another type).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Key, Node)>),
}

/// A mapping key (always a string in Compose files).
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// Where the key was written.
    pub mark: Mark,
}

/// A value with its position and tag (`!reset`, `!override`).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it was written.
    pub mark: Mark,
    /// A local tag, without the `!` (`reset`, `override`).
    pub tag: Option<String>,
}

impl Node {
    /// A node without a tag.
    pub fn new(value: Value, mark: Mark) -> Self {
        Node {
            value,
            mark,
            tag: None,
        }
    }

    /// A string node at `mark`.
    pub fn str(s: impl Into<String>, mark: &Mark) -> Self {
        Node::new(Value::Str(s.into()), mark.clone())
    }

    /// An empty mapping at `mark`.
    pub fn map(mark: &Mark) -> Self {
        Node::new(Value::Map(Vec::new()), mark.clone())
    }

    /// The entries of a mapping.
    pub fn as_map(&self) -> Option<&Vec<(Key, Node)>> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The entries of a mapping, mutable.
    pub fn as_map_mut(&mut self) -> Option<&mut Vec<(Key, Node)>> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items of a sequence.
    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// A string value.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as text (numbers and booleans as YAML writes them), None for others.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(format_float(*f)),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The value under `key` in a mapping, mutable.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut()?
            .iter_mut()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// Sets `key` (replacing in place, or appending).
    pub fn set(&mut self, key: &str, value: Node) {
        if let Some(m) = self.as_map_mut() {
            if let Some(slot) = m.iter_mut().find(|(k, _)| k.name == key) {
                slot.1 = value;
            } else {
                let mark = value.mark.clone();
                m.push((
                    Key {
                        name: key.to_string(),
                        mark,
                    },
                    value,
                ));
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let m = self.as_map_mut()?;
        let i = m.iter().position(|(k, _)| k.name == key)?;
        Some(m.remove(i).1)
    }

    /// The tree as JSON (keys in file order are lost: JSON objects sort).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => s.clone().into(),
            Value::Seq(s) => s.iter().map(Node::to_json).collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| (k.name.clone(), v.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

/// A float as Go's `strconv.FormatFloat(f, 'g', -1, 64)` would write a simple one.
pub fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a whole number under 1e15 is exact as an i64"
        )]
        let whole = f as i64;
        format!("{whole}")
    } else {
        format!("{f}")
    }
}
