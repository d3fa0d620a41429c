//! `berth daemon`'s flags (dockerd's names).

use std::path::PathBuf;

use clap::Parser;

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
    /// Enable IPv6 on the default bridge.
    #[arg(long = "ipv6", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub ipv6: Option<bool>,
    /// IPv6 subnet of the default bridge (e.g. fd00:1::/64).
    #[arg(long = "fixed-cidr-v6")]
    pub fixed_cidr_v6: Option<String>,
    /// Allow communication between containers on the default bridge (default true).
    #[arg(long = "icc", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub icc: Option<bool>,
    /// Use TLS; implied by --tlsverify (berth needs --tlsverify for any tcp:// host).
    #[arg(long = "tls", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub tls: Option<bool>,
    /// Use TLS and require clients to present a certificate signed by --tlscacert.
    #[arg(long = "tlsverify", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub tlsverify: Option<bool>,
    /// Trust certs signed only by this CA (default $DOCKER_CERT_PATH/ca.pem or ~/.docker/ca.pem).
    #[arg(long = "tlscacert")]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file (default …/cert.pem).
    #[arg(long = "tlscert")]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file (default …/key.pem).
    #[arg(long = "tlskey")]
    pub tlskey: Option<PathBuf>,
    /// Set no-new-privileges by default for new containers.
    #[arg(long = "no-new-privileges", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub no_new_privileges: Option<bool>,
    /// Path to the default seccomp profile ("unconfined", "builtin" or a file).
    #[arg(long = "seccomp-profile")]
    pub seccomp_profile: Option<String>,
    /// User/group setting for user namespaces ("default", user, user:group, uid, uid:gid).
    #[arg(long = "userns-remap")]
    pub userns_remap: Option<String>,
    /// Default driver for container logs (default "json-file").
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Default log driver options for containers (key=value, repeatable).
    #[arg(long = "log-opt")]
    pub log_opts: Vec<String>,
    /// Runtime execution options (`native.cgroupdriver=cgroupfs|systemd`).
    #[arg(long = "exec-opt")]
    pub exec_opts: Vec<String>,
    /// Keep containers running while the daemon is down (stop and restart of the daemon).
    #[arg(long = "live-restore", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub live_restore: Option<bool>,
}
