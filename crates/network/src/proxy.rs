//! The userland proxy for published ports the kernel cannot DNAT: an IPv6 host address to a
//! container without IPv6, and `::1` (IPv6 has no `route_localnet`, so loopback traffic
//! cannot be DNATed off the host). It serves the port's reservation socket from the
//! daemon's tokio runtime — one task per port, no process per port as `docker-proxy` — and
//! copies bytes to the container: TCP connection by connection, UDP per client flow with
//! Docker's 90 s idle timeout. Connections the kernel DNATs never reach the socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use crate::error::{NetworkError, Result};
use crate::ports::{Proto, ReservedPort};

/// How long a UDP flow lives without traffic (Docker's `UDPConnTrackTimeout`).
const UDP_IDLE: Duration = Duration::from_secs(90);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A running proxy; dropping it closes the port and ends its connections' tasks.
#[derive(Debug)]
pub struct Proxy {
    task: JoinHandle<()>,
    /// Where it forwards to.
    pub target: SocketAddr,
}

impl Proxy {
    /// Stops serving and returns once the port is closed (dropping only schedules that).
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `port` (its reservation socket) by forwarding to `target`. Must be called from
/// within a tokio runtime.
pub fn serve(port: ReservedPort, target: SocketAddr) -> Result<Proxy> {
    let proto = port.proto;
    let fd = port.into_socket();
    let err = |op: &str, e: std::io::Error| NetworkError::sys(format!("proxy {op}"), e);
    let task = match proto {
        Proto::Tcp => {
            rustix::net::listen(&fd, 1024).map_err(|e| err("listen", e.into()))?;
            let std_listener = std::net::TcpListener::from(fd);
            std_listener
                .set_nonblocking(true)
                .map_err(|e| err("set nonblocking", e))?;
            let listener =
                TcpListener::from_std(std_listener).map_err(|e| err("register tcp", e))?;
            tokio::spawn(serve_tcp(listener, target))
        }
        Proto::Udp => {
            let std_socket = std::net::UdpSocket::from(fd);
            std_socket
                .set_nonblocking(true)
                .map_err(|e| err("set nonblocking", e))?;
            let socket = UdpSocket::from_std(std_socket).map_err(|e| err("register udp", e))?;
            tokio::spawn(serve_udp(Arc::new(socket), target))
        }
    };
    Ok(Proxy { task, target })
}

/// Aborts the connection tasks of a listener when the listener's task is aborted.
#[derive(Default)]
struct Children(Vec<JoinHandle<()>>);

impl Children {
    fn push(&mut self, h: JoinHandle<()>) {
        self.0.retain(|t| !t.is_finished());
        self.0.push(h);
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

async fn serve_tcp(listener: TcpListener, target: SocketAddr) {
    let mut children = Children::default();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        children.push(tokio::spawn(async move {
            let Ok(Ok(mut outbound)) =
                tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await
            else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        }));
    }
}

type Flows = Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>;

async fn serve_udp(socket: Arc<UdpSocket>, target: SocketAddr) {
    let flows: Flows = Arc::default();
    let mut children = Children::default();
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let existing = flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&client)
            .cloned();
        let upstream = match existing {
            Some(u) => u,
            None => {
                let Some(u) = open_flow(target).await else {
                    continue;
                };
                flows
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(client, u.clone());
                children.push(tokio::spawn(relay_replies(
                    socket.clone(),
                    u.clone(),
                    client,
                    flows.clone(),
                )));
                u
            }
        };
        let _ = upstream.send(&buf[..n]).await;
    }
}

async fn open_flow(target: SocketAddr) -> Option<Arc<UdpSocket>> {
    let local: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .ok()?;
    let u = UdpSocket::bind(local).await.ok()?;
    u.connect(target).await.ok()?;
    Some(Arc::new(u))
}

/// Sends the container's replies of one flow back to its client until the flow is idle.
async fn relay_replies(
    socket: Arc<UdpSocket>,
    upstream: Arc<UdpSocket>,
    client: SocketAddr,
    flows: Flows,
) {
    let mut buf = vec![0u8; 65535];
    while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, upstream.recv(&mut buf)).await {
        let _ = socket.send_to(&buf[..n], client).await;
    }
    flows
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&client);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{reserve_all, HostPort, PortMapping};
    use std::net::{IpAddr, Ipv6Addr};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn loopback6(proto: Proto) -> Option<ReservedPort> {
        if !crate::ports::ipv6_available() {
            return None;
        }
        let m = PortMapping {
            host_ip: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            host_port: HostPort::Ephemeral,
            container_port: 1,
            proto,
        };
        Some(reserve_all(&[m]).unwrap().pop().unwrap())
    }

    #[tokio::test]
    async fn tcp_from_ipv6_loopback_to_an_ipv4_backend() {
        let Some(port) = loopback6(Proto::Tcp) else {
            return;
        };
        let host_port = port.host_port;
        let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = backend.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = backend.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 5];
                    c.read_exact(&mut buf).await.unwrap();
                    c.write_all(&[b"echo:".as_slice(), &buf].concat())
                        .await
                        .unwrap();
                });
            }
        });
        let proxy = serve(port, target).unwrap();
        for _ in 0..2 {
            let mut c = TcpStream::connect(("::1", host_port)).await.unwrap();
            c.write_all(b"hello").await.unwrap();
            let mut out = Vec::new();
            c.read_to_end(&mut out).await.unwrap();
            assert_eq!(out, b"echo:hello");
        }
        proxy.stop().await;
        // The port is closed and free again.
        std::net::TcpListener::bind(("::1", host_port)).expect("released");
    }

    #[tokio::test]
    async fn udp_flows_get_their_replies() {
        let Some(port) = loopback6(Proto::Udp) else {
            return;
        };
        let host_port = port.host_port;
        let backend = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = backend.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while let Ok((n, from)) = backend.recv_from(&mut buf).await {
                let reply = [b"re:".as_slice(), &buf[..n]].concat();
                backend.send_to(&reply, from).await.unwrap();
            }
        });
        let _proxy = serve(port, target).unwrap();
        for who in [b"a".as_slice(), b"b"] {
            let c = UdpSocket::bind("[::1]:0").await.unwrap();
            c.connect(("::1", host_port)).await.unwrap();
            c.send(who).await.unwrap();
            let mut buf = [0u8; 64];
            let n = tokio::time::timeout(Duration::from_secs(5), c.recv(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&buf[..n], [b"re:".as_slice(), who].concat());
        }
    }
}
