//! A build request (the API's query parameters, `berth build`'s flags) and its preparation:
//! the Dockerfile read from the context, parsed, the context filtered by `.dockerignore`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_dockerfile::Dockerfile;

use crate::context::{clamp_rel, Context};
use crate::error::{BuildError, Result};
use crate::glob::IgnoreRules;

/// What to build and how.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// Path of the Dockerfile inside the context (default `Dockerfile`).
    pub dockerfile: Option<String>,
    /// The Dockerfile's text when it does not come from the context (`-f -`).
    pub dockerfile_text: Option<String>,
    /// `-t`: names given to the final image.
    pub tags: Vec<String>,
    /// `--build-arg NAME=value` (`None`: `--build-arg NAME` without a value in the env).
    pub build_args: BTreeMap<String, Option<String>>,
    /// `--label`: added to the final image.
    pub labels: BTreeMap<String, String>,
    /// `--target`: the stage to stop at.
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`: pull base images even when present.
    pub pull: bool,
    /// RUN's network (`default`, `none`, `host`, a network name).
    pub network: Option<String>,
    /// `--add-host` entries (`host:ip`).
    pub extra_hosts: Vec<String>,
    /// `--shm-size` in bytes.
    pub shm_size: Option<u64>,
    /// `--memory` in bytes.
    pub memory: Option<i64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--platform` (only the host's is built).
    pub platform: Option<String>,
    /// Base64 `X-Registry-Config` (registry → credentials) for pulls.
    pub registry_config: Option<String>,
    /// `--secret id=…`: secret contents by id.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// `--ssh default=…`: agent sockets by id.
    pub ssh: BTreeMap<String, PathBuf>,
    /// `--cache-from` image references.
    pub cache_from: Vec<String>,
}

/// A request whose Dockerfile parsed and whose context is filtered.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The parsed Dockerfile.
    pub dockerfile: Dockerfile,
    /// The context, `.dockerignore` applied.
    pub context: Context,
    /// The request it came from.
    pub request: BuildRequest,
}

/// Reads and parses the Dockerfile and applies `.dockerignore` (or `<Dockerfile>.dockerignore`
/// beside the Dockerfile, which wins). Errors here come before any build output.
pub fn prepare(mut context: Context, request: BuildRequest) -> Result<Prepared> {
    let name = request
        .dockerfile
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "Dockerfile".into());
    let df_path = clamp_rel(&name);
    let text = match &request.dockerfile_text {
        Some(t) => t.clone(),
        None => {
            let resolved = context.resolve(&df_path, true)?;
            let bytes = context
                .read(&resolved)
                .or_else(|| {
                    (name == "Dockerfile")
                        .then(|| context.read("dockerfile"))
                        .flatten()
                })
                .ok_or_else(|| {
                    BuildError::Invalid(format!("Cannot locate specified Dockerfile: {name}"))
                })?;
            String::from_utf8(bytes).map_err(|_| {
                BuildError::Invalid(format!("the Dockerfile ({name}) is not valid UTF-8"))
            })?
        }
    };
    if text.trim().is_empty() {
        return Err(BuildError::Invalid(format!(
            "the Dockerfile ({name}) cannot be empty"
        )));
    }
    let dockerfile = berth_dockerfile::parse(&text)?;
    let specific = format!("{df_path}.dockerignore");
    let ignore_text = context
        .read(&specific)
        .or_else(|| context.read(".dockerignore"));
    if let Some(bytes) = ignore_text {
        let rules = IgnoreRules::parse(&String::from_utf8_lossy(&bytes))
            .map_err(|e| BuildError::Invalid(format!("failed to parse .dockerignore: {e}")))?;
        if !rules.is_empty() {
            context.retain(|path, _| !rules.excludes(path));
        }
    }
    crate::graph::target_index(&dockerfile, request.target.as_deref())?;
    Ok(Prepared {
        dockerfile,
        context,
        request,
    })
}
