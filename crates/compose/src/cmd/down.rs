//! `down`: stop and remove the project's containers (dependents first, one-off `run`
//! containers too, as Compose v2), then its networks, and with `-v` its volumes, with
//! `--rmi` its images.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use serde_json::Value;

use super::labels::*;
use super::progress::{Mode, Progress, Status};
use super::runner::Runner;
use super::state::{self, Container};
use super::Failure;

/// `down` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DownArgs {
    /// Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove images used by services. "local" remove only images that don't have a custom tag ("local"|"all")
    #[arg(long)]
    pub rmi: Option<String>,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Specify a shutdown timeout in seconds
    #[arg(short, long)]
    pub timeout: Option<i64>,
    /// Services
    pub services: Vec<String>,
}

async fn stop_remove(
    r: &Runner,
    c: &Container,
    timeout: Option<i64>,
    volumes: bool,
    progress: &Progress,
) -> Result<(), Failure> {
    let id = format!("Container {}", c.name);
    if c.is_running() {
        progress.event(&id, Status::Working, "Stopping");
        let t = timeout.map(|t| format!("?t={t}")).unwrap_or_default();
        let _ = r
            .api
            .post_empty(&format!("/containers/{}/stop{t}", c.id))
            .await;
        progress.event(&id, Status::Done, "Stopped");
    }
    progress.event(&id, Status::Working, "Removing");
    match r
        .api
        .delete(&format!("/containers/{}?force=true&v={volumes}", c.id))
        .await
    {
        Ok(()) => {
            progress.event(&id, Status::Done, "Removed");
            Ok(())
        }
        Err(e) if e.is_not_found() => {
            progress.event(&id, Status::Done, "Removed");
            Ok(())
        }
        Err(e) => {
            progress.event_detail(&id, Status::Error, "Error", &e.to_string());
            Err(Failure::msg(e))
        }
    }
}

/// `down` (also used to undo a failed `up`).
pub async fn down(r: &Runner, args: &DownArgs, mode: Mode) -> Result<i32, Failure> {
    let p = &r.loaded.project;
    let progress = Progress::new(mode, "Running");
    let all = r.containers(None).await?;
    let only: BTreeSet<String> = args.services.iter().cloned().collect();
    let known: BTreeSet<String> = p
        .services
        .keys()
        .chain(r.loaded.disabled.keys())
        .cloned()
        .collect();
    // services in reverse dependency order; orphans and unknown services last-but-first
    let order = state::levels(p, &p.services.keys().cloned().collect(), true);
    let orphans: Vec<&Container> = all.iter().filter(|c| !known.contains(&c.service)).collect();
    if !orphans.is_empty() && !args.remove_orphans && only.is_empty() {
        let names: Vec<&str> = orphans.iter().map(|c| c.name.as_str()).collect();
        eprintln!(
            "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(" ")
        );
    }
    if args.remove_orphans {
        for res in join_all(
            orphans
                .iter()
                .map(|c| stop_remove(r, c, args.timeout, args.volumes, &progress)),
        )
        .await
        {
            res?;
        }
    }
    let mut levels = order;
    let disabled: Vec<String> = r.loaded.disabled.keys().cloned().collect();
    levels.insert(0, disabled);
    for level in levels {
        let targets: Vec<&Container> = all
            .iter()
            .filter(|c| level.contains(&c.service))
            .filter(|c| only.is_empty() || only.contains(&c.service))
            .collect();
        for res in join_all(
            targets
                .iter()
                .map(|c| stop_remove(r, c, args.timeout, args.volumes, &progress)),
        )
        .await
        {
            res?;
        }
    }
    if !only.is_empty() {
        return Ok(0);
    }
    for n in p.networks.values() {
        if n.external {
            continue;
        }
        let Some(info) = r.api.network(&n.name).await? else {
            continue;
        };
        let ours = info
            .get("Labels")
            .and_then(|l| l.get(PROJECT))
            .and_then(Value::as_str)
            == Some(p.name.as_str());
        if !ours {
            continue;
        }
        let id = format!("Network {}", n.name);
        progress.event(&id, Status::Working, "Removing");
        match r
            .api
            .delete(&format!(
                "/networks/{}",
                berth_client::transport::seg(&n.name)
            ))
            .await
        {
            Ok(()) => progress.event(&id, Status::Done, "Removed"),
            Err(e) => {
                progress.event_detail(&id, Status::Error, "Error", &e.to_string());
                eprintln!("WARN[0000] {e}");
            }
        }
    }
    if args.volumes {
        for v in r.api.volumes(&format!("{PROJECT}={}", p.name)).await? {
            let name = v
                .get("Name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let external = p.volumes.values().any(|pv| pv.external && pv.name == name);
            if external {
                continue;
            }
            let id = format!("Volume {name}");
            progress.event(&id, Status::Working, "Removing");
            match r
                .api
                .delete(&format!("/volumes/{}", berth_client::transport::seg(&name)))
                .await
            {
                Ok(()) => progress.event(&id, Status::Done, "Removed"),
                Err(e) => {
                    progress.event_detail(&id, Status::Error, "Error", &e.to_string());
                    return Err(Failure::msg(e));
                }
            }
        }
    }
    if let Some(rmi) = &args.rmi {
        if rmi != "local" && rmi != "all" {
            return Err(Failure::msg(format!(
                "invalid --rmi value {rmi:?}: expected \"local\" or \"all\""
            )));
        }
        let mut images = BTreeSet::new();
        for s in p.services.values() {
            if rmi == "all" || s.image.is_empty() {
                images.insert(super::convert::image_name(&p.name, s));
            }
        }
        for img in images {
            let id = format!("Image {img}");
            match r
                .api
                .delete(&format!("/images/{}", berth_client::transport::seg(&img)))
                .await
            {
                Ok(()) => progress.event(&id, Status::Done, "Removed"),
                Err(e) if e.is_not_found() => {}
                Err(e) => eprintln!("WARN[0000] {e}"),
            }
        }
    }
    Ok(0)
}
