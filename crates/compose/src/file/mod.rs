//! Compose files → a [`model::Project`].
//!
//! Per file (compose-go's order): YAML (anchors, merge keys) → interpolation → short syntax
//! made long and relative paths made absolute ([`canonical`]) → `extends` → `include`; then
//! the files merge in order ([`merge`]), the project is normalised (names, the default
//! network, links/volumes_from as dependencies, profiles) and read into the typed model
//! ([`crate::yaml::de`]: unknown keys are errors with the nearest key suggested).

pub mod canonical;
pub mod dotenv;
pub mod interpolate;
pub mod merge;
pub mod model;
pub mod normalize;
pub mod options;
pub mod output;
pub mod ports;
pub mod units;
pub mod volumes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::yaml::{self, Mark, Node, Value};

pub use options::{Loaded, Options};

/// Why a project could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// YAML syntax.
    #[error(transparent)]
    Yaml(#[from] yaml::load::YamlError),
    /// `${…}` errors.
    #[error(transparent)]
    Interpolate(#[from] interpolate::InterpolateError),
    /// A value that is not valid where it is.
    #[error("{mark}: {path}: {message}")]
    Invalid {
        /// Where.
        mark: Mark,
        /// The key path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A type or unknown-key error from the typed model.
    #[error(transparent)]
    Typed(#[from] yaml::de::DeError),
    /// A `.env` error.
    #[error(transparent)]
    Dotenv(#[from] dotenv::DotenvError),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Anything else, with Compose's wording.
    #[error("{0}")]
    Other(String),
}

/// What a file is loaded with.
pub(crate) struct Ctx<'a> {
    /// Variables for interpolation.
    pub env: &'a BTreeMap<String, String>,
    /// Where relative paths point.
    pub base_dir: PathBuf,
    /// Warnings to print (unset variables, obsolete `version`).
    pub warnings: &'a mut Vec<String>,
    /// Files being loaded (cycle detection for include/extends).
    pub stack: Vec<PathBuf>,
}

/// Reads a file (or stdin for `-`).
pub(crate) fn read(path: &Path) -> Result<String, LoadError> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|source| {
            LoadError::Io {
                path: "-".into(),
                source,
            }
        })?;
        return Ok(s);
    }
    std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Parses, interpolates and canonicalises one file, applying its `extends` and `include`.
pub(crate) fn load_file(path: &Path, ctx: &mut Ctx<'_>) -> Result<Node, LoadError> {
    let text = read(path)?;
    let name = path.display().to_string();
    let mut root = yaml::load::parse(&text, &name)?;
    if root.is_null() {
        root = Node::map(&root.mark);
    }
    if root.as_map().is_none() {
        return Err(LoadError::Invalid {
            mark: root.mark.clone(),
            path: String::new(),
            message: "top-level object must be a mapping".into(),
        });
    }
    let env = ctx.env;
    let lookup = |k: &str| env.get(k).cloned();
    let mut unset = Vec::new();
    interpolate::interpolate_tree(&mut root, &mut Vec::new(), &lookup, &mut unset)?;
    for u in unset {
        let w = format!("The \"{u}\" variable is not set. Defaulting to a blank string.");
        if !ctx.warnings.contains(&w) {
            ctx.warnings.push(w);
        }
    }
    if root.remove("version").is_some() {
        ctx.warnings.push(format!(
            "{name}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion"
        ));
    }
    canonical_file(&mut root, &ctx.base_dir, env)?;
    normalize::apply_extends(&mut root, path, ctx)?;
    normalize::apply_include(&mut root, path, ctx)?;
    Ok(root)
}

/// Canonical form of every section of a file; relative paths against `base`.
pub(crate) fn canonical_file(
    root: &mut Node,
    base: &Path,
    env: &BTreeMap<String, String>,
) -> Result<(), LoadError> {
    if let Some(services) = root.get_mut("services") {
        if services.is_null() {
            *services = Node::map(&services.mark);
        }
        let Value::Map(entries) = &mut services.value else {
            return Err(LoadError::Invalid {
                mark: services.mark.clone(),
                path: "services".into(),
                message: "must be a mapping".into(),
            });
        };
        for (k, svc) in entries.iter_mut() {
            canonical::service(svc, &k.name)?;
            normalize::resolve_service_paths(svc, base, env);
        }
    }
    for section in ["networks", "volumes", "secrets", "configs"] {
        if let Some(Value::Map(entries)) = root.get_mut(section).map(|n| &mut n.value) {
            for (_, r) in entries.iter_mut() {
                canonical::resource(r);
                if let Some(f) = r.get_mut("file") {
                    if let Some(t) = f.as_str() {
                        *f = Node::str(normalize::abs(base, t, env), &f.mark);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Loads a project as `docker compose` would.
pub fn load(opts: &Options) -> Result<Loaded, LoadError> {
    options::load(opts)
}
