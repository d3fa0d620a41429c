//! Container lifecycle and inspection commands: stop, kill, rm, ps, logs, top, diff, ….

use std::io::Write;
use std::time::SystemTime;

use berth_api_types::{
    ContainerInspect, ContainerSummary, ContainerTopResponse, FilesystemChange, UpdateConfig,
};
use berth_cli_format::rows::{container_row, ps_headers, PS_TABLE};
use berth_cli_format::units::truncate_id;
use berth_cli_format::Format;
use hyper::Method;

use super::{filters, for_each, out, Ctx};
use crate::cli::ListFmt;
use crate::error::{CliError, CliResult};
use crate::transport::{body_reader, next_chunk, query, seg};

/// `stop` / `restart`.
pub async fn stop_restart(
    ctx: &Ctx,
    action: &str,
    timeout: Option<i64>,
    signal: Option<String>,
    names: Vec<String>,
) -> CliResult<i32> {
    let mut q = Vec::new();
    if let Some(t) = timeout {
        q.push(("t", t.to_string()));
    }
    if let Some(s) = signal {
        q.push(("signal", s));
    }
    let q = query(&q);
    for_each(&names, |n| {
        let path = format!("/containers/{}/{action}{q}", seg(&n));
        async move {
            ctx.client.post(&path).await?;
            out(&format!("{n}\n"));
            Ok(())
        }
    })
    .await
}

/// `kill`.
pub async fn kill(ctx: &Ctx, signal: Option<String>, names: Vec<String>) -> CliResult<i32> {
    let q = query(&signal.map(|s| vec![("signal", s)]).unwrap_or_default());
    for_each(&names, |n| {
        let path = format!("/containers/{}/kill{q}", seg(&n));
        async move {
            ctx.client.post(&path).await?;
            out(&format!("{n}\n"));
            Ok(())
        }
    })
    .await
}

/// `pause` / `unpause`.
pub async fn simple(ctx: &Ctx, action: &str, names: Vec<String>) -> CliResult<i32> {
    for_each(&names, |n| {
        let path = format!("/containers/{}/{action}", seg(&n));
        async move {
            ctx.client.post(&path).await?;
            out(&format!("{n}\n"));
            Ok(())
        }
    })
    .await
}

/// `rm`.
pub async fn rm(
    ctx: &Ctx,
    force: bool,
    volumes: bool,
    link: bool,
    names: Vec<String>,
) -> CliResult<i32> {
    let mut q = Vec::new();
    if force {
        q.push(("force", "1".to_string()));
    }
    if volumes {
        q.push(("v", "1".to_string()));
    }
    if link {
        q.push(("link", "1".to_string()));
    }
    let q = query(&q);
    for_each(&names, |n| {
        let path = format!("/containers/{}{q}", seg(&n));
        async move {
            ctx.client.call(Method::DELETE, &path, None).await?;
            out(&format!("{n}\n"));
            Ok(())
        }
    })
    .await
}

/// `ps`.
#[allow(clippy::too_many_arguments)]
pub async fn ps(
    ctx: &Ctx,
    all: bool,
    last: i64,
    latest: bool,
    size: bool,
    no_trunc: bool,
    fmt: ListFmt,
) -> CliResult<i32> {
    let mut q = Vec::new();
    let limit = if latest { 1 } else { last };
    if all || limit > 0 {
        q.push(("all", "1".to_string()));
    }
    if limit > 0 {
        q.push(("limit", limit.to_string()));
    }
    let f = filters(&fmt.filter)?;
    if !f.is_empty() {
        q.push(("filters", f.to_json()));
    }
    let format = fmt.format.clone().unwrap_or_default();
    let wants_size = size || format.contains(".Size");
    if wants_size {
        q.push(("size", "1".to_string()));
    }
    let list: Vec<ContainerSummary> = ctx
        .client
        .get_json(&format!("/containers/json{}", query(&q)))
        .await?;
    if fmt.quiet {
        let mut s = String::new();
        for c in &list {
            s.push_str(&if no_trunc {
                c.id.clone()
            } else {
                truncate_id(&c.id)
            });
            s.push('\n');
        }
        out(&s);
        return Ok(0);
    }
    let now = SystemTime::now();
    let rows: Vec<_> = list
        .iter()
        .map(|c| {
            let mut r = container_row(c, now, !no_trunc);
            r["CreatedAt"] = serde_json::json!(super::go_time(c.created));
            r
        })
        .collect();
    let default = if size {
        format!("{PS_TABLE}\t{{{{.Size}}}}")
    } else {
        PS_TABLE.to_string()
    };
    let f = Format::parse(&format, &default)
        .map_err(|e| CliError::msg(format!("template parsing error: {e}")))?;
    let text = f
        .render(&rows, &ps_headers())
        .map_err(|e| CliError::msg(format!("template: {e}")))?;
    out(&if matches!(f, Format::Json) {
        super::go_json_escape(&text)
    } else {
        text
    });
    Ok(0)
}

/// Whether a container has a tty (to demultiplex its output or not).
pub async fn has_tty(ctx: &Ctx, name: &str) -> CliResult<bool> {
    let c: ContainerInspect = ctx
        .client
        .get_json(&format!("/containers/{}/json", seg(name)))
        .await?;
    Ok(c.config.tty)
}

/// `logs`.
#[allow(clippy::too_many_arguments)]
pub async fn logs(
    ctx: &Ctx,
    follow: bool,
    since: Option<String>,
    until: Option<String>,
    timestamps: bool,
    tail: String,
    name: &str,
) -> CliResult<i32> {
    let tty = has_tty(ctx, name).await?;
    let mut q = vec![("stdout", "1".to_string()), ("stderr", "1".to_string())];
    if follow {
        q.push(("follow", "1".into()));
    }
    if let Some(s) = since {
        q.push(("since", s));
    }
    if let Some(u) = until {
        q.push(("until", u));
    }
    if timestamps {
        q.push(("timestamps", "1".into()));
    }
    q.push(("tail", tail));
    let resp = ctx
        .client
        .request(
            Method::GET,
            &format!("/containers/{}/logs{}", seg(name), query(&q)),
            None,
            false,
            &[],
        )
        .await?;
    let mut o = std::io::stdout();
    let mut e = std::io::stderr();
    crate::stdcopy::demux(body_reader(resp.into_body()), tty, &mut o, &mut e).await?;
    Ok(0)
}

/// `top`.
pub async fn top(ctx: &Ctx, name: &str, ps_args: Vec<String>) -> CliResult<i32> {
    let q = if ps_args.is_empty() {
        String::new()
    } else {
        query(&[("ps_args", ps_args.join(" "))])
    };
    let t: ContainerTopResponse = ctx
        .client
        .get_json(&format!("/containers/{}/top{q}", seg(name)))
        .await?;
    let mut text = t.titles.join("\t");
    for p in &t.processes {
        text.push('\n');
        text.push_str(&p.join("\t"));
    }
    // docker: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
    out(&(tabwrite_min(&text, 20, 3) + "\n"));
    Ok(0)
}

/// A tabwriter with a given minimum cell width and padding (the last cell is not padded).
pub fn tabwrite_min(text: &str, minwidth: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for cells in &lines {
        for (i, c) in cells.iter().enumerate().take(cells.len().saturating_sub(1)) {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut o = String::new();
    for (li, cells) in lines.iter().enumerate() {
        if li > 0 {
            o.push('\n');
        }
        for (i, c) in cells.iter().enumerate() {
            o.push_str(c);
            if i + 1 < cells.len() {
                let w = (widths[i] + padding).max(minwidth);
                o.push_str(&" ".repeat(w - c.chars().count()));
            }
        }
    }
    o
}

/// `diff`.
pub async fn diff(ctx: &Ctx, name: &str) -> CliResult<i32> {
    let changes: Option<Vec<FilesystemChange>> = ctx
        .client
        .get_json(&format!("/containers/{}/changes", seg(name)))
        .await?;
    let mut s = String::new();
    for c in changes.unwrap_or_default() {
        let k = match c.kind {
            0 => "C",
            1 => "A",
            2 => "D",
            _ => "?",
        };
        s.push_str(&format!("{k} {}\n", c.path));
    }
    out(&s);
    Ok(0)
}

/// Streams a response body to a file or stdout (refusing a terminal, like docker).
pub async fn body_to(
    resp: hyper::Response<hyper::body::Incoming>,
    output: Option<String>,
    what: &str,
) -> CliResult<()> {
    let mut w: Box<dyn Write> = match output.as_deref() {
        Some(p) if p != "-" => Box::new(
            std::fs::File::create(p)
                .map_err(|e| CliError::msg(format!("failed to {what}: {e}")))?,
        ),
        _ => {
            if crate::terminal::stdout_is_tty() {
                return Err(CliError::msg(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            Box::new(std::io::stdout())
        }
    };
    let mut body = resp.into_body();
    while let Some(chunk) = next_chunk(&mut body).await? {
        w.write_all(&chunk)?;
    }
    w.flush()?;
    Ok(())
}

/// `export`.
pub async fn export(ctx: &Ctx, output: Option<String>, name: &str) -> CliResult<i32> {
    if output.is_none() && crate::terminal::stdout_is_tty() {
        return Err(CliError::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let resp = ctx
        .client
        .request(
            Method::GET,
            &format!("/containers/{}/export", seg(name)),
            None,
            false,
            &[],
        )
        .await?;
    body_to(resp, output, "export").await?;
    Ok(0)
}

/// `wait`.
pub async fn wait(ctx: &Ctx, names: Vec<String>) -> CliResult<i32> {
    for_each(&names, |n| async move {
        let v: serde_json::Value = ctx
            .client
            .post_json(
                &format!("/containers/{}/wait", seg(&n)),
                &serde_json::json!(null),
            )
            .await?;
        out(&format!(
            "{}\n",
            v.get("StatusCode").and_then(|c| c.as_i64()).unwrap_or(0)
        ));
        Ok(())
    })
    .await
}

/// `rename`.
pub async fn rename(ctx: &Ctx, name: &str, new_name: &str) -> CliResult<i32> {
    let new_name = new_name.trim();
    if new_name.is_empty() {
        return Err(CliError::msg(
            "Error: Neither old nor new names may be empty",
        ));
    }
    ctx.client
        .post(&format!(
            "/containers/{}/rename{}",
            seg(name),
            query(&[("name", new_name.to_string())])
        ))
        .await?;
    Ok(0)
}

/// Flags of `update`.
#[derive(Debug, Default)]
pub struct UpdateArgs {
    pub blkio_weight: Option<u16>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_rt_period: Option<i64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpus: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    pub pids_limit: Option<i64>,
    pub restart: Option<String>,
}

/// `--memory-swap` and friends: bytes with docker's units, `-1` for unlimited.
fn bytes_or_unlimited(s: &str) -> CliResult<i64> {
    if s.trim() == "-1" {
        Ok(-1)
    } else {
        crate::runopts::parse_bytes(s)
    }
}

/// `update`: docker's request (unset flags stay zero), names printed as given, warnings
/// after them, errors joined at the end.
pub async fn update(ctx: &Ctx, a: UpdateArgs, names: Vec<String>) -> CliResult<i32> {
    let given = a.blkio_weight.is_some()
        || a.cpu_period.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.cpu_shares.is_some()
        || a.cpus.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
        || a.memory.is_some()
        || a.memory_reservation.is_some()
        || a.memory_swap.is_some()
        || a.pids_limit.is_some()
        || a.restart.is_some();
    if !given {
        return Err(CliError::msg(
            "you must provide one or more flags when using this command",
        ));
    }
    let mut u = UpdateConfig::default();
    let r = &mut u.resources;
    r.blkio_weight = a.blkio_weight.unwrap_or(0);
    r.cpu_period = a.cpu_period.unwrap_or(0);
    r.cpu_quota = a.cpu_quota.unwrap_or(0);
    r.cpu_realtime_period = a.cpu_rt_period.unwrap_or(0);
    r.cpu_realtime_runtime = a.cpu_rt_runtime.unwrap_or(0);
    r.cpu_shares = a.cpu_shares.unwrap_or(0);
    if let Some(c) = &a.cpus {
        r.nano_cpus = crate::runopts::parse_cpus(c)?;
    }
    r.cpuset_cpus = a.cpuset_cpus.clone().unwrap_or_default();
    r.cpuset_mems = a.cpuset_mems.clone().unwrap_or_default();
    if let Some(m) = &a.memory {
        r.memory = crate::runopts::parse_bytes(m)?;
    }
    if let Some(m) = &a.memory_reservation {
        r.memory_reservation = crate::runopts::parse_bytes(m)?;
    }
    if let Some(m) = &a.memory_swap {
        r.memory_swap = bytes_or_unlimited(m)?;
    }
    r.pids_limit = a.pids_limit.filter(|p| *p != 0);
    if let Some(p) = &a.restart {
        u.restart_policy = crate::runopts::parse_restart(p)?;
    }
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for n in &names {
        let resp: CliResult<berth_api_types::UpdateResponse> = ctx
            .client
            .post_json(&format!("/containers/{}/update", seg(n)), &u)
            .await;
        match resp {
            Ok(r) => {
                out(&format!("{n}\n"));
                warnings.extend(r.warnings.unwrap_or_default());
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !warnings.is_empty() {
        out(&format!("{}\n", warnings.join("\n")));
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(CliError::msg(errors.join("\n")))
    }
}

/// `port`.
pub async fn port(ctx: &Ctx, name: &str, want: Option<String>) -> CliResult<i32> {
    let c: ContainerInspect = ctx
        .client
        .get_json(&format!("/containers/{}/json", seg(name)))
        .await?;
    let mut lines = Vec::new();
    let want = want.map(|w| {
        if w.contains('/') {
            w
        } else {
            format!("{w}/tcp")
        }
    });
    for (port, bindings) in &c.network_settings.ports {
        if want.as_ref().is_some_and(|w| w != port) {
            continue;
        }
        for b in bindings.iter().flatten() {
            let ip = if b.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &b.host_ip
            };
            if want.is_some() {
                lines.push(format!("{ip}:{}", b.host_port));
            } else {
                lines.push(format!("{port} -> {ip}:{}", b.host_port));
            }
        }
    }
    if lines.is_empty() {
        if let Some(w) = want {
            return Err(CliError::msg(format!(
                "Error: No public port '{w}' published for {name}"
            )));
        }
    }
    out(&lines.iter().map(|l| format!("{l}\n")).collect::<String>());
    Ok(0)
}

/// `container prune`.
pub async fn prune(ctx: &Ctx, force: bool, filter: Vec<String>) -> CliResult<i32> {
    if !force && !super::system::confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(0);
    }
    let f = filters(&filter)?;
    let q = if f.is_empty() {
        String::new()
    } else {
        query(&[("filters", f.to_json())])
    };
    let v: serde_json::Value = ctx
        .client
        .post_json(&format!("/containers/prune{q}"), &serde_json::json!(null))
        .await?;
    let mut s = String::new();
    if let Some(list) = v
        .get("ContainersDeleted")
        .and_then(|l| l.as_array())
        .filter(|l| !l.is_empty())
    {
        s.push_str("Deleted Containers:\n");
        for id in list {
            s.push_str(&format!("{}\n", id.as_str().unwrap_or("")));
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
