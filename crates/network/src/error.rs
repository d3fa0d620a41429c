//! Errors of the network library, with the object (network, subnet, port, link) they concern.

use std::path::PathBuf;

/// Everything that can go wrong in `berth-network`.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A subnet, address, range or port string that does not parse.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Removal of a network that containers are still connected to (Docker's wording).
    #[error(
        "error while removing network: network {network} has active endpoints ({})",
        containers.join(", ")
    )]
    ActiveEndpoints {
        /// The network's name.
        network: String,
        /// The connected containers.
        containers: Vec<String>,
    },
    /// A subnet that overlaps another network's (Docker's wording).
    #[error("Pool overlaps with other one on this address space: {subnet} overlaps {other}")]
    PoolOverlap {
        /// The requested subnet.
        subnet: String,
        /// What it overlaps (another network or a host route).
        other: String,
    },
    /// An address outside every configured subnet/range (Docker's wording).
    #[error("no configured subnet or ip-range contain the IP address {0}")]
    AddressOutsideSubnet(String),
    /// The requested address is already allocated.
    #[error("Address already in use: {0}")]
    AddressInUse(String),
    /// No free address is left in the pool.
    #[error(
        "no available {family} addresses on this network's address pools: {network} ({subnet})"
    )]
    PoolExhausted {
        /// "IPv4" or "IPv6".
        family: &'static str,
        /// Network id or name.
        network: String,
        /// Its subnet.
        subnet: String,
    },
    /// No default-address-pool has a subnet free of routes and other networks.
    #[error("could not find an available, non-overlapping {0} address pool among the defaults to assign to the network")]
    NoFreePool(&'static str),
    /// A host port that another process holds (bind check before any rule is installed).
    #[error("failed to bind host port {addr}/{proto}: address already in use")]
    PortInUse {
        /// `ip:port` that was requested.
        addr: String,
        /// "tcp" or "udp".
        proto: &'static str,
    },
    /// No ephemeral host port left.
    #[error("no free host port in range {0}")]
    NoFreePort(String),
    /// A netlink request failed.
    #[error("netlink: {op}: {source}")]
    Netlink {
        /// What was being done ("create bridge berth0").
        op: String,
        /// The netlink error.
        #[source]
        source: rtnetlink::Error,
    },
    /// `nft` rejected the ruleset or could not run.
    #[error("nftables ({table}): {message}")]
    Nft {
        /// Table berth was writing.
        table: String,
        /// nft's stderr or the spawn error.
        message: String,
    },
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Its path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A socket or system call without a path failed.
    #[error("{op}: {source}")]
    Sys {
        /// What was being done.
        op: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A state file that does not parse.
    #[error("corrupt state file {path}: {message}")]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// The parse error.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = NetworkError> = std::result::Result<T, E>;

impl NetworkError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NetworkError::Io {
            op,
            path: path.into(),
            source,
        }
    }
    pub(crate) fn sys(op: impl Into<String>, source: std::io::Error) -> Self {
        NetworkError::Sys {
            op: op.into(),
            source,
        }
    }
    pub(crate) fn netlink(op: impl Into<String>, source: rtnetlink::Error) -> Self {
        NetworkError::Netlink {
            op: op.into(),
            source,
        }
    }
}
