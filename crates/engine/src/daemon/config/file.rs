//! `/etc/berth/daemon.json` (dockerd's keys): parsed, unknown keys refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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
    pub log_opts: Option<BTreeMap<String, String>>,
    /// default-runtime.
    pub default_runtime: Option<String>,
    /// runtimes.
    pub runtimes: BTreeMap<String, serde_json::Value>,
    /// live-restore.
    pub live_restore: Option<bool>,
    /// exec-opts.
    pub exec_opts: Option<Vec<String>>,
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
    /// ipv6.
    pub ipv6: Option<bool>,
    /// fixed-cidr-v6.
    pub fixed_cidr_v6: Option<String>,
    /// icc.
    pub icc: Option<bool>,
    /// tls.
    pub tls: Option<bool>,
    /// tlsverify.
    pub tlsverify: Option<bool>,
    /// tlscacert.
    pub tlscacert: Option<PathBuf>,
    /// tlscert.
    pub tlscert: Option<PathBuf>,
    /// tlskey.
    pub tlskey: Option<PathBuf>,
    /// no-new-privileges.
    pub no_new_privileges: Option<bool>,
    /// seccomp-profile.
    pub seccomp_profile: Option<String>,
    /// userns-remap.
    pub userns_remap: Option<String>,
    /// Keys that match none of the above (refused, as dockerd does).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

/// Reads daemon.json (a missing file is an empty config). Keys berth does not know are
/// refused with dockerd's message, so a typo or a setting berth would not honour never
/// goes unnoticed.
pub fn read_file(path: &Path) -> Result<FileConfig, String> {
    let file: FileConfig = match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if !file.unknown.is_empty() {
        let keys: Vec<&str> = file.unknown.keys().map(String::as_str).collect();
        return Err(format!(
            "unable to configure the daemon with file {}: the following directives don't match any configuration option: {}",
            path.display(),
            keys.join(", ")
        ));
    }
    Ok(file)
}
