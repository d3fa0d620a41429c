//! `-v`/`--volume` and `--mount` syntaxes parsed into one typed [`MountSpec`], with Docker's
//! error messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, VolumeError};
use crate::name::validate_name;

/// Kind of mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// A host path.
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A fresh tmpfs.
    Tmpfs,
}

impl MountType {
    /// `bind`, `volume` or `tmpfs`.
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Volume => "volume",
            MountType::Tmpfs => "tmpfs",
        }
    }
}

/// Bind propagation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    /// private
    Private,
    /// rprivate (Docker's default)
    Rprivate,
    /// shared
    Shared,
    /// rshared
    Rshared,
    /// slave
    Slave,
    /// rslave
    Rslave,
}

impl Propagation {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "private" => Propagation::Private,
            "rprivate" => Propagation::Rprivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::Rshared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::Rslave,
            _ => return None,
        })
    }
}

/// One mount of a container, whichever syntax it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    /// bind, volume or tmpfs (`None` never leaves the parser).
    pub kind: Option<MountType>,
    /// Host path (bind) or volume name; `None` for anonymous volumes and tmpfs.
    pub source: Option<String>,
    /// Absolute path in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Bind propagation.
    pub propagation: Option<Propagation>,
    /// Do not copy image content into an empty volume.
    pub no_copy: bool,
    /// `-v` creates a missing bind source directory; `--mount` refuses it.
    pub create_host_path: bool,
    /// SELinux relabel (`z`/`Z`), recorded only.
    pub relabel: Option<String>,
    /// tmpfs size in bytes.
    pub tmpfs_size: Option<u64>,
    /// tmpfs mode.
    pub tmpfs_mode: Option<u32>,
    /// Labels for a volume created by this mount.
    pub volume_labels: BTreeMap<String, String>,
    /// Driver options for a volume created by this mount.
    pub volume_options: BTreeMap<String, String>,
    /// Volume driver (only `local` is implemented).
    pub volume_driver: Option<String>,
}

impl MountSpec {
    /// The mount type.
    pub fn mount_type(&self) -> MountType {
        self.kind.unwrap_or(MountType::Volume)
    }
}

fn invalid(kind: MountType, why: impl std::fmt::Display) -> VolumeError {
    VolumeError::InvalidArgument(format!(
        "invalid mount config for type \"{}\": {why}",
        kind.as_str()
    ))
}

fn check_target(kind: MountType, target: &str) -> Result<()> {
    if target.is_empty() {
        return Err(invalid(kind, "field Target must not be empty"));
    }
    if !target.starts_with('/') {
        return Err(invalid(
            kind,
            format!("invalid mount path: '{target}' mount path must be absolute"),
        ));
    }
    if target == "/" {
        return Err(invalid(
            kind,
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(())
}

/// Parses `-v [SOURCE:]TARGET[:OPTIONS]`.
pub fn parse_volume_flag(spec: &str) -> Result<MountSpec> {
    let bad = |why: &str| VolumeError::InvalidArgument(format!("invalid spec: {spec}: {why}"));
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
        return Err(VolumeError::InvalidArgument(format!(
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
            validate_name(src)?;
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
                _ => {
                    return Err(VolumeError::InvalidArgument(format!(
                        "invalid mode: {opts}"
                    )))
                }
            }
        }
    }
    Ok(m)
}

fn parse_bool(kind: MountType, key: &str, v: Option<&str>) -> Result<bool> {
    match v {
        None | Some("1") | Some("true") => Ok(true),
        Some("0") | Some("false") => Ok(false),
        Some(other) => Err(invalid(kind, format!("invalid value for {key}: {other}"))),
    }
}

/// Parses `--mount type=…,source=…,target=…,…` (syntax only: that a bind source exists is
/// the daemon's check, [`check_bind_source`]).
pub fn parse_mount_flag(spec: &str) -> Result<MountSpec> {
    let mut kind = MountType::Volume;
    let mut fields: Vec<(String, Option<String>)> = Vec::new();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.to_string())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        if k == "type" {
            kind = match v.as_deref() {
                Some("bind") => MountType::Bind,
                Some("volume") => MountType::Volume,
                Some("tmpfs") => MountType::Tmpfs,
                other => {
                    return Err(VolumeError::InvalidArgument(format!(
                        "invalid mount type: {:?}",
                        other.unwrap_or("")
                    )))
                }
            };
        } else {
            fields.push((k, v));
        }
    }
    let mut m = MountSpec {
        kind: Some(kind),
        ..Default::default()
    };
    for (k, v) in fields {
        let need = |v: Option<String>| {
            v.ok_or_else(|| {
                VolumeError::InvalidArgument(format!(
                    "invalid field '{k}' must be a key=value pair"
                ))
            })
        };
        match k.as_str() {
            "source" | "src" => m.source = Some(need(v)?).filter(|s| !s.is_empty()),
            "target" | "destination" | "dst" => m.target = need(v)?,
            "readonly" | "ro" => m.read_only = parse_bool(kind, &k, v.as_deref())?,
            "bind-propagation" => {
                let v = need(v)?;
                m.propagation = Some(Propagation::parse(&v).ok_or_else(|| {
                    VolumeError::InvalidArgument(format!("invalid value for {k}: {v}"))
                })?);
            }
            "bind-nonrecursive" | "consistency" | "bind-recursive" => {}
            "volume-nocopy" => m.no_copy = parse_bool(kind, &k, v.as_deref())?,
            "volume-driver" => m.volume_driver = Some(need(v)?),
            "volume-label" | "volume-opt" => {
                let v = need(v)?;
                let (lk, lv) = v.split_once('=').unwrap_or((v.as_str(), ""));
                let map = if k == "volume-label" {
                    &mut m.volume_labels
                } else {
                    &mut m.volume_options
                };
                map.insert(lk.to_string(), lv.to_string());
            }
            "tmpfs-size" => {
                let v = need(v)?;
                m.tmpfs_size = Some(
                    berth_units::ram_in_bytes(&v)
                        .ok()
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or_else(|| {
                            VolumeError::InvalidArgument(format!("invalid value for {k}: {v}"))
                        })?,
                );
            }
            "tmpfs-mode" => {
                let v = need(v)?;
                m.tmpfs_mode = Some(u32::from_str_radix(&v, 8).map_err(|_| {
                    VolumeError::InvalidArgument(format!("invalid value for {k}: {v}"))
                })?);
            }
            _ => {
                let shown = match &v {
                    Some(v) => format!("{k}={v}"),
                    None => k.clone(),
                };
                return Err(VolumeError::InvalidArgument(format!(
                    "unexpected key '{k}' in '{shown}'"
                )));
            }
        }
    }
    check_target(kind, &m.target)?;
    let bind_only = m.propagation.is_some();
    let volume_only = m.no_copy
        || !m.volume_labels.is_empty()
        || !m.volume_options.is_empty()
        || m.volume_driver.is_some();
    let tmpfs_only = m.tmpfs_size.is_some() || m.tmpfs_mode.is_some();
    match kind {
        MountType::Bind => {
            let Some(src) = &m.source else {
                return Err(invalid(kind, "field Source must not be empty"));
            };
            if volume_only || tmpfs_only {
                return Err(invalid(
                    kind,
                    "field VolumeOptions/TmpfsOptions must not be specified",
                ));
            }
            if !src.starts_with('/') {
                return Err(invalid(
                    kind,
                    format!("invalid mount path: '{src}' mount path must be absolute"),
                ));
            }
        }
        MountType::Volume => {
            if bind_only || tmpfs_only {
                return Err(invalid(
                    kind,
                    "field BindOptions/TmpfsOptions must not be specified",
                ));
            }
            if let Some(src) = &m.source {
                validate_name(src)?;
            }
        }
        MountType::Tmpfs => {
            if m.source.is_some() {
                return Err(invalid(kind, "field Source must not be specified"));
            }
            if bind_only || volume_only {
                return Err(invalid(
                    kind,
                    "field BindOptions/VolumeOptions must not be specified",
                ));
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

impl MountSpec {
    /// The API form (`HostConfig.Mounts` entry) the docker CLI sends for `--mount`.
    pub fn to_api(&self) -> berth_api_types::Mount {
        use berth_api_types::{BindOptions, DriverConfig, Mount, TmpfsOptions, VolumeOptions};
        let kind = self.mount_type();
        let mut m = Mount {
            target: self.target.clone(),
            source: self.source.clone().unwrap_or_default(),
            kind: kind.as_str().to_string(),
            read_only: self.read_only,
            ..Default::default()
        };
        match kind {
            MountType::Bind => {
                if self.propagation.is_some() || self.create_host_path {
                    m.bind_options = Some(BindOptions {
                        propagation: self
                            .propagation
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default(),
                        create_mountpoint: self.create_host_path,
                        ..Default::default()
                    });
                }
            }
            MountType::Volume => {
                let driver = (self.volume_driver.is_some() || !self.volume_options.is_empty())
                    .then(|| DriverConfig {
                        name: self.volume_driver.clone().unwrap_or_default(),
                        options: self.volume_options.clone(),
                    });
                if self.no_copy || !self.volume_labels.is_empty() || driver.is_some() {
                    m.volume_options = Some(VolumeOptions {
                        no_copy: self.no_copy,
                        labels: (!self.volume_labels.is_empty())
                            .then(|| self.volume_labels.clone()),
                        driver_config: driver,
                        ..Default::default()
                    });
                }
            }
            MountType::Tmpfs => {
                if self.tmpfs_size.is_some() || self.tmpfs_mode.is_some() {
                    m.tmpfs_options = Some(TmpfsOptions {
                        size_bytes: self.tmpfs_size.unwrap_or(0) as i64,
                        mode: self.tmpfs_mode.unwrap_or(0),
                        ..Default::default()
                    });
                }
            }
        }
        m
    }

    /// A `HostConfig.Mounts` entry checked the way Docker's daemon checks it (messages
    /// included), bind source existence too.
    pub fn from_api(m: &berth_api_types::Mount) -> Result<MountSpec> {
        let kind = match m.kind.as_str() {
            "bind" => MountType::Bind,
            "volume" => MountType::Volume,
            "tmpfs" => MountType::Tmpfs,
            other => {
                return Err(VolumeError::InvalidArgument(format!(
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
                                invalid(
                                    kind,
                                    format!("invalid propagation mode: {}", b.propagation),
                                )
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
                    Some(src) => validate_name(src)?,
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
                    if t.size_bytes < 0 {
                        return Err(invalid(kind, "invalid tmpfs size"));
                    }
                    spec.tmpfs_size = Some(t.size_bytes as u64).filter(|s| *s > 0);
                    spec.tmpfs_mode = Some(t.mode).filter(|m| *m != 0);
                }
            }
        }
        Ok(spec)
    }
}

impl Propagation {
    /// Docker's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::Rprivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::Rshared => "rshared",
            Propagation::Slave => "slave",
            Propagation::Rslave => "rslave",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flag_forms() {
        let m = parse_volume_flag("/data").unwrap();
        assert_eq!(
            (m.mount_type(), m.source.as_deref(), m.target.as_str()),
            (MountType::Volume, None, "/data")
        );
        let m = parse_volume_flag("vol1:/data:ro,nocopy").unwrap();
        assert_eq!(
            (m.source.as_deref(), m.read_only, m.no_copy),
            (Some("vol1"), true, true)
        );
        let m = parse_volume_flag("/host/dir:/data:rw,rshared").unwrap();
        assert_eq!(m.mount_type(), MountType::Bind);
        assert_eq!(m.propagation, Some(Propagation::Rshared));
        assert!(m.create_host_path && !m.read_only);
        let m = parse_volume_flag("/data:ro").unwrap();
        assert!(m.read_only && m.source.is_none());
        assert_eq!(
            parse_volume_flag("a:b:c:d").unwrap_err().to_string(),
            "invalid spec: a:b:c:d: too many colons"
        );
        assert_eq!(
            parse_volume_flag("vol:/data:xyz").unwrap_err().to_string(),
            "invalid mode: xyz"
        );
        assert!(parse_volume_flag("vol:/data:ro,rw").is_err());
        assert!(
            parse_volume_flag("/h:/d:nocopy").is_err(),
            "nocopy is for volumes"
        );
        assert!(parse_volume_flag("bad/name:/d")
            .unwrap_err()
            .to_string()
            .contains("includes invalid characters"));
        assert_eq!(
            parse_volume_flag("vol:rel").unwrap_err().to_string(),
            "invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute"
        );
    }

    #[test]
    fn mount_flag_forms_and_errors() {
        let m = parse_mount_flag("type=volume,source=v1,target=/data,readonly,volume-label=a=b,volume-opt=type=tmpfs,volume-nocopy").unwrap();
        assert_eq!(
            (m.source.as_deref(), m.read_only, m.no_copy),
            (Some("v1"), true, true)
        );
        assert_eq!(m.volume_labels.get("a").map(String::as_str), Some("b"));
        assert_eq!(
            m.volume_options.get("type").map(String::as_str),
            Some("tmpfs")
        );
        let m = parse_mount_flag("type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        assert_eq!((m.tmpfs_size, m.tmpfs_mode), (Some(64 << 20), Some(0o1770)));
        let m =
            parse_mount_flag("type=bind,src=/tmp,dst=/x,bind-propagation=rslave,ro=false").unwrap();
        assert_eq!(
            (m.mount_type(), m.read_only, m.propagation),
            (MountType::Bind, false, Some(Propagation::Rslave))
        );
        assert!(!m.create_host_path);
        let m = parse_mount_flag("target=/anon").unwrap();
        assert_eq!((m.mount_type(), m.source), (MountType::Volume, None));
        let e = |s: &str| parse_mount_flag(s).unwrap_err().to_string();
        let missing =
            parse_mount_flag("type=bind,source=/berth-does-not-exist-x,target=/x").unwrap();
        assert_eq!(
            MountSpec::from_api(&missing.to_api()).unwrap_err().to_string(),
            "invalid mount config for type \"bind\": bind source path does not exist: /berth-does-not-exist-x"
        );
        let bind = parse_mount_flag("type=bind,src=/tmp,dst=/x,bind-propagation=rslave").unwrap();
        let back = MountSpec::from_api(&bind.to_api()).unwrap();
        assert_eq!(back.propagation, Some(Propagation::Rslave));
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
        assert!(e("type=volume,target=/t,bind-propagation=shared").contains("BindOptions"));
        assert!(e("type=bind,source=/tmp,target=/t,volume-nocopy").contains("VolumeOptions"));
    }
}
