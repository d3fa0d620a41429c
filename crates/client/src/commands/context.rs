//! `berth context …`: docker's context commands over the shared store
//! ([`crate::context_store`]). They need no daemon.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{json, Value};

use super::out;
use crate::context_store::{self, ContextMeta, DockerEndpoint, Store, TlsMaterial, DEFAULT};
use crate::error::{go_io_error, CliError, CliResult};
use crate::host::{self, HostInputs};

/// `context` subcommands.
#[derive(Debug, Subcommand)]
pub enum ContextCmd {
    /// Create a context.
    Create {
        /// Description of the context.
        #[arg(long)]
        description: Option<String>,
        /// Set the docker endpoint (host=…,ca=…,cert=…,key=…,skip-tls-verify=…).
        #[arg(long)]
        docker: Vec<String>,
        /// Create context from a named context.
        #[arg(long)]
        from: Option<String>,
        /// The context's name.
        name: String,
    },
    /// List contexts.
    #[command(alias = "list")]
    Ls {
        /// Format output using a custom template ('table', 'json' or a Go template).
        #[arg(long)]
        format: Option<String>,
        /// Only show context names.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Set the current docker context.
    Use {
        /// The context's name.
        name: String,
    },
    /// Print the name of the current context.
    Show,
    /// Display detailed information on one or more contexts.
    Inspect {
        /// Format output using a custom template.
        #[arg(short, long)]
        format: Option<String>,
        /// The contexts.
        names: Vec<String>,
    },
    /// Remove one or more contexts.
    #[command(alias = "remove")]
    Rm {
        /// Force the removal of a context in use.
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        /// The contexts.
        names: Vec<String>,
    },
    /// Update a context.
    Update {
        /// Description of the context.
        #[arg(long)]
        description: Option<String>,
        /// Set the docker endpoint.
        #[arg(long)]
        docker: Vec<String>,
        /// The context's name.
        name: String,
    },
    /// Export a context to a tar archive FILE or a tar stream on STDOUT.
    Export {
        /// The context's name.
        name: String,
        /// The tar file to write (- or none: STDOUT).
        file: Option<String>,
    },
    /// Import a context from a tar or zip file.
    Import {
        /// The new context's name.
        name: String,
        /// The tar or zip file (- for STDIN).
        file: String,
    },
}

/// What the context commands need from the global flags and environment.
pub struct ContextEnv {
    /// The store.
    pub store: Store,
    /// How the current context is decided (`--context`, env, config.json).
    pub inputs: HostInputs,
}

impl ContextEnv {
    fn current(&self) -> String {
        host::context_name(&self.inputs).unwrap_or_else(|_| DEFAULT.into())
    }

    fn load(&self, name: &str) -> CliResult<(ContextMeta, TlsMaterial)> {
        if name == DEFAULT {
            let meta = Store::default_context(self.inputs.env_host.as_deref());
            return Ok((meta, TlsMaterial::new()));
        }
        let meta = self.store.load(name)?;
        Ok((meta, self.store.tls(name)))
    }
}

/// Runs one `context` command.
pub fn run(env: &ContextEnv, cmd: ContextCmd) -> CliResult<i32> {
    match cmd {
        ContextCmd::Create {
            description,
            docker,
            from,
            name,
        } => create(env, &name, description, &docker, from),
        ContextCmd::Ls { format, quiet } => ls(env, format, quiet),
        ContextCmd::Use { name } => use_context(env, &name),
        ContextCmd::Show => {
            out(&format!("{}\n", env.current()));
            Ok(0)
        }
        ContextCmd::Inspect { format, names } => inspect(env, format, names),
        ContextCmd::Rm { force, names } => rm(env, force, &names),
        ContextCmd::Update {
            description,
            docker,
            name,
        } => update(env, &name, description, &docker),
        ContextCmd::Export { name, file } => export(env, &name, file),
        ContextCmd::Import { name, file } => import(env, &name, &file),
    }
}

/// Parses `--docker` values (pflag's string-to-string: comma-separated `key=value`, several
/// flags merge) into an endpoint and its TLS files.
fn docker_endpoint(values: &[String]) -> CliResult<(DockerEndpoint, TlsMaterial)> {
    let fail = |m: String| CliError::msg(format!("unable to create docker endpoint config: {m}"));
    let mut ep = DockerEndpoint::default();
    let mut tls = TlsMaterial::new();
    for v in values {
        for kv in v.split(',').filter(|s| !s.is_empty()) {
            let (k, val) = kv
                .split_once('=')
                .ok_or_else(|| fail(format!("{kv} must be formatted as key=value")))?;
            let file = match k {
                "host" => {
                    ep.host = val.to_string();
                    continue;
                }
                "skip-tls-verify" => {
                    ep.skip_tls_verify = parse_bool(val).ok_or_else(|| {
                        fail(format!(
                            "strconv.ParseBool: parsing {val:?}: invalid syntax"
                        ))
                    })?;
                    continue;
                }
                "ca" => "ca.pem",
                "cert" => "cert.pem",
                "key" => "key.pem",
                other => return Err(fail(format!("unrecognized config key: {other}"))),
            };
            let data =
                std::fs::read(val).map_err(|e| fail(format!("open {val}: {}", go_io_error(&e))))?;
            tls.insert(file.to_string(), data);
        }
    }
    if tls.contains_key("cert.pem") != tls.contains_key("key.pem") {
        return Err(fail("cert and key must be provided together".into()));
    }
    Ok((ep, tls))
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn create(
    env: &ContextEnv,
    name: &str,
    description: Option<String>,
    docker: &[String],
    from: Option<String>,
) -> CliResult<i32> {
    context_store::validate_name(name)?;
    if env.store.exists(name) {
        return Err(CliError::msg(format!("context {name:?} already exists")));
    }
    let (mut meta, tls) = if !docker.is_empty() {
        let (ep, tls) = docker_endpoint(docker)?;
        (ContextMeta::new(name, "", ep), tls)
    } else {
        // Without --docker: a copy of --from, else of the current context (docker's rule).
        let source = from.unwrap_or_else(|| env.current());
        env.load(&source)?
    };
    meta.name = name.to_string();
    if let Some(d) = description {
        meta.set_description(&d);
    }
    env.store.save(&meta, &tls)?;
    out(&format!("{name}\n"));
    eprintln!("Successfully created context {name:?}");
    Ok(0)
}

fn update(
    env: &ContextEnv,
    name: &str,
    description: Option<String>,
    docker: &[String],
) -> CliResult<i32> {
    context_store::validate_name(name)?;
    let (mut meta, mut tls) = env.load(name)?;
    if let Some(d) = description {
        meta.set_description(&d);
    }
    if !docker.is_empty() {
        let (ep, new_tls) = docker_endpoint(docker)?;
        meta.set_docker(&ep);
        tls = new_tls;
    }
    env.store.save(&meta, &tls)?;
    out(&format!("{name}\n"));
    eprintln!("Successfully updated context {name:?}");
    Ok(0)
}

fn ls(env: &ContextEnv, format: Option<String>, quiet: bool) -> CliResult<i32> {
    let current = env.current();
    let mut all = env.store.list()?;
    all.push(Store::default_context(env.inputs.env_host.as_deref()));
    all.sort_by(|a, b| a.name.cmp(&b.name));
    if quiet {
        let names: String = all.iter().map(|m| format!("{}\n", m.name)).collect();
        out(&names);
        return Ok(0);
    }
    let rows: Vec<Value> = all
        .iter()
        .map(|m| {
            json!({
                "Current": m.name == current,
                "Description": m.description(),
                "DockerEndpoint": m.docker().map(|d| d.host).unwrap_or_default(),
                "Error": "",
                "Name": m.name,
            })
        })
        .collect();
    let headers = json!({
        "Current": false,
        "Description": "DESCRIPTION",
        "DockerEndpoint": "DOCKER ENDPOINT",
        "Error": "ERROR",
        "Name": "NAME",
    });
    let f = berth_cli_format::table::Format::parse(
        format.as_deref().unwrap_or(""),
        "table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}",
    )
    .map_err(|e| CliError::msg(format!("template parsing error: {e}")))?;
    let text = f
        .render(&rows, &headers)
        .map_err(|e| CliError::msg(format!("template: {e}")))?;
    out(&text);
    Ok(0)
}

fn use_context(env: &ContextEnv, name: &str) -> CliResult<i32> {
    if name != DEFAULT {
        env.store.load(name)?;
    }
    env.store.set_current(name)?;
    out(&format!("{name}\n"));
    eprintln!("Current context is now {name:?}");
    if name != DEFAULT
        && env
            .inputs
            .env_host
            .as_deref()
            .is_some_and(|h| !h.is_empty())
    {
        eprintln!(
            "Warning: DOCKER_HOST environment variable overrides the active context. To use {name:?}, either set the global --context flag, or unset DOCKER_HOST environment variable."
        );
    }
    Ok(0)
}

fn inspect(env: &ContextEnv, format: Option<String>, names: Vec<String>) -> CliResult<i32> {
    let names = if names.is_empty() {
        vec![env.current()]
    } else {
        names
    };
    let mut docs = Vec::new();
    let mut failure = None;
    for n in &names {
        match env.load(n) {
            Ok((meta, tls)) => docs.push(inspect_doc(env, &meta, &tls)),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    match format.as_deref().filter(|f| !f.is_empty() && *f != "json") {
        Some(f) => {
            let t = berth_cli_format::Template::parse(&f.replace("\\t", "\t").replace("\\n", "\n"))
                .map_err(|e| CliError::msg(format!("template parsing error: {e}")))?;
            let mut s = String::new();
            for d in &docs {
                let d = serde_json::to_value(d).map_err(|e| CliError::msg(e.to_string()))?;
                s.push_str(
                    &t.render(&d)
                        .map_err(|e| CliError::msg(format!("template: {e}")))?,
                );
                s.push('\n');
            }
            out(&s);
        }
        None => {
            let text = serde_json::to_string(&docs).map_err(|e| CliError::msg(e.to_string()))?;
            let text = super::go_json_escape(&crate::jsonfmt::indent(&text, "    "));
            out(&format!("{text}\n"));
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// docker's inspect document (keys in docker's order).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct InspectDoc {
    name: String,
    metadata: serde_json::Map<String, Value>,
    endpoints: std::collections::BTreeMap<String, Value>,
    #[serde(rename = "TLSMaterial")]
    tls_material: std::collections::BTreeMap<&'static str, Vec<String>>,
    storage: Storage,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Storage {
    metadata_path: String,
    #[serde(rename = "TLSPath")]
    tls_path: String,
}

fn inspect_doc(env: &ContextEnv, meta: &ContextMeta, tls: &TlsMaterial) -> InspectDoc {
    let mut tls_material = std::collections::BTreeMap::new();
    if !tls.is_empty() {
        tls_material.insert("docker", tls.keys().cloned().collect());
    }
    let (metadata_path, tls_path) = if meta.name == DEFAULT {
        ("<IN MEMORY>".to_string(), "<IN MEMORY>".to_string())
    } else {
        (
            env.store.meta_dir(&meta.name).display().to_string(),
            env.store.tls_dir(&meta.name).display().to_string(),
        )
    };
    InspectDoc {
        name: meta.name.clone(),
        // docker shows (and exports) the default context without its description.
        metadata: match meta.name == DEFAULT {
            true => Default::default(),
            false => meta.metadata.clone(),
        },
        endpoints: meta.endpoints.clone(),
        tls_material,
        storage: Storage {
            metadata_path,
            tls_path,
        },
    }
}

fn rm(env: &ContextEnv, force: bool, names: &[String]) -> CliResult<i32> {
    let current = env.store.current();
    let mut failed = false;
    for n in names {
        let result = if n == DEFAULT {
            Err(CliError::msg("context \"default\" cannot be removed"))
        } else if !env.store.exists(n) {
            Err(CliError::msg(format!("context {n:?} does not exist")))
        } else if *n == current && !force {
            Err(CliError::msg(format!(
                "context {n:?} is in use, set -f flag to force remove"
            )))
        } else {
            env.store.remove(n).and_then(|()| {
                if *n == current {
                    env.store.set_current(DEFAULT)
                } else {
                    Ok(())
                }
            })
        };
        match result {
            Ok(()) => out(&format!("{n}\n")),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn export(env: &ContextEnv, name: &str, file: Option<String>) -> CliResult<i32> {
    let (mut meta, tls) = env.load(name)?;
    if name == DEFAULT {
        meta.metadata.clear();
    }
    let archive = context_store::export(&meta, &tls)?;
    let file = file.unwrap_or_else(|| format!("{name}.dockercontext"));
    if file == "-" {
        super::out_bytes(&archive);
        return Ok(0);
    }
    let mut f = std::fs::File::create(&file)
        .map_err(|e| CliError::msg(format!("open {file}: {}", go_io_error(&e))))?;
    f.write_all(&archive)?;
    eprintln!("Written file {file:?}");
    Ok(0)
}

fn import(env: &ContextEnv, name: &str, file: &str) -> CliResult<i32> {
    context_store::validate_name(name)?;
    if env.store.exists(name) {
        return Err(CliError::msg(format!("context {name:?} already exists")));
    }
    let mut data = Vec::new();
    if file == "-" {
        std::io::stdin().read_to_end(&mut data)?;
    } else {
        data = std::fs::read(PathBuf::from(file))
            .map_err(|e| CliError::msg(format!("open {file}: {}", go_io_error(&e))))?;
    }
    let (meta, tls) = context_store::import(name, data.as_slice())?;
    env.store.save(&meta, &tls)?;
    out(&format!("{name}\n"));
    eprintln!("Successfully imported context {name:?}");
    Ok(0)
}
