//! `berth daemon` flags and `/etc/berth/daemon.json` (Docker's key names).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;

/// dockerd-compatible flags.
#[derive(Debug, Clone, Parser, Default)]
#[command(
    name = "berth daemon",
    about = "berth's container engine (Docker Engine API)"
)]
pub struct Flags {
    /// Daemon socket(s) to listen on (unix:///path).
    #[arg(short = 'H', long = "host")]
    pub hosts: Vec<String>,
    /// Root of persistent state.
    #[arg(long = "data-root")]
    pub data_root: Option<PathBuf>,
    /// Root of runtime state.
    #[arg(long = "exec-root")]
    pub exec_root: Option<PathBuf>,
    /// daemon.json location.
    #[arg(long = "config-file", default_value = "/etc/berth/daemon.json")]
    pub config_file: PathBuf,
    /// Debug logging.
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Pid file.
    #[arg(short = 'p', long = "pidfile")]
    pub pidfile: Option<PathBuf>,
    /// Registry mirrors.
    #[arg(long = "registry-mirror")]
    pub registry_mirrors: Vec<String>,
    /// Insecure registries.
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Attach containers to a network bridge (default berth0; "none" disables it).
    #[arg(short = 'b', long = "bridge")]
    pub bridge: Option<String>,
    /// Network bridge IP (gateway/prefix, e.g. 172.17.0.1/16).
    #[arg(long = "bip")]
    pub bip: Option<String>,
    /// MTU of container networks.
    #[arg(long = "mtu")]
    pub mtu: Option<u32>,
    /// Default address pool for networks ("base=10.10.0.0/16,size=24").
    #[arg(long = "default-address-pool")]
    pub default_address_pools: Vec<String>,
    /// The nftables table berth owns (default "berth").
    #[arg(long = "nft-table")]
    pub nft_table: Option<String>,
}

/// daemon.json.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct FileConfig {
    /// data-root.
    pub data_root: Option<PathBuf>,
    /// exec-root.
    pub exec_root: Option<PathBuf>,
    /// hosts.
    pub hosts: Vec<String>,
    /// registry-mirrors.
    pub registry_mirrors: Vec<String>,
    /// insecure-registries.
    pub insecure_registries: Vec<String>,
    /// log-driver.
    pub log_driver: Option<String>,
    /// log-opts.
    pub log_opts: BTreeMap<String, String>,
    /// default-runtime.
    pub default_runtime: Option<String>,
    /// runtimes.
    pub runtimes: BTreeMap<String, serde_json::Value>,
    /// live-restore.
    pub live_restore: Option<bool>,
    /// debug.
    pub debug: Option<bool>,
    /// pidfile.
    pub pidfile: Option<PathBuf>,
    /// bridge.
    pub bridge: Option<String>,
    /// bip.
    pub bip: Option<String>,
    /// mtu.
    pub mtu: Option<u32>,
    /// default-address-pools.
    pub default_address_pools: Vec<crate::networks::config::PoolEntry>,
    /// nft-table (berth's own key).
    pub nft_table: Option<String>,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Unix socket paths.
    pub sockets: Vec<PathBuf>,
    /// Data root.
    pub data_root: PathBuf,
    /// Exec root.
    pub exec_root: PathBuf,
    /// Pid file.
    pub pidfile: Option<PathBuf>,
    /// Debug.
    pub debug: bool,
    /// Mirrors.
    pub registry_mirrors: Vec<String>,
    /// Insecure registries.
    pub insecure_registries: Vec<String>,
    /// Log driver.
    pub log_driver: String,
    /// Log options.
    pub log_opts: BTreeMap<String, String>,
    /// daemon.json path.
    pub config_file: PathBuf,
    /// Network settings.
    pub network: crate::networks::NetConfig,
}

/// Reads daemon.json (a missing file is an empty config).
pub fn read_file(path: &Path) -> Result<FileConfig, String> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Flags override the file; defaults are dockerd's with berth paths.
pub fn resolve(flags: &Flags) -> Result<DaemonConfig, String> {
    let file = read_file(&flags.config_file)?;
    let hosts = if !flags.hosts.is_empty() {
        flags.hosts.clone()
    } else {
        file.hosts.clone()
    };
    let mut sockets = Vec::new();
    for h in &hosts {
        if let Some(p) = h.strip_prefix("unix://") {
            sockets.push(PathBuf::from(p));
        } else if h.starts_with('/') {
            sockets.push(PathBuf::from(h));
        } else {
            return Err(format!("unsupported host {h:?}: only unix:// sockets (TCP needs --tlsverify, not built yet)"));
        }
    }
    if sockets.is_empty() {
        sockets.push(PathBuf::from("/run/berth/berth.sock"));
    }
    let mut mirrors = file.registry_mirrors.clone();
    mirrors.extend(flags.registry_mirrors.iter().cloned());
    let mut insecure = file.insecure_registries.clone();
    insecure.extend(flags.insecure_registries.iter().cloned());
    let network = network_config(flags, &file)?;
    Ok(DaemonConfig {
        network,
        sockets,
        data_root: flags
            .data_root
            .clone()
            .or(file.data_root)
            .unwrap_or_else(|| "/var/lib/berth".into()),
        exec_root: flags
            .exec_root
            .clone()
            .or(file.exec_root)
            .unwrap_or_else(|| "/run/berth".into()),
        pidfile: flags.pidfile.clone().or(file.pidfile),
        debug: flags.debug || file.debug.unwrap_or(false),
        registry_mirrors: mirrors,
        insecure_registries: insecure,
        log_driver: file.log_driver.unwrap_or_else(|| "json-file".into()),
        log_opts: file.log_opts,
        config_file: flags.config_file.clone(),
    })
}

fn network_config(flags: &Flags, file: &FileConfig) -> Result<crate::networks::NetConfig, String> {
    let pools = if flags.default_address_pools.is_empty() {
        file.default_address_pools.clone()
    } else {
        let mut v = Vec::new();
        for p in &flags.default_address_pools {
            let (mut base, mut size) = (None, None);
            for kv in p.split(',') {
                match kv.split_once('=') {
                    Some(("base", b)) => base = Some(b.to_string()),
                    Some(("size", s)) => size = s.parse().ok(),
                    _ => return Err(format!("invalid default-address-pool {p:?}")),
                }
            }
            match (base, size) {
                (Some(base), Some(size)) => {
                    v.push(crate::networks::config::PoolEntry { base, size })
                }
                _ => return Err(format!("invalid default-address-pool {p:?}")),
            }
        }
        v
    };
    crate::networks::config::build(
        flags.bridge.clone().or(file.bridge.clone()),
        flags.bip.clone().or(file.bip.clone()),
        flags.mtu.or(file.mtu),
        &pools,
        flags.nft_table.clone().or(file.nft_table.clone()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file() {
        let f = Flags::try_parse_from([
            "berth daemon",
            "-H",
            "unix:///tmp/x.sock",
            "--data-root",
            "/d",
            "--config-file",
            "/nonexistent/daemon.json",
        ])
        .unwrap();
        let c = resolve(&f).unwrap();
        assert_eq!(c.sockets, vec![PathBuf::from("/tmp/x.sock")]);
        assert_eq!(c.data_root, PathBuf::from("/d"));
        assert_eq!(c.exec_root, PathBuf::from("/run/berth"));
        let f = Flags::try_parse_from([
            "berth daemon",
            "-H",
            "tcp://0.0.0.0:2375",
            "--config-file",
            "/nonexistent",
        ])
        .unwrap();
        assert!(resolve(&f).is_err());
    }
}
