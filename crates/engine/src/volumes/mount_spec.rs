//! The API's mounts as the volume library's typed [`MountSpec`]: a `HostConfig.Binds` entry
//! ([`parse_bind`], the `-v` syntax as the daemon receives it) or a `HostConfig.Mounts`
//! entry ([`from_api`]), checked with Docker's daemon's messages. Wire types stop here:
//! `berth-volume` knows only `MountSpec`.

use berth_api_types::{check_mount_target, invalid_mount_config, Mount};
use berth_volume::{validate_name, MountSpec, MountType, Propagation};

use crate::error::{EngineError, Result};

fn invalid(kind: MountType, why: impl std::fmt::Display) -> EngineError {
    EngineError::invalid(invalid_mount_config(kind.as_str(), why))
}

fn check_target(kind: MountType, target: &str) -> Result<()> {
    check_mount_target(kind.as_str(), target).map_err(EngineError::invalid)
}

/// Parses a `HostConfig.Binds` entry, `[SOURCE:]TARGET[:OPTIONS]` (what `-v` sends).
pub fn parse_bind(spec: &str) -> Result<MountSpec> {
    let bad = |why: &str| EngineError::invalid(format!("invalid spec: {spec}: {why}"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, opts) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] if t.starts_with('/') => (Some(*s), *t, None),
        [t, o] if t.starts_with('/') => (None, *t, Some(*o)),
        [s, t] => (Some(*s), *t, None),
        [s, t, o] => (Some(*s), *t, Some(*o)),
        [] => return Err(bad("empty")),
        _ => return Err(bad("too many colons")),
    };
    if spec.is_empty() || target.is_empty() {
        return Err(EngineError::invalid(format!(
            "invalid volume specification: '{spec}'"
        )));
    }
    let kind = match source {
        Some(s) if s.starts_with('/') => MountType::Bind,
        _ => MountType::Volume,
    };
    check_target(kind, target)?;
    let mut m = MountSpec {
        kind: Some(kind),
        source: source.map(String::from),
        target: target.to_string(),
        create_host_path: kind == MountType::Bind,
        ..Default::default()
    };
    if let Some(src) = source {
        if kind == MountType::Volume {
            validate_name(src).map_err(EngineError::from)?;
        }
    }
    if let Some(opts) = opts {
        let mut mode_seen = false;
        for o in opts.split(',') {
            match o {
                "ro" | "rw" if !mode_seen => {
                    mode_seen = true;
                    m.read_only = o == "ro";
                }
                "z" | "Z" => m.relabel = Some(o.to_string()),
                "nocopy" if kind == MountType::Volume => m.no_copy = true,
                p if kind == MountType::Bind
                    && Propagation::parse(p).is_some()
                    && m.propagation.is_none() =>
                {
                    m.propagation = Propagation::parse(p);
                }
                _ => return Err(EngineError::invalid(format!("invalid mode: {opts}"))),
            }
        }
    }
    Ok(m)
}

/// The daemon's check of a `--mount type=bind` source: it must exist (unless the request
/// asked to create it).
pub fn check_bind_source(m: &MountSpec) -> Result<()> {
    if m.mount_type() != MountType::Bind || m.create_host_path {
        return Ok(());
    }
    let src = m.source.as_deref().unwrap_or("");
    match std::fs::metadata(src) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(invalid(
            MountType::Bind,
            format!("bind source path does not exist: {src}"),
        )),
        Err(e) => Err(invalid(MountType::Bind, e)),
    }
}

/// A `HostConfig.Mounts` entry checked the way Docker's daemon checks it (messages
/// included), bind source existence too.
pub fn from_api(m: &Mount) -> Result<MountSpec> {
    let kind = match m.kind.as_str() {
        "bind" => MountType::Bind,
        "volume" => MountType::Volume,
        "tmpfs" => MountType::Tmpfs,
        other => {
            return Err(EngineError::invalid(format!(
                "invalid mount config for type \"{other}\": mount type unknown"
            )))
        }
    };
    check_target(kind, &m.target)?;
    let extra = |f: &str| invalid(kind, format!("field {f} must not be specified"));
    let mut spec = MountSpec {
        kind: Some(kind),
        source: Some(m.source.clone()).filter(|s| !s.is_empty()),
        target: m.target.clone(),
        read_only: m.read_only,
        ..Default::default()
    };
    match kind {
        MountType::Bind => {
            if m.volume_options.is_some() {
                return Err(extra("VolumeOptions"));
            }
            if m.tmpfs_options.is_some() {
                return Err(extra("TmpfsOptions"));
            }
            let Some(src) = &spec.source else {
                return Err(invalid(kind, "field Source must not be empty"));
            };
            if !src.starts_with('/') {
                return Err(invalid(
                    kind,
                    format!("invalid mount path: '{src}' mount path must be absolute"),
                ));
            }
            if let Some(b) = &m.bind_options {
                if !b.propagation.is_empty() {
                    spec.propagation =
                        Some(Propagation::parse(&b.propagation).ok_or_else(|| {
                            invalid(kind, format!("invalid propagation mode: {}", b.propagation))
                        })?);
                }
                spec.create_host_path = b.create_mountpoint;
            }
            check_bind_source(&spec)?;
        }
        MountType::Volume => {
            if m.bind_options.is_some() {
                return Err(extra("BindOptions"));
            }
            if m.tmpfs_options.is_some() {
                return Err(extra("TmpfsOptions"));
            }
            match &spec.source {
                Some(src) => validate_name(src).map_err(EngineError::from)?,
                None if m.read_only => {
                    return Err(invalid(
                        kind,
                        "must not set ReadOnly mode when using anonymous volumes",
                    ))
                }
                None => {}
            }
            if let Some(v) = &m.volume_options {
                spec.no_copy = v.no_copy;
                spec.volume_labels = v.labels.clone().unwrap_or_default();
                if let Some(d) = &v.driver_config {
                    spec.volume_driver = Some(d.name.clone()).filter(|n| !n.is_empty());
                    spec.volume_options = d.options.clone();
                }
            }
        }
        MountType::Tmpfs => {
            if m.bind_options.is_some() {
                return Err(extra("BindOptions"));
            }
            if m.volume_options.is_some() {
                return Err(extra("VolumeOptions"));
            }
            if spec.source.is_some() {
                return Err(extra("Source"));
            }
            if let Some(t) = &m.tmpfs_options {
                let size =
                    u64::try_from(t.size_bytes).map_err(|_| invalid(kind, "invalid tmpfs size"))?;
                spec.tmpfs_size = Some(size).filter(|s| *s > 0);
                spec.tmpfs_mode = Some(t.mode).filter(|m| *m != 0);
            }
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flag_forms() {
        let m = parse_bind("/data").unwrap();
        assert_eq!(
            (m.mount_type(), m.source.as_deref(), m.target.as_str()),
            (MountType::Volume, None, "/data")
        );
        let m = parse_bind("vol1:/data:ro,nocopy").unwrap();
        assert_eq!(
            (m.source.as_deref(), m.read_only, m.no_copy),
            (Some("vol1"), true, true)
        );
        let m = parse_bind("/host/dir:/data:rw,rshared").unwrap();
        assert_eq!(m.mount_type(), MountType::Bind);
        assert_eq!(m.propagation, Some(Propagation::Rshared));
        assert!(m.create_host_path && !m.read_only);
        let m = parse_bind("/data:ro").unwrap();
        assert!(m.read_only && m.source.is_none());
        assert_eq!(
            parse_bind("a:b:c:d").unwrap_err().to_string(),
            "invalid spec: a:b:c:d: too many colons"
        );
        assert_eq!(
            parse_bind("vol:/data:xyz").unwrap_err().to_string(),
            "invalid mode: xyz"
        );
        assert!(parse_bind("vol:/data:ro,rw").is_err());
        assert!(parse_bind("/h:/d:nocopy").is_err(), "nocopy is for volumes");
        assert!(parse_bind("bad/name:/d")
            .unwrap_err()
            .to_string()
            .contains("includes invalid characters"));
        assert_eq!(
            parse_bind("vol:rel").unwrap_err().to_string(),
            "invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute"
        );
    }

    #[test]
    fn api_mounts_are_checked_like_dockerd() {
        use berth_api_types::BindOptions;
        let bind = |source: &str, propagation: &str| Mount {
            kind: "bind".into(),
            source: source.into(),
            target: "/x".into(),
            bind_options: Some(BindOptions {
                propagation: propagation.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            from_api(&bind("/berth-does-not-exist-x", "")).unwrap_err().to_string(),
            "invalid mount config for type \"bind\": bind source path does not exist: /berth-does-not-exist-x"
        );
        let back = from_api(&bind("/tmp", "rslave")).unwrap();
        assert_eq!(back.propagation, Some(Propagation::Rslave));
        assert!(from_api(&bind("/tmp", "sideways")).is_err());
        let volume = |source: &str| Mount {
            kind: "volume".into(),
            source: source.into(),
            target: "/data".into(),
            ..Default::default()
        };
        assert!(from_api(&volume("bad/name"))
            .unwrap_err()
            .to_string()
            .contains("includes invalid characters"));
        assert_eq!(from_api(&volume("")).unwrap().source, None);
    }
}
