//! berth's own nftables table. The whole table is rendered from a [`Ruleset`] and replaced
//! in one atomic `nft -f -` transaction, so the kernel never sees a half-applied state and
//! no other table is ever read or written.
//!
//! Chains: `prerouting`/`output` (nat, DNAT of published ports to local addresses — the
//! output hook serves 127.0.0.1 thanks to `route_localnet` on the bridge), `postrouting`
//! (masquerade of non-internal subnets and of loopback-sourced DNAT traffic), `forward`
//! (drop between different bridges, and in/out of internal networks).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::backend::Firewall;
use crate::error::{NetworkError, Result};
use crate::ports::Proto;
use crate::subnet::Ipv4Net;

/// A bridge network as the firewall sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeRules {
    /// Bridge interface name.
    pub bridge: String,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// `--internal`: no masquerade, no traffic in or out of the bridge.
    pub internal: bool,
}

/// One published port after range expansion and host-port resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRule {
    /// tcp or udp.
    pub proto: Proto,
    /// Host address it is published on (`None` = every local address).
    pub host_ip: Option<Ipv4Addr>,
    /// Host port.
    pub host_port: u16,
    /// Container address.
    pub container_ip: Ipv4Addr,
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
            let dst = match p.host_ip {
                Some(ip) if !ip.is_unspecified() => format!("ip daddr {ip} "),
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "    meta nfproto ipv4 {dst}{proto} dport {} dnat ip to {}:{}",
                p.host_port,
                p.container_ip,
                p.container_port,
                proto = p.proto.as_str()
            );
        }
        s.push_str("  }\n");
        s.push_str("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for b in &rs.bridges {
            let br = quote(&b.bridge);
            let _ = writeln!(s, "    ip saddr 127.0.0.0/8 oifname {br} masquerade");
            if !b.internal {
                let _ = writeln!(s, "    ip saddr {} oifname != {br} masquerade", b.subnet);
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
                    internal: false,
                },
                BridgeRules {
                    bridge: "br-int".into(),
                    subnet: "10.9.0.0/24".parse().unwrap(),
                    internal: true,
                },
            ],
            ports: vec![PortRule {
                proto: Proto::Tcp,
                host_ip: Some(Ipv4Addr::LOCALHOST),
                host_port: 8080,
                container_ip: Ipv4Addr::new(172, 17, 0, 2),
                container_port: 80,
            }],
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
