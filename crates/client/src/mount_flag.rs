//! `--mount type=…,source=…,target=…,…`: docker's CSV syntax, parsed straight into the
//! API's `HostConfig.Mounts` entry, with Docker's messages. The daemon checks the rest
//! (volume names, that a bind source exists) when it reads the entry.

use std::collections::BTreeMap;

use berth_api_types::{
    check_mount_target, invalid_mount_config as invalid, BindOptions, DriverConfig, Mount,
    TmpfsOptions, VolumeOptions,
};

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

fn parse_bool(kind: &str, key: &str, v: Option<&str>) -> Result<bool, String> {
    match v {
        None | Some("1") | Some("true") => Ok(true),
        Some("0") | Some("false") => Ok(false),
        Some(other) => Err(invalid(kind, format!("invalid value for {key}: {other}"))),
    }
}

/// The `bind-*`, `volume-*` and `tmpfs-*` fields, before they are checked against the type.
#[derive(Default)]
struct Options {
    propagation: Option<String>,
    no_copy: bool,
    driver: Option<String>,
    labels: BTreeMap<String, String>,
    driver_options: BTreeMap<String, String>,
    tmpfs_size: Option<i64>,
    tmpfs_mode: Option<u32>,
}

/// Parses one `--mount` value (the syntax only; the daemon checks the rest).
pub fn parse(spec: &str) -> Result<Mount, String> {
    let mut kind = "volume";
    let mut fields: Vec<(String, Option<String>)> = Vec::new();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.to_string())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        if k == "type" {
            kind = match v.as_deref() {
                Some("bind") => "bind",
                Some("volume") => "volume",
                Some("tmpfs") => "tmpfs",
                other => return Err(format!("invalid mount type: {:?}", other.unwrap_or(""))),
            };
        } else {
            fields.push((k, v));
        }
    }
    let mut m = Mount {
        kind: kind.to_string(),
        ..Default::default()
    };
    let mut o = Options::default();
    for (k, v) in fields {
        let need = |v: Option<String>| {
            v.ok_or_else(|| format!("invalid field '{k}' must be a key=value pair"))
        };
        let bad_value = |v: &str| format!("invalid value for {k}: {v}");
        match k.as_str() {
            "source" | "src" => m.source = need(v)?,
            "target" | "destination" | "dst" => m.target = need(v)?,
            "readonly" | "ro" => m.read_only = parse_bool(kind, &k, v.as_deref())?,
            "bind-propagation" => {
                let v = need(v)?;
                if !PROPAGATIONS.contains(&v.as_str()) {
                    return Err(bad_value(&v));
                }
                o.propagation = Some(v);
            }
            "bind-nonrecursive" | "consistency" | "bind-recursive" => {}
            "volume-nocopy" => o.no_copy = parse_bool(kind, &k, v.as_deref())?,
            "volume-driver" => o.driver = Some(need(v)?),
            "volume-label" | "volume-opt" => {
                let v = need(v)?;
                let (lk, lv) = v.split_once('=').unwrap_or((v.as_str(), ""));
                let map = if k == "volume-label" {
                    &mut o.labels
                } else {
                    &mut o.driver_options
                };
                map.insert(lk.to_string(), lv.to_string());
            }
            "tmpfs-size" => {
                let v = need(v)?;
                let size = berth_units::ram_in_bytes(&v)
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| bad_value(&v))?;
                o.tmpfs_size = Some(size);
            }
            "tmpfs-mode" => {
                let v = need(v)?;
                o.tmpfs_mode = Some(u32::from_str_radix(&v, 8).map_err(|_| bad_value(&v))?);
            }
            _ => {
                let shown = match &v {
                    Some(v) => format!("{k}={v}"),
                    None => k.clone(),
                };
                return Err(format!("unexpected key '{k}' in '{shown}'"));
            }
        }
    }
    check_mount_target(kind, &m.target)?;
    fill_options(&mut m, o)?;
    Ok(m)
}

/// Checks the type's options against the type and puts them in the entry.
fn fill_options(m: &mut Mount, o: Options) -> Result<(), String> {
    let kind = m.kind.clone();
    let bind_only = o.propagation.is_some();
    let volume_only =
        o.no_copy || !o.labels.is_empty() || !o.driver_options.is_empty() || o.driver.is_some();
    let tmpfs_only = o.tmpfs_size.is_some() || o.tmpfs_mode.is_some();
    match kind.as_str() {
        "bind" => {
            if m.source.is_empty() {
                return Err(invalid(&kind, "field Source must not be empty"));
            }
            if volume_only || tmpfs_only {
                return Err(invalid(
                    &kind,
                    "field VolumeOptions/TmpfsOptions must not be specified",
                ));
            }
            if !m.source.starts_with('/') {
                return Err(invalid(
                    &kind,
                    format!(
                        "invalid mount path: '{}' mount path must be absolute",
                        m.source
                    ),
                ));
            }
            m.bind_options = o.propagation.map(|propagation| BindOptions {
                propagation,
                ..Default::default()
            });
        }
        "volume" => {
            if bind_only || tmpfs_only {
                return Err(invalid(
                    &kind,
                    "field BindOptions/TmpfsOptions must not be specified",
                ));
            }
            let driver =
                (o.driver.is_some() || !o.driver_options.is_empty()).then(|| DriverConfig {
                    name: o.driver.unwrap_or_default(),
                    options: o.driver_options,
                });
            if o.no_copy || !o.labels.is_empty() || driver.is_some() {
                m.volume_options = Some(VolumeOptions {
                    no_copy: o.no_copy,
                    labels: (!o.labels.is_empty()).then_some(o.labels),
                    driver_config: driver,
                    ..Default::default()
                });
            }
        }
        _ => {
            if !m.source.is_empty() {
                return Err(invalid(&kind, "field Source must not be specified"));
            }
            if bind_only || volume_only {
                return Err(invalid(
                    &kind,
                    "field BindOptions/VolumeOptions must not be specified",
                ));
            }
            if tmpfs_only {
                m.tmpfs_options = Some(TmpfsOptions {
                    size_bytes: o.tmpfs_size.unwrap_or(0),
                    mode: o.tmpfs_mode.unwrap_or(0),
                    ..Default::default()
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_flag_forms_and_errors() {
        let m = parse("type=volume,source=v1,target=/data,readonly,volume-label=a=b,volume-opt=type=tmpfs,volume-nocopy").unwrap();
        assert_eq!((m.source.as_str(), m.read_only), ("v1", true));
        let v = m.volume_options.unwrap();
        assert!(v.no_copy);
        assert_eq!(v.labels.unwrap().get("a").map(String::as_str), Some("b"));
        assert_eq!(
            v.driver_config
                .unwrap()
                .options
                .get("type")
                .map(String::as_str),
            Some("tmpfs")
        );
        let m = parse("type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        let t = m.tmpfs_options.unwrap();
        assert_eq!((t.size_bytes, t.mode), (64 << 20, 0o1770));
        let m = parse("type=bind,src=/tmp,dst=/x,bind-propagation=rslave,ro=false").unwrap();
        assert_eq!((m.kind.as_str(), m.read_only), ("bind", false));
        let b = m.bind_options.unwrap();
        assert_eq!(b.propagation, "rslave");
        assert!(!b.create_mountpoint, "--mount never creates a bind source");
        let m = parse("target=/anon").unwrap();
        assert_eq!((m.kind.as_str(), m.source.as_str()), ("volume", ""));
        let e = |s: &str| parse(s).unwrap_err();
        assert_eq!(
            e("type=bind,target=/x"),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        assert_eq!(
            e("type=volume,source=v"),
            "invalid mount config for type \"volume\": field Target must not be empty"
        );
        assert_eq!(
            e("type=tmpfs,source=x,target=/t"),
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        assert_eq!(
            e("type=volume,target=/x,foo=bar"),
            "unexpected key 'foo' in 'foo=bar'"
        );
        assert!(e("type=nfs,target=/x").starts_with("invalid mount type"));
        assert!(e("type=tmpfs,target=/t,tmpfs-size=lots").contains("tmpfs-size"));
        assert!(e("type=bind,src=/a,target=/t,bind-propagation=sideways").contains("sideways"));
        assert!(e("type=volume,target=/t,bind-propagation=shared").contains("BindOptions"));
        assert!(e("type=bind,source=/tmp,target=/t,volume-nocopy").contains("VolumeOptions"));
        assert!(e("type=volume,target=rel").contains("mount path must be absolute"));
    }
}
