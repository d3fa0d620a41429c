//! `watch [SERVICE…]`: Compose v2's file watch (`develop.watch`). The project is brought up
//! first (unless `--no-up`), then the rules' paths are watched (inotify through `notify`)
//! and each batch of changes (debounced) is applied as Compose v2's `handleWatchBatch`
//! does: `rebuild` builds the service's image and recreates its containers, `sync` copies
//! the changed files into the running containers at `target` (deleted ones are removed with
//! `rm -rf`), `sync+restart` syncs then restarts, `restart` restarts. Paths matching
//! `ignore` (relative to `path`), the build context's `.dockerignore`, editors' temporary
//! files or `.git/` are left alone; with `include`, only matching paths count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_client::transport::{full, query, seg};
use hyper::Method;
use notify::{RecursiveMode, Watcher as _};
use serde_json::{json, Value};

use crate::file::model::Trigger;

use super::progress::{Mode, Progress};
use super::runner::Runner;
use super::up::UpArgs;
use super::Failure;

/// `watch` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// hide build output
    #[arg(long)]
    pub quiet: bool,
    /// Prune dangling images on rebuild
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub prune: bool,
    /// Do not build & start services before watching
    #[arg(long)]
    pub no_up: bool,
    /// Services
    pub services: Vec<String>,
}

/// A rule bound to its service, with the ignore patterns that apply to it.
#[derive(Debug, Clone)]
struct Rule {
    service: String,
    trigger: Trigger,
    path: PathBuf,
    ignore: Vec<String>,
    context_ignore: Option<(PathBuf, Vec<String>)>,
}

/// How long the files must be quiet before a batch is applied (Compose's debounce).
const QUIET: Duration = Duration::from_millis(500);

fn out(line: &str) {
    super::print(&format!("{line}\n"));
}

/// Go's `%q` of a list of names: `["a" "b"]`.
fn quoted_list(names: &[String]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    format!("[{}]", q.join(" "))
}

/// The rules of the selected services, with Compose v2's errors.
fn rules(r: &Runner, services: &[String]) -> Result<Vec<Rule>, Failure> {
    let p = &r.loaded.project;
    for s in services {
        if !p.services.contains_key(s) {
            return Err(Failure::msg(format!("no such service: {s}")));
        }
    }
    let mut rules = Vec::new();
    for (name, svc) in &p.services {
        if !services.is_empty() && !services.contains(name) {
            continue;
        }
        let Some(dev) = &svc.develop else { continue };
        let context = svc.build.as_ref().map(|b| {
            let dir = r.loaded.working_dir.join(&b.context);
            let ignore = std::fs::read_to_string(dir.join(".dockerignore"))
                .map(|t| dockerignore_lines(&t))
                .unwrap_or_default();
            (dir, ignore)
        });
        for t in dev.watch.iter().cloned() {
            if t.path.is_empty() {
                return Err(Failure::msg("watch rules MUST define a path"));
            }
            if t.action == "rebuild" && svc.build.is_none() {
                // (sic: Compose v2.40 swaps the two names in this message)
                return Err(Failure::msg(format!(
                    "service rebuild doesn't have a build section, can't apply {name} on watch"
                )));
            }
            if t.action == "sync+exec" && t.exec.command.as_ref().is_none_or(Vec::is_empty) {
                return Err(Failure::msg(format!(
                    "can't watch with action \"sync+exec\" on service {name} without a command"
                )));
            }
            if !matches!(
                t.action.as_str(),
                "sync" | "rebuild" | "restart" | "sync+restart" | "sync+exec"
            ) {
                return Err(Failure::msg(format!(
                    "services.{name}.develop.watch: invalid action {:?}",
                    t.action
                )));
            }
            // made absolute by the loader, as compose-go does
            let path = r.loaded.working_dir.join(&t.path);
            if matches!(t.action.as_str(), "sync" | "sync+restart") && bind_mounted(&path, svc) {
                eprintln!(
                    "WARN[0000] path '{}' also declared by a bind mount volume, this path won't be monitored!",
                    path.display()
                );
                continue;
            }
            rules.push(Rule {
                service: name.clone(),
                ignore: t.ignore.clone(),
                trigger: t,
                path,
                context_ignore: context.clone(),
            });
        }
    }
    if rules.is_empty() {
        return Err(Failure::msg(
            "none of the selected services is configured for watch, consider setting a 'develop' section",
        ));
    }
    Ok(rules)
}

fn bind_mounted(path: &Path, svc: &crate::file::model::Service) -> bool {
    svc.volumes
        .iter()
        .any(|v| v.kind == "bind" && !v.source.is_empty() && path.starts_with(&v.source))
}

fn dockerignore_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_start_matches('/').trim_end_matches('/').to_string())
        .collect()
}

/// Docker's pattern match (`*`, `?`, `**`) of `pattern` against the relative `path` or one
/// of its parent directories (a matched directory ignores what is in it).
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let parts: Vec<&str> = path.split('/').collect();
    (1..=parts.len()).any(|n| segments_match(&pat, &parts[..n]))
}

fn segments_match(pat: &[&str], path: &[&str]) -> bool {
    match (pat.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            segments_match(&pat[1..], path) || (!path.is_empty() && segments_match(pat, &path[1..]))
        }
        (Some(p), Some(s)) => {
            glob(p.as_bytes(), s.as_bytes()) && segments_match(&pat[1..], &path[1..])
        }
        _ => false,
    }
}

/// `*` and `?` within one path segment.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Editors' temporary files (Compose's `EphemeralPathMatcher`).
fn ephemeral(name: &str) -> bool {
    name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
        || name.ends_with('~')
        || name == "4913"
        || [".swp", ".swx", ".swo", ".swn", ".tmp"]
            .iter()
            .any(|e| name.ends_with(e))
}

impl Rule {
    /// The container path a changed host path maps to, None when the rule does not apply.
    fn matches(&self, host: &Path) -> Option<String> {
        let rel = host.strip_prefix(&self.path).ok()?;
        let rel_s = rel.to_string_lossy().to_string();
        let name = host.file_name()?.to_string_lossy().to_string();
        if ephemeral(&name) || rel_s.split('/').any(|c| c == ".git") {
            return None;
        }
        if !self.trigger.include.is_empty()
            && !self
                .trigger
                .include
                .iter()
                .any(|p| pattern_matches(p, &rel_s))
        {
            return None;
        }
        if self.ignore.iter().any(|p| pattern_matches(p, &rel_s)) {
            return None;
        }
        if let Some((dir, ignore)) = &self.context_ignore {
            if let Ok(crel) = host.strip_prefix(dir) {
                let crel = crel.to_string_lossy();
                if ignore.iter().any(|p| pattern_matches(p, &crel)) {
                    return None;
                }
            }
        }
        let target = if rel_s.is_empty() {
            self.trigger.target.clone()
        } else {
            format!("{}/{rel_s}", self.trigger.target.trim_end_matches('/'))
        };
        Some(target)
    }
}

/// `watch`.
pub async fn watch(r: &Runner, a: &WatchArgs, mode: Mode) -> Result<i32, Failure> {
    let rules = rules(r, &a.services)?;
    if !a.no_up {
        let up = UpArgs {
            detach: true,
            build: true,
            services: a.services.clone(),
            ..UpArgs::default()
        };
        super::up::create_and_start(r, &up, mode).await?;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(move |ev| {
        let _ = tx.send(ev);
    })
    .map_err(|e| Failure::msg(format!("watch: {e}")))?;
    let paths: BTreeSet<&PathBuf> = rules.iter().map(|r| &r.path).collect();
    for p in paths {
        watcher
            .watch(p, RecursiveMode::Recursive)
            .map_err(|e| Failure::msg(format!("watch {}: {e}", p.display())))?;
    }
    initial_sync(r, &rules).await?;
    out("Watch enabled");
    loop {
        let mut batch: BTreeSet<PathBuf> = BTreeSet::new();
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(Ok(e)) => batch.extend(e.paths),
                Some(Err(e)) => {
                    eprintln!("Watch disabled with errors: {e}");
                    return Ok(1);
                }
                None => return Ok(0),
            },
            _ = tokio::signal::ctrl_c() => {
                out("Watch disabled");
                return Ok(130);
            }
        }
        // debounce: a batch ends once the files have been quiet for QUIET
        while let Ok(Some(ev)) = tokio::time::timeout(QUIET, rx.recv()).await {
            if let Ok(e) = ev {
                batch.extend(e.paths);
            }
        }
        if let Err(e) = apply(r, &rules, &batch, a, mode).await {
            eprintln!("WARN[0000] Error handling changed files: {}", e.message);
        }
    }
}

/// `initial_sync: true` on a `sync`/`sync+restart` rule: the files under its path that no
/// pattern ignores are copied in before watching starts (Compose v2 copies only those newer
/// than the image; copying them all gives the containers the same content).
async fn initial_sync(r: &Runner, rules: &[Rule]) -> Result<(), Failure> {
    for rule in rules.iter().filter(|r| {
        r.trigger.initial_sync && matches!(r.trigger.action.as_str(), "sync" | "sync+restart")
    }) {
        let mut files = Vec::new();
        walk(&rule.path, &mut |host| {
            if let Some(target) = rule.matches(host) {
                files.push((host.to_path_buf(), target));
            }
        });
        if !files.is_empty() {
            sync_files(r, &rule.service, &files).await?;
        }
    }
    Ok(())
}

/// Calls `f` on every file under `dir` (or on `dir` itself when it is a file).
fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                let p = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&p, f);
                } else {
                    f(&p);
                }
            }
        }
        Err(_) if dir.is_file() => f(dir),
        Err(_) => {}
    }
}

/// One batch: Compose v2's `handleWatchBatch` (rebuilds, then syncs, then restarts).
async fn apply(
    r: &Runner,
    rules: &[Rule],
    batch: &BTreeSet<PathBuf>,
    a: &WatchArgs,
    mode: Mode,
) -> Result<(), Failure> {
    let mut rebuild = BTreeSet::new();
    let mut restart = BTreeSet::new();
    let mut sync: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
    // (service, rule index): each hook runs once per batch
    let mut hooks: BTreeSet<(String, usize)> = BTreeSet::new();
    // a changed directory stands for the files in it (so that ignore patterns apply)
    let mut changed = BTreeSet::new();
    for host in batch {
        if host.is_dir() {
            walk(host, &mut |f| {
                changed.insert(f.to_path_buf());
            });
        } else {
            changed.insert(host.clone());
        }
    }
    for host in &changed {
        for (i, rule) in rules.iter().enumerate() {
            let Some(target) = rule.matches(host) else {
                continue;
            };
            let s = rule.service.clone();
            match rule.trigger.action.as_str() {
                "rebuild" => {
                    rebuild.insert(s);
                }
                "restart" => {
                    restart.insert(s);
                }
                "sync+restart" => {
                    sync.entry(s.clone())
                        .or_default()
                        .push((host.clone(), target));
                    restart.insert(s);
                }
                "sync+exec" => {
                    sync.entry(s.clone())
                        .or_default()
                        .push((host.clone(), target));
                    hooks.insert((s, i));
                }
                _ => sync.entry(s).or_default().push((host.clone(), target)),
            }
        }
    }
    if !rebuild.is_empty() {
        let names: Vec<String> = rebuild.into_iter().collect();
        rebuild_services(r, &names, a, mode).await?;
    }
    for (service, files) in &sync {
        out(&format!(
            "Syncing service {service:?} after {} changes were detected",
            files.len()
        ));
        sync_files(r, service, files).await?;
    }
    if !restart.is_empty() {
        let names: Vec<String> = restart.into_iter().collect();
        let quiet = Progress::new(Mode::Quiet, "Restarting");
        super::lifecycle::act(r, "restart", &names, "", &quiet).await?;
        out(&format!("service(s) {} restarted", quoted_list(&names)));
    }
    for (service, i) in &hooks {
        let hook = &rules[*i].trigger.exec;
        for c in running(r, service).await? {
            exec_quietly(r, &c.id, hook_body(hook)).await?;
        }
    }
    Ok(())
}

/// The exec body of a `sync+exec` hook.
fn hook_body(h: &crate::file::model::Hook) -> Value {
    let env: Vec<String> = h
        .environment
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    json!({"Cmd": h.command.clone().unwrap_or_default(), "User": h.user,
           "Privileged": h.privileged, "WorkingDir": h.working_dir, "Env": env})
}

/// The service's running containers (not one-offs).
async fn running(r: &Runner, service: &str) -> Result<Vec<super::state::Container>, Failure> {
    Ok(r.containers(Some(false))
        .await?
        .into_iter()
        .filter(|c| c.service == service && c.is_running())
        .collect())
}

async fn rebuild_services(
    r: &Runner,
    names: &[String],
    a: &WatchArgs,
    mode: Mode,
) -> Result<(), Failure> {
    let list = quoted_list(names);
    out(&format!(
        "Rebuilding service(s) {list} after changes were detected..."
    ));
    let build_progress = Progress::new(if a.quiet { Mode::Quiet } else { mode }, "Building");
    let mut old_images = Vec::new();
    for n in names {
        let svc = &r.loaded.project.services[n];
        let image = super::convert::image_name(r.name(), svc);
        if let Some(v) = r.api.image(&image).await? {
            old_images.push(
                v.get("Id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        if let Err(e) =
            super::build::build_service(r, svc, &[], false, false, &build_progress).await
        {
            out(&format!("Build failed. Error: {}", e.message));
            return Err(e);
        }
    }
    if a.prune {
        // the images the rebuild replaced, now dangling (still used ones stay)
        for id in old_images.iter().filter(|i| !i.is_empty()) {
            let _ = r.api.delete(&format!("/images/{}", seg(id))).await;
        }
    }
    out(&format!("service(s) {list} successfully built"));
    let up = UpArgs {
        detach: true,
        force_recreate: true,
        no_deps: true,
        no_build: true,
        services: names.to_vec(),
        ..UpArgs::default()
    };
    if let Err(e) = super::up::create_and_start(r, &up, Mode::Quiet).await {
        out(&format!(
            "Failed to recreate services after update. Error: {}",
            e.message
        ));
        return Err(e);
    }
    Ok(())
}

/// Copies the files that exist into each running container of the service (one tar, at
/// `/`), and removes the ones that were deleted (`rm -rf`), as Compose's tar syncer.
async fn sync_files(r: &Runner, service: &str, files: &[(PathBuf, String)]) -> Result<(), Failure> {
    let (present, gone): (Vec<_>, Vec<_>) = files.iter().partition(|(h, _)| h.exists());
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for (host, target) in &present {
        let name = target.trim_start_matches('/');
        let res = if host.is_dir() {
            tar.append_dir_all(name, host)
        } else {
            tar.append_path_with_name(host, name)
        };
        res.map_err(|e| Failure::msg(format!("archiving {}: {e}", host.display())))?;
    }
    let body = tar
        .into_inner()
        .map_err(|e| Failure::msg(format!("archive: {e}")))?;
    for c in &running(r, service).await? {
        if !gone.is_empty() {
            let mut cmd = vec!["rm".to_string(), "-rf".to_string()];
            cmd.extend(gone.iter().map(|(_, t)| t.clone()));
            exec_quietly(r, &c.id, json!({ "Cmd": cmd }))
                .await
                .map_err(|e| Failure::msg(format!("deleting paths in {}: {}", c.id, e.message)))?;
        }
        if !present.is_empty() {
            let path = format!(
                "/containers/{}/archive{}",
                seg(&c.id),
                query(&[("path", "/".to_string()), ("copyUIDGID", "true".into())])
            );
            r.api
                .client
                .request(
                    Method::PUT,
                    &path,
                    Some(full(body.clone())),
                    false,
                    &[("Content-Type", "application/x-tar".into())],
                )
                .await
                .map_err(|e| Failure::msg(format!("copying files to {}: {e}", c.id)))?;
        }
    }
    Ok(())
}

/// Runs an exec (`body`: its `Cmd`, `User`, …) in the container and waits for it; an exit
/// code other than 0 is an error.
async fn exec_quietly(r: &Runner, id: &str, body: Value) -> Result<(), Failure> {
    let created = r
        .api
        .post(&format!("/containers/{}/exec", seg(id)), &body)
        .await?;
    let exec = created
        .get("Id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    r.api
        .post(
            &format!("/exec/{}/start", seg(&exec)),
            &json!({"Detach": true}),
        )
        .await?;
    loop {
        let v = r.api.get(&format!("/exec/{}/json", seg(&exec))).await?;
        if v.get("Running").and_then(Value::as_bool) != Some(true) {
            let code = v.get("ExitCode").and_then(Value::as_i64).unwrap_or(0);
            if code != 0 {
                return Err(Failure::msg(format!("exit code {code}")));
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: &str, ignore: &[&str], include: &[&str]) -> Rule {
        Rule {
            service: "web".into(),
            trigger: Trigger {
                path: "/p/src".into(),
                action: action.into(),
                target: "/app/src".into(),
                ignore: ignore.iter().map(|s| s.to_string()).collect(),
                include: include.iter().map(|s| s.to_string()).collect(),
                ..Trigger::default()
            },
            path: PathBuf::from("/p/src"),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            context_ignore: Some((PathBuf::from("/p"), vec!["src/secret".into()])),
        }
    }

    #[test]
    fn rules_map_paths_and_ignore() {
        let r = rule("sync", &["node_modules/", "*.log"], &[]);
        assert_eq!(
            r.matches(Path::new("/p/src/a.js")).as_deref(),
            Some("/app/src/a.js")
        );
        assert_eq!(
            r.matches(Path::new("/p/src/d/b.js")).as_deref(),
            Some("/app/src/d/b.js")
        );
        assert_eq!(r.matches(Path::new("/p/other/a.js")), None);
        assert_eq!(r.matches(Path::new("/p/src/node_modules/x/y.js")), None);
        assert_eq!(r.matches(Path::new("/p/src/x.log")), None);
        assert_eq!(r.matches(Path::new("/p/src/.a.js.swp")), None);
        assert_eq!(r.matches(Path::new("/p/src/a.js~")), None);
        assert_eq!(r.matches(Path::new("/p/src/.git/HEAD")), None);
        assert_eq!(r.matches(Path::new("/p/src/secret")), None);
        let inc = rule("sync", &[], &["*.py"]);
        assert!(inc.matches(Path::new("/p/src/a.py")).is_some());
        assert!(inc.matches(Path::new("/p/src/a.js")).is_none());
    }

    #[test]
    fn patterns_as_docker() {
        assert!(pattern_matches("**/*.tmp", "a/b/c.tmp"));
        assert!(pattern_matches("build", "build/x/y"));
        assert!(pattern_matches("a/*/c", "a/b/c"));
        assert!(!pattern_matches("a/*/c", "a/b/d/c"));
        assert!(pattern_matches("?.txt", "a.txt"));
    }

    #[test]
    fn names_as_go_quotes_them() {
        assert_eq!(
            quoted_list(&["web".into(), "api".into()]),
            r#"["web" "api"]"#
        );
    }
}
