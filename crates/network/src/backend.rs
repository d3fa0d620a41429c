//! The two seams between the [`NetworkManager`](crate::NetworkManager) and the kernel:
//! [`Netlink`] (links, addresses, routes; [`RtNetlink`](crate::link::RtNetlink) in
//! production) and [`Firewall`] (berth's own nftables table;
//! [`Nftables`](crate::nft::Nftables) in production). The manager's logic — IPAM, state
//! files, rollback, port reservation, the ruleset it asks for — runs unchanged over the
//! in-memory fakes of [`crate::fake`], so it is unit-tested without root.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use crate::error::Result;
use crate::link::{BridgeRequest, VethRequest};
use crate::nft::Ruleset;
use crate::subnet::{Ipv4Net, Ipv6Net};

/// A boxed, `Send` future (the traits are used as `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the manager asks of the kernel's links. Every method leaves nothing behind when it
/// fails.
pub trait Netlink: Send + Sync + std::fmt::Debug {
    /// Creates (or reuses, after a restart) a bridge with its addresses, up.
    fn ensure_bridge<'a>(&'a self, req: &'a BridgeRequest) -> BoxFuture<'a, Result<()>>;
    /// Deletes a link; `false` when it did not exist.
    fn delete_link<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool>>;
    /// Creates a veth pair: host end enslaved to a bridge, other end configured inside a
    /// network namespace.
    fn attach_veth<'a>(&'a self, req: &'a VethRequest) -> BoxFuture<'a, Result<()>>;
    /// Brings `lo` up inside a network namespace (network mode `none`).
    fn loopback_up<'a>(&'a self, netns: &'a Path) -> BoxFuture<'a, Result<()>>;
    /// The host's IPv4 route prefixes (pool selection avoids them).
    fn host_routes(&self) -> Result<Vec<Ipv4Net>>;
    /// The host's IPv6 route prefixes.
    fn host_routes_v6(&self) -> Result<Vec<Ipv6Net>>;
}

/// berth's own packet-filter table: replaced whole, deleted when empty.
pub trait Firewall: Send + Sync + std::fmt::Debug {
    /// Replaces the table with `rs` atomically (an empty ruleset deletes it).
    fn apply(&self, rs: &Ruleset) -> Result<()>;
    /// Deletes the table (absent is fine).
    fn delete(&self) -> Result<()>;
}
