//! Registry credentials in docker's config.json (`auths`), and the `X-Registry-Auth` header.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::error::{CliError, CliResult};

/// Docker Hub's key in `auths`.
pub const DEFAULT_INDEX: &str = "https://index.docker.io/v1/";

/// The config file in a config dir.
pub fn config_file(dir: &Path) -> PathBuf {
    dir.join("config.json")
}

fn load(dir: &Path) -> CliResult<Value> {
    match std::fs::read_to_string(config_file(dir)) {
        Ok(t) if !t.trim().is_empty() => {
            serde_json::from_str(&t).map_err(|e| CliError::msg(format!("loading config file: {e}")))
        }
        _ => Ok(json!({})),
    }
}

fn save(dir: &Path, v: &Value) -> CliResult<()> {
    std::fs::create_dir_all(dir)?;
    let path = config_file(dir);
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    std::fs::write(&tmp, text.replace("  ", "\t"))?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// The registry host of an image reference (`docker.io` → [`DEFAULT_INDEX`]).
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            if first == "docker.io" || first == "index.docker.io" {
                DEFAULT_INDEX.into()
            } else {
                first.to_string()
            }
        }
        _ => DEFAULT_INDEX.into(),
    }
}

/// Normalises a `login` server argument to its `auths` key.
pub fn server_key(server: Option<&str>) -> String {
    match server {
        None | Some("") => DEFAULT_INDEX.into(),
        Some(s) => {
            let host = s
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/');
            if host == "docker.io"
                || host == "index.docker.io"
                || host.starts_with("index.docker.io/")
            {
                DEFAULT_INDEX.into()
            } else {
                host.split('/').next().unwrap_or(host).to_string()
            }
        }
    }
}

/// Stores `user:password` for `server` (base64 in `auths.<server>.auth`).
pub fn store(dir: &Path, server: &str, user: &str, password: &str) -> CliResult<()> {
    let mut v = load(dir)?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    if !v.is_object() {
        v = json!({});
    }
    let auths = v
        .as_object_mut()
        .map(|o| o.entry("auths").or_insert_with(|| json!({})))
        .ok_or_else(|| CliError::msg("bad config"))?;
    if !auths.is_object() {
        *auths = json!({});
    }
    auths[server] = json!({ "auth": auth });
    save(dir, &v)
}

/// Removes `server` from `auths`; false when it was not there.
pub fn remove(dir: &Path, server: &str) -> CliResult<bool> {
    let mut v = load(dir)?;
    let removed = v
        .get_mut("auths")
        .and_then(|a| a.as_object_mut())
        .and_then(|a| a.remove(server))
        .is_some();
    if removed {
        save(dir, &v)?;
    }
    Ok(removed)
}

/// Credentials for a registry, when stored.
pub fn lookup(dir: &Path, server: &str) -> Option<(String, String)> {
    let v = load(dir).ok()?;
    let auth = v.get("auths")?.get(server)?.get("auth")?.as_str()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Every stored credential, as `X-Registry-Config` carries them (registry → auth).
pub fn all_auths(dir: &Path) -> Value {
    let mut out = serde_json::Map::new();
    if let Ok(v) = load(dir) {
        if let Some(auths) = v.get("auths").and_then(|a| a.as_object()) {
            for server in auths.keys() {
                if let Some((u, p)) = lookup(dir, server) {
                    out.insert(
                        server.clone(),
                        json!({"username": u, "password": p, "serveraddress": server}),
                    );
                }
            }
        }
    }
    Value::Object(out)
}

/// `X-Registry-Auth` for pulling/pushing `image` (base64url JSON; `{}` when anonymous).
pub fn registry_auth_header(dir: &Path, image: &str) -> String {
    let server = registry_of(image);
    let v = match lookup(dir, &server) {
        Some((u, p)) => json!({"username": u, "password": p, "serveraddress": server}),
        None => json!({}),
    };
    base64::engine::general_purpose::URL_SAFE.encode(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hosts() {
        assert_eq!(registry_of("busybox"), DEFAULT_INDEX);
        assert_eq!(registry_of("library/busybox:1"), DEFAULT_INDEX);
        assert_eq!(registry_of("localhost:5000/x"), "localhost:5000");
        assert_eq!(registry_of("ghcr.io/a/b"), "ghcr.io");
        assert_eq!(
            server_key(Some("https://localhost:5000/")),
            "localhost:5000"
        );
        assert_eq!(server_key(None), DEFAULT_INDEX);
    }
}
