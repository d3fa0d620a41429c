//! Helpers shared by the models: Docker's string-or-list, filters, empty objects, errors.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Labels and other string→string maps (Go maps marshal with sorted keys, as a BTreeMap does).
pub type Labels = BTreeMap<String, String>;

/// Docker's `{}` value used as a set marker (`ExposedPorts`, `Volumes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyObject {}

/// The error body of every non-2xx response: `{"message": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Human-readable error; clients print it after "Error response from daemon: ".
    pub message: String,
}

/// `{"Id": "..."}`, returned by commit, exec create and similar endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdResponse {
    /// The new object's id.
    #[serde(rename = "Id")]
    pub id: String,
}

/// Docker's `strslice.StrSlice`: a JSON list of strings that also accepts a single string
/// (`"Cmd": "echo hi"` means `["echo hi"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct StrSlice(pub Vec<String>);

impl<'de> Deserialize<'de> for StrSlice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrSlice;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<StrSlice, E> {
                Ok(StrSlice(vec![s.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrSlice, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                Ok(StrSlice(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl From<Vec<String>> for StrSlice {
    fn from(v: Vec<String>) -> Self {
        StrSlice(v)
    }
}

impl StrSlice {
    /// Builds a slice from string-ish items.
    pub fn of<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Self {
        StrSlice(items.into_iter().map(Into::into).collect())
    }
}

/// The `filters` query parameter: `{"key": ["v1", "v2"]}`.
///
/// Docker accepts two JSON shapes, `{"status":["running"]}` (old) and
/// `{"status":{"running":true}}` (current); both parse to the same value. Serialization uses
/// the current shape, which every API version accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(pub BTreeMap<String, Vec<String>>);

impl Filters {
    /// Parses the query parameter value; an empty string means no filters.
    pub fn parse(s: &str) -> Result<Self, serde_json::Error> {
        if s.trim().is_empty() {
            return Ok(Filters::default());
        }
        serde_json::from_str(s)
    }

    /// Adds one `key=value` term.
    pub fn add(&mut self, key: &str, value: &str) {
        let values = self.0.entry(key.to_string()).or_default();
        if !values.iter().any(|v| v == value) {
            values.push(value.to_string());
        }
    }

    /// The values given for `key` (empty when absent).
    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// True when there are no terms at all.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(Vec::is_empty)
    }

    /// The keys in use (to reject unknown filter names with Docker's "invalid filter" error).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The JSON text for the `filters` query parameter.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

/// Whether `labels` hold every term of a `label` filter: `key` (present, any value) or
/// `key=value` (present with that value), as docker's `filters.Args.MatchKVList`. No terms
/// always match.
pub fn labels_match(labels: &Labels, terms: &[String]) -> bool {
    terms.iter().all(|t| match t.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(t.as_str()),
    })
}

impl Serialize for Filters {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m: BTreeMap<&String, BTreeMap<&String, bool>> = self
            .0
            .iter()
            .map(|(k, vs)| (k, vs.iter().map(|v| (v, true)).collect()))
            .collect();
        m.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Filters {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Terms {
            List(Vec<String>),
            Set(BTreeMap<String, bool>),
        }
        let raw: Option<BTreeMap<String, Terms>> = Option::deserialize(d)?;
        let mut out = BTreeMap::new();
        for (k, terms) in raw.unwrap_or_default() {
            let values = match terms {
                Terms::List(v) => v,
                Terms::Set(m) => m
                    .into_iter()
                    .filter(|(_, on)| *on)
                    .map(|(v, _)| v)
                    .collect(),
            };
            out.insert(k, values);
        }
        Ok(Filters(out))
    }
}

/// Serde helper for `skip_serializing_if`: the value equals its default (Go's `omitempty`).
pub fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_terms_need_key_or_key_and_value() {
        let labels: Labels = [("a", "1"), ("b", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let terms = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(labels_match(&labels, &[]));
        assert!(labels_match(&labels, &terms(&["a", "b"])));
        assert!(labels_match(&labels, &terms(&["a=1", "b="])));
        assert!(!labels_match(&labels, &terms(&["a=2"])));
        assert!(!labels_match(&labels, &terms(&["a", "c"])));
        assert!(!labels_match(&labels, &terms(&["a=1=x"])));
    }

    #[test]
    fn strslice_accepts_string_and_list() {
        let a: StrSlice = crate::json::from_str(r#""echo hi""#).unwrap();
        assert_eq!(a.0, vec!["echo hi"]);
        let b: StrSlice = crate::json::from_str(r#"["echo","hi"]"#).unwrap();
        assert_eq!(b.0, vec!["echo", "hi"]);
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"["echo","hi"]"#);
        assert!(crate::json::from_str::<StrSlice>("3").is_err());
    }

    #[test]
    fn filters_accept_both_shapes() {
        let old = Filters::parse(r#"{"status":["running","paused"]}"#).unwrap();
        let new = Filters::parse(r#"{"status":{"running":true,"paused":true}}"#).unwrap();
        assert_eq!(old.get("status").len(), 2);
        assert_eq!(
            new.get("status"),
            &["paused".to_string(), "running".to_string()]
        );
        assert_eq!(
            new.to_json(),
            r#"{"status":{"paused":true,"running":true}}"#
        );
        assert!(Filters::parse("").unwrap().is_empty());
        assert!(Filters::parse("{bad").is_err());
    }

    #[test]
    fn error_response_shape() {
        let e = ErrorResponse {
            message: "No such container: x".into(),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"message":"No such container: x"}"#
        );
    }
}
