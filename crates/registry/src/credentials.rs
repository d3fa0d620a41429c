//! Registry credentials from Docker's `~/.docker/config.json` (auths, credHelpers, credsStore).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

use crate::RegistryError;

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password (or personal access token).
    Basic {
        /// User name.
        username: String,
        /// Password or token.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user).
    IdentityToken(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(***)"),
        }
    }
}

impl Credentials {
    /// Shorthand for [`Credentials::Basic`].
    pub fn basic(username: &str, password: &str) -> Self {
        Credentials::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }

    /// The `Authorization: Basic …` value, for basic credentials.
    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Credentials::IdentityToken(_) => None,
        }
    }
}

/// Where the client gets credentials for a registry host.
pub trait CredentialProvider: Send + Sync {
    /// Credentials for `registry` (a host such as `docker.io` or `127.0.0.1:5000`).
    fn get(&self, registry: &str) -> Result<Option<Credentials>, RegistryError>;
}

/// No credentials anywhere (anonymous access).
#[derive(Debug, Default, Clone)]
pub struct Anonymous;

impl CredentialProvider for Anonymous {
    fn get(&self, _: &str) -> Result<Option<Credentials>, RegistryError> {
        Ok(None)
    }
}

/// A fixed map of host → credentials (tests, `docker login` before saving).
#[derive(Debug, Default, Clone)]
pub struct StaticCredentials(pub HashMap<String, Credentials>);

impl CredentialProvider for StaticCredentials {
    fn get(&self, registry: &str) -> Result<Option<Credentials>, RegistryError> {
        Ok(self.0.get(&config_key_host(registry)).cloned())
    }
}

/// Docker's client config file (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    /// Directory where `docker-credential-*` helpers are looked for (tests); PATH if None.
    #[serde(skip)]
    helper_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

/// Docker Hub's key in `auths` and for credential helpers.
pub const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

impl DockerConfig {
    /// The default path: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    pub fn default_path() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
            return Some(PathBuf::from(dir).join("config.json"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
    }

    /// Loads a config file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                RegistryError::Credentials(format!("parsing {}: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DockerConfig::default()),
            Err(e) => Err(RegistryError::Credentials(format!(
                "reading {}: {e}",
                path.display()
            ))),
        }
    }

    /// Loads from [`DockerConfig::default_path`].
    pub fn load_default() -> Result<Self, RegistryError> {
        match Self::default_path() {
            Some(p) => Self::load(&p),
            None => Ok(DockerConfig::default()),
        }
    }

    /// Parses config JSON text.
    pub fn from_json(text: &str) -> Result<Self, RegistryError> {
        serde_json::from_str(text)
            .map_err(|e| RegistryError::Credentials(format!("parsing docker config: {e}")))
    }

    /// Looks for `docker-credential-*` helpers in `dir` instead of PATH.
    pub fn with_helper_dir(mut self, dir: &Path) -> Self {
        self.helper_dir = Some(dir.to_owned());
        self
    }

    fn run_helper(&self, helper: &str, server: &str) -> Result<Option<Credentials>, RegistryError> {
        let program = format!("docker-credential-{helper}");
        let path = match &self.helper_dir {
            Some(dir) => dir.join(&program),
            None => PathBuf::from(&program),
        };
        let mut child = match Command::new(&path)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            // Docker ignores a configured helper that is not installed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(RegistryError::Credentials(format!(
                    "running {program}: {e}"
                )))
            }
        };
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(server.as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| RegistryError::Credentials(format!("running {program}: {e}")))?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stdout);
            if msg.contains("credentials not found") {
                return Ok(None);
            }
            return Err(RegistryError::Credentials(format!(
                "{program} get {server}: {} {}",
                msg.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        #[derive(Deserialize)]
        struct HelperOutput {
            #[serde(rename = "Username")]
            username: String,
            #[serde(rename = "Secret")]
            secret: String,
        }
        let parsed: HelperOutput = serde_json::from_slice(&out.stdout)
            .map_err(|e| RegistryError::Credentials(format!("{program} output: {e}")))?;
        Ok(Some(if parsed.username == "<token>" {
            Credentials::IdentityToken(parsed.secret)
        } else {
            Credentials::Basic {
                username: parsed.username,
                password: parsed.secret,
            }
        }))
    }
}

impl CredentialProvider for DockerConfig {
    fn get(&self, registry: &str) -> Result<Option<Credentials>, RegistryError> {
        let host = config_key_host(registry);
        let server = if host == "docker.io" {
            DOCKER_HUB_CONFIG_KEY.to_owned()
        } else {
            host.clone()
        };
        let helper = self
            .cred_helpers
            .iter()
            .find(|(k, _)| config_key_host(k) == host)
            .map(|(_, v)| v.clone())
            .or_else(|| self.creds_store.clone());
        if let Some(helper) = helper {
            if let Some(c) = self.run_helper(&helper, &server)? {
                return Ok(Some(c));
            }
        }
        let Some(entry) = self
            .auths
            .iter()
            .find(|(k, _)| config_key_host(k) == host)
            .map(|(_, v)| v)
        else {
            return Ok(None);
        };
        if let Some(token) = entry.identity_token.as_ref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credentials::IdentityToken(token.clone())));
        }
        if let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| RegistryError::Credentials(format!("auth for {registry}: {e}")))?;
            let text = String::from_utf8(decoded).map_err(|_| {
                RegistryError::Credentials(format!("auth for {registry} is not UTF-8"))
            })?;
            let (u, p) = text.split_once(':').ok_or_else(|| {
                RegistryError::Credentials(format!("auth for {registry} is not user:password"))
            })?;
            return Ok(Some(Credentials::basic(u, p)));
        }
        match (&entry.username, &entry.password) {
            (Some(u), Some(p)) => Ok(Some(Credentials::basic(u, p))),
            _ => Ok(None),
        }
    }
}

/// The host a config key or registry name stands for: scheme and path stripped, Docker
/// Hub's many names folded to `docker.io`.
pub fn config_key_host(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" | "docker.io" => {
            "docker.io".to_owned()
        }
        h => h.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_auths_in_every_key_form() {
        let cfg = DockerConfig::from_json(
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},
                "127.0.0.1:5000":{"auth":"YTpiOmM="},
                "http://reg.example:443/v2/":{"username":"u","password":"p"},
                "tok.example":{"identitytoken":"refresh"}
            }}"#,
        )
        .unwrap();
        assert_eq!(
            cfg.get("docker.io").unwrap(),
            Some(Credentials::basic("user", "pass"))
        );
        assert_eq!(
            cfg.get("127.0.0.1:5000").unwrap(),
            Some(Credentials::basic("a", "b:c")),
            "password may contain ':'"
        );
        assert_eq!(
            cfg.get("reg.example:443").unwrap(),
            Some(Credentials::basic("u", "p"))
        );
        assert_eq!(
            cfg.get("tok.example").unwrap(),
            Some(Credentials::IdentityToken("refresh".into()))
        );
        assert_eq!(cfg.get("other.example").unwrap(), None);
    }

    #[test]
    fn rejects_garbage_auth() {
        let cfg = DockerConfig::from_json(r#"{"auths":{"h":{"auth":"!!!"}}}"#).unwrap();
        assert!(cfg.get("h").is_err());
        assert!(DockerConfig::from_json("{not json").is_err());
    }

    #[test]
    fn missing_helper_is_ignored() {
        let cfg = DockerConfig::from_json(
            r#"{"credsStore":"berth-test-does-not-exist","auths":{"h":{"auth":"dTpw"}}}"#,
        )
        .unwrap();
        assert_eq!(cfg.get("h").unwrap(), Some(Credentials::basic("u", "p")));
    }

    #[test]
    fn debug_hides_secrets() {
        let s = format!("{:?}", Credentials::basic("me", "secret"));
        assert!(!s.contains("secret"), "{s}");
    }
}
