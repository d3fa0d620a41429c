//! `berth daemon` flags and `/etc/berth/daemon.json` (Docker's key names).

mod file;
mod flags;
mod merge;
#[cfg(test)]
mod tests;

pub use file::{read_file, FileConfig};
pub use flags::Flags;
use merge::*;

use std::path::PathBuf;

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Unix socket paths.
    pub sockets: Vec<PathBuf>,
    /// `fd://` hosts: sockets passed by systemd (socket activation).
    pub fd_hosts: Vec<super::activation::FdHost>,
    /// TCP addresses (`host:port`), served only with mutual TLS.
    pub tcp: Vec<String>,
    /// The certificates of `--tlsverify` (set whenever it is on).
    pub tls: Option<super::tls::TlsFiles>,
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
    /// The default log driver and its options (checked).
    pub log: crate::containers::LogDefaults,
    /// daemon.json path.
    pub config_file: PathBuf,
    /// Network settings.
    pub network: crate::networks::NetConfig,
    /// `no-new-privileges` and `seccomp-profile` for every container.
    pub security_defaults: crate::spec::security::DaemonDefaults,
    /// `userns-remap` as given (read and set up by the daemon at start: [`crate::remap`]).
    pub userns_remap: Option<String>,
    /// The remapping set up from `userns_remap` (the daemon's start fills it in; the data
    /// root is then `<data-root>/<uid>.<gid>`, as dockerd's).
    pub remap: Option<std::sync::Arc<crate::remap::IdMapping>>,
    /// `live-restore`: containers keep running across a stop of the daemon. Off (Docker's
    /// default): a stop stops them, the next start starts them again by restart policy.
    pub live_restore: bool,
    /// The cgroup driver (`exec-opts` `native.cgroupdriver`): `cgroupfs` (berth's own
    /// cgroups) or `systemd` (a transient scope unit per container; where systemd does not
    /// run, containers fail to start as with runc).
    pub cgroup_driver: String,
    /// The command-line flags this was resolved from (SIGHUP resolves them again with the
    /// re-read daemon.json).
    pub flags: Flags,
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
    let mut tcp = Vec::new();
    let mut fd_hosts = Vec::new();
    for h in &hosts {
        if let Some(rest) = h.strip_prefix("fd://") {
            fd_hosts.push(super::activation::FdHost::parse(rest)?);
        } else if let Some(p) = h.strip_prefix("unix://") {
            sockets.push(PathBuf::from(if p.is_empty() { DEFAULT_SOCKET } else { p }));
        } else if h.starts_with('/') {
            sockets.push(PathBuf::from(h));
        } else if let Some(rest) = h.strip_prefix("tcp://") {
            tcp.push(tcp_address(rest).ok_or_else(|| format!("invalid host {h:?}"))?);
        } else {
            return Err(format!(
                "invalid host {h:?}: berth listens on unix:///path, tcp://host:port and fd://"
            ));
        }
    }
    if sockets.is_empty() && tcp.is_empty() && fd_hosts.is_empty() {
        sockets.push(PathBuf::from(DEFAULT_SOCKET));
    }
    let tlsverify = flags.tlsverify.or(file.tlsverify).unwrap_or(false);
    if !tcp.is_empty() && !tlsverify {
        return Err(format!(
            "refusing to listen on tcp://{}: berth serves the API over TCP only with mutual TLS; add --tlsverify with --tlscacert, --tlscert and --tlskey",
            tcp[0]
        ));
    }
    let tls = tlsverify.then(|| {
        let dir = cert_dir();
        super::tls::TlsFiles {
            ca: flags
                .tlscacert
                .clone()
                .or(file.tlscacert.clone())
                .unwrap_or_else(|| dir.join("ca.pem")),
            cert: flags
                .tlscert
                .clone()
                .or(file.tlscert.clone())
                .unwrap_or_else(|| dir.join("cert.pem")),
            key: flags
                .tlskey
                .clone()
                .or(file.tlskey.clone())
                .unwrap_or_else(|| dir.join("key.pem")),
        }
    });
    let mut mirrors = file.registry_mirrors.clone();
    mirrors.extend(flags.registry_mirrors.iter().cloned());
    let mut insecure = file.insecure_registries.clone();
    insecure.extend(flags.insecure_registries.iter().cloned());
    conflicts(flags, &file)?;
    let cgroup_driver = cgroup_driver(if flags.exec_opts.is_empty() {
        file.exec_opts.as_deref().unwrap_or_default()
    } else {
        &flags.exec_opts
    })?;
    let network = network_config(flags, &file)?;
    let security_defaults = security_defaults(flags, &file)?;
    let userns_remap = flags
        .userns_remap
        .clone()
        .or(file.userns_remap.clone())
        .filter(|r| !r.is_empty());
    Ok(DaemonConfig {
        userns_remap,
        remap: None,
        cgroup_driver,
        live_restore: flags.live_restore.or(file.live_restore).unwrap_or(false),
        security_defaults,
        network,
        sockets,
        tcp,
        fd_hosts,
        tls,
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
        log: crate::containers::LogDefaults::new(
            flags
                .log_driver
                .as_deref()
                .or(file.log_driver.as_deref())
                .unwrap_or("json-file"),
            if flags.log_opts.is_empty() {
                file.log_opts.unwrap_or_default()
            } else {
                flag_log_opts(&flags.log_opts)
            },
        )?,
        config_file: flags.config_file.clone(),
        flags: flags.clone(),
    })
}

/// The default API socket.
pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";
