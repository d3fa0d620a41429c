//! `attach`, `cp`, `commit`, `export`, `stats`: the docker CLI's own commands (berth's,
//! from `berth-client`) aimed at a service's containers, as Compose v2 hands these to the
//! docker CLI's code, with Compose's container choice (`--index`), errors and events.

use berth_client::commands::{self as docker, Ctx};
use berth_client::transport::query;
use serde_json::Value;

use super::labels::ONEOFF;
use super::progress::{Progress, Status};
use super::runner::Runner;
use super::state::Container;
use super::Failure;

/// The docker CLI context over compose's connection.
fn ctx(r: &Runner) -> Ctx {
    Ctx {
        client: r.api.client.clone(),
        context: r.api.context.clone(),
        config_dir: r.api.config_dir.clone(),
    }
}

/// Compose v2's `getSpecifiedContainer`: the service's container `index` (or the lowest
/// number), one-off containers last; `all` includes stopped ones.
pub async fn pick(r: &Runner, service: &str, index: u32, all: bool) -> Result<Container, Failure> {
    let mut cs: Vec<Container> = r
        .containers(None)
        .await?
        .into_iter()
        .filter(|c| c.service == service)
        .filter(|c| index == 0 || c.number == index)
        .filter(|c| all || c.is_running())
        .collect();
    cs.sort_by_key(|c| {
        (
            c.labels.get(ONEOFF).map(String::as_str) == Some("True"),
            c.number,
        )
    });
    cs.into_iter().next().ok_or_else(|| {
        Failure::msg(if index > 0 {
            format!("service \"{service}\" is not running container #{index}")
        } else {
            format!("service \"{service}\" is not running")
        })
    })
}

/// `attach` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching from a container.
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// The service
    pub service: String,
}

/// `attach SERVICE`: the docker CLI's attach on the service's running container.
pub async fn attach(r: &Runner, a: &AttachArgs) -> Result<i32, Failure> {
    let c = pick(r, &a.service, a.index, false).await?;
    Ok(docker::attach(
        &ctx(r),
        &c.id,
        !a.no_stdin,
        a.sig_proxy,
        a.detach_keys.clone(),
    )
    .await?)
}

/// `cp` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CpArgs {
    /// Include containers created by the run command
    #[arg(long)]
    pub all: bool,
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// SERVICE:SRC_PATH or SRC_PATH|-
    pub source: String,
    /// DEST_PATH|- or SERVICE:DEST_PATH
    pub destination: String,
}

/// `SERVICE:PATH` (a path starting with `/` or `.`, or without `:`, is local).
fn split_service(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    arg.split_once(':')
}

/// `cp`: from the service's first container, or to every container of the service (or the
/// one `--index` names), in parallel, each with Compose's "Copying"/"Copied" events.
pub async fn cp(r: &Runner, a: &CpArgs, progress: &Progress) -> Result<i32, Failure> {
    let (from, to) = (split_service(&a.source), split_service(&a.destination));
    let (service, from_service) = match (from, to) {
        (Some(_), Some(_)) => {
            return Err(Failure::msg("copying between services is not supported"))
        }
        (None, None) => return Err(Failure::msg("unknown copy direction")),
        (Some((s, _)), None) => (s, true),
        (None, Some((s, _))) => (s, false),
    };
    let targets: Vec<Container> = if a.index > 0 {
        vec![pick(r, service, a.index, true).await?]
    } else {
        let cs: Vec<Container> = r
            .containers(if a.all { None } else { Some(false) })
            .await?
            .into_iter()
            .filter(|c| c.service == service)
            .collect();
        if cs.is_empty() {
            return Err(Failure::msg(format!(
                "no container found for service \"{service}\""
            )));
        }
        if from_service {
            cs.into_iter().take(1).collect()
        } else {
            cs
        }
    };
    let ctx = ctx(r);
    let jobs = targets.iter().map(|c| {
        let ctx = &ctx;
        async move {
            let (src, dst, msg) = match (from, to) {
                (Some((_, p)), _) => (
                    format!("{}:{p}", c.id),
                    a.destination.clone(),
                    format!("copy {}:{p} to {}", c.name, a.destination),
                ),
                (_, Some((_, p))) => (
                    a.source.clone(),
                    format!("{}:{p}", c.id),
                    format!("copy {} to {}:{p}", a.source, c.name),
                ),
                _ => unreachable!("direction checked above"),
            };
            progress.event_detail(&c.name, Status::Working, &msg, "Copying");
            docker::cp(ctx, &src, &dst, true, a.archive, a.follow_link).await?;
            progress.event_detail(&c.name, Status::Done, &msg, "Copied");
            Ok::<(), Failure>(())
        }
    });
    for res in futures_util::future::join_all(jobs).await {
        res?;
    }
    Ok(0)
}

/// `commit` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    pub change: Vec<String>,
    /// index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    /// The service
    pub service: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

/// `commit SERVICE [REPOSITORY[:TAG]]` (`POST /commit`), with Compose's events.
pub async fn commit(r: &Runner, a: &CommitArgs, progress: &Progress) -> Result<i32, Failure> {
    let c = pick(r, &a.service, a.index, false).await?;
    let mut q = vec![("container", c.id.clone())];
    if let Some(reference) = &a.reference {
        let (repo, tag) = super::api::split_tag(reference);
        q.push(("repo", repo.to_string()));
        if !tag.is_empty() && reference.ends_with(&format!(":{tag}")) {
            q.push(("tag", tag.to_string()));
        }
    }
    if let Some(m) = &a.message {
        q.push(("comment", m.clone()));
    }
    if let Some(au) = &a.author {
        q.push(("author", au.clone()));
    }
    q.push(("pause", a.pause.to_string()));
    for ch in &a.change {
        q.push(("changes", ch.clone()));
    }
    let msg = format!("Commit {}", c.name);
    progress.event_detail(&c.name, Status::Working, &msg, "Committing");
    let v = r
        .api
        .post(
            &format!("/commit{}", query(&q)),
            &Value::Object(Default::default()),
        )
        .await?;
    let id = v.get("Id").and_then(Value::as_str).unwrap_or_default();
    progress.event_detail(&c.name, Status::Done, &msg, &format!("Committed as {id}"));
    Ok(0)
}

/// `export` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<String>,
    /// The service
    pub service: String,
}

/// `export SERVICE`: the container's filesystem as a tar, to `-o FILE` or stdout.
pub async fn export(r: &Runner, a: &ExportArgs, progress: &Progress) -> Result<i32, Failure> {
    let c = pick(r, &a.service, a.index, false).await?;
    if a.output.is_none() && berth_client::terminal::stdout_is_tty() {
        return Err(Failure::msg(
            "output option is required when exporting to terminal",
        ));
    }
    let msg = format!(
        "export {} to {}",
        c.name,
        a.output.as_deref().unwrap_or_default()
    );
    progress.event_detail(&c.name, Status::Working, &msg, "Exporting");
    docker::export(&ctx(r), a.output.clone(), &c.id).await?;
    progress.event_detail(&c.name, Status::Done, &msg, "Exported");
    Ok(0)
}

/// `stats` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// The service
    pub service: Option<String>,
}

/// `stats [SERVICE]`: the docker CLI's stats over the project's (or service's) containers.
pub async fn stats(r: &Runner, a: &StatsArgs) -> Result<i32, Failure> {
    let mut labels = vec![format!("{}={}", super::labels::PROJECT, r.name())];
    if let Some(s) = &a.service {
        labels.push(format!("{}={s}", super::labels::SERVICE));
    }
    Ok(docker::stats::stats(
        &ctx(r),
        docker::stats::StatsArgs {
            all: a.all,
            no_stream: a.no_stream,
            no_trunc: a.no_trunc,
            format: a.format.clone(),
            containers: Vec::new(),
            labels,
        },
    )
    .await?)
}
