//! `RUN --mount=type=cache|bind|tmpfs|secret|ssh,...` and `RUN --network=`.

use serde::Serialize;

/// The kinds of `RUN --mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// `type=bind`: a path of the context or of another stage.
    Bind,
    /// `type=cache`: a directory kept between builds.
    Cache,
    /// `type=tmpfs`.
    Tmpfs,
    /// `type=secret`: a secret the build was given.
    Secret,
    /// `type=ssh`: an SSH agent socket the build was given.
    Ssh,
}

impl MountType {
    /// The `type=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bind => "bind",
            Self::Cache => "cache",
            Self::Tmpfs => "tmpfs",
            Self::Secret => "secret",
            Self::Ssh => "ssh",
        }
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    /// `sharing=shared` (the default): concurrent builds use it at once.
    Shared,
    /// `sharing=private`: a concurrent build gets a new empty cache.
    Private,
    /// `sharing=locked`: a concurrent build waits.
    Locked,
}

/// One `--mount` of a RUN, values substituted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// `type=`.
    pub kind: MountType,
    /// `target=` (also `dst=`, `destination=`).
    pub target: Option<String>,
    /// `source=` (also `src=`).
    pub source: Option<String>,
    /// Stage or image the bind/cache source comes from.
    pub from: Option<String>,
    /// `readonly`/`ro` (`rw` clears it).
    pub read_only: bool,
    /// Cache id, or the secret/ssh id.
    pub id: Option<String>,
    /// `sharing=` of a cache mount.
    pub sharing: Option<Sharing>,
    /// `mode=` (octal).
    pub mode: Option<u32>,
    /// `uid=`.
    pub uid: Option<u32>,
    /// `gid=`.
    pub gid: Option<u32>,
    /// Secret/ssh: fail when the build did not provide it.
    pub required: bool,
    /// tmpfs size in bytes.
    pub size: Option<u64>,
    /// Secret exposed as an environment variable instead of a file.
    pub env: Option<String>,
}

/// `RUN --network=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// The builder's default (a network of its own).
    Default,
    /// No network.
    None,
    /// The host's network (needs the `network.host` entitlement).
    Host,
}

impl NetworkMode {
    /// Parses `default`, `none` or `host`.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "default" => Ok(Self::Default),
            "none" => Ok(Self::None),
            "host" => Ok(Self::Host),
            other => Err(format!("unsupported network mode {other:?}")),
        }
    }
}

/// Splits one CSV record (Go's `encoding/csv`: `"` quotes a field, `""` is a quote).
fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if at_start => quoted = true,
            ',' if !quoted => {
                fields.push(std::mem::take(&mut cur));
                at_start = true;
                continue;
            }
            c => cur.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err("failed to parse csv mounts: extraneous or missing \" in quoted-field".into());
    }
    fields.push(cur);
    Ok(fields)
}

fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid value for {key}: {v}")),
    }
}

/// Parses one `--mount` value; `expand` substitutes variables in each value.
pub fn parse_mount(
    spec: &str,
    expand: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<Mount, String> {
    let mut m = Mount {
        kind: MountType::Bind,
        target: None,
        source: None,
        from: None,
        read_only: false,
        id: None,
        sharing: None,
        mode: None,
        uid: None,
        gid: None,
        required: false,
        size: None,
        env: None,
    };
    let mut ro_auto = true;
    for field in csv_fields(spec)? {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        let Some(value) = value else {
            match key.as_str() {
                "readonly" | "ro" => {
                    m.read_only = true;
                    ro_auto = false;
                }
                "readwrite" | "rw" => {
                    m.read_only = false;
                    ro_auto = false;
                }
                "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => {
                    m.required = true
                }
                "required" => {
                    return Err(format!(
                        "unexpected key '{key}' for mount type '{}'",
                        m.kind.as_str()
                    ))
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        if key == "from" && value.contains('$') {
            return Err(format!(
                "'{key}' doesn't support variable expansion, define alias stage instead"
            ));
        }
        let value = expand(value)?;
        let num = |what: &str, radix: u32| {
            u32::from_str_radix(&value, radix)
                .map_err(|_| format!("invalid value {value} for {what}"))
        };
        match key.as_str() {
            "type" => {
                m.kind = match value.to_ascii_lowercase().as_str() {
                    "bind" => MountType::Bind,
                    "cache" => MountType::Cache,
                    "tmpfs" => MountType::Tmpfs,
                    "secret" => MountType::Secret,
                    "ssh" => MountType::Ssh,
                    _ => return Err(format!("unsupported mount type {value:?}")),
                }
            }
            "from" => m.from = Some(value),
            "source" | "src" => m.source = Some(value),
            "target" | "dst" | "destination" => m.target = Some(value),
            "readonly" | "ro" => {
                m.read_only = parse_bool(&key, &value)?;
                ro_auto = false;
            }
            "readwrite" | "rw" => {
                m.read_only = !parse_bool(&key, &value)?;
                ro_auto = false;
            }
            "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => {
                m.required = parse_bool(&key, &value)?
            }
            "size" if m.kind == MountType::Tmpfs => {
                m.size = Some(
                    berth_units::ram_in_bytes(value.trim())
                        .ok()
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or_else(|| format!("invalid value for {key}: {value}"))?,
                )
            }
            "required" | "size" => {
                return Err(format!(
                    "unexpected key '{key}' for mount type '{}'",
                    m.kind.as_str()
                ))
            }
            "id" => m.id = Some(value),
            "env" => m.env = Some(value),
            "sharing" => {
                m.sharing = Some(match value.to_ascii_lowercase().as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    _ => return Err(format!("unsupported sharing value {value:?}")),
                })
            }
            "mode" => m.mode = Some(num("mode", 8)?),
            "uid" => m.uid = Some(num("uid", 10)?),
            "gid" => m.gid = Some(num("gid", 10)?),
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    validate(&mut m, ro_auto)?;
    Ok(m)
}

fn validate(m: &mut Mount, ro_auto: bool) -> Result<(), String> {
    let file_info = matches!(
        m.kind,
        MountType::Secret | MountType::Ssh | MountType::Cache
    );
    if !file_info {
        let kind = m.kind.as_str();
        if m.mode.is_some() {
            return Err(format!("mode not allowed for {kind:?} type mounts"));
        }
        if m.uid.is_some() {
            return Err(format!("uid not allowed for {kind:?} type mounts"));
        }
        if m.gid.is_some() {
            return Err(format!("gid not allowed for {kind:?} type mounts"));
        }
    }
    if ro_auto {
        m.read_only = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
    }
    if m.kind == MountType::Secret {
        if m.from.is_some() {
            return Err("secret mount should not have a from".into());
        }
        if m.sharing.is_some() {
            return Err("secret mount should not define sharing".into());
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() && m.env.is_none() {
            return Err("invalid secret mount. one of source, target required".into());
        }
        if m.source.is_some() && m.id.is_some() {
            return Err("both source and id can't be set".into());
        }
    }
    if m.sharing.is_some() && m.kind != MountType::Cache {
        return Err(format!(
            "invalid cache sharing set for {} mount",
            m.kind.as_str()
        ));
    }
    if matches!(
        m.kind,
        MountType::Bind | MountType::Cache | MountType::Tmpfs
    ) && m.target.is_none()
    {
        return Err(format!("mount type {} requires a target", m.kind.as_str()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<Mount, String> {
        parse_mount(spec, &mut |v| Ok(v.to_string()))
    }

    #[test]
    fn mounts() {
        let m =
            parse("type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1").unwrap();
        assert_eq!(m.kind, MountType::Cache);
        assert_eq!(m.target.as_deref(), Some("/root/.cache"));
        assert_eq!(
            (m.mode, m.uid, m.sharing),
            (Some(0o755), Some(1), Some(Sharing::Locked))
        );
        assert!(!m.read_only);
        let b = parse("target=/src,from=build,source=/out").unwrap();
        assert_eq!(b.kind, MountType::Bind);
        assert!(b.read_only);
        assert!(!parse("type=bind,target=/x,rw").unwrap().read_only);
        let s = parse("type=secret,id=tok,required").unwrap();
        assert!(s.required && s.read_only);
        assert_eq!(
            parse("type=tmpfs,target=/t,size=64m").unwrap().size,
            Some(64 << 20)
        );
        assert_eq!(
            parse("type=cache,\"target=/a,b\"")
                .unwrap()
                .target
                .as_deref(),
            Some("/a,b")
        );
    }

    #[test]
    fn mount_errors() {
        let e = |s: &str| parse(s).err().unwrap();
        assert_eq!(e("type=nfs,target=/x"), "unsupported mount type \"nfs\"");
        assert_eq!(
            e("type=bind,target=/x,mode=0700"),
            "mode not allowed for \"bind\" type mounts"
        );
        assert_eq!(
            e("type=cache,target=/x,bogus=1"),
            "unexpected key 'bogus' in 'bogus=1'"
        );
        assert_eq!(
            e("type=cache,target=/x,nokey"),
            "invalid field 'nokey' must be a key=value pair"
        );
        assert_eq!(
            e("type=secret"),
            "invalid secret mount. one of source, target required"
        );
        assert_eq!(
            e("type=bind,target=/x,sharing=locked"),
            "invalid cache sharing set for bind mount"
        );
        assert_eq!(
            e("type=bind,target=/x,from=$X"),
            "'from' doesn't support variable expansion, define alias stage instead"
        );
        assert_eq!(e("type=cache"), "mount type cache requires a target");
        assert_eq!(
            e("type=cache,target=/x,required"),
            "unexpected key 'required' for mount type 'cache'"
        );
    }
}
