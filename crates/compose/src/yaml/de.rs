//! serde over a [`Node`] tree: the typed model is derived, and every error names the file,
//! line and key path. A key a struct does not know is an error with the nearest valid key
//! suggested; `x-` keys are extensions (kept where the struct has an `#extensions` field).
//! Scalars are read leniently as Compose does after interpolation (`"3"` for an integer).

use std::fmt;

use serde::de::{self, DeserializeOwned, Error as _, IntoDeserializer, Visitor};

use super::node::{Key, Mark, Node, Value};

/// A typed-model error: where, which key, what.
#[derive(Debug, Clone)]
pub struct DeError {
    /// Where the offending value was written (unset until known).
    pub mark: Option<Mark>,
    /// The key path, outermost first (`services`, `web`, `ports`, `0`).
    pub path: Vec<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = &self.mark {
            write!(f, "{m}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path.join("."))?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            mark: None,
            path: Vec::new(),
            message: msg.to_string(),
        }
    }
}

impl DeError {
    fn at(mut self, mark: &Mark) -> Self {
        if self.mark.is_none() {
            self.mark = Some(mark.clone());
        }
        self
    }

    fn under(mut self, key: &str) -> Self {
        self.path.insert(0, key.to_string());
        self
    }
}

/// Deserializes `T` from `node`; `path` prefixes error paths (`services.web`).
pub fn from_node<T: DeserializeOwned>(node: &Node, path: &[&str]) -> Result<T, DeError> {
    T::deserialize(NodeDe(node)).map_err(|mut e| {
        for p in path.iter().rev() {
            e = e.under(p);
        }
        e
    })
}

/// The nearest of `candidates` to `key` (edit distance), if close enough to be a typo.
pub fn suggest<'a>(key: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .filter(|c| !c.starts_with('#'))
        .map(|c| (strsim::levenshtein(key, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

struct NodeDe<'a>(&'a Node);

fn text_of(n: &Node) -> Option<String> {
    n.scalar_text()
}

macro_rules! int_method {
    ($name:ident, $visit:ident, $t:ty) => {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "only a whole float (`3.0`) gets here; one out of the type's range saturates"
        )]
        fn $name<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            let n = self.0;
            let r = match &n.value {
                Value::Str(s) => match s.trim().parse::<$t>() {
                    Ok(i) => v.$visit(i),
                    Err(_) => Err(DeError::custom(format!("invalid integer {s:?}"))),
                },
                Value::Float(f) if f.fract() == 0.0 => v.$visit(*f as $t),
                _ => return self.deserialize_any(v),
            };
            r.map_err(|e| e.at(&n.mark))
        }
    };
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let n = self.0;
        let r = match &n.value {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Int(i) => v.visit_i64(*i),
            Value::Float(f) => v.visit_f64(*f),
            Value::Str(s) => v.visit_str(s),
            Value::Seq(items) => v.visit_seq(SeqDe {
                items: items.iter(),
                index: 0,
            }),
            Value::Map(entries) => v.visit_map(MapDe {
                entries: entries
                    .iter()
                    .map(|(k, v)| (k.clone(), Entry::Ref(v)))
                    .collect(),
                pos: 0,
                current: None,
            }),
        };
        r.map_err(|e| e.at(&n.mark))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let n = self.0;
        match &n.value {
            Value::Str(s) => match s.as_str() {
                "true" | "True" | "TRUE" | "yes" | "on" => v.visit_bool(true),
                "false" | "False" | "FALSE" | "no" | "off" => v.visit_bool(false),
                _ => Err(DeError::custom(format!("invalid boolean {s:?}"))),
            }
            .map_err(|e| e.at(&n.mark)),
            _ => self.deserialize_any(v),
        }
    }

    int_method!(deserialize_i8, visit_i8, i8);
    int_method!(deserialize_i16, visit_i16, i16);
    int_method!(deserialize_i32, visit_i32, i32);
    int_method!(deserialize_i64, visit_i64, i64);
    int_method!(deserialize_u8, visit_u8, u8);
    int_method!(deserialize_u16, visit_u16, u16);
    int_method!(deserialize_u32, visit_u32, u32);
    int_method!(deserialize_u64, visit_u64, u64);

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(v)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let n = self.0;
        match &n.value {
            Value::Str(s) => match s.trim().parse::<f64>() {
                Ok(f) => v.visit_f64(f),
                Err(_) => Err(DeError::custom(format!("invalid number {s:?}"))),
            }
            .map_err(|e| e.at(&n.mark)),
            Value::Int(i) => v.visit_f64(*i as f64).map_err(|e: DeError| e.at(&n.mark)),
            _ => self.deserialize_any(v),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_string(v)
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let n = self.0;
        match (&n.value, text_of(n)) {
            (Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_), Some(t)) => {
                v.visit_string(t).map_err(|e: DeError| e.at(&n.mark))
            }
            _ => self.deserialize_any(v),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        if self.0.is_null() {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let n = self.0;
        let Value::Map(entries) = &n.value else {
            return Err(DeError::custom(format!("must be a mapping, not {}", kind(n))).at(&n.mark));
        };
        let keeps_extensions = fields.contains(&"#extensions");
        let mut out = Vec::new();
        let mut extensions = Vec::new();
        for (k, val) in entries {
            if k.name.starts_with("x-") {
                if keeps_extensions {
                    extensions.push((k.clone(), val.clone()));
                }
                continue;
            }
            if !fields.contains(&k.name.as_str()) {
                let hint = suggest(&k.name, fields)
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_default();
                let _ = name;
                return Err(DeError {
                    mark: Some(k.mark.clone()),
                    path: vec![k.name.clone()],
                    message: format!("unknown key{hint}"),
                });
            }
            out.push((k.clone(), Entry::Ref(val)));
        }
        if !extensions.is_empty() {
            let key = Key {
                name: "#extensions".into(),
                mark: n.mark.clone(),
            };
            out.push((
                key,
                Entry::Owned(Node::new(Value::Map(extensions), n.mark.clone())),
            ));
        }
        v.visit_map(MapDe {
            entries: out,
            pos: 0,
            current: None,
        })
        .map_err(|e| e.at(&n.mark))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let n = self.0;
        match text_of(n) {
            Some(t) => v
                .visit_enum(t.into_deserializer())
                .map_err(|e: DeError| e.at(&n.mark)),
            None => Err(DeError::custom("must be a string").at(&n.mark)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}

/// What a value is, for messages.
pub fn kind(n: &Node) -> &'static str {
    match n.value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::Str(_) => "a string",
        Value::Seq(_) => "a sequence",
        Value::Map(_) => "a mapping",
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let i = self.index;
        self.index += 1;
        seed.deserialize(NodeDe(item))
            .map(Some)
            .map_err(|e| e.under(&i.to_string()))
    }
}

enum Entry<'a> {
    Ref(&'a Node),
    Owned(Node),
}

impl Entry<'_> {
    fn node(&self) -> &Node {
        match self {
            Entry::Ref(n) => n,
            Entry::Owned(n) => n,
        }
    }
}

struct MapDe<'a> {
    entries: Vec<(Key, Entry<'a>)>,
    pos: usize,
    current: Option<usize>,
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((k, _)) = self.entries.get(self.pos) else {
            return Ok(None);
        };
        self.current = Some(self.pos);
        self.pos += 1;
        let de: de::value::StrDeserializer<'_, DeError> = k.name.as_str().into_deserializer();
        seed.deserialize(de)
            .map(Some)
            .map_err(|e| e.at(&k.mark).under(&k.name))
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        let i = self.current.take().unwrap_or(0);
        let (k, entry) = &self.entries[i];
        seed.deserialize(NodeDe(entry.node()))
            .map_err(|e| e.under(&k.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::load::parse;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct S {
        image: Option<String>,
        replicas: Option<u32>,
        #[serde(default)]
        ports: Vec<u16>,
    }

    #[test]
    fn unknown_keys_are_suggested_and_located() {
        let n = parse("svc:\n  image: a\n  imgae: b\n", "c.yaml").unwrap();
        let e = from_node::<S>(n.get("svc").unwrap(), &["services", "svc"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.yaml:3:3: services.svc.imgae: unknown key (did you mean \"image\"?)"
        );
    }

    #[test]
    fn lenient_scalars_and_typed_errors() {
        let n = parse("image: 5\nreplicas: '3'\nports: [1, x]\n", "c.yaml").unwrap();
        let e = from_node::<S>(&n, &[]).unwrap_err();
        assert!(e.to_string().starts_with("c.yaml:3:12: ports.1: "), "{e}");
        let n = parse("image: 5\nreplicas: '3'\n", "c.yaml").unwrap();
        let s: S = from_node(&n, &[]).unwrap();
        assert_eq!(s.image.as_deref(), Some("5"));
        assert_eq!(s.replicas, Some(3));
    }
}
