//! systemd integration as dockerd has it: `-H fd://` serves the sockets systemd passed
//! (`LISTEN_FDS`/`LISTEN_PID`, from fd 3 on; `fd://N` picks fd N), and `NOTIFY_SOCKET` is
//! told `READY=1` once the API is served and `STOPPING=1` when a stop begins
//! (`Type=notify`). The fds are taken through the `listenfd` crate, so no raw fd handling
//! lives here.

use std::os::unix::net::{UnixDatagram, UnixListener};

/// Which activated sockets an `fd://` host asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdHost {
    /// `fd://`: every socket systemd passed.
    All,
    /// `fd://N`: the one with fd number N.
    Fd(i32),
}

impl FdHost {
    /// Parses what follows `fd://`.
    pub fn parse(rest: &str) -> Result<FdHost, String> {
        if rest.is_empty() {
            return Ok(FdHost::All);
        }
        rest.parse::<i32>()
            .ok()
            .filter(|n| *n >= 3)
            .map(FdHost::Fd)
            .ok_or_else(|| format!("invalid host \"fd://{rest}\": fd:// takes no value or a file descriptor number (3 or more)"))
    }
}

/// The first fd systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: i32 = 3;

/// The unix stream sockets of `hosts`, taken from the environment systemd set; the variables
/// are removed so that children (shims) do not see them.
pub fn listeners(hosts: &[FdHost]) -> Result<Vec<UnixListener>, String> {
    if hosts.is_empty() {
        return Ok(Vec::new());
    }
    let mut fds = listenfd::ListenFd::from_env();
    for var in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    if fds.len() == 0 {
        return Err(
            "no sockets found via socket activation: make sure the service was started by systemd"
                .into(),
        );
    }
    let mut wanted: Vec<usize> = Vec::new();
    for h in hosts {
        match *h {
            FdHost::All => wanted.extend(0..fds.len()),
            FdHost::Fd(n) => {
                let idx = usize::try_from(n - LISTEN_FDS_START).unwrap_or(usize::MAX);
                if idx >= fds.len() {
                    return Err(format!(
                        "too few socket activated files passed in by systemd: fd {n} requested, {} passed",
                        fds.len()
                    ));
                }
                wanted.push(idx);
            }
        }
    }
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = Vec::new();
    for idx in wanted {
        let fd = i32::try_from(idx).unwrap_or(i32::MAX - LISTEN_FDS_START) + LISTEN_FDS_START;
        let l = fds
            .take_unix_listener(idx)
            .map_err(|e| format!("socket activation: fd {fd}: {e}"))?
            .ok_or_else(|| format!("socket activation: fd {fd} was already taken"))?;
        l.set_nonblocking(true)
            .map_err(|e| format!("socket activation: fd {fd}: {e}"))?;
        out.push(l);
    }
    Ok(out)
}

/// Sends `state` (`READY=1`, `STOPPING=1`) to `$NOTIFY_SOCKET` when systemd set it.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let sent = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name)
                .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
        }
        None => sock.send_to(state.as_bytes(), &path),
    };
    if let Err(e) = sent {
        eprintln!("berth daemon: notifying systemd ({state}): {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_hosts_parse_as_dockerd() {
        assert_eq!(FdHost::parse(""), Ok(FdHost::All));
        assert_eq!(FdHost::parse("3"), Ok(FdHost::Fd(3)));
        assert!(FdHost::parse("2").is_err());
        assert!(FdHost::parse("x").is_err());
    }

    #[test]
    fn notify_reaches_the_socket() {
        let dir = berth_testkit::TempDir::new("berth-notify");
        let path = dir.path().join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        // Only this test sets NOTIFY_SOCKET in this test binary.
        std::env::set_var("NOTIFY_SOCKET", &path);
        notify("READY=1");
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }
}
