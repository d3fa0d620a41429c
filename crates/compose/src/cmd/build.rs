//! `build:` through the Engine API's `POST /build` (the classic builder protocol: the context
//! as a tar, build args/labels/target as query parameters, a JSON message stream back),
//! so it works with any daemon that serves it. Services build in parallel.

use std::collections::BTreeSet;
use std::path::Path;

use berth_client::transport::{full, query, read_all, stream_error};
use futures_util::future::join_all;
use hyper::Method;
use serde_json::{json, Value};

use crate::file::model::Service;

use super::convert::image_name;
use super::progress::{Progress, Status};
use super::runner::Runner;
use super::Failure;

/// `build` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BuildArgs {
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Set build-time variables for services
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Don't print anything to STDOUT
    #[arg(short, long)]
    pub quiet: bool,
    /// Services
    pub services: Vec<String>,
}

/// The context directory as a tar (`.dockerignore` lines excluded as path prefixes).
fn context_tar(dir: &Path) -> Result<Vec<u8>, Failure> {
    let ignore: Vec<String> = std::fs::read_to_string(dir.join(".dockerignore"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
        .collect();
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    fn walk(
        b: &mut tar::Builder<Vec<u8>>,
        root: &Path,
        rel: &Path,
        ignore: &[String],
    ) -> std::io::Result<()> {
        for e in std::fs::read_dir(root.join(rel))? {
            let e = e?;
            let r = rel.join(e.file_name());
            let rs = r.to_string_lossy();
            if ignore
                .iter()
                .any(|i| rs == *i || rs.starts_with(&format!("{i}/")))
            {
                continue;
            }
            let ft = e.file_type()?;
            if ft.is_dir() {
                b.append_dir(&r, e.path())?;
                walk(b, root, &r, ignore)?;
            } else {
                b.append_path_with_name(e.path(), &r)?;
            }
        }
        Ok(())
    }
    walk(&mut b, dir, Path::new(""), &ignore)
        .map_err(|e| Failure::msg(format!("reading build context {}: {e}", dir.display())))?;
    b.into_inner().map_err(Failure::msg)
}

/// Builds one service's image.
pub async fn build_service(
    r: &Runner,
    svc: &Service,
    extra_args: &[String],
    no_cache: bool,
    pull: bool,
    progress: &Progress,
) -> Result<(), Failure> {
    let Some(build) = &svc.build else {
        return Ok(());
    };
    let image = image_name(r.name(), svc);
    let id = format!("Image {image}");
    progress.event(&id, Status::Working, "Building");
    let mut args = serde_json::Map::new();
    for (k, v) in &build.args {
        if let Some(v) = v {
            args.insert(k.clone(), v.clone().into());
        }
    }
    for a in extra_args {
        if let Some((k, v)) = a.split_once('=') {
            args.insert(k.into(), v.into());
        }
    }
    let mut q = vec![
        ("t", image.clone()),
        ("dockerfile", build.dockerfile.clone()),
        ("buildargs", Value::Object(args).to_string()),
        ("labels", json!(build.labels).to_string()),
        ("rm", "1".into()),
    ];
    if !build.target.is_empty() {
        q.push(("target", build.target.clone()));
    }
    if no_cache || build.no_cache {
        q.push(("nocache", "1".into()));
    }
    if pull || build.pull {
        q.push(("pull", "1".into()));
    }
    if !build.network.is_empty() {
        q.push(("networkmode", build.network.clone()));
    }
    if !build.cache_from.is_empty() {
        q.push(("cachefrom", json!(build.cache_from).to_string()));
    }
    if build.shm_size.0 != 0 {
        q.push(("shmsize", build.shm_size.0.to_string()));
    }
    if !build.extra_hosts.is_empty() {
        q.push((
            "extrahosts",
            build
                .extra_hosts
                .iter()
                .map(|h| h.replacen('=', ":", 1))
                .collect::<Vec<_>>()
                .join(","),
        ));
    }
    let tags = build.tags.clone();
    let ctx = context_tar(Path::new(&build.context))?;
    let resp = r
        .api
        .client
        .request(
            Method::POST,
            &format!("/build{}", query(&q)),
            Some(full(ctx)),
            false,
            &[("Content-Type", "application/x-tar".to_string())],
        )
        .await
        .map_err(|e| {
            progress.event_detail(&id, Status::Error, "Error", &e.to_string());
            Failure::msg(format!("failed to build {}: {e}", svc.name))
        })?;
    let body = read_all(resp).await?;
    if let Some(e) = stream_error(&body) {
        progress.event_detail(&id, Status::Error, "Error", &e);
        return Err(Failure::msg(format!("failed to solve: {e}")));
    }
    for t in tags {
        let (repo, tag) = super::api::split_tag(&t);
        r.api
            .post_empty(&format!(
                "/images/{}/tag{}",
                berth_client::transport::seg(&image),
                query(&[("repo", repo.to_string()), ("tag", tag.to_string())])
            ))
            .await?;
    }
    progress.event(&id, Status::Done, "Built");
    Ok(())
}

/// Builds what `up` needs: with `--build` every service that has `build:`, else those whose
/// image is missing (unless `--no-build`, or the pull policy says to pull it).
pub async fn ensure_images(
    r: &Runner,
    services: &BTreeSet<String>,
    force: bool,
    no_build: bool,
    progress: &Progress,
) -> Result<(), Failure> {
    if no_build {
        return Ok(());
    }
    let p = &r.loaded.project;
    let mut todo = Vec::new();
    for name in services {
        let svc = &p.services[name];
        if svc.build.is_none() {
            continue;
        }
        let must = force
            || svc.pull_policy == "build"
            || r.api.image(&image_name(&p.name, svc)).await?.is_none();
        if must {
            todo.push(svc);
        }
    }
    for res in join_all(
        todo.into_iter()
            .map(|s| build_service(r, s, &[], false, false, progress)),
    )
    .await
    {
        res?;
    }
    Ok(())
}
