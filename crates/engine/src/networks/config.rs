//! Daemon-level network settings: dockerd's `--bridge`/`bridge`, `--bip`/`bip`, `--mtu`/`mtu`,
//! `default-address-pools`, `--ipv6`/`ipv6`, `--fixed-cidr-v6`/`fixed-cidr-v6`,
//! `--icc`/`icc`, plus berth's own `--nft-table`/`nft-table` (the nftables table berth owns;
//! tests give every daemon its own).

use berth_network::ipam::AddressPool;
use berth_network::{Ipv4Net, Ipv6Net};
use serde::Deserialize;

/// Effective network settings of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// Default bridge interface (`berth0`); `none` disables the default bridge network.
    pub bridge: String,
    /// Gateway/prefix of the default bridge (`172.17.0.1/16`); picked from the pools if unset.
    pub bip: Option<String>,
    /// MTU of bridges and veths.
    pub mtu: u32,
    /// Pools for networks created without `--subnet` (Docker's defaults when empty).
    pub address_pools: Vec<AddressPool>,
    /// berth's nftables table (`berth`).
    pub nft_table: String,
    /// IPv6 on the default bridge.
    pub ipv6: bool,
    /// The default bridge's IPv6 subnet.
    pub fixed_cidr_v6: Option<String>,
    /// Inter-container communication on the default bridge.
    pub icc: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            bridge: "berth0".into(),
            bip: None,
            mtu: 1500,
            address_pools: Vec::new(),
            nft_table: "berth".into(),
            ipv6: false,
            fixed_cidr_v6: None,
            icc: true,
        }
    }
}

/// The raw values (flags win over daemon.json, the caller decides) that [`build`] checks.
#[derive(Debug, Clone, Default)]
pub struct RawNetConfig {
    /// `--bridge`.
    pub bridge: Option<String>,
    /// `--bip`.
    pub bip: Option<String>,
    /// `--mtu`.
    pub mtu: Option<u32>,
    /// `default-address-pools`.
    pub pools: Vec<PoolEntry>,
    /// `--nft-table`.
    pub nft_table: Option<String>,
    /// `--ipv6`.
    pub ipv6: Option<bool>,
    /// `--fixed-cidr-v6`.
    pub fixed_cidr_v6: Option<String>,
    /// `--icc`.
    pub icc: Option<bool>,
}

impl NetConfig {
    /// False with `--bridge none`.
    pub fn default_bridge_enabled(&self) -> bool {
        self.bridge != "none"
    }
}

/// One `default-address-pools` entry as written in daemon.json.
#[derive(Debug, Clone, Deserialize)]
pub struct PoolEntry {
    /// `"base": "10.10.0.0/16"`.
    pub base: String,
    /// `"size": 24`.
    pub size: u8,
}

/// Validates the raw values.
pub fn build(raw: RawNetConfig) -> Result<NetConfig, String> {
    let RawNetConfig {
        bridge,
        bip,
        mtu,
        pools,
        nft_table,
        ipv6,
        fixed_cidr_v6,
        icc,
    } = raw;
    let mut c = NetConfig {
        ipv6: ipv6.unwrap_or(false),
        icc: icc.unwrap_or(true),
        ..Default::default()
    };
    if let Some(cidr) = fixed_cidr_v6.filter(|s| !s.is_empty()) {
        let net: Ipv6Net = cidr
            .parse()
            .map_err(|e| format!("invalid fixed-cidr-v6: {e}"))?;
        c.fixed_cidr_v6 = Some(net.to_string());
    }
    if let Some(b) = bridge.filter(|b| !b.is_empty()) {
        if b.len() > 15 || b.contains('/') || b.contains(char::is_whitespace) {
            return Err(format!("invalid bridge name {b:?}"));
        }
        c.bridge = b;
    }
    if let Some(b) = bip.filter(|b| !b.is_empty()) {
        let ok = b.split_once('/').is_some_and(|(ip, p)| {
            ip.parse::<std::net::Ipv4Addr>().is_ok() && p.parse::<u8>().is_ok_and(|p| p <= 30)
        });
        if !ok {
            return Err(format!(
                "invalid bip {b:?}: expected an address with a prefix, e.g. 172.17.0.1/16"
            ));
        }
        c.bip = Some(b);
    }
    if let Some(m) = mtu.filter(|m| *m > 0) {
        if !(68..=65535).contains(&m) {
            return Err(format!("invalid mtu {m}"));
        }
        c.mtu = m;
    }
    for p in &pools {
        let base: Ipv4Net = p
            .base
            .parse()
            .map_err(|e| format!("default-address-pools: {e}"))?;
        if p.size < base.prefix() || p.size > 30 {
            return Err(format!(
                "default-address-pools: size {} does not fit base {}",
                p.size, p.base
            ));
        }
        c.address_pools.push(AddressPool { base, size: p.size });
    }
    if let Some(t) = nft_table.filter(|t| !t.is_empty()) {
        if !t.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
            return Err(format!(
                "invalid nft-table {t:?}: letters, digits and _ only"
            ));
        }
        c.nft_table = t;
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_values() {
        let c = build(RawNetConfig::default()).unwrap();
        assert_eq!(c, NetConfig::default());
        let c = build(RawNetConfig {
            bridge: Some("bx0".into()),
            bip: Some("10.1.2.1/24".into()),
            mtu: Some(1400),
            pools: vec![PoolEntry {
                base: "10.20.0.0/16".into(),
                size: 24,
            }],
            nft_table: Some("berth_t1".into()),
            ipv6: Some(true),
            fixed_cidr_v6: Some("fd00:1:2::/64".into()),
            icc: Some(false),
        })
        .unwrap();
        assert_eq!(c.bridge, "bx0");
        assert_eq!(c.address_pools[0].size, 24);
        assert!(c.ipv6 && !c.icc);
        assert_eq!(c.fixed_cidr_v6.as_deref(), Some("fd00:1:2::/64"));
        let bad = |raw: RawNetConfig| build(raw).is_err();
        assert!(bad(RawNetConfig {
            bridge: Some("a-very-long-bridge-name".into()),
            ..Default::default()
        }));
        assert!(bad(RawNetConfig {
            bip: Some("10.1.2.1".into()),
            ..Default::default()
        }));
        assert!(bad(RawNetConfig {
            nft_table: Some("bad table".into()),
            ..Default::default()
        }));
        assert!(bad(RawNetConfig {
            pools: vec![PoolEntry {
                base: "10.20.0.0/16".into(),
                size: 8,
            }],
            ..Default::default()
        }));
        assert!(bad(RawNetConfig {
            fixed_cidr_v6: Some("fd00::1/64".into()),
            ..Default::default()
        }));
    }
}
