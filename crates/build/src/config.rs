//! What the metadata instructions do to the image config (Docker's classic builder rules).

use std::collections::BTreeMap;

use berth_image::config::Empty;
use berth_image::{ContainerConfig, Healthcheck as ImageHealthcheck};

use crate::error::{BuildError, Result};

/// `EXPOSE` ports as config keys: `80` → `80/tcp`, `8000-8001/udp` → each port.
pub fn expose_keys(port: &str) -> Result<Vec<String>> {
    let (ports, proto) = match port.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (port, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(BuildError::Invalid(format!("invalid proto: {proto}")));
    }
    let bad = || BuildError::Invalid(format!("invalid containerPort: {ports}"));
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = ports.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if hi < lo {
        return Err(bad());
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

pub fn add_exposed(cc: &mut ContainerConfig, keys: Vec<String>) {
    let map = cc.exposed_ports.get_or_insert_with(BTreeMap::new);
    for k in keys {
        map.insert(k, Empty {});
    }
}

pub fn add_volumes(cc: &mut ContainerConfig, paths: &[String]) {
    let map = cc.volumes.get_or_insert_with(BTreeMap::new);
    for p in paths {
        map.insert(p.clone(), Empty {});
    }
}

pub fn add_labels(cc: &mut ContainerConfig, labels: &[(String, String)]) {
    let map = cc.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in labels {
        map.insert(k.clone(), v.clone());
    }
}

/// Docker's WORKDIR: relative paths join the current working directory.
pub fn workdir(current: Option<&str>, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!(
            "{}/{path}",
            current.filter(|c| !c.is_empty()).unwrap_or("/")
        )
    };
    crate::glob::clean(&joined)
}

pub fn healthcheck(h: &berth_dockerfile::Healthcheck) -> ImageHealthcheck {
    let opt = |v: i64| (v != 0).then_some(v);
    ImageHealthcheck {
        test: Some(h.test.clone()),
        interval: opt(h.interval),
        timeout: opt(h.timeout),
        start_period: opt(h.start_period),
        start_interval: opt(h.start_interval),
        retries: opt(h.retries),
    }
}

/// A command line as the config stores it: exec form as is, shell form through SHELL.
pub fn command(line: &berth_dockerfile::CommandLine, shell: &[String]) -> Vec<String> {
    match line {
        berth_dockerfile::CommandLine::Exec(args) => args.clone(),
        berth_dockerfile::CommandLine::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            v
        }
    }
}

pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_and_workdirs() {
        assert_eq!(expose_keys("80").unwrap(), ["80/tcp"]);
        assert_eq!(expose_keys("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            expose_keys("8000-8002").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(expose_keys("http").is_err());
        assert_eq!(workdir(None, "a"), "/a");
        assert_eq!(workdir(Some("/a"), "b/../c"), "/a/c");
        assert_eq!(workdir(Some("/a"), "/x/"), "/x");
    }
}
