//! The files a container's network needs: `/etc/hosts`, `/etc/resolv.conf`, `/etc/hostname`,
//! generated the way Docker generates them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use crate::dns::RESOLVER_IP;
use crate::error::{NetworkError, Result};

/// `--add-host name:ip` (or `name=ip`); `host-gateway` becomes `host_gateway`.
pub fn parse_add_host(spec: &str, host_gateway: Option<IpAddr>) -> Result<(String, IpAddr)> {
    let bad = || NetworkError::InvalidArgument(format!("bad format for add-host: {spec:?}"));
    let (name, ip) = spec
        .split_once('=')
        .or_else(|| spec.split_once(':'))
        .ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let ip = if ip == "host-gateway" {
        host_gateway.ok_or_else(|| {
            NetworkError::InvalidArgument("unable to derive the IP value for host-gateway".into())
        })?
    } else {
        ip.parse().map_err(|_| {
            NetworkError::InvalidArgument(format!("invalid IP address in add-host: {ip:?}"))
        })?
    };
    Ok((name.to_string(), ip))
}

/// `/etc/hosts`: localhost lines, `--add-host` entries, then the container's own addresses.
pub fn hosts_file(hostname: &str, own_ips: &[IpAddr], extra: &[(String, IpAddr)]) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for (name, ip) in extra {
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    for ip in own_ips {
        s.push_str(&format!("{ip}\t{hostname}\n"));
    }
    s
}

/// `/etc/hostname`.
pub fn hostname_file(hostname: &str) -> String {
    format!("{hostname}\n")
}

/// The interesting parts of a resolv.conf.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` lines.
    pub nameservers: Vec<IpAddr>,
    /// `search` domains.
    pub search: Vec<String>,
    /// `options`.
    pub options: Vec<String>,
}

/// Parses resolv.conf text (later `search` lines win, like the libc).
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut rc = ResolvConf::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(ip) = words.next().and_then(|w| w.split('%').next()?.parse().ok()) {
                    rc.nameservers.push(ip);
                }
            }
            Some("search") | Some("domain") => rc.search = words.map(String::from).collect(),
            Some("options") => rc.options.extend(words.map(String::from)),
            _ => {}
        }
    }
    rc
}

/// The host's resolv.conf (`/etc/resolv.conf`); empty when unreadable.
pub fn host_resolv_conf() -> ResolvConf {
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|t| parse_resolv_conf(&t))
        .unwrap_or_default()
}

/// `--dns`, `--dns-search`, `--dns-option` of a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsSettings {
    /// `--dns`.
    pub servers: Vec<IpAddr>,
    /// `--dns-search` (`.` alone means no search domains).
    pub search: Vec<String>,
    /// `--dns-option`.
    pub options: Vec<String>,
}

/// A container's resolv.conf and, for the embedded resolver, the upstreams it forwards to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerResolvConf {
    /// File content.
    pub content: String,
    /// Upstream servers for the embedded DNS (empty when `embedded` was false).
    pub upstreams: Vec<SocketAddr>,
}

/// Docker's rules: on the default bridge the host's nameservers minus loopback ones (they
/// are unreachable from the container; 8.8.8.8/8.8.4.4 if none are left); on user networks
/// `nameserver 127.0.0.11` with the host's (or `--dns`) servers as upstreams.
pub fn container_resolv_conf(
    host: &ResolvConf,
    user: &DnsSettings,
    embedded: bool,
) -> ContainerResolvConf {
    let search: Vec<String> = if user.search.is_empty() {
        host.search.clone()
    } else if user.search == ["."] {
        Vec::new()
    } else {
        user.search.clone()
    };
    let mut options = if user.options.is_empty() {
        host.options.clone()
    } else {
        user.options.clone()
    };
    let external: Vec<IpAddr> = if user.servers.is_empty() {
        host.nameservers.clone()
    } else {
        user.servers.clone()
    };
    let mut content = String::new();
    let mut upstreams = Vec::new();
    if embedded {
        content.push_str(&format!("nameserver {RESOLVER_IP}\n"));
        upstreams = external.iter().map(|ip| SocketAddr::new(*ip, 53)).collect();
        if !options.iter().any(|o| o.starts_with("ndots:")) {
            options.insert(0, "ndots:0".into());
        }
    } else {
        let mut servers: Vec<IpAddr> = external
            .into_iter()
            .filter(|ip| !ip.is_loopback())
            .collect();
        if servers.is_empty() {
            servers = vec![
                Ipv4Addr::new(8, 8, 8, 8).into(),
                Ipv4Addr::new(8, 8, 4, 4).into(),
            ];
        }
        for s in servers {
            content.push_str(&format!("nameserver {s}\n"));
        }
    }
    if !search.is_empty() {
        content.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        content.push_str(&format!("options {}\n", options.join(" ")));
    }
    if embedded && !upstreams.is_empty() {
        let ext: Vec<String> = upstreams
            .iter()
            .map(|u| format!("host({})", u.ip()))
            .collect();
        content.push_str(&format!(
            "\n# Based on host file: '/etc/resolv.conf' (internal resolver)\n# ExtServers: [{}]\n",
            ext.join(" ")
        ));
    }
    ContainerResolvConf { content, upstreams }
}

/// Writes `content` to `path` atomically (temp + rename), mode 0644.
pub fn write_file(path: &Path, content: &str) -> Result<()> {
    let tmp = path.with_extension("berth-tmp");
    std::fs::write(&tmp, content).map_err(|e| NetworkError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| NetworkError::io("rename", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_has_localhost_extra_and_own_entry() {
        let extra = vec![
            parse_add_host("db:10.0.0.9", None).unwrap(),
            parse_add_host("gw=host-gateway", Some("172.17.0.1".parse().unwrap())).unwrap(),
        ];
        let h = hosts_file(
            "abc123",
            &["172.17.0.2".parse().unwrap(), "fd00::2".parse().unwrap()],
            &extra,
        );
        assert!(h.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
        assert!(h.contains("10.0.0.9\tdb\n172.17.0.1\tgw\n"));
        assert!(h.ends_with("172.17.0.2\tabc123\nfd00::2\tabc123\n"), "{h}");
        assert!(parse_add_host("nocolon", None).is_err());
        assert!(parse_add_host("x:notanip", None).is_err());
        assert!(parse_add_host("x:host-gateway", None).is_err());
        assert_eq!(
            parse_add_host("v6:[::1]", None).unwrap().1,
            "::1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn resolv_conf_default_bridge_filters_loopback() {
        let host = parse_resolv_conf("# c\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0 trust-ad\n");
        let rc = container_resolv_conf(&host, &DnsSettings::default(), false);
        assert_eq!(
            rc.content,
            "nameserver 192.0.2.53\nsearch corp.example\noptions edns0 trust-ad\n"
        );
        let only_local = parse_resolv_conf("nameserver 127.0.0.53\n");
        let rc = container_resolv_conf(&only_local, &DnsSettings::default(), false);
        assert!(
            rc.content
                .starts_with("nameserver 8.8.8.8\nnameserver 8.8.4.4\n"),
            "{}",
            rc.content
        );
        let user = DnsSettings {
            servers: vec!["9.9.9.9".parse().unwrap()],
            search: vec![".".into()],
            options: vec!["ndots:2".into()],
        };
        let rc = container_resolv_conf(&host, &user, false);
        assert_eq!(rc.content, "nameserver 9.9.9.9\noptions ndots:2\n");
    }

    #[test]
    fn resolv_conf_user_network_uses_embedded_resolver() {
        let host = parse_resolv_conf("nameserver 127.0.0.53\nsearch a.example\n");
        let rc = container_resolv_conf(&host, &DnsSettings::default(), true);
        assert!(
            rc.content
                .starts_with("nameserver 127.0.0.11\nsearch a.example\noptions ndots:0\n"),
            "{}",
            rc.content
        );
        assert_eq!(rc.upstreams, vec!["127.0.0.53:53".parse().unwrap()]);
        let user = DnsSettings {
            servers: vec!["192.0.2.1".parse().unwrap()],
            ..Default::default()
        };
        assert_eq!(
            container_resolv_conf(&host, &user, true).upstreams,
            vec!["192.0.2.1:53".parse().unwrap()]
        );
    }
}
