//! Image commands: pull, push, images, tag, rmi, history, save, load, import, commit, prune.

use std::time::SystemTime;

use berth_api_types::{HistoryItem, ImageSummary, JsonMessage};
use berth_cli_format::rows::{
    history_headers, history_row, image_rows, images_headers, HISTORY_TABLE, IMAGES_TABLE,
};
use berth_cli_format::units::truncate_id;
use berth_cli_format::Format;
use hyper::Method;

use super::{filters, for_each, out, Ctx};
use crate::auth::registry_auth_header;
use crate::cli::ListFmt;
use crate::error::{CliError, CliResult};
use crate::progress::ProgressPrinter;
use crate::transport::{full, query, seg, BodyLines};

/// Renders a JSON-lines progress body to stdout (or stderr); returns the aux payloads.
pub async fn render_progress(
    resp: hyper::Response<hyper::body::Incoming>,
    to_stderr: bool,
    quiet: bool,
) -> CliResult<Vec<serde_json::Value>> {
    let tty = if to_stderr {
        crate::terminal::stderr_is_tty()
    } else {
        crate::terminal::stdout_is_tty()
    };
    let mut sink: Box<dyn std::io::Write> = if quiet {
        Box::new(std::io::sink())
    } else if to_stderr {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let mut printer = ProgressPrinter::new(&mut *sink, tty);
    // Messages are newline-separated JSON objects (a final one may lack its newline).
    let mut lines = BodyLines::new(resp.into_body());
    while let Some(line) = lines.next_line().await? {
        let m: JsonMessage = berth_api_types::json::from_slice(&line)
            .map_err(|e| CliError::Transport(e.to_string()))?;
        printer.message(&m)?;
    }
    Ok(printer.aux)
}

/// Pulls an image, printing docker's progress; `to_stderr` for `run`'s implicit pull.
pub async fn pull(
    ctx: &Ctx,
    image: &str,
    quiet: bool,
    platform: Option<String>,
    to_stderr: bool,
) -> CliResult<()> {
    let (name, tag) = split_tag(image);
    let mut q = vec![("fromImage", normalize_name(&name))];
    q.push(("tag", tag.clone().unwrap_or_else(|| "latest".into())));
    if let Some(p) = platform {
        q.push(("platform", p));
    }
    let auth = registry_auth_header(&ctx.config_dir, image);
    let resp = ctx
        .client
        .request(
            Method::POST,
            &format!("/images/create{}", query(&q)),
            None,
            false,
            &[("X-Registry-Auth", auth)],
        )
        .await?;
    render_progress(resp, to_stderr, quiet).await?;
    Ok(())
}

/// docker's fully qualified repository name (`busybox` → `docker.io/library/busybox`).
pub fn normalize_name(name: &str) -> String {
    if crate::auth::registry_of(name) != crate::auth::DEFAULT_INDEX
        || name.starts_with("docker.io/")
    {
        return name.to_string();
    }
    if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    }
}

/// Splits `repo[:tag][@digest]` into repository and tag/digest.
pub fn split_tag(image: &str) -> (String, Option<String>) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_string(), Some(digest.to_string()));
    }
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => {
            (image[..i].to_string(), Some(image[i + 1..].to_string()))
        }
        _ => (image.to_string(), None),
    }
}

/// `pull`.
pub async fn pull_cmd(
    ctx: &Ctx,
    image: &str,
    all_tags: bool,
    quiet: bool,
    platform: Option<String>,
) -> CliResult<i32> {
    let (name, tag) = split_tag(image);
    if all_tags && tag.is_some() {
        return Err(CliError::msg("tag can't be used with --all-tags/-a"));
    }
    if !all_tags && tag.is_none() {
        out("Using default tag: latest\n");
    }
    pull(ctx, image, quiet, platform, false).await?;
    let full = if image.contains('@') {
        image.to_string()
    } else {
        format!("{name}:{}", tag.unwrap_or_else(|| "latest".into()))
    };
    let canonical = if crate::auth::registry_of(&name) == crate::auth::DEFAULT_INDEX
        && !name.starts_with("docker.io/")
    {
        if name.contains('/') {
            format!("docker.io/{full}")
        } else {
            format!("docker.io/library/{full}")
        }
    } else {
        full
    };
    out(&format!("{canonical}\n"));
    Ok(0)
}

/// `push`.
pub async fn push(ctx: &Ctx, image: &str, all_tags: bool, quiet: bool) -> CliResult<i32> {
    let (name, tag) = split_tag(image);
    let mut q = Vec::new();
    if let Some(t) = &tag {
        q.push(("tag", t.clone()));
    } else if !all_tags {
        out("Using default tag: latest\n");
        q.push(("tag", "latest".into()));
    }
    let auth = registry_auth_header(&ctx.config_dir, image);
    let resp = ctx
        .client
        .request(
            Method::POST,
            &format!("/images/{}/push{}", seg(&name), query(&q)),
            None,
            false,
            &[("X-Registry-Auth", auth)],
        )
        .await?;
    render_progress(resp, false, quiet).await?;
    if quiet {
        out(&format!("{image}\n"));
    }
    Ok(0)
}

/// `images`.
pub async fn images(
    ctx: &Ctx,
    all: bool,
    digests: bool,
    no_trunc: bool,
    fmt: ListFmt,
    repository: Option<String>,
) -> CliResult<i32> {
    let mut f = filters(&fmt.filter)?;
    if let Some(r) = &repository {
        f.add("reference", r);
    }
    let mut q = Vec::new();
    if all {
        q.push(("all", "1".to_string()));
    }
    if !f.is_empty() {
        q.push(("filters", f.to_json()));
    }
    let list: Vec<ImageSummary> = ctx
        .client
        .get_json(&format!("/images/json{}", query(&q)))
        .await?;
    if fmt.quiet {
        // One line per row (tag), as docker prints them.
        let mut s = String::new();
        for i in &list {
            let id = if no_trunc {
                i.id.clone()
            } else {
                truncate_id(&i.id)
            };
            for _ in 0..i.repo_tags.len().max(1) {
                s.push_str(&id);
                s.push('\n');
            }
        }
        out(&s);
        return Ok(0);
    }
    let now = SystemTime::now();
    let rows: Vec<_> = list
        .iter()
        .flat_map(|i| {
            image_rows(i, now, !no_trunc).into_iter().map(move |mut r| {
                // Fields as docker v28 prints them.
                r["CreatedAt"] = serde_json::json!(super::go_time(i.created));
                r["VirtualSize"] =
                    serde_json::json!(berth_cli_format::units::human_size(i.size as f64));
                // The digest of this row's repository, as docker matches them.
                let repo = r["Repository"].as_str().unwrap_or("").to_string();
                let digest = i
                    .repo_digests
                    .iter()
                    .filter_map(|d| d.split_once('@'))
                    .find(|(r, _)| *r == repo)
                    .map(|(_, d)| d.to_string())
                    .filter(|_| digests)
                    .unwrap_or_else(|| "<none>".into());
                r["Digest"] = serde_json::json!(digest);
                r
            })
        })
        .collect();
    let default = if digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
            .to_string()
    } else {
        IMAGES_TABLE.to_string()
    };
    let format = Format::parse(fmt.format.as_deref().unwrap_or(""), &default)
        .map_err(|e| CliError::msg(format!("template parsing error: {e}")))?;
    let text = format
        .render(&rows, &images_headers())
        .map_err(|e| CliError::msg(e.to_string()))?;
    out(&if matches!(format, Format::Json) {
        super::go_json_escape(&text)
    } else {
        text
    });
    Ok(0)
}

/// `tag`.
pub async fn tag(ctx: &Ctx, source: &str, target: &str) -> CliResult<i32> {
    let (repo, tag) = split_tag(target);
    let mut q = vec![("repo", repo)];
    if let Some(t) = tag {
        q.push(("tag", t));
    }
    ctx.client
        .post(&format!("/images/{}/tag{}", seg(source), query(&q)))
        .await?;
    Ok(0)
}

/// `rmi`.
pub async fn rmi(ctx: &Ctx, force: bool, no_prune: bool, names: Vec<String>) -> CliResult<i32> {
    let mut q = Vec::new();
    if force {
        q.push(("force", "1".to_string()));
    }
    if no_prune {
        q.push(("noprune", "1".to_string()));
    }
    let q = query(&q);
    for_each(&names, |n| {
        let q = q.clone();
        async move {
            let items: Vec<serde_json::Value> = serde_json::from_slice(
                &ctx.client
                    .call(Method::DELETE, &format!("/images/{}{q}", seg(&n)), None)
                    .await?,
            )
            .map_err(|e| CliError::Transport(e.to_string()))?;
            let mut s = String::new();
            for i in items {
                if let Some(u) = i.get("Untagged").and_then(|u| u.as_str()) {
                    s.push_str(&format!("Untagged: {u}\n"));
                }
                if let Some(d) = i.get("Deleted").and_then(|u| u.as_str()) {
                    s.push_str(&format!("Deleted: {d}\n"));
                }
            }
            out(&s);
            Ok(())
        }
    })
    .await
}

/// `history`.
pub async fn history(
    ctx: &Ctx,
    human: bool,
    no_trunc: bool,
    quiet: bool,
    format: Option<String>,
    image: &str,
) -> CliResult<i32> {
    let items: Vec<HistoryItem> = ctx
        .client
        .get_json(&format!("/images/{}/history", seg(image)))
        .await?;
    if quiet {
        out(&items
            .iter()
            .map(|h| {
                format!(
                    "{}\n",
                    if no_trunc || h.id.starts_with('<') {
                        h.id.clone()
                    } else {
                        truncate_id(&h.id)
                    }
                )
            })
            .collect::<String>());
        return Ok(0);
    }
    let now = SystemTime::now();
    let rows: Vec<_> = items
        .iter()
        .map(|h| {
            let mut r = history_row(h, now, !no_trunc);
            if !human {
                r["Size"] = serde_json::json!(h.size.to_string());
                r["CreatedSince"] = r["CreatedAt"].clone();
            }
            r
        })
        .collect();
    let f = Format::parse(format.as_deref().unwrap_or(""), HISTORY_TABLE)
        .map_err(|e| CliError::msg(e.to_string()))?;
    out(&f
        .render(&rows, &history_headers())
        .map_err(|e| CliError::msg(e.to_string()))?);
    Ok(0)
}

/// `save`.
pub async fn save(ctx: &Ctx, output: Option<String>, images: Vec<String>) -> CliResult<i32> {
    if output.is_none() && crate::terminal::stdout_is_tty() {
        return Err(CliError::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let q: Vec<(&str, String)> = images.iter().map(|i| ("names", i.clone())).collect();
    let resp = ctx
        .client
        .request(
            Method::GET,
            &format!("/images/get{}", query(&q)),
            None,
            false,
            &[],
        )
        .await?;
    super::container::body_to(resp, output, "save image").await?;
    Ok(0)
}

fn read_input(path: Option<&str>) -> CliResult<Vec<u8>> {
    match path {
        Some(p) if p != "-" => {
            std::fs::read(p).map_err(|e| CliError::msg(format!("open {p}: {e}")))
        }
        _ => {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)?;
            Ok(v)
        }
    }
}

/// `load`.
pub async fn load(ctx: &Ctx, input: Option<String>, quiet: bool) -> CliResult<i32> {
    if input.is_none() && crate::terminal::stdin_is_tty() {
        return Err(CliError::msg(
            "requested load from stdin, but stdin is empty",
        ));
    }
    let data = read_input(input.as_deref())?;
    let q = if quiet {
        query(&[("quiet", "1".to_string())])
    } else {
        String::new()
    };
    let resp = ctx
        .client
        .request(
            Method::POST,
            &format!("/images/load{q}"),
            Some(full(data)),
            false,
            &[("Content-Type", "application/x-tar".to_string())],
        )
        .await?;
    render_progress(resp, false, false).await?;
    Ok(0)
}

/// `import`.
pub async fn import(
    ctx: &Ctx,
    change: Vec<String>,
    message: Option<String>,
    platform: Option<String>,
    file: &str,
    repository: Option<String>,
) -> CliResult<i32> {
    let mut q = vec![("fromSrc", "-".to_string())];
    if let Some(r) = repository {
        let (repo, tag) = split_tag(&r);
        q.push(("repo", repo));
        if let Some(t) = tag {
            q.push(("tag", t));
        }
    }
    if let Some(m) = message {
        q.push(("message", m));
    }
    if let Some(p) = platform {
        q.push(("platform", p));
    }
    for c in change {
        q.push(("changes", c));
    }
    let (src_q, body) = if file.starts_with("http://") || file.starts_with("https://") {
        q[0].1 = file.to_string();
        (query(&q), full(Vec::new()))
    } else {
        (query(&q), full(read_input(Some(file))?))
    };
    let resp = ctx
        .client
        .request(
            Method::POST,
            &format!("/images/create{src_q}"),
            Some(body),
            false,
            &[("Content-Type", "application/x-tar".to_string())],
        )
        .await?;
    // docker prints the new image id (the status of the last message).
    let mut lines = BodyLines::new(resp.into_body());
    while let Some(line) = lines.next_line().await? {
        let m: JsonMessage = berth_api_types::json::from_slice(&line)
            .map_err(|e| CliError::Transport(e.to_string()))?;
        if let Some(e) = m.error.or(m.error_detail.map(|d| d.message)) {
            return Err(CliError::msg(e));
        }
        if let Some(s) = m.status {
            out(&format!("{s}\n"));
        }
    }
    Ok(0)
}

/// `commit`.
#[allow(clippy::too_many_arguments)]
pub async fn commit(
    ctx: &Ctx,
    message: Option<String>,
    author: Option<String>,
    change: Vec<String>,
    pause: bool,
    container: &str,
    repository: Option<String>,
) -> CliResult<i32> {
    let mut q = vec![("container", container.to_string())];
    if let Some(r) = repository {
        let (repo, tag) = split_tag(&r);
        q.push(("repo", repo));
        if let Some(t) = tag {
            q.push(("tag", t));
        }
    }
    if let Some(m) = message {
        q.push(("comment", m));
    }
    if let Some(a) = author {
        q.push(("author", a));
    }
    q.push(("pause", if pause { "1" } else { "0" }.to_string()));
    for c in change {
        q.push(("changes", c));
    }
    let v: serde_json::Value = ctx
        .client
        .post_json(&format!("/commit{}", query(&q)), &serde_json::json!({}))
        .await?;
    out(&format!(
        "{}\n",
        v.get("Id").and_then(|i| i.as_str()).unwrap_or("")
    ));
    Ok(0)
}

/// `image prune`.
pub async fn prune(ctx: &Ctx, all: bool, force: bool, filter: Vec<String>) -> CliResult<i32> {
    let warning = if all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !force && !super::system::confirm(warning)? {
        return Ok(0);
    }
    let mut f = filters(&filter)?;
    f.add("dangling", if all { "false" } else { "true" });
    let v: serde_json::Value = ctx
        .client
        .post_json(
            &format!("/images/prune{}", query(&[("filters", f.to_json())])),
            &serde_json::json!(null),
        )
        .await?;
    let mut s = String::new();
    if let Some(list) = v
        .get("ImagesDeleted")
        .and_then(|l| l.as_array())
        .filter(|l| !l.is_empty())
    {
        s.push_str("Deleted Images:\n");
        for i in list {
            if let Some(u) = i.get("Untagged").and_then(|u| u.as_str()) {
                s.push_str(&format!("untagged: {u}\n"));
            }
            if let Some(d) = i.get("Deleted").and_then(|u| u.as_str()) {
                s.push_str(&format!("deleted: {d}\n"));
            }
        }
        s.push('\n');
    }
    let reclaimed = v
        .get("SpaceReclaimed")
        .and_then(|r| r.as_i64())
        .unwrap_or(0);
    s.push_str(&format!(
        "Total reclaimed space: {}\n",
        berth_cli_format::units::docker_size(reclaimed)
    ));
    out(&s);
    Ok(0)
}
