//! Decoding JSON the way Docker's Go decoder (`encoding/json`) does, for every model.
//!
//! Two rules of Go's decoder that clients rely on and serde does not follow:
//!
//! - **`null` is "not set".** Go decodes `null` into the zero value of the field (or leaves a
//!   pointer nil): `"Interval": null`, `"Cmd": null`, `"Gateway": null`, `"Labels": null`
//!   are all accepted and mean the same as an absent key. Here `null` becomes `None` for an
//!   `Option`, and the type's zero value otherwise: `""`, `0`, `false`, an empty list or map,
//!   and a struct whose every field is absent (so structs carry `#[serde(default)]`).
//! - **Object keys match struct fields case-insensitively.** An exact match wins; otherwise
//!   the first field equal ignoring ASCII case (`detachKeys` → `DetachKeys`,
//!   `CPURealtimePeriod` → `CpuRealtimePeriod`). Map keys (labels, options) are data and are
//!   kept as sent. When two keys land on the same field, the later one wins, as in Go.
//!
//! Everything else is serde's usual behaviour on the value: unknown keys are ignored, a value
//! of the wrong type is an error (Go's is too), and the error names the path of the field.
//! The server decodes every request body with [`from_slice`], the client every response.

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

/// Decodes `bytes` into `T` with Go's rules (see the module doc). A syntax error carries its
/// line and column, a type error the path of the field (`HostConfig.Memory: invalid type …`).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    from_value(serde_json::from_slice(bytes)?)
}

/// [`from_slice`] for text.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    from_slice(text.as_bytes())
}

/// Decodes an already parsed value into `T` with Go's rules.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    serde_path_to_error::deserialize(GoValue(value)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            inner
        } else {
            de::Error::custom(format_args!("{path}: {inner}"))
        }
    })
}

/// The `Deserialize` of a struct that embeds another with `#[serde(flatten)]` (`HostConfig`'s
/// `Resources`, the create body's `Config`).
///
/// Serde's flatten buffers the keys and matches them itself, outside these rules, so such a
/// struct derives with `#[serde(remote = "Self")]` and `#[serde(flatten, skip_deserializing)]`
/// on the embedded field (the derive becomes the inherent `T::deserialize`, `outer` here), and
/// its `Deserialize` impl calls this: both parts are decoded from the same object.
pub(crate) fn decode_embedding<'de, D, T, P>(
    d: D,
    outer: fn(GoValue) -> Result<T, serde_json::Error>,
    embed: fn(&mut T, P),
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    P: DeserializeOwned,
{
    let value = <Value as serde::Deserialize>::deserialize(d)?;
    let part: P = from_value(value.clone()).map_err(de::Error::custom)?;
    let mut whole = outer(GoValue(value)).map_err(de::Error::custom)?;
    embed(&mut whole, part);
    Ok(whole)
}

/// A JSON value seen through Go's decoding rules.
pub(crate) struct GoValue(Value);

type E = serde_json::Error;

macro_rules! zero_on_null {
    ($($method:ident => $visit:ident($zero:expr)),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
                match self.0 {
                    Value::Null => visitor.$visit($zero),
                    _ => self.deserialize_any(visitor),
                }
            }
        )*
    };
}

impl<'de> Deserializer<'de> for GoValue {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => n.deserialize_any(visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(a) => visitor.visit_seq(GoSeq(a.into_iter())),
            Value::Object(m) => visitor.visit_map(GoMap::new(m, &[])),
        }
    }

    zero_on_null! {
        deserialize_bool => visit_bool(false),
        deserialize_i8 => visit_i64(0),
        deserialize_i16 => visit_i64(0),
        deserialize_i32 => visit_i64(0),
        deserialize_i64 => visit_i64(0),
        deserialize_i128 => visit_i64(0),
        deserialize_u8 => visit_u64(0),
        deserialize_u16 => visit_u64(0),
        deserialize_u32 => visit_u64(0),
        deserialize_u64 => visit_u64(0),
        deserialize_u128 => visit_u64(0),
        deserialize_f32 => visit_f64(0.0),
        deserialize_f64 => visit_f64(0.0),
        deserialize_str => visit_str(""),
        deserialize_string => visit_str(""),
        deserialize_bytes => visit_bytes(&[]),
        deserialize_byte_buf => visit_bytes(&[]),
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.deserialize_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        self.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Value::Null => visitor.visit_seq(GoSeq(Vec::new().into_iter())),
            Value::Array(a) => visitor.visit_seq(GoSeq(a.into_iter())),
            _ => Err(de::Error::invalid_type(self.what(), &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            // A Go array (`[2]uint`) decodes null as all zeros.
            Value::Null => visitor.visit_seq(GoSeq(vec![Value::Null; len].into_iter())),
            _ => self.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, E> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.0 {
            Value::Null => visitor.visit_map(GoMap::new(Map::new(), &[])),
            Value::Object(m) => visitor.visit_map(GoMap::new(m, &[])),
            _ => Err(de::Error::invalid_type(self.what(), &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        match self.0 {
            Value::Null => visitor.visit_map(GoMap::new(Map::new(), fields)),
            Value::Object(m) => visitor.visit_map(GoMap::new(m, fields)),
            _ => Err(de::Error::invalid_type(self.what(), &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.deserialize_any(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }
}

impl GoValue {
    fn what(&self) -> de::Unexpected<'_> {
        match &self.0 {
            Value::Null => de::Unexpected::Unit,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() => de::Unexpected::Float(f),
                _ => n
                    .as_i64()
                    .map(de::Unexpected::Signed)
                    .or_else(|| n.as_u64().map(de::Unexpected::Unsigned))
                    .unwrap_or(de::Unexpected::Other("number")),
            },
            Value::String(s) => de::Unexpected::Str(s),
            Value::Array(_) => de::Unexpected::Seq,
            Value::Object(_) => de::Unexpected::Map,
        }
    }
}

struct GoSeq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for GoSeq {
    type Error = E;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, E> {
        self.0
            .next()
            .map(|v| seed.deserialize(GoValue(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// An object's entries, keys already matched to the struct's field names (none for a map).
struct GoMap {
    entries: std::vec::IntoIter<(String, Value)>,
    value: Option<Value>,
}

impl GoMap {
    fn new(map: Map<String, Value>, fields: &'static [&'static str]) -> Self {
        #[cfg(test)]
        tests::probe::record(&map, fields);
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(map.len());
        for (key, value) in map {
            let key = match_field(key, fields);
            // Go: a later key for the same field overwrites the earlier one.
            if !fields.is_empty() {
                if let Some(slot) = entries.iter_mut().find(|(k, _)| *k == key) {
                    slot.1 = value;
                    continue;
                }
            }
            entries.push((key, value));
        }
        GoMap {
            entries: entries.into_iter(),
            value: None,
        }
    }
}

/// The struct field `key` names: itself, else the first field equal ignoring ASCII case.
fn match_field(key: String, fields: &'static [&'static str]) -> String {
    if fields.is_empty() || fields.contains(&key.as_str()) {
        return key;
    }
    match fields.iter().find(|f| f.eq_ignore_ascii_case(&key)) {
        Some(f) => (*f).to_string(),
        None => key,
    }
}

impl<'de> MapAccess<'de> for GoMap {
    type Error = E;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, E> {
        match self.entries.next() {
            None => Ok(None),
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(MapKey(k)).map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, E> {
        let v = self
            .value
            .take()
            .ok_or_else(|| <E as de::Error>::custom("value requested before key"))?;
        seed.deserialize(GoValue(v))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An object key: a string, also read as a number for maps keyed by integers (as Go does).
struct MapKey(String);

macro_rules! key_number {
    ($($method:ident: $ty:ty => $visit:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
                match self.0.parse::<$ty>() {
                    Ok(n) => visitor.$visit(n),
                    Err(_) => visitor.visit_string(self.0),
                }
            }
        )*
    };
}

impl<'de> Deserializer<'de> for MapKey {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        self.0.into_deserializer().deserialize_any(visitor)
    }

    key_number! {
        deserialize_i8: i8 => visit_i8,
        deserialize_i16: i16 => visit_i16,
        deserialize_i32: i32 => visit_i32,
        deserialize_i64: i64 => visit_i64,
        deserialize_u8: u8 => visit_u8,
        deserialize_u16: u16 => visit_u16,
        deserialize_u32: u32 => visit_u32,
        deserialize_u64: u64 => visit_u64,
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i128 u128 f32 f64 char str string bytes byte_buf option unit unit_struct seq
        tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests;
