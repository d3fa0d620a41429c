//! Which daemon to talk to: `-H/--host`, `DOCKER_HOST`, docker contexts
//! (`--context`, `DOCKER_CONTEXT`, `currentContext` in config.json), or the default socket.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{CliError, CliResult};

/// berth's default daemon socket.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// The environment and flags that decide the endpoint (kept explicit so it is testable).
#[derive(Debug, Clone, Default)]
pub struct HostInputs {
    /// `-H/--host` values.
    pub hosts: Vec<String>,
    /// `-c/--context`.
    pub context: Option<String>,
    /// `$DOCKER_HOST`.
    pub env_host: Option<String>,
    /// `$DOCKER_CONTEXT`.
    pub env_context: Option<String>,
    /// The docker config directory (`--config`, `$DOCKER_CONFIG` or `~/.docker`).
    pub config_dir: PathBuf,
}

/// A resolved endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The context name ("default" unless a named context was used).
    pub context: String,
    /// The host URL (`unix:///path`, `tcp://host:port`).
    pub host: String,
    /// TLS settings of a named context (the default context takes them from the flags).
    pub tls: Option<crate::tls::TlsSettings>,
}

/// Where the daemon lives on this machine, once parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A unix socket path.
    Unix(PathBuf),
    /// `host:port` over plain TCP.
    Tcp(String),
}

/// The docker config dir: `$DOCKER_CONFIG`, else `$HOME/.docker`.
pub fn default_config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".docker")
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// The context name as docker resolves it: `--context`, then "default" when a host is set
/// by flag or `$DOCKER_HOST`, then `$DOCKER_CONTEXT`, then `currentContext`, then "default".
pub fn context_name(inputs: &HostInputs) -> CliResult<String> {
    if let Some(c) = non_empty(&inputs.context) {
        if !inputs.hosts.is_empty() {
            return Err(CliError::msg(
                "conflicting options: cannot specify both --host and --context",
            ));
        }
        return Ok(c.to_string());
    }
    if !inputs.hosts.is_empty() || non_empty(&inputs.env_host).is_some() {
        return Ok("default".into());
    }
    if let Some(c) = non_empty(&inputs.env_context) {
        return Ok(c.to_string());
    }
    let config = inputs.config_dir.join("config.json");
    if let Ok(text) = std::fs::read_to_string(&config) {
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| CliError::msg(format!("loading config file {}: {e}", config.display())))?;
        if let Some(c) = v
            .get("currentContext")
            .and_then(|c| c.as_str())
            .filter(|c| !c.is_empty())
        {
            return Ok(c.to_string());
        }
    }
    Ok("default".into())
}

/// The directory of a context's metadata: `contexts/meta/<sha256(name)>`.
pub fn context_meta_dir(config_dir: &Path, name: &str) -> PathBuf {
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    config_dir.join("contexts").join("meta").join(hex)
}

/// Resolves the endpoint from flags, environment and contexts. A named context brings its
/// TLS settings (its `tls/…/docker/{ca,cert,key}.pem` files and `SkipTLSVerify`).
pub fn resolve(inputs: &HostInputs) -> CliResult<Endpoint> {
    let context = context_name(inputs)?;
    if context == "default" {
        let host = match inputs.hosts.as_slice() {
            [] => non_empty(&inputs.env_host)
                .unwrap_or(DEFAULT_HOST)
                .to_string(),
            [one] => one.clone(),
            _ => return Err(CliError::msg("Specify only one -H")),
        };
        return Ok(Endpoint {
            context,
            host,
            tls: None,
        });
    }
    let store = crate::context_store::Store::new(&inputs.config_dir);
    let meta = store.load(&context).map_err(|e| {
        CliError::msg(format!(
            "Failed to initialize: unable to resolve docker endpoint: {e}"
        ))
    })?;
    let docker = meta.docker().unwrap_or_default();
    let host = if docker.host.is_empty() {
        DEFAULT_HOST.to_string()
    } else {
        docker.host.clone()
    };
    let file = |f: &str| store.tls_file(&context, f);
    let (ca, cert, key) = (file("ca.pem"), file("cert.pem"), file("key.pem"));
    let tls = (ca.is_some() || cert.is_some() || docker.skip_tls_verify).then(|| {
        crate::tls::TlsSettings {
            verify: !docker.skip_tls_verify,
            ca: ca.unwrap_or_else(|| store.tls_dir(&context).join("docker").join("ca.pem")),
            client: cert.zip(key),
        }
    });
    Ok(Endpoint { context, host, tls })
}

/// Parses a host URL into an address.
pub fn parse_host(host: &str) -> CliResult<Address> {
    if let Some(path) = host.strip_prefix("unix://") {
        return Ok(Address::Unix(PathBuf::from(path)));
    }
    if host.starts_with('/') {
        return Ok(Address::Unix(PathBuf::from(host)));
    }
    if let Some(rest) = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))
    {
        let rest = rest.trim_end_matches('/');
        let addr = if rest.contains(':') {
            rest.to_string()
        } else {
            format!("{rest}:2375")
        };
        return Ok(Address::Tcp(addr));
    }
    Err(CliError::msg(format!(
        "unable to parse docker host `{host}`"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "berth-client-host-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn default_and_env_and_flag() {
        let dir = temp();
        let mut i = HostInputs {
            config_dir: dir.clone(),
            ..Default::default()
        };
        assert_eq!(resolve(&i).unwrap().host, DEFAULT_HOST);
        i.env_host = Some("unix:///tmp/x.sock".into());
        assert_eq!(resolve(&i).unwrap().host, "unix:///tmp/x.sock");
        i.hosts = vec!["tcp://127.0.0.1:1".into()];
        assert_eq!(resolve(&i).unwrap().host, "tcp://127.0.0.1:1");
        i.context = Some("other".into());
        assert!(resolve(&i).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn contexts_from_config_env_and_flag() {
        let dir = temp();
        for (name, host) in [("ctx-a", "unix:///a.sock"), ("ctx-b", "unix:///b.sock")] {
            let meta = context_meta_dir(&dir, name);
            std::fs::create_dir_all(&meta).unwrap();
            std::fs::write(
                meta.join("meta.json"),
                format!(r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#),
            )
            .unwrap();
        }
        // sha256("default") is docker's well-known layout; check the hashing itself.
        assert!(context_meta_dir(&dir, "default")
            .ends_with("37a8eec1ce19687d132fe29051dca629d164e2c4958ba141d5f4133a33f0688f"));
        std::fs::write(dir.join("config.json"), r#"{"currentContext":"ctx-a"}"#).unwrap();
        let mut i = HostInputs {
            config_dir: dir.clone(),
            ..Default::default()
        };
        assert_eq!(
            resolve(&i).unwrap(),
            Endpoint {
                context: "ctx-a".into(),
                host: "unix:///a.sock".into(),
                tls: None,
            }
        );
        i.env_context = Some("ctx-b".into());
        assert_eq!(resolve(&i).unwrap().host, "unix:///b.sock");
        i.context = Some("ctx-a".into());
        assert_eq!(resolve(&i).unwrap().host, "unix:///a.sock");
        // DOCKER_HOST beats DOCKER_CONTEXT and currentContext, not --context.
        i.env_host = Some("unix:///env.sock".into());
        assert_eq!(resolve(&i).unwrap().host, "unix:///a.sock");
        i.context = None;
        assert_eq!(resolve(&i).unwrap().host, "unix:///env.sock");
        i.env_host = None;
        i.context = Some("nope".into());
        let e = resolve(&i).unwrap_err().to_string();
        assert!(
            e.starts_with("Failed to initialize: unable to resolve docker endpoint: context \"nope\": context not found: open "),
            "{e}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn parse_hosts() {
        assert_eq!(
            parse_host("unix:///run/x.sock").unwrap(),
            Address::Unix("/run/x.sock".into())
        );
        assert_eq!(
            parse_host("tcp://127.0.0.1").unwrap(),
            Address::Tcp("127.0.0.1:2375".into())
        );
        assert!(parse_host("ftp://x").is_err());
    }
}
