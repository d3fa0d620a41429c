//! docker's context store, byte for byte: `<config>/contexts/meta/<sha256(name)>/meta.json`
//! (`{"Name":…,"Metadata":{…},"Endpoints":{"docker":{"Host":…,"SkipTLSVerify":…}}}`) and
//! `<config>/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`; the current context is
//! `currentContext` in `config.json`. The docker CLI and berth read and write the same files,
//! so a context made by one is used by the other. Export/import use docker's archive: a tar
//! of `meta.json` and `tls/…`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CliError, CliResult};
use crate::host::{context_meta_dir, DEFAULT_HOST};

/// The reserved name of the context made from `DOCKER_HOST` and the flags.
pub const DEFAULT: &str = "default";
/// The default context's description (docker's words).
pub const DEFAULT_DESCRIPTION: &str = "Current DOCKER_HOST based configuration";
/// TLS files an endpoint may carry, in docker's order.
pub const TLS_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

/// The docker endpoint of a context.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerEndpoint {
    /// `unix:///…`, `tcp://…`.
    #[serde(rename = "Host", default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// Do not verify the daemon's certificate.
    #[serde(rename = "SkipTLSVerify", default)]
    pub skip_tls_verify: bool,
}

/// `meta.json`. Endpoints other than `docker` (and metadata keys) are kept as they were.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContextMeta {
    /// The context's name.
    #[serde(rename = "Name")]
    pub name: String,
    /// `Description` and whatever else a tool put there.
    #[serde(rename = "Metadata", default)]
    pub metadata: serde_json::Map<String, Value>,
    /// `docker` and other endpoints.
    #[serde(rename = "Endpoints", default)]
    pub endpoints: BTreeMap<String, Value>,
}

impl ContextMeta {
    /// A context with a description (empty = none) and a docker endpoint.
    pub fn new(name: &str, description: &str, docker: DockerEndpoint) -> ContextMeta {
        let mut m = ContextMeta {
            name: name.to_string(),
            ..Default::default()
        };
        m.set_description(description);
        m.set_docker(&docker);
        m
    }

    /// The description ("" when unset).
    pub fn description(&self) -> &str {
        self.metadata
            .get("Description")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Sets (or, when empty, removes) the description.
    pub fn set_description(&mut self, d: &str) {
        if d.is_empty() {
            self.metadata.remove("Description");
        } else {
            self.metadata.insert("Description".into(), d.into());
        }
    }

    /// The docker endpoint, when the context has one.
    pub fn docker(&self) -> Option<DockerEndpoint> {
        self.endpoints
            .get("docker")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Replaces the docker endpoint.
    pub fn set_docker(&mut self, d: &DockerEndpoint) {
        let v = serde_json::to_value(d).unwrap_or(Value::Null);
        self.endpoints.insert("docker".into(), v);
    }
}

/// The TLS material of a context's docker endpoint (file name → PEM bytes).
pub type TlsMaterial = BTreeMap<String, Vec<u8>>;

/// A context store rooted at a docker config dir.
#[derive(Debug, Clone)]
pub struct Store {
    config_dir: PathBuf,
}

/// docker's rule for context names.
pub fn validate_name(name: &str) -> CliResult<()> {
    if name == DEFAULT {
        return Err(CliError::msg("\"default\" is a reserved context name"));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-'));
    if !(first_ok && rest_ok) {
        return Err(CliError::msg(format!(
            "context name {name:?} is invalid, names are validated against regexp \"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$\""
        )));
    }
    Ok(())
}

impl Store {
    /// The store of `config_dir` (`~/.docker`, `$DOCKER_CONFIG`, `--config`).
    pub fn new(config_dir: &Path) -> Store {
        Store {
            config_dir: config_dir.to_path_buf(),
        }
    }

    /// `contexts/meta/<sha256(name)>`.
    pub fn meta_dir(&self, name: &str) -> PathBuf {
        context_meta_dir(&self.config_dir, name)
    }

    /// `contexts/tls/<sha256(name)>`.
    pub fn tls_dir(&self, name: &str) -> PathBuf {
        let meta = self.meta_dir(name);
        let hash = meta.file_name().unwrap_or_default().to_owned();
        self.config_dir.join("contexts").join("tls").join(hash)
    }

    /// The default context: `DOCKER_HOST` or berth's socket.
    pub fn default_context(env_host: Option<&str>) -> ContextMeta {
        let host = env_host
            .filter(|h| !h.is_empty())
            .unwrap_or(DEFAULT_HOST)
            .to_string();
        ContextMeta::new(
            DEFAULT,
            DEFAULT_DESCRIPTION,
            DockerEndpoint {
                host,
                skip_tls_verify: false,
            },
        )
    }

    /// Whether a named context exists.
    pub fn exists(&self, name: &str) -> bool {
        self.meta_dir(name).join("meta.json").is_file()
    }

    /// Loads a named context; the error is docker's ("context not found: open …").
    pub fn load(&self, name: &str) -> CliResult<ContextMeta> {
        let path = self.meta_dir(name).join("meta.json");
        let text = std::fs::read(&path).map_err(|e| {
            CliError::msg(format!(
                "context {name:?}: context not found: open {}: {}",
                path.display(),
                crate::error::go_io_error(&e)
            ))
        })?;
        serde_json::from_slice(&text)
            .map_err(|e| CliError::msg(format!("parsing {}: {e}", path.display())))
    }

    /// Every named context, sorted by name.
    pub fn list(&self) -> CliResult<Vec<ContextMeta>> {
        let dir = self.config_dir.join("contexts").join("meta");
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(out);
        };
        for e in entries.flatten() {
            let path = e.path().join("meta.json");
            if let Ok(text) = std::fs::read(&path) {
                let meta: ContextMeta = serde_json::from_slice(&text)
                    .map_err(|e| CliError::msg(format!("parsing {}: {e}", path.display())))?;
                out.push(meta);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The TLS files of a context's docker endpoint.
    pub fn tls(&self, name: &str) -> TlsMaterial {
        let dir = self.tls_dir(name).join("docker");
        TLS_FILES
            .iter()
            .filter_map(|f| Some((f.to_string(), std::fs::read(dir.join(f)).ok()?)))
            .collect()
    }

    /// Path of one TLS file of a context, when it exists.
    pub fn tls_file(&self, name: &str, file: &str) -> Option<PathBuf> {
        Some(self.tls_dir(name).join("docker").join(file)).filter(|p| p.is_file())
    }

    /// Writes a context's metadata and TLS files (replacing the TLS files it had).
    pub fn save(&self, meta: &ContextMeta, tls: &TlsMaterial) -> CliResult<()> {
        let dir = self.meta_dir(&meta.name);
        mkdir(&dir, 0o755)?;
        let body = serde_json::to_vec(meta).map_err(|e| CliError::msg(e.to_string()))?;
        write_file(&dir.join("meta.json"), &body, 0o644)?;
        let tls_root = self.tls_dir(&meta.name);
        let _ = std::fs::remove_dir_all(&tls_root);
        if !tls.is_empty() {
            let d = tls_root.join("docker");
            mkdir(&d, 0o700)?;
            for (file, data) in tls {
                write_file(&d.join(file), data, 0o600)?;
            }
        }
        Ok(())
    }

    /// Removes a named context (metadata and TLS files).
    pub fn remove(&self, name: &str) -> CliResult<()> {
        std::fs::remove_dir_all(self.meta_dir(name))
            .map_err(|e| CliError::msg(format!("removing context {name:?}: {e}")))?;
        let _ = std::fs::remove_dir_all(self.tls_dir(name));
        Ok(())
    }

    /// `currentContext` of config.json ("" when unset).
    pub fn current(&self) -> String {
        read_config(&self.config_dir)
            .ok()
            .and_then(|v| v.get("currentContext")?.as_str().map(String::from))
            .unwrap_or_default()
    }

    /// Sets `currentContext` in config.json (`default` removes the key); other keys are kept.
    pub fn set_current(&self, name: &str) -> CliResult<()> {
        let mut v = read_config(&self.config_dir)?;
        if !v.is_object() {
            v = Value::Object(Default::default());
        }
        let obj = v.as_object_mut().expect("object");
        if name == DEFAULT || name.is_empty() {
            obj.remove("currentContext");
        } else {
            obj.insert("currentContext".into(), name.into());
        }
        obj.entry("auths")
            .or_insert_with(|| Value::Object(Default::default()));
        mkdir(&self.config_dir, 0o700)?;
        let text = serde_json::to_string(&v).map_err(|e| CliError::msg(e.to_string()))?;
        let text = crate::jsonfmt::indent(&text, "\t");
        write_file(&self.config_dir.join("config.json"), text.as_bytes(), 0o600)
    }
}

fn read_config(dir: &Path) -> CliResult<Value> {
    let path = dir.join("config.json");
    match std::fs::read(&path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(Value::Object(Default::default())),
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| CliError::msg(format!("loading config file {}: {e}", path.display()))),
        Err(_) => Ok(Value::Object(Default::default())),
    }
}

fn mkdir(dir: &Path, mode: u32) -> CliResult<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(|e| CliError::msg(format!("mkdir {}: {e}", dir.display())))
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write_file(path: &Path, data: &[u8], mode: u32) -> CliResult<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let err = |e: std::io::Error| CliError::msg(format!("write {}: {e}", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(data).map_err(err)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err)
}

/// docker's export archive: `meta.json`, then `tls/` and `tls/docker/<file>` when present.
pub fn export(meta: &ContextMeta, tls: &TlsMaterial) -> CliResult<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let body = serde_json::to_vec(meta).map_err(|e| CliError::msg(e.to_string()))?;
    let entry = |kind: tar::EntryType, size: usize, mode: u32| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(size as u64);
        h.set_mode(mode);
        h.set_mtime(0);
        h
    };
    let err = |e: std::io::Error| CliError::msg(format!("writing the archive: {e}"));
    let mut h = entry(tar::EntryType::Regular, body.len(), 0o644);
    b.append_data(&mut h, "meta.json", body.as_slice())
        .map_err(err)?;
    let mut h = entry(tar::EntryType::Directory, 0, 0o700);
    b.append_data(&mut h, "tls", std::io::empty())
        .map_err(err)?;
    if !tls.is_empty() {
        let mut h = entry(tar::EntryType::Directory, 0, 0o700);
        b.append_data(&mut h, "tls/docker", std::io::empty())
            .map_err(err)?;
        for (file, data) in tls {
            let mut h = entry(tar::EntryType::Regular, data.len(), 0o600);
            b.append_data(&mut h, format!("tls/docker/{file}"), data.as_slice())
                .map_err(err)?;
        }
    }
    b.into_inner().map_err(err)
}

/// Reads docker's export archive (also one without the end-of-archive blocks, as the docker
/// CLI writes it) into the metadata and TLS files; the name is the importer's.
pub fn import(name: &str, archive: impl Read) -> CliResult<(ContextMeta, TlsMaterial)> {
    let mut a = tar::Archive::new(archive);
    let mut meta: Option<ContextMeta> = None;
    let mut tls = TlsMaterial::new();
    let bad = |e: String| CliError::msg(e);
    let entries = a.entries().map_err(|e| bad(e.to_string()))?;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) if meta.is_some() => {
                let _ = e;
                break;
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        let path = entry
            .path()
            .map_err(|e| bad(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| bad(e.to_string()))?;
        match path.as_str() {
            "meta.json" => {
                let m: ContextMeta = serde_json::from_slice(&data)
                    .map_err(|e| bad(format!("parsing meta.json: {e}")))?;
                meta = Some(m);
            }
            p => {
                if let Some(file) = p.strip_prefix("tls/docker/") {
                    if TLS_FILES.contains(&file) {
                        tls.insert(file.to_string(), data);
                    }
                }
            }
        }
    }
    let mut meta = meta.ok_or_else(|| bad("unexpected EOF".into()))?;
    meta.name = name.to_string();
    Ok((meta, tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_regexp() {
        for ok in ["berth", "a1", "my-ctx.v2+x_y"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "a", "-x", "bad name", "x/y", "default"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn meta_json_is_dockers() {
        let m = ContextMeta::new(
            "b1",
            "my desc",
            DockerEndpoint {
                host: "unix:///run/berth/berth.sock".into(),
                skip_tls_verify: false,
            },
        );
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"Name":"b1","Metadata":{"Description":"my desc"},"Endpoints":{"docker":{"Host":"unix:///run/berth/berth.sock","SkipTLSVerify":false}}}"#
        );
        let none = ContextMeta::new("t5", "", DockerEndpoint::default());
        assert_eq!(
            serde_json::to_string(&none).unwrap(),
            r#"{"Name":"t5","Metadata":{},"Endpoints":{"docker":{"SkipTLSVerify":false}}}"#
        );
    }

    #[test]
    fn export_import_round_trip() {
        let m = ContextMeta::new(
            "t1",
            "",
            DockerEndpoint {
                host: "tcp://127.0.0.1:2376".into(),
                skip_tls_verify: true,
            },
        );
        let mut tls = TlsMaterial::new();
        tls.insert("ca.pem".into(), b"CA".to_vec());
        tls.insert("key.pem".into(), b"KEY".to_vec());
        let tar = export(&m, &tls).unwrap();
        let (back, tls2) = import("t2", tar.as_slice()).unwrap();
        assert_eq!(back.name, "t2");
        assert_eq!(back.docker(), m.docker());
        assert_eq!(tls2, tls);
        // docker writes the archive without the two end blocks: still readable.
        let cut = &tar[..tar.len() - 1024];
        assert!(import("t3", cut).is_ok());
        assert!(import("t4", &b"x\n"[..]).is_err());
    }
}
