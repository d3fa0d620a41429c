//! In-memory [`Netlink`] and [`Firewall`] for tests without root: they record what the
//! manager asked for (bridges with their addresses, veths with their requests, the ruleset
//! in force) and can be told to fail an operation, so rollback paths are exercised.
//! Built for this crate's tests and, with the `testing` feature, for its dependents'.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::backend::{BoxFuture, Firewall, Netlink};
use crate::error::{NetworkError, Result};
use crate::link::{BridgeRequest, VethRequest};
use crate::nft::Ruleset;
use crate::subnet::{Ipv4Net, Ipv6Net};

/// An operation of the fakes that can be made to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FakeOp {
    /// [`Netlink::ensure_bridge`].
    EnsureBridge,
    /// [`Netlink::attach_veth`].
    AttachVeth,
    /// [`Netlink::delete_link`].
    DeleteLink,
    /// [`Netlink::loopback_up`].
    LoopbackUp,
    /// [`Firewall::apply`].
    Apply,
}

fn injected(op: FakeOp) -> NetworkError {
    NetworkError::Sys {
        op: format!("injected failure of {op:?}"),
        source: std::io::ErrorKind::Other.into(),
    }
}

/// Failures to inject: `op` fails on its `n`-th next call (1 = the next one).
#[derive(Debug, Default)]
struct Faults(BTreeMap<FakeOp, u32>);

impl Faults {
    fn hit(&mut self, op: FakeOp) -> Result<()> {
        match self.0.get_mut(&op) {
            Some(1) => {
                self.0.remove(&op);
                Err(injected(op))
            }
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

#[derive(Debug, Default)]
struct Links {
    bridges: BTreeMap<String, BridgeRequest>,
    veths: BTreeMap<String, VethRequest>,
    loopbacks: Vec<PathBuf>,
    faults: Faults,
}

/// The fake links: a map of bridges and a map of veths (by host name).
#[derive(Debug, Default)]
pub struct FakeNetlink {
    inner: Mutex<Links>,
    routes: Vec<Ipv4Net>,
    routes_v6: Vec<Ipv6Net>,
}

impl FakeNetlink {
    /// No links, no host routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Host routes that pool selection must avoid.
    pub fn with_routes(mut self, v4: Vec<Ipv4Net>, v6: Vec<Ipv6Net>) -> Self {
        self.routes = v4;
        self.routes_v6 = v6;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Links> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the `nth` next call of `op` fail (1 = the next one).
    pub fn fail(&self, op: FakeOp, nth: u32) {
        self.lock().faults.0.insert(op, nth);
    }

    /// Bridges that exist, by name.
    pub fn bridges(&self) -> BTreeMap<String, BridgeRequest> {
        self.lock().bridges.clone()
    }

    /// Veths that exist, by host-end name.
    pub fn veths(&self) -> BTreeMap<String, VethRequest> {
        self.lock().veths.clone()
    }

    /// Namespaces whose `lo` was brought up.
    pub fn loopbacks(&self) -> Vec<PathBuf> {
        self.lock().loopbacks.clone()
    }
}

impl Netlink for FakeNetlink {
    fn ensure_bridge<'a>(&'a self, req: &'a BridgeRequest) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut l = self.lock();
            l.faults.hit(FakeOp::EnsureBridge)?;
            l.bridges.insert(req.name.clone(), req.clone());
            Ok(())
        })
    }

    fn delete_link<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let mut l = self.lock();
            l.faults.hit(FakeOp::DeleteLink)?;
            let bridge = l.bridges.remove(name).is_some();
            let veth = l.veths.remove(name).is_some();
            if bridge {
                // Deleting a bridge releases its ports, not the veths themselves.
                for v in l.veths.values_mut().filter(|v| v.bridge == name) {
                    v.bridge.clear();
                }
            }
            Ok(bridge || veth)
        })
    }

    fn attach_veth<'a>(&'a self, req: &'a VethRequest) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut l = self.lock();
            if !l.bridges.contains_key(&req.bridge) {
                return Err(NetworkError::InvalidArgument(format!(
                    "bridge {} does not exist",
                    req.bridge
                )));
            }
            if l.veths.contains_key(&req.host_ifname) {
                return Err(NetworkError::sys(
                    format!("create veth {}", req.host_ifname),
                    std::io::ErrorKind::AlreadyExists.into(),
                ));
            }
            l.faults.hit(FakeOp::AttachVeth)?;
            l.veths.insert(req.host_ifname.clone(), req.clone());
            Ok(())
        })
    }

    fn loopback_up<'a>(&'a self, netns: &'a Path) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut l = self.lock();
            l.faults.hit(FakeOp::LoopbackUp)?;
            l.loopbacks.push(netns.to_path_buf());
            Ok(())
        })
    }

    fn host_routes(&self) -> Result<Vec<Ipv4Net>> {
        Ok(self.routes.clone())
    }

    fn host_routes_v6(&self) -> Result<Vec<Ipv6Net>> {
        Ok(self.routes_v6.clone())
    }
}

#[derive(Debug, Default)]
struct Table {
    current: Option<Ruleset>,
    applies: u32,
    faults: Faults,
}

/// The fake firewall: the ruleset in force (`None` = no table).
#[derive(Debug, Default)]
pub struct FakeFirewall {
    inner: Mutex<Table>,
}

impl FakeFirewall {
    /// No table.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the `nth` next [`Firewall::apply`] fail (1 = the next one).
    pub fn fail_apply(&self, nth: u32) {
        self.lock().faults.0.insert(FakeOp::Apply, nth);
    }

    /// The ruleset in force; `None` when the table does not exist.
    pub fn current(&self) -> Option<Ruleset> {
        self.lock().current.clone()
    }

    /// How many transactions succeeded.
    pub fn applies(&self) -> u32 {
        self.lock().applies
    }
}

impl Firewall for FakeFirewall {
    fn apply(&self, rs: &Ruleset) -> Result<()> {
        let mut t = self.lock();
        t.faults.hit(FakeOp::Apply)?;
        t.applies += 1;
        t.current = (!(rs.bridges.is_empty() && rs.ports.is_empty())).then(|| rs.clone());
        Ok(())
    }

    fn delete(&self) -> Result<()> {
        self.lock().current = None;
        Ok(())
    }
}
