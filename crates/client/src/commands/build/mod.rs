//! `berth build` (docker buildx's flags, BuildKit-like progress) and `builder prune`, over
//! the classic `POST /build` protocol with berth's structured events.

mod args;
mod context;
mod output;
mod progress;

use std::collections::BTreeMap;

use base64::Engine as _;
use berth_api_types::JsonMessage;
use hyper::Method;

pub use args::BuildArgs;
use progress::{Mode, Renderer};

use super::{filters, out, Ctx};
use crate::error::{CliError, CliResult};
use crate::transport::{query, BodyLines};

fn b64(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(v.to_string())
}

/// `--build-arg A=1`, `--build-arg A` (the client's environment, as buildx).
fn build_args(list: &[String]) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for a in list {
        match a.split_once('=') {
            Some((k, v)) => {
                out.insert(k.to_string(), Some(v.to_string()));
            }
            None => {
                if let Ok(v) = std::env::var(a) {
                    out.insert(a.clone(), Some(v));
                }
            }
        }
    }
    out
}

/// `--secret id=x[,src=file|,env=VAR]` → id → content.
fn secrets(list: &[String]) -> CliResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for s in list {
        let mut id = None;
        let mut src = None;
        let mut env = None;
        for part in s.split(',') {
            match part.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(v.to_string()),
                Some(("env", v)) => env = Some(v.to_string()),
                Some(("type", _)) => {}
                _ => return Err(CliError::msg(format!("invalid secret {s:?}"))),
            }
        }
        let id = id
            .or_else(|| env.clone())
            .ok_or_else(|| CliError::msg(format!("invalid secret {s:?}: no id")))?;
        let data = match (src, env) {
            (Some(path), _) => std::fs::read(&path).map_err(|e| {
                CliError::msg(format!("failed to read secret {id} from {path}: {e}"))
            })?,
            (None, Some(var)) => std::env::var(&var)
                .map_err(|_| {
                    CliError::msg(format!(
                        "secret {id}: environment variable {var} is not set"
                    ))
                })?
                .into_bytes(),
            (None, None) => match std::env::var(&id) {
                Ok(v) => v.into_bytes(),
                Err(_) => std::fs::read(&id)
                    .map_err(|e| CliError::msg(format!("failed to read secret {id}: {e}")))?,
            },
        };
        out.insert(id, base64::engine::general_purpose::STANDARD.encode(data));
    }
    Ok(out)
}

/// `--ssh default[=socket]` → id → agent socket.
fn ssh(list: &[String]) -> CliResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for s in list {
        let (id, path) = match s.split_once('=') {
            Some((id, p)) => (id.to_string(), p.to_string()),
            None => (
                s.clone(),
                std::env::var("SSH_AUTH_SOCK").map_err(|_| {
                    CliError::msg(format!(
                        "invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set ({s})"
                    ))
                })?,
            ),
        };
        let abs = std::fs::canonicalize(&path)
            .map_err(|e| CliError::msg(format!("ssh {id}: {path}: {e}")))?;
        out.insert(id, abs.to_string_lossy().into_owned());
    }
    Ok(out)
}

/// `berth build`.
pub async fn build(ctx: &Ctx, a: BuildArgs) -> CliResult<i32> {
    let mode = Mode::parse(&a.progress, a.quiet).map_err(CliError::msg)?;
    if a.platforms.len() > 1 {
        return Err(CliError::msg(
            "multiple platforms feature is currently not supported for docker driver",
        ));
    }
    let output = output::parse(&a.outputs, a.load)?;
    let upload = context::prepare(&a.context, a.file.as_deref())?;
    let mut q: Vec<(&str, String)> = a.tags.iter().map(|t| ("t", t.clone())).collect();
    if let Some(d) = &upload.dockerfile {
        q.push(("dockerfile", d.clone()));
    }
    if let Some(r) = &upload.remote {
        q.push(("remote", r.clone()));
    }
    let args = build_args(&a.build_args);
    if !args.is_empty() {
        q.push((
            "buildargs",
            serde_json::to_string(&args).unwrap_or_default(),
        ));
    }
    let mut labels = BTreeMap::new();
    for l in &a.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    if !labels.is_empty() {
        q.push(("labels", serde_json::to_string(&labels).unwrap_or_default()));
    }
    if let Some(t) = &a.target {
        q.push(("target", t.clone()));
    }
    if a.no_cache {
        q.push(("nocache", "1".into()));
    }
    if a.pull {
        q.push(("pull", "1".into()));
    }
    if let Some(n) = &a.network {
        q.push(("networkmode", n.clone()));
    }
    for h in &a.add_hosts {
        q.push(("extrahosts", h.replacen('=', ":", 1)));
    }
    if let Some(s) = &a.shm_size {
        let bytes = crate::runopts::parse_bytes(s)?;
        q.push(("shmsize", bytes.to_string()));
    }
    if let Some(p) = a.platforms.first() {
        q.push(("platform", p.clone()));
    }
    let cache_from: Vec<String> = a
        .cache_from
        .iter()
        .map(|c| {
            c.split(',')
                .find_map(|p| p.strip_prefix("ref="))
                .unwrap_or(c)
                .to_string()
        })
        .collect();
    if !cache_from.is_empty() {
        q.push((
            "cachefrom",
            serde_json::to_string(&cache_from).unwrap_or_default(),
        ));
    }
    q.push(("rm", "1".into()));
    q.push(("berthprogress", "1".into()));
    let mut headers = vec![
        ("Content-Type", "application/x-tar".to_string()),
        (
            "X-Registry-Config",
            b64(&crate::auth::all_auths(&ctx.config_dir)),
        ),
    ];
    let secret_map = secrets(&a.secrets)?;
    if !secret_map.is_empty() {
        headers.push(("X-Berth-Build-Secrets", b64(&serde_json::json!(secret_map))));
    }
    let ssh_map = ssh(&a.ssh)?;
    if !ssh_map.is_empty() {
        headers.push(("X-Berth-Build-Ssh", b64(&serde_json::json!(ssh_map))));
    }
    let mut r = Renderer::new(mode);
    let def = r.internal(
        &format!(
            "[internal] load build definition from {}",
            a.file.as_deref().unwrap_or("Dockerfile")
        ),
        None,
    );
    let ctx_vertex = r.internal("[internal] load build context", None);
    let sent = upload.sent.clone();
    let resp = ctx
        .client
        .request(
            Method::POST,
            &format!("/build{}", query(&q)),
            Some(upload.body),
            false,
            &headers,
        )
        .await;
    let resp = match resp {
        Ok(resp) => resp,
        Err(e) => {
            let msg = e
                .daemon_message()
                .map(str::to_string)
                .unwrap_or(e.to_string());
            r.finish(Some((&msg, None)));
            return Ok(1);
        }
    };
    r.complete(def);
    r.note(
        ctx_vertex,
        format!(
            "transferring context: {} done",
            berth_cli_format::units::human_size(
                sent.load(std::sync::atomic::Ordering::Relaxed) as f64
            )
        ),
    );
    r.complete(ctx_vertex);
    let mut lines = BodyLines::new(resp.into_body());
    let mut image_id = None;
    let mut failure: Option<(String, Option<i64>)> = None;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
        let line = tokio::select! {
            l = lines.next_line() => l?,
            _ = tick.tick() => { r.draw(false); continue; }
        };
        let Some(line) = line else {
            break;
        };
        let m: JsonMessage = serde_json::from_slice(&line)
            .map_err(|e| CliError::Transport(format!("decoding the build stream: {e}")))?;
        if m.id.as_deref() == Some(berth_api_server_event_id()) {
            if let Some(ev) = m.aux.and_then(|v| serde_json::from_value(v).ok()) {
                r.event(ev);
            }
            continue;
        }
        if let Some(err) = m.error_detail {
            failure = Some((err.message, err.code));
        } else if let Some(e) = m.error {
            failure = Some((e, None));
        } else if let Some(id) = m
            .aux
            .as_ref()
            .and_then(|a| a.get("ID"))
            .and_then(|v| v.as_str())
        {
            image_id = Some(id.to_string());
        }
    }
    if let Some((msg, code)) = &failure {
        r.finish(Some((msg, *code)));
        return Ok(1);
    }
    let Some(id) = image_id else {
        r.finish(Some((
            "the daemon ended the build without an image id",
            None,
        )));
        return Ok(1);
    };
    let export = r.internal("exporting to image", None);
    r.note(export, format!("writing image {id} done"));
    for t in &a.tags {
        r.note(export, format!("naming to {} done", qualified(t)));
    }
    let exported = output::export(ctx, &output, &id, &a.tags, &mut r, export).await;
    r.complete(export);
    if let Err(e) = exported {
        r.finish(Some((&e.to_string(), None)));
        return Ok(1);
    }
    r.finish(None);
    if let Some(path) = &a.iidfile {
        std::fs::write(path, &id).map_err(|e| CliError::msg(format!("writing {path}: {e}")))?;
    }
    if mode == Mode::Quiet {
        out(&format!("{id}\n"));
    }
    Ok(0)
}

fn berth_api_server_event_id() -> &'static str {
    "berth.build.event"
}

/// `name:tag` as BuildKit prints it (`docker.io/library/name:latest`).
fn qualified(t: &str) -> String {
    let (name, tag) = super::image::split_tag(t);
    let name = super::image::normalize_name(&name);
    format!("{name}:{}", tag.unwrap_or_else(|| "latest".into()))
}

/// `builder prune`.
pub async fn prune(
    ctx: &Ctx,
    all: bool,
    force: bool,
    filter: Vec<String>,
    keep_storage: Option<String>,
) -> CliResult<i32> {
    let warning = if all {
        "WARNING! This will remove all build cache."
    } else {
        "WARNING! This will remove all dangling build cache."
    };
    if !force && !super::system::confirm(warning)? {
        return Ok(0);
    }
    let mut q = vec![("filters", filters(&filter)?.to_json())];
    if all {
        q.push(("all", "1".into()));
    }
    if let Some(k) = keep_storage {
        let bytes = crate::runopts::parse_bytes(&k)?;
        q.push(("keep-storage", bytes.to_string()));
    }
    let v: berth_api_types::BuildCachePruneResponse = ctx
        .client
        .post_json(
            &format!("/build/prune{}", query(&q)),
            &serde_json::json!(null),
        )
        .await?;
    let mut s = String::new();
    if !v.caches_deleted.is_empty() {
        s.push_str("Deleted build cache objects:\n");
        for id in &v.caches_deleted {
            s.push_str(id);
            s.push('\n');
        }
        s.push('\n');
    }
    s.push_str(&format!(
        "Total reclaimed space: {}\n",
        berth_cli_format::units::human_size(v.space_reclaimed as f64)
    ));
    out(&s);
    Ok(0)
}
