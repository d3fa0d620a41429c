//! `down`: stop and remove the project's containers (dependents first, one-off `run`
//! containers too, as Compose v2), then its networks, and with `-v` its volumes, with
//! `--rmi` its images.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use serde_json::Value;

use super::graph::{Phase, Phases};
use super::labels::*;
use super::progress::{Mode, Progress, Status};
use super::runner::Runner;
use super::state::Container;
use super::Failure;
use crate::file::model::Network;

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
    stop(r, c, timeout, progress).await?;
    remove(r, c, volumes, progress).await
}

async fn stop(
    r: &Runner,
    c: &Container,
    timeout: Option<i64>,
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
    Ok(())
}

async fn remove(
    r: &Runner,
    c: &Container,
    volumes: bool,
    progress: &Progress,
) -> Result<(), Failure> {
    let id = format!("Container {}", c.name);
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

/// Stops and removes the services' containers, one task per service: a service stops once
/// the services depending on it (and the disabled ones) have stopped; its removal does not
/// hold anything up.
async fn stop_and_remove<'a>(
    r: &'a Runner,
    all: &[Container],
    only: &BTreeSet<String>,
    args: &DownArgs,
    progress: &Progress,
) -> Result<(), Failure> {
    const STOPPED: Phase = 1;
    let p = &r.loaded.project;
    let disabled: BTreeSet<&String> = r.loaded.disabled.keys().collect();
    let names: Vec<&String> = disabled.iter().copied().chain(p.services.keys()).collect();
    let phases = Phases::new(names.iter().copied());
    let task = |name: &'a String| {
        let (phases, disabled) = (&phases, &disabled);
        async move {
            let mut waits_for: Vec<&String> = p
                .services
                .iter()
                .filter(|(_, s)| s.depends_on.contains_key(name))
                .map(|(k, _)| k)
                .collect();
            if !disabled.contains(name) {
                waits_for.extend(disabled.iter().copied());
            }
            for d in waits_for {
                // a dependent that failed to stop does not keep its dependencies running
                phases.wait(d, STOPPED).await;
            }
            let mine: Vec<&Container> = all
                .iter()
                .filter(|c| &c.service == name)
                .filter(|c| only.is_empty() || only.contains(&c.service))
                .collect();
            let stops = join_all(mine.iter().map(|c| stop(r, c, args.timeout, progress))).await;
            phases.set(name, STOPPED);
            let removals =
                join_all(mine.iter().map(|c| remove(r, c, args.volumes, progress))).await;
            stops
                .into_iter()
                .chain(removals)
                .collect::<Result<Vec<()>, Failure>>()
        }
    };
    for res in join_all(names.iter().copied().map(task)).await {
        res?;
    }
    Ok(())
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
    stop_and_remove(r, &all, &only, args, &progress).await?;
    if !only.is_empty() {
        return Ok(0);
    }
    let (nets, vols) = tokio::join!(
        join_all(p.networks.values().map(|n| remove_network(r, n, &progress))),
        remove_volumes(r, args.volumes, &progress)
    );
    nets.into_iter().collect::<Result<Vec<()>, Failure>>()?;
    vols?;
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

/// Removes a network of the project (not an external one, nor one it did not create).
async fn remove_network(r: &Runner, n: &Network, progress: &Progress) -> Result<(), Failure> {
    let p = &r.loaded.project;
    if n.external {
        return Ok(());
    }
    let Some(info) = r.api.network(&n.name).await? else {
        return Ok(());
    };
    let ours = info
        .get("Labels")
        .and_then(|l| l.get(PROJECT))
        .and_then(Value::as_str)
        == Some(p.name.as_str());
    if !ours {
        return Ok(());
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
    Ok(())
}

/// With `-v`, removes the project's volumes (by label; not the external ones).
async fn remove_volumes(r: &Runner, volumes: bool, progress: &Progress) -> Result<(), Failure> {
    let p = &r.loaded.project;
    if !volumes {
        return Ok(());
    }
    let list = r.api.volumes(&format!("{PROJECT}={}", p.name)).await?;
    let jobs = list.iter().map(|v| async move {
        let name = v.get("Name").and_then(Value::as_str).unwrap_or_default();
        let external = p.volumes.values().any(|pv| pv.external && pv.name == name);
        if external {
            return Ok(());
        }
        let id = format!("Volume {name}");
        progress.event(&id, Status::Working, "Removing");
        match r
            .api
            .delete(&format!("/volumes/{}", berth_client::transport::seg(name)))
            .await
        {
            Ok(()) => {
                progress.event(&id, Status::Done, "Removed");
                Ok(())
            }
            Err(e) => {
                progress.event_detail(&id, Status::Error, "Error", &e.to_string());
                Err(Failure::msg(e))
            }
        }
    });
    join_all(jobs)
        .await
        .into_iter()
        .collect::<Result<Vec<()>, Failure>>()?;
    Ok(())
}
