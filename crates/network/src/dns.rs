//! Embedded DNS: per-network name records, served to each container on 127.0.0.11:53
//! (UDP and TCP) inside the container's own network namespace, like Docker.
//!
//! The listening sockets are created by a thread that joined the container's netns (a
//! socket keeps the namespace it was born in) and are then served from the daemon's tokio
//! runtime. A listener answers only from the records of the networks its container is
//! attached to, so names never leak across networks. Other names are relayed unchanged to
//! the upstream resolvers (the host's, from the daemon's namespace, so a host resolver on
//! 127.0.0.53 works too).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use simple_dns::rdata::{RData, A, AAAA};
use simple_dns::{Packet, PacketFlag, ResourceRecord, CLASS, QTYPE, RCODE, TYPE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use crate::error::{NetworkError, Result};

/// The address Docker's embedded resolver uses inside containers.
pub const RESOLVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
const TTL: u32 = 600;
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// Lower-case name → addresses (IPv4 and IPv6), for one network.
type NetworkRecords = HashMap<String, Vec<IpAddr>>;

/// Name records of every network: network id → lower-case name → addresses.
#[derive(Clone, Debug, Default)]
pub struct DnsRecords {
    inner: Arc<RwLock<HashMap<String, NetworkRecords>>>,
}

impl DnsRecords {
    /// Empty record set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `names` (container name, aliases, short id) for `addrs` (an endpoint's
    /// IPv4 and IPv6 addresses) on `network`.
    pub fn add(&self, network: &str, names: &[String], addrs: &[IpAddr]) {
        let mut all = self.inner.write().expect("dns lock");
        let net = all.entry(network.to_string()).or_default();
        for n in names {
            let ips = net.entry(normalize(n)).or_default();
            for ip in addrs {
                if !ips.contains(ip) {
                    ips.push(*ip);
                }
            }
        }
    }

    /// Removes every record of `addrs` on `network` (container disconnect).
    pub fn remove_ips(&self, network: &str, addrs: &[IpAddr]) {
        let mut all = self.inner.write().expect("dns lock");
        if let Some(net) = all.get_mut(network) {
            net.retain(|_, ips| {
                ips.retain(|i| !addrs.contains(i));
                !ips.is_empty()
            });
            if net.is_empty() {
                all.remove(network);
            }
        }
    }

    /// Drops all records of a network (network removal).
    pub fn remove_network(&self, network: &str) {
        self.inner.write().expect("dns lock").remove(network);
    }

    /// Addresses of `name` on any of `networks`.
    pub fn lookup(&self, networks: &[String], name: &str) -> Vec<IpAddr> {
        self.lookup_scoped(&Scope::of(networks.to_vec()), name)
    }

    /// Addresses of `name` as a container with `scope` sees it, like Docker's sandbox: its
    /// link aliases first (each resolved on its own network), then the names of its
    /// networks, skipping a network where `name` is one of its link aliases.
    pub fn lookup_scoped(&self, scope: &Scope, name: &str) -> Vec<IpAddr> {
        let all = self.inner.read().expect("dns lock");
        let key = normalize(name);
        for l in &scope.links {
            if normalize(&l.alias) == key && scope.networks.contains(&l.network) {
                if let Some(ips) = all
                    .get(&l.network)
                    .and_then(|n| n.get(&normalize(&l.target)))
                {
                    return ips.clone();
                }
            }
        }
        let mut out = Vec::new();
        for n in &scope.networks {
            if scope
                .links
                .iter()
                .any(|l| l.network == *n && normalize(&l.alias) == key)
            {
                continue;
            }
            if let Some(ips) = all.get(n).and_then(|net| net.get(&key)) {
                out.extend(
                    ips.iter()
                        .filter(|ip| !out.contains(*ip))
                        .copied()
                        .collect::<Vec<_>>(),
                );
            }
        }
        out
    }

    /// Number of networks that hold at least one record.
    pub fn network_count(&self) -> usize {
        self.inner.read().expect("dns lock").len()
    }
}

/// A container-local name on one network: a `--link target:alias` on a user network.
/// `alias` resolves, for that container only, to the addresses `target` has on `network`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsLink {
    /// Network id.
    pub network: String,
    /// The name the container uses.
    pub alias: String,
    /// The linked container's name (or alias) on `network`.
    pub target: String,
}

/// What one container's resolver answers from: the networks it is attached to and its
/// link aliases on them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Network ids.
    pub networks: Vec<String>,
    /// Link aliases.
    pub links: Vec<DnsLink>,
}

impl Scope {
    /// The names of `networks`, no links.
    pub fn of(networks: Vec<String>) -> Self {
        Scope {
            networks,
            links: Vec::new(),
        }
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The resolver: records plus upstream servers for everything else.
#[derive(Clone, Debug)]
pub struct DnsServer {
    records: DnsRecords,
    upstreams: Arc<Vec<SocketAddr>>,
}

/// One container's listener; dropping it stops serving and closes the sockets.
#[derive(Debug)]
pub struct ResolverListener {
    scope: Arc<RwLock<Scope>>,
    tasks: Vec<JoinHandle<()>>,
    /// Where it listens (inside the container's netns for [`DnsServer::serve_in_netns`]).
    pub addr: SocketAddr,
}

impl ResolverListener {
    /// Changes the networks whose names this container can resolve (connect/disconnect).
    pub fn set_networks(&self, networks: Vec<String>) {
        self.scope.write().expect("dns lock").networks = networks;
    }

    /// Changes the container's link aliases (start, `network connect --link`).
    pub fn set_links(&self, links: Vec<DnsLink>) {
        self.scope.write().expect("dns lock").links = links;
    }
}

impl Drop for ResolverListener {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl DnsServer {
    /// A resolver over `records` that forwards unknown names to `upstreams` (port 53 unless
    /// given).
    pub fn new(records: DnsRecords, upstreams: Vec<SocketAddr>) -> Self {
        DnsServer {
            records,
            upstreams: Arc::new(upstreams),
        }
    }

    /// Binds 127.0.0.11:53 (UDP+TCP) inside `netns` and serves it for `networks`.
    /// Must be called from within a tokio runtime.
    pub fn serve_in_netns(&self, netns: &Path, networks: Vec<String>) -> Result<ResolverListener> {
        let addr = SocketAddr::from((RESOLVER_IP, 53));
        let (udp, tcp) = crate::link::blocking_in_netns(netns, move || {
            let udp = std::net::UdpSocket::bind(addr)
                .map_err(|e| NetworkError::sys(format!("bind udp {addr}"), e))?;
            let tcp = std::net::TcpListener::bind(addr)
                .map_err(|e| NetworkError::sys(format!("bind tcp {addr}"), e))?;
            Ok((udp, tcp))
        })?;
        self.serve_sockets(udp, tcp, networks)
    }

    /// Serves already-bound sockets (any namespace, any address).
    pub fn serve_sockets(
        &self,
        udp: std::net::UdpSocket,
        tcp: std::net::TcpListener,
        networks: Vec<String>,
    ) -> Result<ResolverListener> {
        let addr = udp
            .local_addr()
            .map_err(|e| NetworkError::sys("udp local addr", e))?;
        for s in [udp.set_nonblocking(true), tcp.set_nonblocking(true)] {
            s.map_err(|e| NetworkError::sys("set nonblocking", e))?;
        }
        let udp = UdpSocket::from_std(udp).map_err(|e| NetworkError::sys("register udp", e))?;
        let tcp = TcpListener::from_std(tcp).map_err(|e| NetworkError::sys("register tcp", e))?;
        let scope = Arc::new(RwLock::new(Scope::of(networks)));
        let udp_task = tokio::spawn(serve_udp(self.clone(), Arc::new(udp), scope.clone()));
        let tcp_task = tokio::spawn(serve_tcp(self.clone(), tcp, scope.clone()));
        Ok(ResolverListener {
            scope,
            tasks: vec![udp_task, tcp_task],
            addr,
        })
    }

    /// Answers one query message (DNS wire format) for a container on `networks`;
    /// `None` for garbage.
    pub async fn answer(&self, networks: &[String], query: &[u8]) -> Option<Vec<u8>> {
        self.answer_scoped(&Scope::of(networks.to_vec()), query)
            .await
    }

    /// Answers one query message for a container with `scope` (networks and link aliases).
    pub async fn answer_scoped(&self, scope: &Scope, query: &[u8]) -> Option<Vec<u8>> {
        let packet = Packet::parse(query).ok()?;
        if packet.has_flags(PacketFlag::RESPONSE) {
            return None;
        }
        if let [q] = packet.questions.as_slice() {
            let ips = self.records.lookup_scoped(scope, &q.qname.to_string());
            if !ips.is_empty() {
                let mut reply = Packet::new_reply(packet.id());
                reply.set_flags(PacketFlag::RECURSION_AVAILABLE | PacketFlag::AUTHORITATIVE_ANSWER);
                if packet.has_flags(PacketFlag::RECURSION_DESIRED) {
                    reply.set_flags(PacketFlag::RECURSION_DESIRED);
                }
                reply.questions.push(q.clone());
                let (want_a, want_aaaa) = match q.qtype {
                    QTYPE::TYPE(TYPE::A) => (true, false),
                    QTYPE::TYPE(TYPE::AAAA) => (false, true),
                    QTYPE::ANY => (true, true),
                    _ => (false, false),
                };
                for ip in ips {
                    let rdata = match ip {
                        IpAddr::V4(v4) if want_a => RData::A(A {
                            address: u32::from(v4),
                        }),
                        IpAddr::V6(v6) if want_aaaa => RData::AAAA(AAAA {
                            address: u128::from(v6),
                        }),
                        _ => continue,
                    };
                    reply
                        .answers
                        .push(ResourceRecord::new(q.qname.clone(), CLASS::IN, TTL, rdata));
                }
                // A known name without an address of the asked type (AAAA of an IPv4-only
                // container): NOERROR without answers, as Docker's resolver.
                return reply.build_bytes_vec_compressed().ok();
            }
        }
        match self.forward(query).await {
            Some(r) => Some(r),
            None => {
                let mut reply = Packet::new_reply(packet.id());
                reply.questions = packet.questions.clone();
                *reply.rcode_mut() = RCODE::ServerFailure;
                reply.build_bytes_vec().ok()
            }
        }
    }

    async fn forward(&self, query: &[u8]) -> Option<Vec<u8>> {
        for up in self.upstreams.iter() {
            let bind: SocketAddr = if up.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
                .parse()
                .ok()?;
            let Ok(sock) = UdpSocket::bind(bind).await else {
                continue;
            };
            if sock.connect(up).await.is_err() || sock.send(query).await.is_err() {
                continue;
            }
            let mut buf = vec![0u8; 65535];
            if let Ok(Ok(n)) = tokio::time::timeout(UPSTREAM_TIMEOUT, sock.recv(&mut buf)).await {
                buf.truncate(n);
                return Some(buf);
            }
        }
        None
    }
}

async fn serve_udp(server: DnsServer, sock: Arc<UdpSocket>, scope: Arc<RwLock<Scope>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf[..n].to_vec();
        let (server, sock, scope) = (server.clone(), sock.clone(), scope.clone());
        tokio::spawn(async move {
            let scope = scope.read().expect("dns lock").clone();
            if let Some(reply) = server.answer_scoped(&scope, &query).await {
                let _ = sock.send_to(&reply, peer).await;
            }
        });
    }
}

async fn serve_tcp(server: DnsServer, listener: TcpListener, scope: Arc<RwLock<Scope>>) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        let (server, scope) = (server.clone(), scope.clone());
        tokio::spawn(async move {
            loop {
                let mut len = [0u8; 2];
                if conn.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if conn.read_exact(&mut query).await.is_err() {
                    return;
                }
                let current = scope.read().expect("dns lock").clone();
                let Some(reply) = server.answer_scoped(&current, &query).await else {
                    return;
                };
                // TCP DNS frames say their length in 16 bits: a longer reply is not sent.
                let Ok(len) = u16::try_from(reply.len()) else {
                    return;
                };
                let mut framed = len.to_be_bytes().to_vec();
                framed.extend_from_slice(&reply);
                if conn.write_all(&framed).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::{Name, Question};

    fn query(name: &str, ty: TYPE) -> Vec<u8> {
        let mut p = Packet::new_query(0x1234);
        p.set_flags(PacketFlag::RECURSION_DESIRED);
        p.questions.push(Question::new(
            Name::new_unchecked(name),
            ty.into(),
            CLASS::IN.into(),
            false,
        ));
        p.build_bytes_vec().unwrap()
    }

    fn answers(reply: &[u8]) -> (RCODE, Vec<IpAddr>) {
        let p = Packet::parse(reply).unwrap();
        let ips = p
            .answers
            .iter()
            .filter_map(|rr| match &rr.rdata {
                RData::A(a) => Some(IpAddr::from(Ipv4Addr::from(a.address))),
                RData::AAAA(a) => Some(IpAddr::from(std::net::Ipv6Addr::from(a.address))),
                _ => None,
            })
            .collect();
        (p.rcode(), ips)
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[tokio::test]
    async fn answers_by_network_and_forwards_the_rest() {
        // A fake upstream on loopback that answers everything with 192.0.2.99.
        let up = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let up_addr = up.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = up.recv_from(&mut buf).await {
                let q = Packet::parse(&buf[..n]).unwrap();
                let mut r = Packet::new_reply(q.id());
                r.questions = q.questions.clone();
                r.answers.push(ResourceRecord::new(
                    q.questions[0].qname.clone(),
                    CLASS::IN,
                    5,
                    RData::A(A {
                        address: u32::from(Ipv4Addr::new(192, 0, 2, 99)),
                    }),
                ));
                up.send_to(&r.build_bytes_vec().unwrap(), peer)
                    .await
                    .unwrap();
            }
        });
        let recs = DnsRecords::new();
        let web6: IpAddr = "fd00:1::2".parse().unwrap();
        recs.add(
            "netA",
            &["web".into(), "alias1".into()],
            &[v4(10, 1, 0, 2), web6],
        );
        recs.add("netA", &["v4only".into()], &[v4(10, 1, 0, 3)]);
        recs.add("netB", &["db".into()], &[v4(10, 2, 0, 2)]);
        let srv = DnsServer::new(recs.clone(), vec![up_addr]);
        let a = vec!["netA".to_string()];
        let r = srv.answer(&a, &query("WEB.", TYPE::A)).await.unwrap();
        assert_eq!(answers(&r), (RCODE::NoError, vec![v4(10, 1, 0, 2)]));
        let r = srv.answer(&a, &query("alias1", TYPE::AAAA)).await.unwrap();
        assert_eq!(answers(&r), (RCODE::NoError, vec![web6]));
        let r = srv.answer(&a, &query("v4only", TYPE::AAAA)).await.unwrap();
        assert_eq!(answers(&r), (RCODE::NoError, vec![]));
        // "db" lives on netB: not answered locally, so it goes upstream.
        let r = srv.answer(&a, &query("db", TYPE::A)).await.unwrap();
        assert_eq!(answers(&r).1, vec![v4(192, 0, 2, 99)]);
        // A link alias: only the linking container's scope resolves it, to the target's
        // addresses on the link's network; it hides the same name on that network.
        let linked = Scope {
            networks: vec!["netA".into(), "netB".into()],
            links: vec![
                DnsLink {
                    network: "netA".into(),
                    alias: "Store".into(),
                    target: "v4only".into(),
                },
                DnsLink {
                    network: "netB".into(),
                    alias: "web".into(),
                    target: "nobody".into(),
                },
            ],
        };
        let r = srv
            .answer_scoped(&linked, &query("store", TYPE::A))
            .await
            .unwrap();
        assert_eq!(answers(&r), (RCODE::NoError, vec![v4(10, 1, 0, 3)]));
        let r = srv
            .answer_scoped(&linked, &query("web", TYPE::A))
            .await
            .unwrap();
        assert_eq!(answers(&r), (RCODE::NoError, vec![v4(10, 1, 0, 2)]));
        assert!(recs.lookup(&a, "store").is_empty());
        recs.remove_ips("netA", &[v4(10, 1, 0, 2), web6]);
        assert!(recs.lookup(&a, "web").is_empty());
        // No upstream reachable → SERVFAIL.
        let dead = DnsServer::new(recs, vec![]);
        let r = dead
            .answer(&a, &query("example.com", TYPE::A))
            .await
            .unwrap();
        assert_eq!(answers(&r).0, RCODE::ServerFailure);
    }

    #[tokio::test]
    async fn serves_udp_and_tcp_sockets() {
        let recs = DnsRecords::new();
        recs.add("n", &["svc".into()], &[v4(10, 3, 0, 7)]);
        let srv = DnsServer::new(recs, vec![]);
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let l = srv.serve_sockets(udp, tcp, vec!["n".into()]).unwrap();
        let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        c.send_to(&query("svc", TYPE::A), l.addr).await.unwrap();
        let mut buf = [0u8; 512];
        let n = c.recv(&mut buf).await.unwrap();
        assert_eq!(answers(&buf[..n]).1, vec![v4(10, 3, 0, 7)]);
        let mut t = tokio::net::TcpStream::connect(l.addr).await.unwrap();
        let q = query("svc", TYPE::A);
        let mut framed = u16::try_from(q.len()).unwrap().to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        t.write_all(&framed).await.unwrap();
        let mut len = [0u8; 2];
        t.read_exact(&mut len).await.unwrap();
        let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
        t.read_exact(&mut r).await.unwrap();
        assert_eq!(answers(&r).1, vec![v4(10, 3, 0, 7)]);
    }
}
