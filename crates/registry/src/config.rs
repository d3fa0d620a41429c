//! Client configuration: insecure registries, mirrors, Docker Hub endpoints, retries.

use std::net::IpAddr;
use std::time::Duration;

use crate::reference::DOCKER_HUB;

/// How the client reaches registries (the registry-related keys of Docker's daemon.json).
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Registries spoken to over plain HTTP: `host`, `host:port` or a CIDR (`10.0.0.0/8`).
    /// Loopback (`localhost`, 127.0.0.0/8, ::1) is always insecure, as in Docker.
    pub insecure_registries: Vec<String>,
    /// Mirrors of Docker Hub (base URLs such as `https://mirror.example`), tried in order
    /// before the origin for pulls; pushes never use them.
    pub mirrors: Vec<String>,
    /// Docker Hub's registry API endpoint (`https://registry-1.docker.io`).
    pub docker_hub_endpoint: String,
    /// Docker Hub's index, which serves `/v1/search` (`https://index.docker.io`).
    pub docker_hub_index: String,
    /// The User-Agent header.
    pub user_agent: String,
    /// Attempts per request on transient errors (connection reset, 5xx, 429).
    pub max_attempts: u32,
    /// First back-off delay; doubles per attempt.
    pub retry_delay: Duration,
    /// Blobs up to this size are uploaded in one PUT; larger ones in PATCH chunks of it.
    pub upload_chunk_size: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            insecure_registries: Vec::new(),
            mirrors: Vec::new(),
            docker_hub_endpoint: "https://registry-1.docker.io".to_owned(),
            docker_hub_index: "https://index.docker.io".to_owned(),
            user_agent: format!("berth/{}", env!("CARGO_PKG_VERSION")),
            max_attempts: 4,
            retry_delay: Duration::from_millis(250),
            upload_chunk_size: 32 << 20,
        }
    }
}

impl RegistryConfig {
    /// True if `registry` (host[:port]) is spoken to over plain HTTP.
    pub fn is_insecure(&self, registry: &str) -> bool {
        let host = host_of(registry);
        if host == "localhost" {
            return true;
        }
        let ip = host.parse::<IpAddr>().ok();
        if ip.is_some_and(|ip| ip.is_loopback()) {
            return true;
        }
        self.insecure_registries.iter().any(|entry| {
            entry == registry
                || entry == host
                || match (ip, entry.split_once('/')) {
                    (Some(ip), Some((net, bits))) => cidr_contains(net, bits, ip),
                    _ => false,
                }
        })
    }

    /// The base URL (`scheme://host:port`) of a registry's API.
    pub fn endpoint_base(&self, registry: &str) -> String {
        if registry == DOCKER_HUB {
            return self.docker_hub_endpoint.trim_end_matches('/').to_owned();
        }
        let scheme = if self.is_insecure(registry) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{registry}")
    }
}

/// The host part of `host[:port]` or `[v6]:port`.
fn host_of(registry: &str) -> &str {
    if let Some(v6) = registry.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    match registry.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => registry,
    }
}

fn cidr_contains(net: &str, bits: &str, ip: IpAddr) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_like_docker() {
        let cfg = RegistryConfig {
            insecure_registries: vec![
                "reg.lan:5000".into(),
                "plain.lan".into(),
                "10.1.0.0/16".into(),
                "fd00::/8".into(),
            ],
            ..RegistryConfig::default()
        };
        for yes in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.9.9.9",
            "[::1]:5000",
            "reg.lan:5000",
            "plain.lan:1234",
            "10.1.2.3:5000",
            "[fd00::1]:5000",
        ] {
            assert!(cfg.is_insecure(yes), "{yes}");
        }
        for no in [
            "docker.io",
            "reg.lan:5001",
            "10.2.0.1:5000",
            "ghcr.io",
            "[fe80::1]:1",
        ] {
            assert!(!cfg.is_insecure(no), "{no}");
        }
        assert_eq!(cfg.endpoint_base("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(cfg.endpoint_base("ghcr.io"), "https://ghcr.io");
        assert_eq!(
            cfg.endpoint_base("docker.io"),
            "https://registry-1.docker.io"
        );
    }
}
