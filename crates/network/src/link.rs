//! Links over rtnetlink ([`RtNetlink`], the production [`Netlink`]): bridges, veth pairs
//! into container network namespaces, addresses, routes, loopback. Work inside a container's
//! netns happens on a dedicated thread that `setns`es into it (only that thread moves) and
//! opens its own netlink socket there. IPv6 addresses are added with `nodad` (as Docker
//! does): they are usable at once instead of after duplicate address detection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{
    InfoBridgePort, InfoData, InfoPortData, InfoPortKind, InfoVeth,
};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

use crate::backend::{BoxFuture, Netlink};
use crate::error::{NetworkError, Result};
use crate::subnet::{Ipv4Net, Ipv6Net};

/// A netlink connection in the current network namespace (the daemon's).
#[derive(Clone, Debug)]
pub struct RtNetlink {
    handle: Handle,
}

/// What [`Netlink::ensure_bridge`] creates: a bridge with its gateway addresses, up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeRequest {
    /// Interface name.
    pub name: String,
    /// IPv4 gateway address and prefix length.
    pub ipv4: (Ipv4Addr, u8),
    /// IPv6 addresses (gateway, `fe80::1/64`) of an IPv6 network.
    pub ipv6: Vec<(Ipv6Addr, u8)>,
    /// MTU.
    pub mtu: u32,
}

/// What [`Netlink::attach_veth`] creates: a veth whose host end is enslaved to `bridge` and
/// whose other end becomes `container_ifname` inside `netns` with addresses and routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VethRequest {
    /// Bridge to attach the host end to.
    pub bridge: String,
    /// Name of the host end (`veth` + 7 hex, max 15 bytes).
    pub host_ifname: String,
    /// Container netns file (`/proc/<pid>/ns/net` or a bind-mounted netns).
    pub netns: PathBuf,
    /// Interface name inside the container (`eth0`, `eth1`, ...).
    pub container_ifname: String,
    /// MAC address of the container end.
    pub mac: [u8; 6],
    /// The container's IPv4 address.
    pub address: Ipv4Addr,
    /// Prefix length of the network.
    pub prefix: u8,
    /// Default route via this gateway (`None` for internal networks or second interfaces).
    pub gateway: Option<Ipv4Addr>,
    /// The container's IPv6 address and prefix length (IPv6 networks).
    pub address6: Option<(Ipv6Addr, u8)>,
    /// IPv6 default route via this gateway.
    pub gateway6: Option<Ipv6Addr>,
    /// Bridge port isolation (`icc` off): isolated ports reach the bridge (host) but not
    /// each other.
    pub isolated: bool,
    /// MTU of both ends.
    pub mtu: u32,
}

/// Docker's MAC scheme: 02:42 followed by the IPv4 address.
pub fn mac_for_ip(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `aa:bb:cc:dd:ee:ff` (or `-` separated); refuses multicast addresses, which an
/// interface cannot have.
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let bad = || NetworkError::InvalidArgument(format!("{s} is not a valid mac address"));
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(&parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 == 1 {
        return Err(NetworkError::InvalidArgument(format!(
            "{s} is a multicast address, not usable for an interface"
        )));
    }
    Ok(mac)
}

fn is_errno(e: &rtnetlink::Error, errno: i32) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m) if m.raw_code().abs() == errno)
}

const ENODEV: i32 = 19;
const EEXIST: i32 = 17;

/// Adds `addr/prefix` to link `index` (replacing an equal one; IPv6 without DAD).
async fn add_address(h: &Handle, index: u32, addr: IpAddr, prefix: u8, what: &str) -> Result<()> {
    let mut req = h.address().add(index, addr, prefix).replace();
    if addr.is_ipv6() {
        req.message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    req.execute()
        .await
        .map_err(|e| NetworkError::netlink(format!("add {addr}/{prefix} to {what}"), e))
}

impl RtNetlink {
    /// Opens a netlink socket in the current netns; its connection task is spawned on the
    /// current tokio runtime.
    pub fn connect() -> Result<Self> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetworkError::sys("open netlink socket", e))?;
        tokio::spawn(conn);
        Ok(RtNetlink { handle })
    }

    /// Index of the link called `name`, if it exists.
    pub async fn link_index(&self, name: &str) -> Result<Option<u32>> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(msg)) => Ok(Some(msg.header.index)),
            Ok(None) => Ok(None),
            Err(e) if is_errno(&e, ENODEV) => Ok(None),
            Err(e) => Err(NetworkError::netlink(format!("get link {name}"), e)),
        }
    }

    /// Creates (or reuses, after a daemon restart) the bridge of `req`, adds its addresses,
    /// brings it up and enables `route_localnet` on it (needed for 127.0.0.1 published
    /// ports). A bridge this call created is deleted again when a later step fails.
    pub async fn ensure_bridge(&self, req: &BridgeRequest) -> Result<u32> {
        let name = req.name.as_str();
        let (index, created) = match self.link_index(name).await? {
            Some(i) => (i, false),
            None => {
                let msg = LinkBridge::new(name).mtu(req.mtu).build();
                match self.handle.link().add(msg).execute().await {
                    Ok(()) => {}
                    Err(e) if is_errno(&e, EEXIST) => {}
                    Err(e) => {
                        return Err(NetworkError::netlink(format!("create bridge {name}"), e))
                    }
                }
                let index = self.link_index(name).await?.ok_or_else(|| {
                    NetworkError::sys(
                        format!("bridge {name} vanished"),
                        std::io::ErrorKind::NotFound.into(),
                    )
                })?;
                (index, true)
            }
        };
        let res = async {
            let (gw, prefix) = req.ipv4;
            add_address(&self.handle, index, gw.into(), prefix, name).await?;
            set_sysctl(&format!("net/ipv4/conf/{name}/route_localnet"), "1")?;
            if !req.ipv6.is_empty() {
                set_sysctl(&format!("net/ipv6/conf/{name}/disable_ipv6"), "0")?;
                // Like dockerd with IPv6 networks: containers reach beyond the bridge.
                enable_ipv6_forwarding()?;
            }
            for (addr, prefix) in &req.ipv6 {
                add_address(&self.handle, index, (*addr).into(), *prefix, name).await?;
            }
            self.set_up(index, name).await
        }
        .await;
        if let Err(e) = res {
            if created {
                let _ = self.delete_link(name).await;
            }
            return Err(e);
        }
        Ok(index)
    }

    async fn set_up(&self, index: u32, name: &str) -> Result<()> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(|e| NetworkError::netlink(format!("set {name} up"), e))
    }

    /// Deletes link `name`; returns false when it did not exist.
    pub async fn delete_link(&self, name: &str) -> Result<bool> {
        let Some(index) = self.link_index(name).await? else {
            return Ok(false);
        };
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(true),
            Err(e) if is_errno(&e, ENODEV) => Ok(false),
            Err(e) => Err(NetworkError::netlink(format!("delete link {name}"), e)),
        }
    }

    /// Creates the veth pair described by `req`; on failure nothing is left behind.
    pub async fn attach_veth(&self, req: &VethRequest) -> Result<()> {
        let bridge = self.link_index(&req.bridge).await?.ok_or_else(|| {
            NetworkError::InvalidArgument(format!("bridge {} does not exist", req.bridge))
        })?;
        let ns = open_netns(&req.netns)?;
        let peer = LinkMessageBuilder::<LinkUnspec>::default()
            .name(req.container_ifname.clone())
            .mtu(req.mtu)
            .address(req.mac.to_vec())
            .setns_by_fd(ns.as_raw_fd())
            .build();
        // Enslaved and up in the creating request itself (like `ip link add … master … up`):
        // two round trips fewer than create, look up, then set.
        let msg = LinkVeth::new(&req.host_ifname, "unused")
            .mtu(req.mtu)
            .controller(bridge)
            .up()
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| NetworkError::netlink(format!("create veth {}", req.host_ifname), e))?;
        if req.isolated {
            let msg = LinkUnspec::new_with_name(&req.host_ifname)
                .set_port_kind(InfoPortKind::Bridge)
                .set_port_data(InfoPortData::BridgePort(vec![InfoBridgePort::Isolated(
                    true,
                )]))
                .build();
            if let Err(e) = self.handle.link().set_port(msg).execute().await {
                let _ = self.delete_link(&req.host_ifname).await;
                return Err(NetworkError::netlink(
                    format!("isolate bridge port {}", req.host_ifname),
                    e,
                ));
            }
        }
        let inner = req.clone();
        let res = in_netns(&req.netns, move |h| async move {
            configure_inside(&h, &inner).await
        })
        .await;
        if let Err(e) = res {
            let _ = self.delete_link(&req.host_ifname).await;
            return Err(e);
        }
        Ok(())
    }
}

impl Netlink for RtNetlink {
    fn ensure_bridge<'a>(&'a self, req: &'a BridgeRequest) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { RtNetlink::ensure_bridge(self, req).await.map(|_| ()) })
    }
    fn delete_link<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(RtNetlink::delete_link(self, name))
    }
    fn attach_veth<'a>(&'a self, req: &'a VethRequest) -> BoxFuture<'a, Result<()>> {
        Box::pin(RtNetlink::attach_veth(self, req))
    }
    fn loopback_up<'a>(&'a self, netns: &'a Path) -> BoxFuture<'a, Result<()>> {
        Box::pin(loopback_up(netns))
    }
    fn host_routes(&self) -> Result<Vec<Ipv4Net>> {
        crate::ipam::host_routes()
    }
    fn host_routes_v6(&self) -> Result<Vec<Ipv6Net>> {
        crate::ipam::host_routes_v6()
    }
}

async fn configure_inside(h: &Handle, req: &VethRequest) -> Result<()> {
    loopback_up_with(h).await?;
    let nl = RtNetlink { handle: h.clone() };
    let idx = nl.link_index(&req.container_ifname).await?.ok_or_else(|| {
        NetworkError::sys(
            format!(
                "{} missing in {}",
                req.container_ifname,
                req.netns.display()
            ),
            std::io::ErrorKind::NotFound.into(),
        )
    })?;
    add_address(h, idx, req.address.into(), req.prefix, "container").await?;
    if let Some((addr, prefix)) = req.address6 {
        // A new namespace may inherit disable_ipv6=1 from the host's defaults.
        set_sysctl(
            &format!("net/ipv6/conf/{}/disable_ipv6", req.container_ifname),
            "0",
        )?;
        add_address(h, idx, addr.into(), prefix, "container").await?;
    }
    nl.set_up(idx, &req.container_ifname).await?;
    if let Some(gw) = req.gateway {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(gw)
            .output_interface(idx)
            .build();
        h.route()
            .add(route)
            .replace()
            .execute()
            .await
            .map_err(|e| {
                NetworkError::netlink(format!("default route via {gw} in container"), e)
            })?;
    }
    if let Some(gw) = req.gateway6 {
        let route = RouteMessageBuilder::<Ipv6Addr>::new()
            .gateway(gw)
            .output_interface(idx)
            .build();
        h.route()
            .add(route)
            .replace()
            .execute()
            .await
            .map_err(|e| {
                NetworkError::netlink(format!("default route via {gw} in container"), e)
            })?;
    }
    Ok(())
}

/// `lo` is ifindex 1 in every network namespace (the kernel's `LOOPBACK_IFINDEX`).
const LOOPBACK_IFINDEX: u32 = 1;

async fn loopback_up_with(h: &Handle) -> Result<()> {
    let nl = RtNetlink { handle: h.clone() };
    nl.set_up(LOOPBACK_IFINDEX, "lo").await
}

/// Brings `lo` up inside `netns` (network mode `none` needs only this).
pub async fn loopback_up(netns: &Path) -> Result<()> {
    in_netns(netns, |h| async move { loopback_up_with(&h).await }).await
}

fn open_netns(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|e| NetworkError::io("open netns", path, e))
}

/// Runs `f` with a netlink handle opened inside `netns`, on a dedicated thread that joined
/// that namespace (with its own single-threaded runtime); the daemon's threads never move.
pub async fn in_netns<F, Fut, T>(netns: &Path, f: F) -> Result<T>
where
    F: FnOnce(Handle) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T>>,
    T: Send + 'static,
{
    let file = open_netns(netns)?;
    let path = netns.to_path_buf();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("berth-netns".into())
        .spawn(move || {
            let result = (|| {
                rustix::thread::move_into_link_name_space(
                    file.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .map_err(|e| NetworkError::io("setns", &path, e.into()))?;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| NetworkError::sys("netns runtime", e))?;
                rt.block_on(async move {
                    let (conn, handle, _) = rtnetlink::new_connection()
                        .map_err(|e| NetworkError::sys("open netlink socket in netns", e))?;
                    tokio::spawn(conn);
                    f(handle).await
                })
            })();
            let _ = tx.send(result);
        })
        .map_err(|e| NetworkError::sys("spawn netns thread", e))?;
    rx.await
        .map_err(|_| NetworkError::sys("netns thread died", std::io::ErrorKind::Other.into()))?
}

/// Runs a blocking closure on a thread inside `netns` (used to create sockets there: a
/// socket keeps the namespace it was created in).
pub fn blocking_in_netns<T: Send + 'static>(
    netns: &Path,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let file = open_netns(netns)?;
    let path = netns.to_path_buf();
    std::thread::scope(|s| {
        s.spawn(move || {
            rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .map_err(|e| NetworkError::io("setns", &path, e.into()))?;
            f()
        })
        .join()
        .unwrap_or_else(|_| {
            Err(NetworkError::sys(
                "netns thread panicked",
                std::io::ErrorKind::Other.into(),
            ))
        })
    })
}

/// Sets `net.ipv6.conf.{all,default}.forwarding` to 1 in the daemon's network namespace
/// when it is not already (dockerd does the same for IPv6 networks).
fn enable_ipv6_forwarding() -> Result<()> {
    for key in [
        "net/ipv6/conf/default/forwarding",
        "net/ipv6/conf/all/forwarding",
    ] {
        let path = Path::new("/proc/sys").join(key);
        if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() != "1") {
            set_sysctl(key, "1")?;
        }
    }
    Ok(())
}

/// Writes `/proc/sys/<key>`.
pub fn set_sysctl(key: &str, value: &str) -> Result<()> {
    let path = Path::new("/proc/sys").join(key);
    std::fs::write(&path, value).map_err(|e| NetworkError::io("write sysctl", path, e))
}

/// A random-looking host veth name: `veth` + 7 hex digits of an FNV-1a hash of `seed` (an
/// endpoint identity: network id + container id), so every endpoint gets its own name.
pub fn host_veth_name(seed: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("veth{:07x}", (h ^ (h >> 32)) & 0x0fff_ffff)
}

#[cfg(test)]
mod veth_name_tests {
    use super::host_veth_name;

    #[test]
    fn distinct_endpoints_get_distinct_names() {
        let a = host_veth_name("net1ctr1");
        assert_eq!(a.len(), 11);
        assert!(a.starts_with("veth"));
        assert_ne!(a, host_veth_name("net1ctr2"));
        assert_ne!(a, host_veth_name("net2ctr1"));
        assert_eq!(a, host_veth_name("net1ctr1"));
    }
}
