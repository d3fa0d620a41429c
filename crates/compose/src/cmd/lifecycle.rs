//! `start`, `stop`, `restart`, `kill`, `rm`, `pause`, `unpause`, `wait`, `pull`, `push`:
//! one API call per container, dependency order where it matters, Compose's events.

use std::collections::BTreeSet;

use berth_client::transport::query;
use futures_util::future::join_all;
use serde_json::Value;

use super::progress::{Progress, Status};
use super::runner::Runner;
use super::state::{self, Container};
use super::Failure;

/// Which containers an action applies to.
async fn targets(
    r: &Runner,
    services: &[String],
    running: Option<bool>,
) -> Result<Vec<Container>, Failure> {
    for s in services {
        if !r.loaded.project.services.contains_key(s) {
            return Err(Failure::msg(format!("no such service: {s}")));
        }
    }
    Ok(r.containers(Some(false))
        .await?
        .into_iter()
        .filter(|c| services.is_empty() || services.contains(&c.service))
        .filter(|c| running.is_none_or(|want| c.is_running() == want))
        .collect())
}

/// The verbs of the simple actions: (API path suffix, working text, done text).
pub fn verb(action: &str) -> (&'static str, &'static str, &'static str) {
    match action {
        "stop" => ("stop", "Stopping", "Stopped"),
        "restart" => ("restart", "Restarting", "Restarted"),
        "kill" => ("kill", "Killing", "Killed"),
        "pause" => ("pause", "Pausing", "Paused"),
        "unpause" => ("unpause", "Unpausing", "Unpaused"),
        _ => ("start", "Starting", "Started"),
    }
}

/// `start|stop|restart|kill|pause|unpause [SERVICE…]`.
pub async fn act(
    r: &Runner,
    action: &str,
    services: &[String],
    extra: &str,
    progress: &Progress,
) -> Result<i32, Failure> {
    let p = &r.loaded.project;
    let (path, working, done) = verb(action);
    let running = match action {
        "start" => Some(false),
        "stop" | "kill" | "pause" => Some(true),
        _ => None,
    };
    let cs = targets(r, services, running).await?;
    let names: BTreeSet<String> = p.services.keys().cloned().collect();
    let reverse = matches!(action, "stop" | "kill");
    for level in state::levels(p, &names, reverse) {
        let jobs = cs
            .iter()
            .filter(|c| level.contains(&c.service))
            .map(|c| async move {
                let id = format!("Container {}", c.name);
                progress.event(&id, Status::Working, working);
                match r
                    .api
                    .post_empty(&format!("/containers/{}/{path}{extra}", c.id))
                    .await
                {
                    Ok(()) => {
                        progress.event(&id, Status::Done, done);
                        Ok(())
                    }
                    Err(e) => {
                        progress.event_detail(&id, Status::Error, "Error", &e.to_string());
                        Err(Failure::msg(e))
                    }
                }
            });
        for res in join_all(jobs).await {
            res?;
        }
    }
    Ok(0)
}

/// `rm [-f] [-s] [-v] [SERVICE…]`: stopped containers (with `-s`, stopped first).
pub async fn rm(
    r: &Runner,
    services: &[String],
    stop: bool,
    volumes: bool,
    progress: &Progress,
) -> Result<i32, Failure> {
    if stop {
        act(r, "stop", services, "", progress).await?;
    }
    let cs: Vec<Container> = targets(r, services, None)
        .await?
        .into_iter()
        .filter(|c| !c.is_running())
        .collect();
    if cs.is_empty() {
        eprintln!("No stopped containers");
        return Ok(0);
    }
    for c in &cs {
        let id = format!("Container {}", c.name);
        progress.event(&id, Status::Working, "Removing");
        r.api
            .delete(&format!("/containers/{}?v={volumes}&force=true", c.id))
            .await?;
        progress.event(&id, Status::Done, "Removed");
    }
    Ok(0)
}

/// `wait SERVICE…`: blocks until the containers stop; the exit code of the first.
pub async fn wait(r: &Runner, services: &[String], down_project: bool) -> Result<i32, Failure> {
    let cs = targets(r, services, None).await?;
    let jobs = cs.iter().map(|c| async move {
        let v = r
            .api
            .post(&format!("/containers/{}/wait", c.id), &Value::Null)
            .await;
        v.ok()
            .and_then(|v| v.get("StatusCode").and_then(Value::as_i64))
            .unwrap_or(0)
    });
    let codes = join_all(jobs).await;
    for (c, code) in cs.iter().zip(&codes) {
        println!("{}", code);
        let _ = c;
    }
    if down_project {
        let mode = super::progress::Mode::choose(None, "auto").map_err(Failure::msg)?;
        super::down::down(r, &Default::default(), mode).await?;
    }
    Ok(super::exit_status(codes.first().copied().unwrap_or(0)))
}

/// `pull [SERVICE…]`.
pub async fn pull(
    r: &Runner,
    services: &[String],
    ignore_failures: bool,
    progress: &Progress,
) -> Result<i32, Failure> {
    let p = &r.loaded.project;
    let wanted: BTreeSet<String> = if services.is_empty() {
        p.services.keys().cloned().collect()
    } else {
        services.iter().cloned().collect()
    };
    let mut seen = BTreeSet::new();
    let jobs = wanted
        .iter()
        .filter_map(|s| p.services.get(s))
        .filter(|s| !s.image.is_empty() && seen.insert(s.image.clone()))
        .map(|s| async move {
            let id = format!("Image {}", s.image);
            progress.event(&id, Status::Working, "Pulling");
            match r.api.pull(&s.image, &s.platform).await {
                Ok(()) => {
                    progress.event(&id, Status::Done, "Pulled");
                    Ok(())
                }
                Err(e) if s.build.is_some() || ignore_failures => {
                    progress.event_detail(&id, Status::Warning, "Warning", &e.to_string());
                    Ok(())
                }
                Err(e) => {
                    progress.event_detail(&id, Status::Error, "Error", &e.to_string());
                    Err(Failure::msg(e))
                }
            }
        });
    for res in join_all(jobs).await {
        res?;
    }
    Ok(0)
}

/// `push [SERVICE…]`.
pub async fn push(r: &Runner, services: &[String], progress: &Progress) -> Result<i32, Failure> {
    let p = &r.loaded.project;
    for (name, s) in &p.services {
        if (!services.is_empty() && !services.contains(name))
            || s.build.is_none()
            || s.image.is_empty()
        {
            continue;
        }
        let id = format!("Image {}", s.image);
        progress.event(&id, Status::Working, "Pushing");
        let (repo, tag) = super::api::split_tag(&s.image);
        let auth = berth_client::auth::registry_auth_header(&r.api.config_dir, &s.image);
        let resp = r
            .api
            .client
            .request(
                hyper::Method::POST,
                &format!(
                    "/images/{}/push{}",
                    berth_client::transport::seg(repo),
                    query(&[("tag", tag.to_string())])
                ),
                None,
                false,
                &[("X-Registry-Auth", auth)],
            )
            .await?;
        let body = berth_client::transport::read_all(resp).await?;
        if let Some(e) = berth_client::transport::stream_error(&body) {
            progress.event_detail(&id, Status::Error, "Error", &e);
            return Err(Failure::msg(e));
        }
        progress.event(&id, Status::Done, "Pushed");
    }
    Ok(0)
}
