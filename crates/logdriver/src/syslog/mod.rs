//! Docker's `syslog` driver: one syslog message per line to `syslog-address` (`unix://`,
//! `unixgram://`, `tcp://`, `udp://`; by default the local `/dev/log`), in Docker's formats
//! ([`format`]), severity info for stdout and err for stderr, facility `daemon` unless
//! `syslog-facility` says otherwise. Nothing reads syslog back: `logs` reads the local
//! dual-logging cache instead, as Docker does.

pub mod format;

use std::io::{self, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};

pub use format::{Facility, Format};

use crate::{LogConfig, LogDriver, LogError, Message, Stream};

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// The local syslog socket (`/dev/log`, datagram then stream).
    Local,
    /// `unix://path` (stream).
    Unix(PathBuf),
    /// `unixgram://path`.
    Unixgram(PathBuf),
    /// `tcp://host:port` (514 by default).
    Tcp(String),
    /// `udp://host:port` (514 by default).
    Udp(String),
}

impl Address {
    /// Parses `syslog-address` with Docker's rules and texts.
    pub fn parse(s: &str) -> Result<Address, LogError> {
        if s.is_empty() {
            return Ok(Address::Local);
        }
        let bad = |m: String| Err(LogError::BadOpt(m));
        let Some((scheme, rest)) = s.split_once("://") else {
            return bad(format!(
                "syslog-address should be in form proto://address, got {s}"
            ));
        };
        match scheme {
            "unix" | "unixgram" => {
                if let Err(e) = std::fs::metadata(rest) {
                    return bad(format!("stat {rest}: {e}"));
                }
                Ok(if scheme == "unix" {
                    Address::Unix(rest.into())
                } else {
                    Address::Unixgram(rest.into())
                })
            }
            "tcp" | "udp" => {
                let host = rest.trim_end_matches('/');
                let has_port = match host.rsplit_once(':') {
                    Some((h, p)) => !p.is_empty() && (!h.contains(':') || h.ends_with(']')),
                    None => false,
                };
                let host = if has_port {
                    host.to_string()
                } else {
                    format!("{host}:514")
                };
                Ok(if scheme == "tcp" {
                    Address::Tcp(host)
                } else {
                    Address::Udp(host)
                })
            }
            "tcp+tls" => bad(
                "syslog-address tcp+tls:// is not supported by berth: use tcp://, udp:// or unix://"
                    .into(),
            ),
            other => bad(format!("unsupported scheme: '{other}'")),
        }
    }
}

enum Conn {
    Stream(Box<dyn Write + Send>),
    Unixgram(UnixDatagram),
    Udp(UdpSocket),
}

fn connect(addr: &Address) -> io::Result<Conn> {
    Ok(match addr {
        Address::Local => {
            for p in ["/dev/log", "/var/run/syslog", "/var/run/log"] {
                if let Ok(c) = connect(&Address::Unixgram(p.into())) {
                    return Ok(c);
                }
                if let Ok(c) = connect(&Address::Unix(p.into())) {
                    return Ok(c);
                }
            }
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "Unix syslog delivery error",
            ));
        }
        Address::Unix(p) => Conn::Stream(Box::new(UnixStream::connect(p)?)),
        Address::Unixgram(p) => {
            let s = UnixDatagram::unbound()?;
            s.connect(p)?;
            Conn::Unixgram(s)
        }
        Address::Tcp(h) => Conn::Stream(Box::new(TcpStream::connect(h)?)),
        Address::Udp(h) => {
            let bind = if h.starts_with('[') {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            };
            let s = UdpSocket::bind(bind)?;
            s.connect(h)?;
            Conn::Udp(s)
        }
    })
}

/// The syslog driver.
pub struct SyslogDriver {
    address: Address,
    conn: Option<Conn>,
    format: Format,
    facility: Facility,
    hostname: String,
    tag: String,
    pid: u32,
}

impl SyslogDriver {
    /// Connects to the configured address (Docker fails the start when it cannot).
    pub fn open(config: &LogConfig) -> Result<Self, LogError> {
        let address = Address::parse(config.opt("syslog-address").unwrap_or_default())?;
        let conn = connect(&address)
            .map_err(|e| LogError::io("connect to syslog", address_text(&address), e))?;
        Ok(SyslogDriver {
            conn: Some(conn),
            address,
            format: Format::parse(config.opt("syslog-format").unwrap_or_default())?,
            facility: Facility::parse(config.opt("syslog-facility").unwrap_or_default())?,
            hostname: rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned(),
            tag: config.container.tag.clone(),
            pid: std::process::id(),
        })
    }

    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => self.conn.insert(connect(&self.address)?),
        };
        match conn {
            Conn::Stream(w) => w.write_all(data),
            Conn::Unixgram(s) => s.send(data).map(|_| ()),
            Conn::Udp(s) => s.send(data).map(|_| ()),
        }
    }
}

fn address_text(a: &Address) -> PathBuf {
    match a {
        Address::Local => "/dev/log".into(),
        Address::Unix(p) | Address::Unixgram(p) => p.clone(),
        Address::Tcp(h) | Address::Udp(h) => Path::new(h).to_path_buf(),
    }
}

impl LogDriver for SyslogDriver {
    fn log(&mut self, msg: &Message<'_>) -> io::Result<()> {
        let severity = if msg.stream == Stream::Stderr { 3 } else { 6 };
        let text = format::message(
            self.format,
            self.facility.0 | severity,
            msg.time,
            berth_units::local_time::offset_at(msg.time.secs),
            &self.hostname,
            &self.tag,
            self.pid,
            &String::from_utf8_lossy(msg.line),
        );
        // One retry on a fresh connection (the server may have restarted), as Docker's
        // syslog client does.
        if self.send(text.as_bytes()).is_err() {
            self.conn = None;
            return self.send(text.as_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_as_docker_does() {
        assert_eq!(Address::parse("").unwrap(), Address::Local);
        assert_eq!(
            Address::parse("udp://127.0.0.1").unwrap(),
            Address::Udp("127.0.0.1:514".into())
        );
        assert_eq!(
            Address::parse("tcp://[::1]:1514").unwrap(),
            Address::Tcp("[::1]:1514".into())
        );
        assert_eq!(
            Address::parse("ftp://x").unwrap_err().to_string(),
            "unsupported scheme: 'ftp'"
        );
        assert!(Address::parse("127.0.0.1:514").is_err());
        assert!(Address::parse("unix:///nonexistent/sock").is_err());
    }
}
