//! Address management: one pool per network (subnet, gateway, optional ip-range) whose
//! allocations are persisted in `<dir>/<network-id>.json` so they survive daemon restarts.
//!
//! Allocation is sequential after the last handed-out address (wrapping), like Docker, so a
//! just-released address is not immediately reused.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{NetworkError, Result};
use crate::statefile;
use crate::subnet::{IpPrefix, Ipv4Net, Ipv6Net};

/// What a network asks of IPAM, for one address family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct PoolConfig<N: IpPrefix = Ipv4Net> {
    /// The network's subnet.
    pub subnet: N,
    /// The gateway (the bridge's address); never handed to a container.
    pub gateway: N::Addr,
    /// Sub-range from which dynamic addresses are taken (`--ip-range`); whole subnet if `None`.
    pub ip_range: Option<N>,
}

impl<N: IpPrefix> PoolConfig<N> {
    /// Validates Docker-style strings: `--subnet`, `--gateway` (default: first host),
    /// `--ip-range` (must lie inside the subnet).
    pub fn parse(subnet: &str, gateway: Option<&str>, ip_range: Option<&str>) -> Result<Self> {
        let subnet: N = subnet.parse()?;
        let max = if N::HAS_BROADCAST { 30 } else { 126 };
        if subnet.prefix_len() > max {
            return Err(NetworkError::InvalidArgument(format!(
                "subnet {subnet} is too small: at least a /{max} is needed for a gateway and a container"
            )));
        }
        let config = PoolConfig {
            subnet,
            gateway: subnet.at(1).expect("a pool has a first host"),
            ip_range: None,
        };
        let gateway = match gateway.filter(|g| !g.is_empty()) {
            Some(g) => {
                let ip: N::Addr = g.parse().map_err(|_| {
                    NetworkError::InvalidArgument(format!("invalid gateway address {g:?}"))
                })?;
                if !config.usable(ip) {
                    return Err(NetworkError::InvalidArgument(format!(
                        "no matching subnet for gateway {ip}"
                    )));
                }
                ip
            }
            None => config.gateway,
        };
        let ip_range = match ip_range.filter(|r| !r.is_empty()) {
            Some(r) => {
                let range: N = r.parse()?;
                if !subnet.contains_prefix(&range) {
                    return Err(NetworkError::InvalidArgument(format!(
                        "no matching subnet for range {range}"
                    )));
                }
                Some(range)
            }
            None => None,
        };
        Ok(PoolConfig {
            subnet,
            gateway,
            ip_range,
        })
    }

    /// Inside the subnet and neither its network address nor (IPv4) its broadcast.
    fn usable(&self, ip: N::Addr) -> bool {
        self.subnet.has(ip)
            && ip != self.subnet.network()
            && !(N::HAS_BROADCAST && ip == self.subnet.last_addr())
    }

    fn assignable(&self, ip: N::Addr) -> bool {
        self.usable(ip) && ip != self.gateway
    }
}

/// A pool with its allocations, as persisted.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Pool<N: IpPrefix = Ipv4Net> {
    /// Network this pool belongs to.
    pub network_id: String,
    /// Subnet, gateway and range.
    pub config: PoolConfig<N>,
    /// Addresses handed out (and auxiliary addresses, reserved for the pool's lifetime).
    pub allocated: BTreeSet<N::Addr>,
    /// The last address handed out dynamically (sequential allocation continues after it).
    pub last: Option<N::Addr>,
}

/// The IPAM store of one address family: a directory of pool files.
#[derive(Debug)]
pub struct Ipam<N: IpPrefix = Ipv4Net> {
    dir: PathBuf,
    lock: Mutex<()>,
    family: std::marker::PhantomData<N>,
}

/// IPv6 pools (`<ipam dir>/v6`).
pub type Ipam6 = Ipam<Ipv6Net>;

impl<N: IpPrefix> Ipam<N> {
    /// Opens (creating) the pool directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| NetworkError::io("create dir", &dir, e))?;
        Ok(Ipam {
            dir,
            lock: Mutex::new(()),
            family: std::marker::PhantomData,
        })
    }

    fn path(&self, network_id: &str) -> PathBuf {
        self.dir.join(format!("{network_id}.json"))
    }

    /// Every pool on disk.
    pub fn pools(&self) -> Result<Vec<Pool<N>>> {
        let mut out = Vec::new();
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| NetworkError::io("read dir", &self.dir, e))?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "json") {
                if let Some(pool) = statefile::read_json::<Pool<N>>(&p)? {
                    out.push(pool);
                }
            }
        }
        Ok(out)
    }

    /// Creates the pool of a network with its auxiliary addresses reserved; fails if the
    /// subnet overlaps another pool or an auxiliary address is outside the subnet.
    pub fn create_pool(
        &self,
        network_id: &str,
        config: PoolConfig<N>,
        aux: &[N::Addr],
    ) -> Result<Pool<N>> {
        let _g = self.lock.lock().expect("ipam lock");
        for other in self.pools()? {
            if other.network_id != network_id && other.config.subnet.overlaps_with(&config.subnet) {
                return Err(NetworkError::PoolOverlap {
                    subnet: config.subnet.to_string(),
                    other: format!("{} (network {})", other.config.subnet, other.network_id),
                });
            }
        }
        let mut allocated = BTreeSet::new();
        for ip in aux {
            if !config.assignable(*ip) {
                return Err(NetworkError::InvalidArgument(format!(
                    "no matching subnet for aux-address {ip}"
                )));
            }
            allocated.insert(*ip);
        }
        let pool = Pool {
            network_id: network_id.to_string(),
            config,
            allocated,
            last: None,
        };
        statefile::write_json(&self.path(network_id), &pool)?;
        Ok(pool)
    }

    /// Reads one pool.
    pub fn pool(&self, network_id: &str) -> Result<Pool<N>> {
        statefile::read_json(&self.path(network_id))?.ok_or_else(|| {
            NetworkError::InvalidArgument(format!("no address pool for network {network_id}"))
        })
    }

    /// Deletes a network's pool (all its allocations go with it); absent is fine.
    pub fn delete_pool(&self, network_id: &str) -> Result<()> {
        let _g = self.lock.lock().expect("ipam lock");
        statefile::remove(&self.path(network_id))
    }

    /// Allocates `requested` (`--ip`) or the next free address of the range.
    pub fn allocate(&self, network_id: &str, requested: Option<N::Addr>) -> Result<N::Addr> {
        let _g = self.lock.lock().expect("ipam lock");
        let mut pool = self.pool(network_id)?;
        let ip = match requested {
            Some(ip) => {
                if !pool.config.assignable(ip) {
                    return Err(NetworkError::AddressOutsideSubnet(ip.to_string()));
                }
                if pool.allocated.contains(&ip) {
                    return Err(NetworkError::AddressInUse(ip.to_string()));
                }
                ip
            }
            None => {
                let ip = next_free(&pool).ok_or_else(|| NetworkError::PoolExhausted {
                    family: N::FAMILY,
                    network: network_id.to_string(),
                    subnet: pool.config.subnet.to_string(),
                })?;
                pool.last = Some(ip);
                ip
            }
        };
        pool.allocated.insert(ip);
        statefile::write_json(&self.path(network_id), &pool)?;
        Ok(ip)
    }

    /// Releases an address (unknown addresses are ignored).
    pub fn release(&self, network_id: &str, ip: N::Addr) -> Result<()> {
        let _g = self.lock.lock().expect("ipam lock");
        let mut pool = self.pool(network_id)?;
        if pool.allocated.remove(&ip) {
            statefile::write_json(&self.path(network_id), &pool)?;
        }
        Ok(())
    }

    /// The directory holding the pool files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn next_free<N: IpPrefix>(pool: &Pool<N>) -> Option<N::Addr> {
    let range = pool.config.ip_range.unwrap_or(pool.config.subnet);
    let size = range.count();
    let start = match pool.last {
        Some(l) if range.has(l) => range.offset(l).wrapping_add(1) % size.max(1),
        _ => 0,
    };
    // At most the allocated addresses plus network address, gateway and broadcast are not
    // free, so looking at one more than that many finds a free one if there is any: the
    // search ends after a few steps even in a /64.
    let bound = pool.allocated.len() as u128 + 4;
    (0..size.min(bound))
        .filter_map(|i| range.at((start + i) % size))
        .find(|ip| pool.config.assignable(*ip) && !pool.allocated.contains(ip))
}

/// One default-address-pool entry (daemon.json `default-address-pools`): subnets of
/// prefix `size` carved out of `base`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPool {
    /// The range to carve from.
    pub base: Ipv4Net,
    /// Prefix length of each network.
    pub size: u8,
}

/// Docker's default pools: 172.17-31.0.0/16 and 192.168.0.0/16 in /20s.
pub fn default_address_pools() -> Vec<AddressPool> {
    let mut pools: Vec<AddressPool> = (17..=31)
        .map(|b| AddressPool {
            base: Ipv4Net::new_masked(Ipv4Addr::new(172, b, 0, 0), 16),
            size: 16,
        })
        .collect();
    pools.push(AddressPool {
        base: Ipv4Net::new_masked(Ipv4Addr::new(192, 168, 0, 0), 16),
        size: 20,
    });
    pools
}

/// The first subnet from `pools` that overlaps neither `taken` (other networks) nor a
/// host route (`routes`, default routes excluded).
pub fn pick_subnet(
    pools: &[AddressPool],
    taken: &[Ipv4Net],
    routes: &[Ipv4Net],
) -> Result<Ipv4Net> {
    for pool in pools {
        if pool.size < pool.base.prefix() || pool.size > 30 {
            continue;
        }
        let count = 1u64 << (pool.size - pool.base.prefix());
        let step = 1u64 << (32 - u32::from(pool.size));
        for i in 0..count {
            let Ok(addr) = u32::try_from(u64::from(u32::from(pool.base.addr())) + i * step) else {
                break;
            };
            let addr = Ipv4Addr::from(addr);
            let cand = Ipv4Net::new_masked(addr, pool.size);
            let clash = taken.iter().chain(routes.iter().filter(|r| r.prefix() > 0));
            if !clash.clone().any(|t| t.overlaps(&cand)) {
                return Ok(cand);
            }
        }
    }
    Err(NetworkError::NoFreePool("IPv4"))
}

/// IPv4 routes of the host from `/proc/net/route` (destination prefixes).
pub fn host_routes() -> Result<Vec<Ipv4Net>> {
    let path = Path::new("/proc/net/route");
    let text = std::fs::read_to_string(path).map_err(|e| NetworkError::io("read", path, e))?;
    Ok(parse_proc_net_route(&text))
}

/// Parses the text of `/proc/net/route` (hex, host byte order = little endian).
pub fn parse_proc_net_route(text: &str) -> Vec<Ipv4Net> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            let dest = Ipv4Addr::from(dest.swap_bytes());
            let prefix = u8::try_from(mask.count_ones()).ok()?;
            Some(Ipv4Net::new_masked(dest, prefix))
        })
        .collect()
}

/// IPv6 routes of the host from `/proc/net/ipv6_route` (missing when IPv6 is off: none).
pub fn host_routes_v6() -> Result<Vec<Ipv6Net>> {
    let path = Path::new("/proc/net/ipv6_route");
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_proc_net_ipv6_route(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(NetworkError::io("read", path, e)),
    }
}

/// Parses the text of `/proc/net/ipv6_route` (32 hex digits of destination, hex prefix
/// length, ...); loopback, link-local and multicast routes are left out.
pub fn parse_proc_net_ipv6_route(text: &str) -> Vec<Ipv6Net> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u128::from_str_radix(f.first()?, 16).ok()?;
            let prefix = u8::from_str_radix(f.get(1)?, 16).ok()?;
            let net = Ipv6Net::new_masked(Ipv6Addr::from(dest), prefix);
            let a = net.addr();
            let special =
                a.is_loopback() || a.is_multicast() || (a.segments()[0] & 0xffc0) == 0xfe80;
            (!special).then_some(net)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_testkit::TempDir;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn config_validation_errors() {
        let e = PoolConfig::<Ipv4Net>::parse("10.1.0.0/24", Some("10.2.0.1"), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid argument: no matching subnet for gateway 10.2.0.1"
        );
        let e = PoolConfig::<Ipv4Net>::parse("10.1.0.0/24", None, Some("10.1.1.0/25")).unwrap_err();
        assert!(
            e.to_string()
                .contains("no matching subnet for range 10.1.1.0/25"),
            "{e}"
        );
        assert!(PoolConfig::<Ipv4Net>::parse("10.1.0.0/31", None, None).is_err());
        assert!(PoolConfig::<Ipv4Net>::parse("banana", None, None).is_err());
        let c = PoolConfig::<Ipv4Net>::parse("10.1.0.0/24", None, Some("10.1.0.128/25")).unwrap();
        assert_eq!(c.gateway, Ipv4Addr::new(10, 1, 0, 1));
    }

    #[test]
    fn allocation_persists_and_is_sequential() {
        let dir = TempDir::new("ipam");
        let ipam = Ipam::<Ipv4Net>::open(dir.path()).unwrap();
        let cfg = PoolConfig::parse("10.1.0.0/29", None, None).unwrap();
        ipam.create_pool("n1", cfg, &[]).unwrap();
        let a = ipam.allocate("n1", None).unwrap();
        let b = ipam.allocate("n1", None).unwrap();
        assert_eq!(
            (a, b),
            (Ipv4Addr::new(10, 1, 0, 2), Ipv4Addr::new(10, 1, 0, 3))
        );
        ipam.release("n1", a).unwrap();
        // A restarted daemon sees the same allocations and does not reuse `a` first.
        let ipam = Ipam::<Ipv4Net>::open(dir.path()).unwrap();
        assert_eq!(
            ipam.allocate("n1", None).unwrap(),
            Ipv4Addr::new(10, 1, 0, 4)
        );
        assert_eq!(
            ipam.allocate("n1", Some(Ipv4Addr::new(10, 1, 0, 6)))
                .unwrap(),
            Ipv4Addr::new(10, 1, 0, 6)
        );
        assert!(matches!(
            ipam.allocate("n1", Some(Ipv4Addr::new(10, 1, 0, 6))),
            Err(NetworkError::AddressInUse(_))
        ));
        let e = ipam
            .allocate("n1", Some(Ipv4Addr::new(10, 9, 9, 9)))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no configured subnet or ip-range contain the IP address 10.9.9.9"
        );
        assert!(
            ipam.allocate("n1", Some(Ipv4Addr::new(10, 1, 0, 1)))
                .is_err(),
            "gateway"
        );
        assert_eq!(
            ipam.allocate("n1", None).unwrap(),
            Ipv4Addr::new(10, 1, 0, 5)
        );
        assert_eq!(
            ipam.allocate("n1", None).unwrap(),
            a,
            "wraps to the released address"
        );
        assert!(matches!(
            ipam.allocate("n1", None),
            Err(NetworkError::PoolExhausted { .. })
        ));
        ipam.delete_pool("n1").unwrap();
        assert!(ipam.pools().unwrap().is_empty());
    }

    #[test]
    fn ip_range_limits_dynamic_allocation() {
        let dir = TempDir::new("ipam");
        let ipam = Ipam::<Ipv4Net>::open(dir.path()).unwrap();
        let cfg = PoolConfig::parse("10.1.0.0/24", None, Some("10.1.0.128/25")).unwrap();
        ipam.create_pool("n", cfg, &[]).unwrap();
        assert_eq!(
            ipam.allocate("n", None).unwrap(),
            Ipv4Addr::new(10, 1, 0, 128)
        );
        // A static --ip outside the range but inside the subnet is allowed (Docker does too).
        assert!(ipam
            .allocate("n", Some(Ipv4Addr::new(10, 1, 0, 10)))
            .is_ok());
    }

    #[test]
    fn overlapping_pools_are_refused() {
        let dir = TempDir::new("ipam");
        let ipam = Ipam::<Ipv4Net>::open(dir.path()).unwrap();
        ipam.create_pool(
            "a",
            PoolConfig::parse("10.1.0.0/16", None, None).unwrap(),
            &[],
        )
        .unwrap();
        let e = ipam
            .create_pool(
                "b",
                PoolConfig::parse("10.1.5.0/24", None, None).unwrap(),
                &[],
            )
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Pool overlaps with other one on this address space"),
            "{e}"
        );
        assert_eq!(ipam.pools().unwrap().len(), 1, "nothing half-made");
    }

    #[test]
    fn picks_default_pool_around_routes_and_networks() {
        let pools = default_address_pools();
        assert_eq!(pick_subnet(&pools, &[], &[]).unwrap(), net("172.17.0.0/16"));
        let routes = vec![net("0.0.0.0/0"), net("172.17.5.0/24")];
        assert_eq!(
            pick_subnet(&pools, &[], &routes).unwrap(),
            net("172.18.0.0/16")
        );
        let taken = vec![net("172.18.0.0/16")];
        assert_eq!(
            pick_subnet(&pools, &taken, &routes).unwrap(),
            net("172.19.0.0/16")
        );
        let all: Vec<Ipv4Net> = (17..=31)
            .map(|b| Ipv4Net::new_masked(Ipv4Addr::new(172, b, 0, 0), 16))
            .collect();
        assert_eq!(
            pick_subnet(&pools, &all, &[]).unwrap(),
            net("192.168.0.0/20")
        );
        let tiny = [AddressPool {
            base: net("10.0.0.0/30"),
            size: 30,
        }];
        assert!(matches!(
            pick_subnet(&tiny, &[net("10.0.0.0/8")], &[]),
            Err(NetworkError::NoFreePool(_))
        ));
    }

    #[test]
    fn parses_proc_net_route() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            parse_proc_net_route(text),
            vec![net("0.0.0.0/0"), net("192.0.2.0/24")]
        );
    }

    #[test]
    fn parses_proc_net_ipv6_route() {
        let text = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n";
        assert_eq!(
            parse_proc_net_ipv6_route(text),
            vec!["fd00::/64".parse::<Ipv6Net>().unwrap()]
        );
    }

    #[test]
    fn ipv6_pools_allocate_sequentially_with_aux_addresses() {
        let dir = TempDir::new("ipam6");
        let ipam = Ipam6::open(dir.path()).unwrap();
        let cfg = PoolConfig::<Ipv6Net>::parse("fd12:3456:789a:1::/64", None, None).unwrap();
        assert_eq!(cfg.gateway.to_string(), "fd12:3456:789a:1::1");
        let aux: Ipv6Addr = "fd12:3456:789a:1::2".parse().unwrap();
        ipam.create_pool("n6", cfg, &[aux]).unwrap();
        let a = ipam.allocate("n6", None).unwrap();
        assert_eq!(a.to_string(), "fd12:3456:789a:1::3", "aux address skipped");
        assert!(matches!(
            ipam.allocate("n6", Some(aux)),
            Err(NetworkError::AddressInUse(_))
        ));
        let last: Ipv6Addr = "fd12:3456:789a:1:ffff:ffff:ffff:ffff".parse().unwrap();
        assert_eq!(
            ipam.allocate("n6", Some(last)).unwrap(),
            last,
            "no broadcast in v6"
        );
        let e = ipam
            .allocate("n6", Some("fd00::9".parse().unwrap()))
            .unwrap_err();
        assert!(matches!(e, NetworkError::AddressOutsideSubnet(_)), "{e}");
        let e = ipam
            .create_pool(
                "other",
                PoolConfig::parse("fd12:3456:789a::/48", None, None).unwrap(),
                &[],
            )
            .unwrap_err();
        assert!(matches!(e, NetworkError::PoolOverlap { .. }), "{e}");
        let e = ipam
            .create_pool(
                "bad-aux",
                PoolConfig::parse("fd12:3456:789b::/64", None, None).unwrap(),
                &["fd00::1".parse().unwrap()],
            )
            .unwrap_err();
        assert!(e.to_string().contains("aux-address fd00::1"), "{e}");
        assert!(PoolConfig::<Ipv6Net>::parse("fd00::/127", None, None).is_err());
        let tiny = PoolConfig::<Ipv6Net>::parse("fd00:1::/126", None, None).unwrap();
        ipam.create_pool("tiny", tiny, &[]).unwrap();
        let ips: Vec<String> = (0..2)
            .map(|_| ipam.allocate("tiny", None).unwrap().to_string())
            .collect();
        assert_eq!(ips, ["fd00:1::2", "fd00:1::3"]);
        assert!(matches!(
            ipam.allocate("tiny", None),
            Err(NetworkError::PoolExhausted { family: "IPv6", .. })
        ));
    }
}
