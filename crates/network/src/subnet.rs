//! IPv4 and IPv6 prefixes (`10.1.0.0/24`, `fd00:1::/64`): parsing with clear errors,
//! containment and overlap.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::NetworkError;

/// An IPv4 network prefix whose host bits are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// Builds a prefix, masking away host bits.
    pub fn new_masked(addr: Ipv4Addr, prefix: u8) -> Self {
        let prefix = prefix.min(32);
        Ipv4Net {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        }
    }
    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }
    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
    /// The last address (broadcast for prefixes shorter than /31).
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }
    /// Number of addresses in the prefix.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }
    /// True when `ip` is inside the prefix.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }
    /// True when the two prefixes share at least one address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }
    /// True when `other` lies entirely inside `self`.
    pub fn contains_net(&self, other: &Ipv4Net) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }
    /// The address at `offset` from the network address.
    pub fn nth(&self, offset: u32) -> Option<Ipv4Addr> {
        (u64::from(offset) < self.size()).then(|| Ipv4Addr::from(u32::from(self.addr) + offset))
    }
    /// Offset of `ip` from the network address (`ip` must be inside).
    pub fn offset_of(&self, ip: Ipv4Addr) -> u32 {
        u32::from(ip) - u32::from(self.addr)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl FromStr for Ipv4Net {
    type Err = NetworkError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| NetworkError::InvalidArgument(format!("invalid subnet {s:?}: {why}"));
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| bad("expected ADDRESS/PREFIX"))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .map_err(|_| bad("prefix length is not a number"))?;
        if prefix > 32 {
            return Err(bad("prefix length must be at most 32"));
        }
        let net = Ipv4Net::new_masked(addr, prefix);
        if net.addr != addr {
            return Err(bad(&format!("host bits are set (did you mean {net}?)")));
        }
        Ok(net)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl TryFrom<String> for Ipv4Net {
    type Error = NetworkError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Ipv4Net> for String {
    fn from(n: Ipv4Net) -> String {
        n.to_string()
    }
}

/// An IPv6 network prefix whose host bits are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv6Net {
    addr: Ipv6Addr,
    prefix: u8,
}

fn mask6(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

impl Ipv6Net {
    /// Builds a prefix, masking away host bits.
    pub fn new_masked(addr: Ipv6Addr, prefix: u8) -> Self {
        let prefix = prefix.min(128);
        Ipv6Net {
            addr: Ipv6Addr::from(u128::from(addr) & mask6(prefix)),
            prefix,
        }
    }
    /// The network address.
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }
    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
    /// The last address of the prefix.
    pub fn last(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) | !mask6(self.prefix))
    }
    /// Number of addresses, saturated at `u128::MAX` for `::/0`.
    pub fn size(&self) -> u128 {
        match self.prefix {
            0 => u128::MAX,
            p => 1u128 << (128 - u32::from(p)),
        }
    }
    /// True when `ip` is inside the prefix.
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask6(self.prefix) == u128::from(self.addr)
    }
    /// True when the two prefixes share at least one address.
    pub fn overlaps(&self, other: &Ipv6Net) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }
    /// True when `other` lies entirely inside `self`.
    pub fn contains_net(&self, other: &Ipv6Net) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }
    /// The address at `offset` from the network address.
    pub fn nth(&self, offset: u128) -> Option<Ipv6Addr> {
        (offset < self.size()).then(|| Ipv6Addr::from(u128::from(self.addr) + offset))
    }
    /// Offset of `ip` from the network address (`ip` must be inside).
    pub fn offset_of(&self, ip: Ipv6Addr) -> u128 {
        u128::from(ip) - u128::from(self.addr)
    }
}

impl FromStr for Ipv6Net {
    type Err = NetworkError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| NetworkError::InvalidArgument(format!("invalid subnet {s:?}: {why}"));
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| bad("expected ADDRESS/PREFIX"))?;
        let addr: Ipv6Addr = a.parse().map_err(|_| bad("not an IPv6 address"))?;
        let prefix: u8 = p
            .parse()
            .map_err(|_| bad("prefix length is not a number"))?;
        if prefix > 128 {
            return Err(bad("prefix length must be at most 128"));
        }
        let net = Ipv6Net::new_masked(addr, prefix);
        if net.addr != addr {
            return Err(bad(&format!("host bits are set (did you mean {net}?)")));
        }
        Ok(net)
    }
}

impl fmt::Display for Ipv6Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl TryFrom<String> for Ipv6Net {
    type Error = NetworkError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Ipv6Net> for String {
    fn from(n: Ipv6Net) -> String {
        n.to_string()
    }
}

/// What IPAM needs of a prefix, for both families.
pub trait IpPrefix:
    Copy
    + Eq
    + fmt::Debug
    + fmt::Display
    + FromStr<Err = NetworkError>
    + Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The address type.
    type Addr: Copy
        + Ord
        + fmt::Debug
        + fmt::Display
        + FromStr
        + Serialize
        + serde::de::DeserializeOwned
        + Into<std::net::IpAddr>
        + Send
        + Sync
        + 'static;
    /// "IPv4" or "IPv6" (for messages).
    const FAMILY: &'static str;
    /// Whether the last address of a prefix is unusable (IPv4's broadcast).
    const HAS_BROADCAST: bool;
    /// The network address.
    fn network(&self) -> Self::Addr;
    /// The prefix length.
    fn prefix_len(&self) -> u8;
    /// The last address.
    fn last_addr(&self) -> Self::Addr;
    /// Number of addresses (saturated).
    fn count(&self) -> u128;
    /// True when `ip` is inside.
    fn has(&self, ip: Self::Addr) -> bool;
    /// True when the prefixes share an address.
    fn overlaps_with(&self, other: &Self) -> bool;
    /// True when `other` lies inside.
    fn contains_prefix(&self, other: &Self) -> bool;
    /// The address at `offset`.
    fn at(&self, offset: u128) -> Option<Self::Addr>;
    /// Offset of `ip` (inside) from the network address.
    fn offset(&self, ip: Self::Addr) -> u128;
}

impl IpPrefix for Ipv4Net {
    type Addr = Ipv4Addr;
    const FAMILY: &'static str = "IPv4";
    const HAS_BROADCAST: bool = true;
    fn network(&self) -> Ipv4Addr {
        self.addr
    }
    fn prefix_len(&self) -> u8 {
        self.prefix
    }
    fn last_addr(&self) -> Ipv4Addr {
        self.last()
    }
    fn count(&self) -> u128 {
        u128::from(self.size())
    }
    fn has(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip)
    }
    fn overlaps_with(&self, other: &Self) -> bool {
        self.overlaps(other)
    }
    fn contains_prefix(&self, other: &Self) -> bool {
        self.contains_net(other)
    }
    fn at(&self, offset: u128) -> Option<Ipv4Addr> {
        u32::try_from(offset).ok().and_then(|o| self.nth(o))
    }
    fn offset(&self, ip: Ipv4Addr) -> u128 {
        u128::from(self.offset_of(ip))
    }
}

impl IpPrefix for Ipv6Net {
    type Addr = Ipv6Addr;
    const FAMILY: &'static str = "IPv6";
    const HAS_BROADCAST: bool = false;
    fn network(&self) -> Ipv6Addr {
        self.addr
    }
    fn prefix_len(&self) -> u8 {
        self.prefix
    }
    fn last_addr(&self) -> Ipv6Addr {
        self.last()
    }
    fn count(&self) -> u128 {
        self.size()
    }
    fn has(&self, ip: Ipv6Addr) -> bool {
        self.contains(ip)
    }
    fn overlaps_with(&self, other: &Self) -> bool {
        self.overlaps(other)
    }
    fn contains_prefix(&self, other: &Self) -> bool {
        self.contains_net(other)
    }
    fn at(&self, offset: u128) -> Option<Ipv6Addr> {
        self.nth(offset)
    }
    fn offset(&self, ip: Ipv6Addr) -> u128 {
        self.offset_of(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let n: Ipv4Net = "10.213.5.0/24".parse().unwrap();
        assert_eq!(n.to_string(), "10.213.5.0/24");
        assert_eq!(n.last(), Ipv4Addr::new(10, 213, 5, 255));
        assert_eq!(n.size(), 256);
        assert!(n.contains(Ipv4Addr::new(10, 213, 5, 7)));
        assert!(!n.contains(Ipv4Addr::new(10, 213, 6, 7)));
        for bad in ["10.0.0.0", "10.0.0/8", "10.0.0.0/33", "x/8", "10.0.0.0/a"] {
            assert!(bad.parse::<Ipv4Net>().is_err(), "{bad}");
        }
        let e = "10.0.0.5/24".parse::<Ipv4Net>().unwrap_err().to_string();
        assert!(e.contains("did you mean 10.0.0.0/24"), "{e}");
    }

    #[test]
    fn overlap() {
        let a: Ipv4Net = "172.17.0.0/16".parse().unwrap();
        let b: Ipv4Net = "172.17.3.0/24".parse().unwrap();
        let c: Ipv4Net = "172.18.0.0/16".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!(a.contains_net(&b) && !b.contains_net(&a));
        let all: Ipv4Net = "0.0.0.0/0".parse().unwrap();
        assert!(all.overlaps(&a));
    }

    #[test]
    fn ipv6_prefixes() {
        let n: Ipv6Net = "fd12:3456:789a::/48".parse().unwrap();
        assert_eq!(n.to_string(), "fd12:3456:789a::/48");
        assert!(n.contains("fd12:3456:789a:1::5".parse().unwrap()));
        assert!(!n.contains("fd12:3456:789b::5".parse().unwrap()));
        let sub: Ipv6Net = "fd12:3456:789a:1::/64".parse().unwrap();
        assert!(n.contains_net(&sub) && n.overlaps(&sub) && !sub.contains_net(&n));
        assert_eq!(sub.nth(2).unwrap().to_string(), "fd12:3456:789a:1::2");
        assert_eq!(
            sub.last().to_string(),
            "fd12:3456:789a:1:ffff:ffff:ffff:ffff"
        );
        assert_eq!(sub.size(), 1u128 << 64);
        let e = "fd00::1/64".parse::<Ipv6Net>().unwrap_err().to_string();
        assert!(e.contains("did you mean fd00::/64"), "{e}");
        for bad in ["fd00::", "fd00::/129", "10.0.0.0/8", "fd00::/x"] {
            assert!(bad.parse::<Ipv6Net>().is_err(), "{bad}");
        }
        assert_eq!("::/0".parse::<Ipv6Net>().unwrap().size(), u128::MAX);
    }
}
