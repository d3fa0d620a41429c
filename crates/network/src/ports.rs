//! Published ports: parsing of `-p [ip:][host:]container[/proto]` (with ranges, IPv6 host
//! addresses in brackets), and host port reservation. A reservation is a socket *bound* (not
//! listening) to the host address and port: it proves the port is free before any rule is
//! installed, keeps other processes from taking it while the container runs, and is released
//! by dropping it. IPv4 traffic is DNATed by the kernel (see `nft`), so that socket never
//! sees a packet; an IPv6 reservation is also what the userland proxy (`proxy`) serves for
//! the connections the kernel cannot DNAT (`::1`, or a container without IPv6). IPv6
//! sockets are `IPV6_V6ONLY`: `[::]` is every IPv6 address, as with Docker.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;

use rustix::net::{sockopt, AddressFamily, SocketType};
use serde::{Deserialize, Serialize};

use crate::error::{NetworkError, Result};

/// Transport protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// "tcp" or "udp".
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host side of a mapping before resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostPort {
    /// Any free port in 32768-60999 (`-P`, or `-p 80`).
    Ephemeral,
    /// Exactly this port.
    Fixed(u16),
    /// The first free port of this inclusive range (`-p 8000-8010:80`).
    Range(u16, u16),
}

/// One requested mapping (one container port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Host address (`None` = every address: 0.0.0.0, and `::` where the host has IPv6).
    pub host_ip: Option<IpAddr>,
    /// Host port wish.
    pub host_port: HostPort,
    /// Container port.
    pub container_port: u16,
    /// Protocol.
    pub proto: Proto,
}

impl PortMapping {
    /// `-P` for one EXPOSEd port.
    pub fn ephemeral(container_port: u16, proto: Proto) -> Self {
        PortMapping {
            host_ip: None,
            host_port: HostPort::Ephemeral,
            container_port,
            proto,
        }
    }
}

/// Docker's ephemeral range.
pub const EPHEMERAL: (u16, u16) = (32768, 60999);

fn parse_range(s: &str, what: &str) -> Result<(u16, u16)> {
    let bad = || NetworkError::InvalidArgument(format!("invalid {what}: {s}"));
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// Parses one `-p` value into one mapping per container port.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, "tcp")) => (r, Proto::Tcp),
        Some((r, "udp")) => (r, Proto::Udp),
        Some((_, p)) => return Err(NetworkError::InvalidArgument(format!("invalid proto: {p}"))),
        None => (spec, Proto::Tcp),
    };
    let bad_format = || NetworkError::InvalidArgument(format!("invalid port format: {spec}"));
    // `[v6]:host:container`: the address is split off before the colons are counted.
    let (ip, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let (ip, after) = r.split_once(']').ok_or_else(bad_format)?;
            (Some(ip), after.strip_prefix(':').ok_or_else(bad_format)?)
        }
        None => (None, rest),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, ctr) = match (ip, parts.as_slice()) {
        (None, [c]) => (None, None, *c),
        (None, [h, c]) => (None, Some(*h), *c),
        (None, [ip, h, c]) => (Some(*ip), Some(*h), *c),
        (Some(ip), [h, c]) => (Some(ip), Some(*h), *c),
        _ => return Err(bad_format()),
    };
    let host = host.filter(|h| !h.is_empty());
    let host_ip = ip
        .filter(|i| !i.is_empty())
        .map(parse_host_ip)
        .transpose()?;
    publish_mappings(host_ip, host, ctr, proto)
}

/// A host address of a port binding (`0.0.0.0`, `127.0.0.1`, `::`, `[::1]`).
pub fn parse_host_ip(s: &str) -> Result<IpAddr> {
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| NetworkError::InvalidArgument(format!("invalid IP address: {s}")))
}

/// The mappings of one binding: `host_ip` (`None` = every address), host port or range
/// (`None` = ephemeral), container port or range, protocol.
pub fn publish_mappings(
    host_ip: Option<IpAddr>,
    host: Option<&str>,
    ctr: &str,
    proto: Proto,
) -> Result<Vec<PortMapping>> {
    let (c0, c1) = parse_range(ctr, "containerPort")?;
    let count = c1 - c0 + 1;
    let host = host.map(|h| parse_range(h, "hostPort")).transpose()?;
    let mut out = Vec::new();
    for i in 0..count {
        let host_port = match host {
            None => HostPort::Ephemeral,
            Some((h0, h1)) if h1 - h0 + 1 == count => HostPort::Fixed(h0 + i),
            Some((h0, h1)) if count == 1 => HostPort::Range(h0, h1),
            Some((h0, h1)) => {
                return Err(NetworkError::InvalidArgument(format!(
                    "invalid ranges specified for container and host Ports: {ctr} and {h0}-{h1}"
                )))
            }
        };
        out.push(PortMapping {
            host_ip,
            host_port,
            container_port: c0 + i,
            proto,
        });
    }
    Ok(out)
}

/// A held host port: the mapping resolved to a concrete port, and the socket holding it.
#[derive(Debug)]
pub struct ReservedPort {
    /// Host address (`None` = all IPv4 addresses).
    pub host_ip: Option<IpAddr>,
    /// The concrete host port.
    pub host_port: u16,
    /// Container port.
    pub container_port: u16,
    /// Protocol.
    pub proto: Proto,
    socket: OwnedFd,
}

impl ReservedPort {
    /// The bound socket (the userland proxy listens on it).
    pub fn into_socket(self) -> OwnedFd {
        self.socket
    }
}

fn try_bind(ip: IpAddr, port: u16, proto: Proto) -> std::io::Result<OwnedFd> {
    let ty = match proto {
        Proto::Tcp => SocketType::STREAM,
        Proto::Udp => SocketType::DGRAM,
    };
    let family = match ip {
        IpAddr::V4(_) => AddressFamily::INET,
        IpAddr::V6(_) => AddressFamily::INET6,
    };
    let fd = rustix::net::socket_with(family, ty, rustix::net::SocketFlags::CLOEXEC, None)?;
    if ip.is_ipv6() {
        sockopt::set_ipv6_v6only(&fd, true)?;
        // The proxy listens on IPv6 reservations: its closed connections (TIME_WAIT) must
        // not keep the port from being published again.
        sockopt::set_socket_reuseaddr(&fd, true)?;
    }
    rustix::net::bind(&fd, &SocketAddr::new(ip, port))?;
    Ok(fd)
}

/// Whether this network namespace can bind IPv6 sockets (Docker adds `[::]` bindings to
/// `-p 8080:80` only then).
pub fn ipv6_available() -> bool {
    try_bind(IpAddr::V6(Ipv6Addr::LOCALHOST), 0, Proto::Tcp).is_ok()
}

fn reserve_one(m: &PortMapping, start_hint: u32) -> Result<ReservedPort> {
    let ip = m.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let (lo, hi) = match m.host_port {
        HostPort::Fixed(p) => (p, p),
        HostPort::Range(a, b) => (a, b),
        HostPort::Ephemeral => EPHEMERAL,
    };
    let span = u32::from(hi - lo) + 1;
    let start = if matches!(m.host_port, HostPort::Ephemeral) {
        start_hint % span
    } else {
        0
    };
    let mut last_err = None;
    for i in 0..span {
        let port = nth_port(lo, (start + i) % span);
        match try_bind(ip, port, m.proto) {
            Ok(fd) => {
                return Ok(ReservedPort {
                    host_ip: m.host_ip,
                    host_port: port,
                    container_port: m.container_port,
                    proto: m.proto,
                    socket: fd,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last_err = Some(e),
            Err(e) => {
                return Err(NetworkError::sys(
                    format!("bind {ip}:{port}/{}", m.proto),
                    e,
                ))
            }
        }
    }
    let _ = last_err;
    match m.host_port {
        HostPort::Fixed(p) => Err(NetworkError::PortInUse {
            addr: SocketAddr::new(ip, p).to_string(),
            proto: m.proto.as_str(),
        }),
        _ => Err(NetworkError::NoFreePort(format!(
            "{ip}:{lo}-{hi}/{}",
            m.proto
        ))),
    }
}

/// Port `lo + offset` of a range; `offset` is below the range's span, so it never passes
/// the range's top.
fn nth_port(lo: u16, offset: u32) -> u16 {
    lo.saturating_add(u16::try_from(offset).unwrap_or(u16::MAX))
}

fn start_hint() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ std::process::id())
        .unwrap_or(0)
}

/// Reserves every mapping or none: on the first failure the ports already taken are released.
pub fn reserve_all(mappings: &[PortMapping]) -> Result<Vec<ReservedPort>> {
    let hint = start_hint();
    mappings
        .iter()
        .enumerate()
        .map(|(i, m)| reserve_one(m, hint.wrapping_add(u32::try_from(i).unwrap_or(0))))
        .collect()
}

/// Reserves a mapping without host address on `0.0.0.0` and `::` with the same host port,
/// as Docker does for `-p 8080:80`. For a range or an ephemeral port the first port free
/// on both is taken.
pub fn reserve_dual(m: &PortMapping) -> Result<(ReservedPort, ReservedPort)> {
    let v6 = |port| PortMapping {
        host_ip: Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        host_port: HostPort::Fixed(port),
        ..*m
    };
    if let HostPort::Fixed(_) = m.host_port {
        let r4 = reserve_one(m, 0)?;
        let r6 = reserve_one(&v6(r4.host_port), 0)?;
        return Ok((r4, r6));
    }
    let (lo, hi) = match m.host_port {
        HostPort::Range(a, b) => (a, b),
        _ => EPHEMERAL,
    };
    let span = u32::from(hi - lo) + 1;
    let start = match m.host_port {
        HostPort::Ephemeral => start_hint() % span,
        _ => 0,
    };
    for i in 0..span {
        let port = nth_port(lo, (start + i) % span);
        let Ok(r4) = reserve_one(
            &PortMapping {
                host_port: HostPort::Fixed(port),
                ..*m
            },
            0,
        ) else {
            continue;
        };
        if let Ok(r6) = reserve_one(&v6(port), 0) {
            return Ok((r4, r6));
        }
    }
    Err(NetworkError::NoFreePort(format!("{lo}-{hi}/{}", m.proto)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_forms() {
        let m = parse_publish("8080:80").unwrap();
        assert_eq!(
            m,
            vec![PortMapping {
                host_ip: None,
                host_port: HostPort::Fixed(8080),
                container_port: 80,
                proto: Proto::Tcp
            }]
        );
        let m = parse_publish("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(m[0].host_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let m = parse_publish("[::1]:8080:80").unwrap();
        assert_eq!(m[0].host_ip, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(m[0].host_port, HostPort::Fixed(8080));
        let m = parse_publish("[::]::80/udp").unwrap();
        assert_eq!(m[0].host_ip, Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
        assert_eq!(m[0].host_port, HostPort::Ephemeral);
        assert_eq!(m[0].proto, Proto::Udp);
        let m = parse_publish("127.0.0.1::80").unwrap();
        assert_eq!(m[0].host_port, HostPort::Ephemeral);
        let m = parse_publish("80").unwrap();
        assert_eq!(m[0].host_port, HostPort::Ephemeral);
        let m = parse_publish("8000-8002:80-82").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            (m[2].host_port, m[2].container_port),
            (HostPort::Fixed(8002), 82)
        );
        let m = parse_publish("8000-8010:80").unwrap();
        assert_eq!(m[0].host_port, HostPort::Range(8000, 8010));
        for bad in [
            "80/sctpx",
            "a:80",
            "80:b",
            "1:2:3:4",
            "8000-8001:80-82",
            "x.y:1:2",
            "0:80",
            "90-80:80",
            "[::1:8080:80",
            "[::1]8080:80",
            "[nope]:8080:80",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_publish("80/sctpx").unwrap_err().to_string(),
            "invalid argument: invalid proto: sctpx"
        );
    }

    #[test]
    fn taken_port_fails_and_releases_the_others() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = holder.local_addr().unwrap().port();
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let free_port = free.local_addr().unwrap().port();
        drop(free);
        let ms = [
            PortMapping {
                host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                host_port: HostPort::Fixed(free_port),
                container_port: 80,
                proto: Proto::Tcp,
            },
            PortMapping {
                host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                host_port: HostPort::Fixed(taken),
                container_port: 81,
                proto: Proto::Tcp,
            },
        ];
        let e = reserve_all(&ms).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("failed to bind host port 127.0.0.1:{taken}/tcp: address already in use")
        );
        // The first port was released again.
        std::net::TcpListener::bind(("127.0.0.1", free_port)).expect("released");
    }

    #[test]
    fn reservation_holds_the_port_and_ephemeral_is_in_range() {
        let r = reserve_all(&[PortMapping::ephemeral(80, Proto::Tcp)]).unwrap();
        let p = r[0].host_port;
        assert!((EPHEMERAL.0..=EPHEMERAL.1).contains(&p));
        assert!(
            std::net::TcpListener::bind(("0.0.0.0", p)).is_err(),
            "held while reserved"
        );
        drop(r);
        std::net::TcpListener::bind(("0.0.0.0", p)).expect("free after drop");
    }

    #[test]
    fn dual_reservation_holds_both_families_on_one_port() {
        if !ipv6_available() {
            return;
        }
        let (r4, r6) = reserve_dual(&PortMapping::ephemeral(80, Proto::Tcp)).unwrap();
        assert_eq!(r4.host_port, r6.host_port);
        assert_eq!(r4.host_ip, None);
        assert_eq!(r6.host_ip, Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
        let p = r4.host_port;
        // An IPv6 reservation is listened on at once by the proxy; then nobody else gets it.
        rustix::net::listen(&r6.socket, 1).unwrap();
        assert!(std::net::TcpListener::bind(("::1", p)).is_err(), "v6 held");
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", p)).is_err(),
            "v4 held"
        );
        drop((r4, r6));
        // A v6-only `[::]` reservation leaves IPv4 free.
        let r = reserve_all(&[PortMapping {
            host_ip: Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            ..PortMapping::ephemeral(80, Proto::Udp)
        }])
        .unwrap();
        std::net::UdpSocket::bind(("0.0.0.0", r[0].host_port)).expect("v4 free");
    }
}
