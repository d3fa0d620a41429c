//! Paths, `extends`, `include`, and the project-wide defaults compose-go's `normalize` adds:
//! resource names (`<project>_<key>`), the `default` network, dependencies implied by links,
//! `network_mode: service:x` and `volumes_from`, build defaults, resolved environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::yaml::{Key, Node, Value};

use super::model::{Dependency, Project};
use super::{load_file, Ctx, LoadError};

/// `p` made absolute against `base` (`~` is `$HOME`); URLs and absolute paths unchanged.
pub fn abs(base: &Path, p: &str, env: &BTreeMap<String, String>) -> String {
    if p.contains("://") || p.starts_with("git@") {
        return p.to_string();
    }
    let home = env
        .get("HOME")
        .cloned()
        .or_else(|| std::env::var("HOME").ok())
        .unwrap_or_else(|| "/root".into());
    let joined = if p == "~" {
        PathBuf::from(&home)
    } else if let Some(rest) = p.strip_prefix("~/") {
        Path::new(&home).join(rest)
    } else {
        base.join(p)
    };
    super::volumes::clean(&joined.to_string_lossy())
}

/// Absolute build contexts, bind sources, env files and extends files.
pub(crate) fn resolve_service_paths(svc: &mut Node, base: &Path, env: &BTreeMap<String, String>) {
    if let Some(b) = svc.get_mut("build") {
        let ctx = b
            .get("context")
            .and_then(Node::scalar_text)
            .unwrap_or(".".into());
        b.set("context", Node::str(abs(base, &ctx, env), &b.mark));
    }
    if let Some(Value::Seq(items)) = svc.get_mut("volumes").map(|n| &mut n.value) {
        for v in items.iter_mut() {
            if v.get("type").and_then(Node::as_str) == Some("bind") {
                if let Some(s) = v.get_mut("source") {
                    if let Some(t) = s.as_str() {
                        *s = Node::str(abs(base, t, env), &s.mark);
                    }
                }
            }
        }
    }
    if let Some(Value::Seq(items)) = svc.get_mut("env_file").map(|n| &mut n.value) {
        for f in items.iter_mut() {
            if let Some(p) = f.get_mut("path") {
                if let Some(t) = p.as_str() {
                    *p = Node::str(abs(base, t, env), &p.mark);
                }
            }
        }
    }
    if let Some(Value::Seq(items)) = svc
        .get_mut("develop")
        .and_then(|d| d.get_mut("watch"))
        .map(|n| &mut n.value)
    {
        for w in items.iter_mut() {
            if let Some(p) = w.get_mut("path") {
                if let Some(t) = p.as_str() {
                    *p = Node::str(abs(base, t, env), &p.mark);
                }
            }
        }
    }
    if let Some(Value::Seq(items)) = svc.get_mut("label_file").map(|n| &mut n.value) {
        for p in items.iter_mut() {
            if let Some(t) = p.as_str() {
                *p = Node::str(abs(base, t, env), &p.mark);
            }
        }
    }
}

/// Resolves every service's `extends` in a file's tree.
pub(crate) fn apply_extends(
    root: &mut Node,
    file: &Path,
    ctx: &mut Ctx<'_>,
) -> Result<(), LoadError> {
    let names: Vec<String> = match root.get("services").and_then(Node::as_map) {
        Some(m) => m.iter().map(|(k, _)| k.name.clone()).collect(),
        None => return Ok(()),
    };
    for name in names {
        let mut chain = Vec::new();
        resolve_one(root, &name, file, ctx, &mut chain)?;
    }
    Ok(())
}

fn resolve_one(
    root: &mut Node,
    name: &str,
    file: &Path,
    ctx: &mut Ctx<'_>,
    chain: &mut Vec<String>,
) -> Result<(), LoadError> {
    let services = root.get_mut("services").expect("checked");
    let Some(svc) = services.get_mut(name) else {
        return Err(LoadError::Other(format!(
            "cannot extend service {name:?} in {}: service not found",
            file.display()
        )));
    };
    let Some(ext) = svc.remove("extends") else {
        return Ok(());
    };
    let target = ext
        .get("service")
        .and_then(Node::scalar_text)
        .ok_or_else(|| LoadError::Invalid {
            mark: ext.mark.clone(),
            path: format!("services.{name}.extends"),
            message: "service is required".into(),
        })?;
    let me = svc.clone();
    let base = match ext.get("file").and_then(Node::scalar_text) {
        Some(f) => {
            let path = Path::new(&abs(&ctx.base_dir, &f, ctx.env)).to_path_buf();
            if ctx.stack.contains(&path) {
                return Err(LoadError::Other(format!(
                    "circular reference with extends in {}",
                    path.display()
                )));
            }
            let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
            let mut sub = Ctx {
                env: ctx.env,
                base_dir: dir,
                warnings: ctx.warnings,
                stack: [ctx.stack.clone(), vec![path.clone()]].concat(),
            };
            let other = load_file(&path, &mut sub)?;
            other
                .get("services")
                .and_then(|s| s.get(&target))
                .cloned()
                .ok_or_else(|| {
                    LoadError::Other(format!(
                        "cannot extend service {name:?} in {}: service {target:?} not found",
                        path.display()
                    ))
                })?
        }
        None => {
            let key = format!("{}:{target}", file.display());
            if chain.contains(&key) || target == name {
                return Err(LoadError::Other(format!(
                    "Circular reference: service {name:?} extends {target:?}"
                )));
            }
            chain.push(key);
            resolve_one(root, &target, file, ctx, chain)?;
            root.get("services")
                .and_then(|s| s.get(&target))
                .cloned()
                .ok_or_else(|| {
                    LoadError::Other(format!(
                        "cannot extend service {name:?} in {}: service {target:?} not found",
                        file.display()
                    ))
                })?
        }
    };
    let mut merged = base;
    super::merge::merge(&mut merged, me, &["services".to_string(), name.to_string()]);
    let services = root.get_mut("services").expect("checked");
    services.set(name, merged);
    Ok(())
}

/// Loads `include:` entries and adds their resources (a name defined twice is an error).
pub(crate) fn apply_include(
    root: &mut Node,
    file: &Path,
    ctx: &mut Ctx<'_>,
) -> Result<(), LoadError> {
    let Some(inc) = root.remove("include") else {
        return Ok(());
    };
    let items = match inc.value {
        Value::Seq(items) => items,
        _ => {
            return Err(LoadError::Invalid {
                mark: inc.mark,
                path: "include".into(),
                message: "must be a sequence".into(),
            })
        }
    };
    for item in items {
        let (paths, project_dir, env_files) = match &item.value {
            Value::Map(_) => {
                let list = |k: &str| -> Vec<String> {
                    match item.get(k).map(|n| &n.value) {
                        Some(Value::Seq(s)) => s.iter().filter_map(Node::scalar_text).collect(),
                        Some(_) => item
                            .get(k)
                            .and_then(Node::scalar_text)
                            .into_iter()
                            .collect(),
                        None => Vec::new(),
                    }
                };
                (
                    list("path"),
                    item.get("project_directory").and_then(Node::scalar_text),
                    list("env_file"),
                )
            }
            _ => (item.scalar_text().into_iter().collect(), None, Vec::new()),
        };
        let Some(first) = paths.first() else { continue };
        let first = PathBuf::from(abs(&ctx.base_dir, first, ctx.env));
        if ctx.stack.contains(&first) || first == file {
            return Err(LoadError::Other(format!(
                "include cycle detected: {} includes {}",
                file.display(),
                first.display()
            )));
        }
        let dir = match project_dir {
            Some(d) => PathBuf::from(abs(&ctx.base_dir, &d, ctx.env)),
            None => first.parent().unwrap_or(Path::new("/")).to_path_buf(),
        };
        let mut env = ctx.env.clone();
        let env_paths: Vec<PathBuf> = if env_files.is_empty() {
            vec![dir.join(".env")]
        } else {
            env_files
                .iter()
                .map(|f| PathBuf::from(abs(&ctx.base_dir, f, ctx.env)))
                .collect()
        };
        for p in env_paths {
            if let Ok(text) = std::fs::read_to_string(&p) {
                let parent = env.clone();
                for (k, v) in super::dotenv::parse(&text, &p.display().to_string(), &|k| {
                    parent.get(k).cloned()
                })? {
                    if let Some(v) = v {
                        // the including project's variables win
                        env.entry(k).or_insert(v);
                    }
                }
            }
        }
        let mut acc: Option<Node> = None;
        for p in &paths {
            let path = PathBuf::from(abs(&ctx.base_dir, p, ctx.env));
            let mut sub = Ctx {
                env: &env,
                base_dir: dir.clone(),
                warnings: ctx.warnings,
                stack: [ctx.stack.clone(), vec![file.to_path_buf()]].concat(),
            };
            let tree = load_file(&path, &mut sub)?;
            match &mut acc {
                None => acc = Some(tree),
                Some(a) => super::merge::merge(a, tree, &[]),
            }
        }
        let Some(included) = acc else { continue };
        for section in ["services", "networks", "volumes", "secrets", "configs"] {
            let Some(Value::Map(theirs)) = included.get(section).map(|n| n.value.clone()) else {
                continue;
            };
            if root.get(section).is_none() {
                root.set(section, Node::map(&included.mark));
            }
            let ours = root.get_mut(section).expect("just set");
            if ours.is_null() {
                *ours = Node::map(&ours.mark);
            }
            for (k, v) in theirs {
                if ours.get(&k.name).is_some() {
                    if section == "services" {
                        return Err(LoadError::Other(format!(
                            "services.{} conflicts with imported resource",
                            k.name
                        )));
                    }
                    continue;
                }
                if let Some(m) = ours.as_map_mut() {
                    m.push((k, v));
                }
            }
        }
    }
    Ok(())
}

/// Project-wide defaults on the typed model.
pub fn project(p: &mut Project, env: &BTreeMap<String, String>) -> Result<(), LoadError> {
    let name = p.name.clone();
    let mut needs_default = false;
    for svc in p.services.values_mut() {
        if svc.network_mode.is_empty() && svc.networks.is_empty() {
            svc.networks.insert("default".into(), None);
        }
        needs_default |= svc.networks.contains_key("default");
        if let Some(b) = &mut svc.build {
            if b.dockerfile.is_empty() && b.dockerfile_inline.is_empty() {
                b.dockerfile = "Dockerfile".into();
            }
        }
        if let Some(b) = &mut svc.build {
            for (k, v) in b.args.iter_mut() {
                if v.is_none() {
                    *v = env.get(k).cloned();
                }
            }
            b.args.retain(|_, v| v.is_some());
        }
        for s in svc.secrets.iter_mut() {
            if s.target.is_empty() {
                s.target = format!("/run/secrets/{}", s.source);
            }
        }
        if let Some(d) = &mut svc.deploy {
            if d.placement.is_null() {
                d.placement = serde_json::json!({});
            }
        }
        let mut implied: Vec<String> = svc
            .links
            .iter()
            .map(|l| l.split(':').next().unwrap_or(l).to_string())
            .collect();
        if let Some(s) = svc.network_mode.strip_prefix("service:") {
            implied.push(s.to_string());
        }
        for v in &svc.volumes_from {
            if !v.starts_with("container:") {
                implied.push(v.split(':').next().unwrap_or(v).to_string());
            }
        }
        for dep in implied {
            svc.depends_on.entry(dep).or_insert(Dependency {
                condition: "service_started".into(),
                restart: true,
                required: true,
            });
        }
    }
    if needs_default && !p.networks.contains_key("default") {
        p.networks.insert("default".into(), Default::default());
    }
    // resources no enabled service uses are left out (compose-go's WithoutUnnecessaryResources)
    let used_networks: std::collections::BTreeSet<String> = p
        .services
        .values()
        .flat_map(|s| s.networks.keys().cloned())
        .collect();
    let used_volumes: std::collections::BTreeSet<String> = p
        .services
        .values()
        .flat_map(|s| s.volumes.iter())
        .filter(|v| v.kind == "volume")
        .map(|v| v.source.clone())
        .collect();
    let used_secrets: std::collections::BTreeSet<String> = p
        .services
        .values()
        .flat_map(|s| {
            s.secrets
                .iter()
                .chain(s.build.iter().flat_map(|b| b.secrets.iter()))
        })
        .map(|r| r.source.clone())
        .collect();
    let used_configs: std::collections::BTreeSet<String> = p
        .services
        .values()
        .flat_map(|s| s.configs.iter())
        .map(|r| r.source.clone())
        .collect();
    p.networks.retain(|k, _| used_networks.contains(k));
    p.volumes.retain(|k, _| used_volumes.contains(k));
    p.secrets.retain(|k, _| used_secrets.contains(k));
    p.configs.retain(|k, _| used_configs.contains(k));
    for (k, n) in p.networks.iter_mut() {
        if n.name.is_empty() {
            n.name = if n.external {
                k.clone()
            } else {
                format!("{name}_{k}")
            };
        }
    }
    for (k, v) in p.volumes.iter_mut() {
        if v.name.is_empty() {
            v.name = if v.external {
                k.clone()
            } else {
                format!("{name}_{k}")
            };
        }
    }
    for objs in [&mut p.secrets, &mut p.configs] {
        for (k, o) in objs.iter_mut() {
            if o.name.is_empty() {
                o.name = if o.external {
                    k.clone()
                } else {
                    format!("{name}_{k}")
                };
            }
        }
    }
    Ok(())
}

/// Reads `env_file`s into `environment` (which wins) and drops them; bare keys take the
/// value of the project's variables (compose-go's `WithServicesEnvironmentResolved`).
pub fn resolve_environment(
    p: &mut Project,
    env: &BTreeMap<String, String>,
) -> Result<(), LoadError> {
    for svc in p.services.values_mut() {
        let mut from_files = BTreeMap::new();
        for f in std::mem::take(&mut svc.env_file) {
            let text = match std::fs::read_to_string(&f.path) {
                Ok(t) => t,
                Err(_) if !f.required => continue,
                Err(_) => {
                    return Err(LoadError::Other(format!(
                        "env file {} not found: stat {}: no such file or directory",
                        f.path, f.path
                    )))
                }
            };
            for (k, v) in super::dotenv::parse(&text, &f.path, &|k| env.get(k).cloned())? {
                from_files.insert(k, v);
            }
        }
        for (k, v) in from_files {
            svc.environment.entry(k).or_insert(v);
        }
        for (k, v) in svc.environment.iter_mut() {
            if v.is_none() {
                *v = env.get(k).cloned();
            }
        }
    }
    Ok(())
}

/// Checks references between services and resources (Compose's messages).
pub fn validate(p: &Project) -> Result<(), LoadError> {
    for (name, svc) in &p.services {
        for dep in svc.depends_on.keys() {
            if !p.services.contains_key(dep) && svc.depends_on[dep].required {
                return Err(LoadError::Other(format!(
                    "service \"{name}\" depends on undefined service \"{dep}\": invalid compose project"
                )));
            }
        }
        for net in svc.networks.keys() {
            if !p.networks.contains_key(net) {
                return Err(LoadError::Other(format!(
                    "service \"{name}\" refers to undefined network {net}: invalid compose project"
                )));
            }
        }
        for v in &svc.volumes {
            if v.kind == "volume" && !v.source.is_empty() && !p.volumes.contains_key(&v.source) {
                return Err(LoadError::Other(format!(
                    "service \"{name}\" refers to undefined volume {}: invalid compose project",
                    v.source
                )));
            }
        }
        for (kind, refs, defs) in [
            ("secret", &svc.secrets, &p.secrets),
            ("config", &svc.configs, &p.configs),
        ] {
            for r in refs {
                if !defs.contains_key(&r.source) {
                    return Err(LoadError::Other(format!(
                        "service \"{name}\" refers to undefined {kind} {}: invalid compose project",
                        r.source
                    )));
                }
            }
        }
        if let Some(limit) = svc
            .deploy
            .as_ref()
            .and_then(|d| d.resources.limits.as_ref())
        {
            if svc.cpus != 0.0 && limit.cpus != 0.0 && svc.cpus != limit.cpus {
                return Err(LoadError::Other(format!(
                    "services.{name}: can't set distinct values on 'cpus' and 'deploy.resources.limits.cpus': invalid compose project"
                )));
            }
            if svc.mem_limit.0 != 0 && limit.memory.0 != 0 && svc.mem_limit != limit.memory {
                return Err(LoadError::Other(format!(
                    "services.{name}: can't set distinct values on 'mem_limit' and 'deploy.resources.limits.memory': invalid compose project"
                )));
            }
        }
        let replicas = svc.deploy.as_ref().and_then(|d| d.replicas).or(svc.scale);
        if !svc.container_name.is_empty() && replicas.is_some_and(|r| r > 1) {
            return Err(LoadError::Other(format!(
                "services.{name}: can't set container_name and {name} as container name must be unique: invalid compose project"
            )));
        }
        if let (Some(s), Some(r)) = (svc.scale, svc.deploy.as_ref().and_then(|d| d.replicas)) {
            if s != r {
                return Err(LoadError::Other(format!(
                    "services.{name}: can't set distinct values on 'scale' and 'deploy.replicas': invalid compose project"
                )));
            }
        }
        if svc.image.is_empty() && svc.build.is_none() {
            return Err(LoadError::Other(format!(
                "service {name:?} has neither an image nor a build context specified: invalid compose project"
            )));
        }
    }
    super::options::check_cycles(p)?;
    Ok(())
}

/// A key made from a string (for generated nodes).
pub fn key(name: &str, mark: &crate::yaml::Mark) -> Key {
    Key {
        name: name.into(),
        mark: mark.clone(),
    }
}
