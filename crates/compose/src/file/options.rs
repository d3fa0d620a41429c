//! Which files, which project: `-f`/`COMPOSE_FILE`/discovery upwards, `--project-directory`,
//! `.env`/`--env-file`, `-p`/`COMPOSE_PROJECT_NAME`/`name:`/the directory, profiles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::yaml::{self, Node, Value};

use super::model::{Project, Service};
use super::{load_file, Ctx, LoadError};

/// The file names Compose looks for, in order.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];
const OVERRIDE_FILES: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// How to load a project.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-f` files (empty: `COMPOSE_FILE`, else found upwards from `cwd`).
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` (empty: `.env` in the project directory).
    pub env_files: Vec<PathBuf>,
    /// `--profile`.
    pub profiles: Vec<String>,
    /// Services named on the command line (they enable their own profiles).
    pub services: Vec<String>,
    /// The process environment.
    pub environ: BTreeMap<String, String>,
    /// The current directory.
    pub cwd: PathBuf,
}

/// A loaded project and what came with it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The project, normalised (only services of active profiles).
    pub project: Project,
    /// The services before `env_file`/environment resolution (what `config --hash` hashes).
    pub unresolved: BTreeMap<String, Service>,
    /// Services left out by profiles.
    pub disabled: BTreeMap<String, Service>,
    /// The files, absolute.
    pub files: Vec<PathBuf>,
    /// The project directory.
    pub working_dir: PathBuf,
    /// The variables used for interpolation.
    pub env: BTreeMap<String, String>,
    /// Active profiles.
    pub profiles: Vec<String>,
    /// Warnings to print before doing anything.
    pub warnings: Vec<String>,
}

/// Compose's project-name rule: lowercase letters, digits, `-` and `_`, starting with a
/// letter or digit.
pub fn normalize_name(s: &str) -> String {
    let lower: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_')
        .collect();
    lower
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

fn find_upwards(cwd: &Path) -> Option<PathBuf> {
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        for f in DEFAULT_FILES {
            let p = d.join(f);
            if p.is_file() {
                return Some(p);
            }
        }
        dir = d.parent();
    }
    None
}

fn read_env_file(
    p: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, LoadError> {
    let text = std::fs::read_to_string(p).map_err(|source| LoadError::Io {
        path: p.display().to_string(),
        source,
    })?;
    Ok(
        super::dotenv::parse(&text, &p.display().to_string(), &|k| env.get(k).cloned())?
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect(),
    )
}

/// Loads the project.
pub fn load(opts: &Options) -> Result<Loaded, LoadError> {
    let abs = |p: &Path| {
        if p.is_absolute() || p.as_os_str() == "-" {
            p.to_path_buf()
        } else {
            opts.cwd.join(p)
        }
    };
    // `.env` of the project directory can set COMPOSE_FILE etc., so read it first when known
    let early_dir = opts
        .project_directory
        .as_deref()
        .map(abs)
        .unwrap_or(opts.cwd.clone());
    let mut env = opts.environ.clone();
    let env_paths: Vec<PathBuf> = if opts.env_files.is_empty() {
        vec![early_dir.join(".env")]
    } else {
        opts.env_files.iter().map(|p| abs(p)).collect()
    };
    let mut dotenv: Vec<(String, String)> = Vec::new();
    for p in &env_paths {
        if p.is_file() || !opts.env_files.is_empty() {
            let base = opts.environ.clone();
            dotenv.extend(read_env_file(p, &base)?);
        }
    }
    for (k, v) in &dotenv {
        env.entry(k.clone()).or_insert(v.clone());
    }
    let files: Vec<PathBuf> = if !opts.files.is_empty() {
        opts.files.iter().map(|p| abs(p)).collect()
    } else if let Some(cf) = env.get("COMPOSE_FILE").filter(|s| !s.is_empty()) {
        let sep = env
            .get("COMPOSE_PATH_SEPARATOR")
            .cloned()
            .unwrap_or(":".into());
        cf.split(sep.as_str()).map(|p| abs(Path::new(p))).collect()
    } else {
        let main = find_upwards(&early_dir)
            .ok_or_else(|| LoadError::Other("no configuration file provided: not found".into()))?;
        let dir = main.parent().unwrap_or(Path::new("/")).to_path_buf();
        let mut v = vec![main];
        if let Some(o) = OVERRIDE_FILES
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
        {
            v.push(o);
        }
        v
    };
    let working_dir = match &opts.project_directory {
        Some(d) => abs(d),
        None => files[0]
            .parent()
            .filter(|_| files[0].as_os_str() != "-")
            .map(Path::to_path_buf)
            .unwrap_or(opts.cwd.clone()),
    };
    if working_dir != early_dir && opts.env_files.is_empty() {
        let p = working_dir.join(".env");
        if p.is_file() {
            for (k, v) in read_env_file(&p, &opts.environ)? {
                env.entry(k).or_insert(v);
            }
        }
    }
    let mut warnings = Vec::new();
    let mut acc: Option<Node> = None;
    for f in &files {
        let mut ctx = Ctx {
            env: &env,
            base_dir: working_dir.clone(),
            warnings: &mut warnings,
            stack: vec![f.clone()],
        };
        let tree = load_file(f, &mut ctx)?;
        match &mut acc {
            None => acc = Some(tree),
            Some(a) => super::merge::merge(a, tree, &[]),
        }
    }
    let mut root = acc.unwrap_or_else(|| Node::map(&Default::default()));
    if let Some(Value::Map(services)) = root.get_mut("services").map(|n| &mut n.value) {
        for (_, svc) in services.iter_mut() {
            for (k, v) in svc.as_map_mut().into_iter().flatten() {
                if let Value::Seq(items) = &mut v.value {
                    let path = ["services", "*", k.name.as_str()];
                    super::merge::unique(items, &path);
                }
            }
        }
    }
    let declared_name = root.remove("name").and_then(|n| n.scalar_text());
    let name = opts
        .project_name
        .clone()
        .or_else(|| {
            env.get("COMPOSE_PROJECT_NAME")
                .cloned()
                .filter(|s| !s.is_empty())
        })
        .or(declared_name)
        .unwrap_or_else(|| {
            working_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let name = normalize_name(&name);
    if name.is_empty() {
        return Err(LoadError::Other("project name must not be empty".into()));
    }
    if root.get("services").is_none() {
        root.set("services", Node::map(&root.mark));
    }
    let mut project: Project = yaml::de::from_node(&root, &[])?;
    project.name = name;
    for (k, s) in project.services.iter_mut() {
        s.name = k.clone();
    }
    let mut profiles: Vec<String> = opts.profiles.clone();
    if profiles.is_empty() {
        if let Some(p) = env.get("COMPOSE_PROFILES") {
            profiles = p
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
    }
    let mut disabled = BTreeMap::new();
    let all = profiles.iter().any(|p| p == "*");
    let keep: BTreeSet<String> = project
        .services
        .iter()
        .filter(|(n, s)| {
            s.profiles.is_empty()
                || all
                || s.profiles.iter().any(|p| profiles.contains(p))
                || opts.services.contains(n)
        })
        .map(|(n, _)| n.clone())
        .collect();
    let names: Vec<String> = project.services.keys().cloned().collect();
    for n in names {
        if !keep.contains(&n) {
            if let Some(s) = project.services.remove(&n) {
                disabled.insert(n, s);
            }
        }
    }
    super::normalize::project(&mut project, &env)?;
    super::normalize::validate(&project)?;
    let unresolved = project.services.clone();
    super::normalize::resolve_environment(&mut project, &env)?;
    Ok(Loaded {
        project,
        unresolved,
        disabled,
        files,
        working_dir,
        env,
        profiles,
        warnings,
    })
}

/// Fails on a dependency cycle (Compose's message).
pub fn check_cycles(p: &Project) -> Result<(), LoadError> {
    fn visit(
        p: &Project,
        n: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Result<(), LoadError> {
        if done.contains(n) {
            return Ok(());
        }
        if let Some(i) = path.iter().position(|x| x == n) {
            let mut cycle: Vec<String> = path[i..].to_vec();
            cycle.push(n.to_string());
            return Err(LoadError::Other(format!(
                "dependency cycle detected: {}",
                cycle.join(" -> ")
            )));
        }
        path.push(n.to_string());
        if let Some(s) = p.services.get(n) {
            for d in s.depends_on.keys() {
                visit(p, d, path, done)?;
            }
        }
        path.pop();
        done.insert(n.to_string());
        Ok(())
    }
    let mut done = BTreeSet::new();
    for n in p.services.keys() {
        visit(p, n, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}
