//! `up`, `create`, `down`: networks and volumes, containers converged side by side (after
//! the services whose containers they name), then started in dependency order with the
//! dependencies' conditions waited for; `down` stops and removes in reverse order. A failed `up` of a
//! project that did not exist before leaves nothing behind.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::join_all;

use super::graph::{Phase, Phases, FAILED};
use super::progress::{Mode, Progress, Status};
use super::runner::{Converge, Runner};
use super::state;
use super::Failure;

/// `up` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct UpArgs {
    /// Detached mode: Run containers in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's policy
    #[arg(long)]
    pub no_build: bool,
    /// Pull image before running ("always"|"missing"|"never")
    #[arg(long, default_value = "policy")]
    pub pull: String,
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long)]
    pub no_recreate: bool,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Don't start the services after creating them
    #[arg(long)]
    pub no_start: bool,
    /// Scale SERVICE to NUM instances (SERVICE=NUM)
    #[arg(long)]
    pub scale: Vec<String>,
    /// Wait for services to be running|healthy. Implies detached mode.
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy
    #[arg(long)]
    pub wait_timeout: Option<u64>,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Stops all containers if any container was stopped. Incompatible with -d
    #[arg(long)]
    pub abort_on_container_exit: bool,
    /// Return the exit code of the selected service container. Implies --abort-on-container-exit
    #[arg(long)]
    pub exit_code_from: Option<String>,
    /// Restrict attaching to the specified services
    #[arg(long)]
    pub attach: Vec<String>,
    /// Do not attach (stream logs) to the specified services
    #[arg(long)]
    pub no_attach: Vec<String>,
    /// Recreate anonymous volumes instead of retrieving data from the previous containers
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Use this timeout in seconds for container shutdown
    #[arg(short, long)]
    pub timeout: Option<i64>,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Don't prefix log lines with the container name
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Services
    pub services: Vec<String>,
}

fn parse_scale(list: &[String]) -> Result<BTreeMap<String, u32>, Failure> {
    let mut out = BTreeMap::new();
    for s in list {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| Failure::msg(format!("invalid --scale {s:?}: expected SERVICE=NUM")))?;
        let n: u32 = v
            .parse()
            .map_err(|_| Failure::msg(format!("invalid --scale {s:?}: expected SERVICE=NUM")))?;
        out.insert(k.to_string(), n);
    }
    Ok(out)
}

/// Creates (and, unless `no_start`, starts) the project. Returns the services involved.
pub async fn create_and_start(
    r: &Runner,
    args: &UpArgs,
    mode: Mode,
) -> Result<BTreeSet<String>, Failure> {
    let p = &r.loaded.project;
    for s in &args.services {
        if !p.services.contains_key(s) {
            return Err(Failure::msg(format!("no such service: {s}")));
        }
    }
    if args.build && args.no_build {
        return Err(Failure::msg("--build and --no-build are incompatible"));
    }
    if args.force_recreate && args.no_recreate {
        return Err(Failure::msg(
            "--force-recreate and --no-recreate are incompatible",
        ));
    }
    let services = state::with_dependencies(p, &args.services, !args.no_deps);
    let scale = parse_scale(&args.scale)?;
    for k in scale.keys() {
        if !p.services.contains_key(k) {
            return Err(Failure::msg(format!("no such service: {k}")));
        }
    }
    let existed_before = !r.containers(None).await?.is_empty();
    let progress = Progress::new(mode, "Running");
    let result = async {
        super::build::ensure_images(r, &services, args.build, args.no_build, &progress).await?;
        let pull = if args.pull == "policy" { String::new() } else { args.pull.clone() };
        r.pull_missing(&services, &pull, &progress).await?;
        let orphans = r.orphans().await?;
        if !orphans.is_empty() {
            if args.remove_orphans {
                for c in &orphans {
                    let id = format!("Container {}", c.name);
                    progress.event(&id, Status::Working, "Removing");
                    let _ = r.api.post_empty(&format!("/containers/{}/stop", c.id)).await;
                    r.api.delete(&format!("/containers/{}?force=true", c.id)).await?;
                    progress.event(&id, Status::Done, "Removed");
                }
            } else {
                let names: Vec<&str> = orphans.iter().map(|c| c.name.as_str()).collect();
                eprintln!(
                    "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
                    names.join(" ")
                );
            }
        }
        let (nets, vols) = tokio::join!(r.ensure_networks(&progress), r.ensure_volumes(&progress));
        nets?;
        vols?;
        let opts = Converge {
            force_recreate: args.force_recreate,
            no_recreate: args.no_recreate,
            scale: scale.clone(),
            renew_anon_volumes: args.renew_anon_volumes,
            pull: String::new(),
            timeout: args.timeout,
        };
        let recreated = converge_and_start(r, &services, &opts, !args.no_start, &progress).await?;
        // dependents asking `restart: true` restart when a dependency was recreated
        if !args.no_start {
            for (name, svc) in &p.services {
                if !services.contains(name) || recreated.contains(name) {
                    continue;
                }
                if svc.depends_on.iter().any(|(d, dep)| dep.restart && recreated.contains(d)) {
                    for c in r.containers(Some(false)).await?.into_iter().filter(|c| &c.service == name) {
                        let id = format!("Container {}", c.name);
                        progress.event(&id, Status::Working, "Restarting");
                        r.api.post_empty(&format!("/containers/{}/restart", c.id)).await?;
                        progress.event(&id, Status::Done, "Restarted");
                    }
                }
            }
        }
        if args.wait {
            let timeout = args.wait_timeout.map(Duration::from_secs);
            r.wait_running(&services, timeout, &progress).await?;
        }
        Ok::<(), Failure>(())
    }
    .await;
    if let Err(e) = result {
        if !existed_before {
            // leave nothing behind: a project that failed to come up is taken down again
            let _ = super::down::down(
                r,
                &super::down::DownArgs {
                    volumes: true,
                    remove_orphans: true,
                    ..Default::default()
                },
                Mode::Quiet,
            )
            .await;
        }
        return Err(e);
    }
    Ok(services)
}

/// Converges every service and (with `start`) starts it, one task per service: a service is
/// converged at once, or once the services whose containers it names are (it shares their
/// namespaces, volumes or is linked to them), and started once all it depends on are started
/// and their `depends_on` conditions hold. Compose v2 creates along the whole `depends_on`
/// graph; a plain dependency only orders the starts, so creating side by side changes
/// nothing a container sees.
/// Returns the services whose containers were (re)created.
async fn converge_and_start<'a>(
    r: &Runner,
    services: &'a BTreeSet<String>,
    opts: &Converge,
    start: bool,
    progress: &Progress,
) -> Result<BTreeSet<String>, Failure> {
    const CONVERGED: Phase = 1;
    const STARTED: Phase = 2;
    let p = &r.loaded.project;
    let phases = Phases::new(services);
    let recreated: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let task = |name: &'a String| {
        let (phases, recreated) = (&phases, &recreated);
        async move {
            let svc = &p.services[name];
            let deps: Vec<&String> = svc
                .depends_on
                .keys()
                .filter(|d| services.contains(*d))
                .collect();
            let named = state::container_references(svc);
            let step = async {
                // only a dependency whose container this one names must exist first
                for d in deps.iter().filter(|d| named.contains(d.as_str())) {
                    if !phases.wait(d, CONVERGED).await {
                        return Err(None);
                    }
                }
                let before = recreated.lock().map(|s| s.clone()).unwrap_or_default();
                if r.converge_service(name, opts, &before, progress)
                    .await
                    .map_err(Some)?
                {
                    if let Ok(mut s) = recreated.lock() {
                        s.insert(name.clone());
                    }
                }
                phases.set(name, CONVERGED);
                if !start {
                    return Ok(());
                }
                for d in &deps {
                    if !phases.wait(d, STARTED).await {
                        return Err(None);
                    }
                }
                r.start_service(name, services, progress)
                    .await
                    .map_err(Some)?;
                phases.set(name, STARTED);
                Ok(())
            };
            let res: Result<(), Option<Failure>> = step.await;
            if res.is_err() {
                phases.set(name, FAILED);
            }
            res
        }
    };
    let results = join_all(services.iter().map(task)).await;
    // the first failure that is not only a dependency's
    if let Some(e) = results.into_iter().filter_map(Result::err).flatten().next() {
        return Err(e);
    }
    Ok(recreated.into_inner().unwrap_or_default())
}

/// `scale SERVICE=REPLICAS…`: creates and starts the services (and, unless `--no-deps`,
/// their dependencies) at the given scale, as Compose v2's `create` + `start`.
pub async fn scale(
    r: &Runner,
    tuples: &[String],
    no_deps: bool,
    mode: Mode,
) -> Result<i32, Failure> {
    let mut services = Vec::new();
    for t in tuples {
        let (k, v) = t.split_once('=').unwrap_or((t, ""));
        if k.is_empty() || v.is_empty() {
            return Err(Failure::msg(format!("invalid scale specifier: {t}")));
        }
        if v.parse::<u32>().is_err() {
            return Err(Failure::msg(format!(
                "invalid scale specifier: can't parse replica value as int: {t}"
            )));
        }
        services.push(k.to_string());
    }
    let args = UpArgs {
        detach: true,
        no_deps,
        scale: tuples.to_vec(),
        services,
        pull: "policy".into(),
        ..Default::default()
    };
    create_and_start(r, &args, mode).await.map(|_| 0)
}

/// `up`.
pub async fn up(r: &Runner, args: &UpArgs, mode: Mode) -> Result<i32, Failure> {
    let mut args = args.clone();
    if args.exit_code_from.is_some() {
        args.abort_on_container_exit = true;
    }
    if args.detach && args.abort_on_container_exit {
        return Err(Failure::msg(
            "--abort-on-container-exit and --detach are incompatible",
        ));
    }
    if args.wait {
        args.detach = true;
    }
    let services = create_and_start(r, &args, mode).await?;
    if args.detach || args.no_start {
        return Ok(0);
    }
    let attach: BTreeSet<String> = if !args.attach.is_empty() {
        args.attach.iter().cloned().collect()
    } else {
        let explicit: BTreeSet<String> = args.services.iter().cloned().collect();
        services
            .iter()
            .filter(|s| explicit.is_empty() || explicit.contains(*s))
            .filter(|s| r.loaded.project.services[*s].attach != Some(false))
            .filter(|s| !args.no_attach.contains(s))
            .cloned()
            .collect()
    };
    super::logs::attached(r, &services, &attach, &args).await
}
