use std::collections::BTreeMap;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::*;
use crate::*;

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
struct Inner {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Count")]
    count: i64,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
struct Outer {
    #[serde(rename = "Text")]
    text: String,
    #[serde(rename = "Flag")]
    flag: bool,
    #[serde(rename = "Size")]
    size: u32,
    #[serde(rename = "Ratio")]
    ratio: f64,
    #[serde(rename = "List")]
    list: Vec<String>,
    #[serde(rename = "Map")]
    map: BTreeMap<String, String>,
    #[serde(rename = "Inner")]
    inner: Inner,
    #[serde(rename = "Maybe")]
    maybe: Option<Inner>,
    #[serde(rename = "DetachKeys")]
    detach_keys: String,
    #[serde(rename = "CpuRealtimePeriod")]
    cpu_realtime_period: i64,
}

#[test]
fn null_is_the_zero_value_or_none() {
    let o: Outer = from_slice(
        br#"{"Text":null,"Flag":null,"Size":null,"Ratio":null,"List":null,"Map":null,
             "Inner":null,"Maybe":null,"DetachKeys":null,"CpuRealtimePeriod":null}"#,
    )
    .unwrap();
    assert_eq!(o, Outer::default());
    let o: Outer =
        from_slice(br#"{"List":["a",null],"Map":{"k":null},"Inner":{"Name":null}}"#).unwrap();
    assert_eq!(o.list, vec!["a", ""]);
    assert_eq!(o.map["k"], "");
    assert_eq!(o.inner, Inner::default());
}

#[test]
fn keys_match_fields_ignoring_case_but_not_map_keys() {
    let o: Outer = from_slice(
        br#"{"detachKeys":"ctrl-x","CPURealtimePeriod":5,"inner":{"NAME":"n"},
             "map":{"Key":"v"},"flag":true}"#,
    )
    .unwrap();
    assert_eq!(o.detach_keys, "ctrl-x");
    assert_eq!(o.cpu_realtime_period, 5);
    assert_eq!(o.inner.name, "n");
    assert_eq!(o.map.keys().collect::<Vec<_>>(), ["Key"]);
    assert!(o.flag);
    // Two spellings of one field: the later wins (Go), no "duplicate field" error.
    let o: Outer = from_slice(br#"{"Text":"a","text":"b"}"#).unwrap();
    assert_eq!(o.text, "b");
}

#[test]
fn errors_say_where_and_what() {
    let e = from_slice::<Outer>(br#"{"Inner":{"Count":"x"}}"#).unwrap_err();
    assert!(e.to_string().starts_with("Inner.Count: "), "{e}");
    assert!(e.to_string().contains("expected i64"), "{e}");
    let e = from_slice::<Outer>(br#"{"List":"x"}"#).unwrap_err();
    assert!(e.to_string().contains("List"), "{e}");
    assert!(from_slice::<Outer>(b"{bad").is_err());
}

#[test]
fn strslice_and_create_request_follow_the_rules() {
    let r: ContainerCreateRequest = from_slice(
        br#"{"image":"busybox","cmd":"echo hi","Entrypoint":null,"Healthcheck":
             {"Test":["CMD","true"],"Interval":null,"Timeout":null,"Retries":null,
              "StartPeriod":null},"hostConfig":{"memory":1024,"Binds":null},
             "NetworkingConfig":{"EndpointsConfig":null}}"#,
    )
    .unwrap();
    assert_eq!(r.config.image, "busybox");
    assert_eq!(r.config.cmd.unwrap().0, vec!["echo hi"]);
    assert_eq!(r.config.entrypoint, None);
    assert_eq!(r.config.healthcheck.unwrap().interval, 0);
    assert_eq!(r.host_config.unwrap().resources.memory, 1024);
}

// ---- Every optional field of every request body, set to null ----------------------------

/// Fields of the struct met at a probed spot: filled by `GoMap::new` when the object it
/// decodes has a `PROBE` key.
pub(super) mod probe {
    use std::cell::RefCell;

    pub const KEY: &str = "__berth_probe__";

    thread_local! {
        static SEEN: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    }

    /// Several structs may decode one object (an embedded `Resources` beside `HostConfig`):
    /// the fields of all of them are kept.
    pub fn record(
        map: &serde_json::Map<String, serde_json::Value>,
        fields: &'static [&'static str],
    ) {
        if !fields.is_empty() && map.contains_key(KEY) {
            SEEN.with(|s| s.borrow_mut().extend_from_slice(fields));
        }
    }

    pub fn take() -> Option<Vec<&'static str>> {
        let seen = SEEN.with(|s| std::mem::take(&mut *s.borrow_mut()));
        (!seen.is_empty()).then_some(seen)
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Elem,
}

fn object(key: &str, value: Value) -> Value {
    Value::Object([(key.to_string(), value)].into_iter().collect())
}

/// `leaf` placed at `path` inside otherwise empty objects/arrays.
fn build(path: &[Step], leaf: Value) -> Value {
    match path.split_first() {
        None => leaf,
        Some((Step::Key(k), rest)) => object(k, build(rest, leaf)),
        Some((Step::Elem, rest)) => json!([build(rest, leaf)]),
    }
}

fn show(path: &[Step]) -> String {
    path.iter()
        .map(|s| match s {
            Step::Key(k) => k.clone(),
            Step::Elem => "[0]".into(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The struct fields reachable at `path`, if a struct is decoded there.
fn struct_at<T: DeserializeOwned>(path: &[Step]) -> Option<Vec<&'static str>> {
    probe::take();
    let doc = build(path, object(probe::KEY, Value::Null));
    from_value::<T>(doc).ok()?;
    probe::take()
}

/// Sets every field reachable from `path` to null, one at a time, and checks the body
/// decodes to the same value as without the field; returns how many fields were checked.
fn null_each_field<T: DeserializeOwned + PartialEq + Debug>(path: &[Step]) -> usize {
    assert!(path.len() < 12, "runaway nesting at {}", show(path));
    let Some(fields) = struct_at::<T>(path) else {
        return 0;
    };
    let absent: T = from_value(build(path, json!({})))
        .unwrap_or_else(|e| panic!("{{}} at {}: {e}", show(path)));
    let mut checked = 0;
    for field in fields {
        let mut nulled = path.to_vec();
        nulled.push(Step::Key(field.to_string()));
        let with_null: T = from_value(build(&nulled, Value::Null))
            .unwrap_or_else(|e| panic!("{} = null refused: {e}", show(&nulled)));
        assert_eq!(
            with_null,
            absent,
            "{} = null is not \"not set\"",
            show(&nulled)
        );
        checked += 1;
        // Go deeper: the field as a struct, a map of structs, or a list of structs.
        for deeper in [vec![], vec![Step::Key("k".into())], vec![Step::Elem]] {
            let mut p = nulled.clone();
            p.extend(deeper);
            if struct_at::<T>(&p).is_some() {
                checked += null_each_field::<T>(&p);
                break;
            }
        }
    }
    checked
}

fn check_body<T: DeserializeOwned + PartialEq + Debug>(min_fields: usize) {
    let n = null_each_field::<T>(&[]);
    eprintln!("{}: {n} fields", std::any::type_name::<T>());
    assert!(
        n >= min_fields,
        "{}: only {n} fields found",
        std::any::type_name::<T>()
    );
}

#[test]
fn every_field_of_every_request_body_accepts_null() {
    check_body::<ContainerCreateRequest>(150);
    check_body::<UpdateConfig>(30);
    check_body::<ExecConfig>(10);
    check_body::<ExecStartConfig>(2);
    check_body::<ContainerConfig>(20);
    check_body::<VolumeCreateOptions>(4);
    check_body::<NetworkCreateRequest>(10);
    check_body::<NetworkConnectRequest>(5);
    check_body::<NetworkDisconnectRequest>(2);
    check_body::<AuthConfig>(5);
}
