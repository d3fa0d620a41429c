//! berth networking: IPAM ([`ipam`]), links over rtnetlink ([`link`]), berth's own nftables
//! table ([`nft`]) — the two behind the [`backend`] traits, with in-memory fakes in `fake`
//! (feature `testing`) — published ports ([`ports`], served by the kernel or the userland [`proxy`]), the embedded DNS server ([`dns`]), the
//! container's network files ([`files`]), network modes ([`mode`]) and the
//! [`NetworkManager`] that ties them together for the engine. See `docs/network.md`.

pub mod backend;
pub mod dns;
pub mod error;
#[cfg(any(test, feature = "testing"))]
pub mod fake;
pub mod files;
pub mod ipam;
pub mod link;
pub mod manager;
pub mod mode;
pub mod nft;
pub mod ports;
pub mod proxy;
mod statefile;
pub mod subnet;

pub use error::{NetworkError, Result};
pub use manager::{
    ConnectRequest, CreateNetwork, Endpoint, Ipv6Request, ManagerConfig, NetworkInfo,
    NetworkManager, PublishedPort,
};
pub use mode::NetworkMode;
pub use subnet::{Ipv4Net, Ipv6Net};
