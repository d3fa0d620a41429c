//! berth's own nftables table. The whole table is rendered from a [`Ruleset`] and replaced
//! in one atomic `nft -f -` transaction, so the kernel never sees a half-applied state and
//! no other table is ever read or written.
//!
//! Chains: `prerouting`/`output` (nat, DNAT of published ports to local addresses — the
//! output hook serves 127.0.0.1 thanks to `route_localnet` on the bridge; IPv6 rules leave
//! `::1` alone, the userland proxy serves it), `postrouting` (masquerade of non-internal
//! IPv4 and IPv6 subnets and of loopback-sourced DNAT traffic), `forward` (drop between
//! different bridges, and in/out of internal networks).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use crate::backend::Firewall;
use crate::error::{NetworkError, Result};
use crate::ports::Proto;
use crate::subnet::{Ipv4Net, Ipv6Net};

/// A bridge network as the firewall sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeRules {
    /// Bridge interface name.
    pub bridge: String,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// Its IPv6 subnet (IPv6 networks).
    pub subnet6: Option<Ipv6Net>,
    /// `--internal`: no masquerade, no traffic in or out of the bridge.
    pub internal: bool,
}

/// One published port after range expansion and host-port resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRule {
    /// tcp or udp.
    pub proto: Proto,
    /// Host address it is published on (`None` or unspecified = every local address of
    /// the container address's family).
    pub host_ip: Option<IpAddr>,
    /// Host port.
    pub host_port: u16,
    /// Container address (its family is the rule's).
    pub container_ip: IpAddr,
    /// Container port.
    pub container_port: u16,
}

/// Everything the table must contain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    /// Bridge networks.
    pub bridges: Vec<BridgeRules>,
    /// Published ports.
    pub ports: Vec<PortRule>,
}

/// Handle on one `inet` table (`berth` in production; tests use unique names): the
/// production [`Firewall`].
#[derive(Clone, Debug)]
pub struct Nftables {
    table: String,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', ""))
}

impl Nftables {
    /// The firewall writing `table inet <table>`.
    pub fn new(table: impl Into<String>) -> Self {
        Nftables {
            table: table.into(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The nft script that replaces the table with `rs`.
    pub fn render(&self, rs: &Ruleset) -> String {
        let t = &self.table;
        let mut s = format!("table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n");
        s.push_str("  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    fib daddr type local jump ports\n  }\n");
        s.push_str("  chain output {\n    type nat hook output priority -100; policy accept;\n    fib daddr type local jump ports\n  }\n");
        s.push_str("  chain ports {\n");
        for p in &rs.ports {
            let host = p.host_ip.filter(|ip| !ip.is_unspecified());
            let proto = p.proto.as_str();
            let (port, cport) = (p.host_port, p.container_port);
            match p.container_ip {
                IpAddr::V4(c) => {
                    let dst = host.map(|ip| format!("ip daddr {ip} ")).unwrap_or_default();
                    let _ = writeln!(
                        s,
                        "    meta nfproto ipv4 {dst}{proto} dport {port} dnat ip to {c}:{cport}"
                    );
                }
                IpAddr::V6(c) => {
                    let dst = host
                        .map(|ip| format!("ip6 daddr {ip} "))
                        .unwrap_or_default();
                    let _ = writeln!(
                        s,
                        "    meta nfproto ipv6 ip6 daddr != ::1 {dst}{proto} dport {port} dnat ip6 to [{c}]:{cport}"
                    );
                }
            }
        }
        s.push_str("  }\n");
        s.push_str("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for b in &rs.bridges {
            let br = quote(&b.bridge);
            let _ = writeln!(s, "    ip saddr 127.0.0.0/8 oifname {br} masquerade");
            if !b.internal {
                let _ = writeln!(s, "    ip saddr {} oifname != {br} masquerade", b.subnet);
                if let Some(v6) = b.subnet6 {
                    let _ = writeln!(s, "    ip6 saddr {v6} oifname != {br} masquerade");
                }
            }
        }
        s.push_str("  }\n");
        s.push_str(
            "  chain forward {\n    type filter hook forward priority filter; policy accept;\n",
        );
        for a in &rs.bridges {
            let ba = quote(&a.bridge);
            if a.internal {
                let _ = writeln!(s, "    iifname {ba} oifname != {ba} drop");
                let _ = writeln!(s, "    oifname {ba} iifname != {ba} drop");
            }
            for b in rs.bridges.iter().filter(|b| b.bridge != a.bridge) {
                let _ = writeln!(s, "    iifname {ba} oifname {} drop", quote(&b.bridge));
            }
        }
        s.push_str("  }\n}\n");
        s
    }

    /// Replaces the table atomically with `rs`; an empty ruleset deletes the table.
    pub fn apply(&self, rs: &Ruleset) -> Result<()> {
        if rs.bridges.is_empty() && rs.ports.is_empty() {
            return self.delete();
        }
        self.run(&self.render(rs))
    }

    /// Deletes the table (absent is fine).
    pub fn delete(&self) -> Result<()> {
        let t = &self.table;
        self.run(&format!("table inet {t}\ndelete table inet {t}\n"))
    }

    /// `nft list table inet <table>`; `None` when the table does not exist.
    pub fn list(&self) -> Result<Option<String>> {
        let out = Command::new("nft")
            .args(["list", "table", "inet", &self.table])
            .output()
            .map_err(|e| self.err(format!("run nft: {e}")))?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
    }

    fn err(&self, message: String) -> NetworkError {
        NetworkError::Nft {
            table: self.table.clone(),
            message,
        }
    }

    fn run(&self, script: &str) -> Result<()> {
        let mut child = Command::new("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.err(format!("run nft: {e}")))?;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(script.as_bytes())
            .map_err(|e| self.err(format!("write to nft: {e}")))?;
        let out = child
            .wait_with_output()
            .map_err(|e| self.err(format!("wait for nft: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(self.err(String::from_utf8_lossy(&out.stderr).trim().to_string()))
        }
    }
}

impl Firewall for Nftables {
    fn apply(&self, rs: &Ruleset) -> Result<()> {
        Nftables::apply(self, rs)
    }
    fn delete(&self) -> Result<()> {
        Nftables::delete(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nat_isolation_and_ports() {
        let fw = Nftables::new("berth");
        let rs = Ruleset {
            bridges: vec![
                BridgeRules {
                    bridge: "berth0".into(),
                    subnet: "172.17.0.0/16".parse().unwrap(),
                    subnet6: Some("fd00:17::/64".parse().unwrap()),
                    internal: false,
                },
                BridgeRules {
                    bridge: "br-int".into(),
                    subnet: "10.9.0.0/24".parse().unwrap(),
                    subnet6: Some("fd00:9::/64".parse().unwrap()),
                    internal: true,
                },
            ],
            ports: vec![
                PortRule {
                    proto: Proto::Tcp,
                    host_ip: Some("127.0.0.1".parse().unwrap()),
                    host_port: 8080,
                    container_ip: "172.17.0.2".parse().unwrap(),
                    container_port: 80,
                },
                PortRule {
                    proto: Proto::Udp,
                    host_ip: Some("::".parse().unwrap()),
                    host_port: 5353,
                    container_ip: "fd00:17::2".parse().unwrap(),
                    container_port: 53,
                },
                PortRule {
                    proto: Proto::Tcp,
                    host_ip: Some("fd00:1::5".parse().unwrap()),
                    host_port: 8443,
                    container_ip: "fd00:17::2".parse().unwrap(),
                    container_port: 443,
                },
            ],
        };
        let s = fw.render(&rs);
        assert!(
            s.starts_with("table inet berth\ndelete table inet berth\n"),
            "{s}"
        );
        assert!(
            s.contains("ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 172.17.0.2:80"),
            "{s}"
        );
        assert!(
            s.contains("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"),
            "{s}"
        );
        assert!(
            s.contains("ip6 saddr fd00:17::/64 oifname != \"berth0\" masquerade"),
            "{s}"
        );
        assert!(!s.contains("fd00:9::/64"), "internal: {s}");
        assert!(
            s.contains(
                "meta nfproto ipv6 ip6 daddr != ::1 udp dport 5353 dnat ip6 to [fd00:17::2]:53"
            ),
            "{s}"
        );
        assert!(
            s.contains(
                "ip6 daddr != ::1 ip6 daddr fd00:1::5 tcp dport 8443 dnat ip6 to [fd00:17::2]:443"
            ),
            "{s}"
        );
        assert!(
            !s.contains("ip saddr 10.9.0.0/24"),
            "internal networks are not masqueraded: {s}"
        );
        assert!(
            s.contains("iifname \"berth0\" oifname \"br-int\" drop"),
            "{s}"
        );
        assert!(
            s.contains("iifname \"br-int\" oifname != \"br-int\" drop"),
            "{s}"
        );
        assert!(!s.contains("table ip "), "only the inet berth table: {s}");
    }
}
