//! System commands: version, info, inspect, login, logout, search, events, system df/prune.

use std::io::{BufRead, Write};

use berth_api_types::{SystemInfo, SystemVersion};
use berth_cli_format::table::tabwrite;
use berth_cli_format::units::docker_size;
use berth_cli_format::{Format, Template};
use hyper::Method;
use serde_json::{json, Value};

use super::{filters, out, Ctx};
use crate::error::{CliError, CliResult};
use crate::transport::{query, seg, BodyLines, MAX_API_VERSION};

/// Asks `Are you sure you want to continue? [y/N]`.
pub fn confirm(warning: &str) -> CliResult<bool> {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

fn template(src: &str) -> CliResult<Template> {
    Template::parse(&src.replace("\\t", "\t").replace("\\n", "\n"))
        .map_err(|e| CliError::msg(format!("template parsing error: {e}")))
}

fn render(t: &Template, v: &Value) -> CliResult<String> {
    t.render(v)
        .map_err(|e| CliError::msg(format!("template: {e}")))
}

/// Pads `key:\t value` lines like docker's `tabwriter.NewWriter(out, 20, 1, 1, ' ', 0)`.
fn kv_block(lines: &[(String, String)]) -> String {
    let w = lines
        .iter()
        .map(|(k, _)| k.chars().count() + 1)
        .max()
        .unwrap_or(0)
        .max(20);
    lines
        .iter()
        .map(|(k, v)| format!("{k}{}{v}\n", " ".repeat(w - k.chars().count())))
        .collect()
}

/// `version`.
pub async fn version(ctx: &Ctx, format: Option<&str>, reachable: bool) -> CliResult<i32> {
    let server: Option<SystemVersion> = if reachable {
        Some(ctx.client.get_json("/version").await?)
    } else {
        None
    };
    let build = berth_api_types::build_info::get();
    let client = json!({
        "Platform": {"Name": ""},
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": ctx.client.version(),
        "DefaultAPIVersion": MAX_API_VERSION,
        "GitCommit": build.git_commit,
        "GoVersion": build.rustc,
        "Os": std::env::consts::OS,
        "Arch": berth_units::arch::go_arch(),
        "BuildTime": build.build_time,
        "Context": ctx.context,
    });
    if let Some(f) = format.filter(|f| !f.is_empty()) {
        // Go field names (APIVersion) beside the JSON ones (ApiVersion).
        let mut server_v = server
            .as_ref()
            .map(|s| serde_json::to_value(s).unwrap_or_default());
        if let Some(Value::Object(o)) = server_v.as_mut() {
            for (go, js) in [
                ("APIVersion", "ApiVersion"),
                ("MinAPIVersion", "MinAPIVersion"),
            ] {
                if let Some(v) = o.get(js).cloned() {
                    o.insert(go.to_string(), v);
                }
            }
        }
        let mut client = client;
        client["APIVersion"] = client["ApiVersion"].clone();
        let data = json!({"Client": client, "Server": server_v});
        let text = if f == "json" {
            berth_cli_format::template::json_func(&data)
        } else {
            render(&template(f)?, &data)?
        };
        out(&format!("{text}\n"));
        return if reachable {
            Ok(0)
        } else {
            Err(CliError::Connect {
                host: ctx.client.host().to_string(),
            })
        };
    }
    let mut api = ctx.client.version().to_string();
    if api != MAX_API_VERSION {
        api.push_str(&format!(" (downgraded from {MAX_API_VERSION})"));
    }
    let mut s = String::from("Client:\n");
    s.push_str(&kv_block(&[
        (" Version:".into(), env!("CARGO_PKG_VERSION").into()),
        (" API version:".into(), api),
        (" Go version:".into(), build.rustc.into()),
        (" Git commit:".into(), build.git_commit.into()),
        (" Built:".into(), ansic(build.build_time)),
        (
            " OS/Arch:".into(),
            format!("{}/{}", std::env::consts::OS, berth_units::arch::go_arch()),
        ),
        (" Context:".into(), ctx.context.clone()),
    ]));
    let Some(v) = server else {
        out(&s);
        return Err(CliError::Connect {
            host: ctx.client.host().to_string(),
        });
    };
    s.push_str(&server_version_text(&v));
    out(&s);
    Ok(0)
}

/// The `Server:` part of `docker version`.
pub fn server_version_text(v: &SystemVersion) -> String {
    let mut s = String::from("\nServer:");
    if !v.platform.name.is_empty() {
        s.push(' ');
        s.push_str(&v.platform.name);
    }
    s.push('\n');
    let mut lines: Vec<(String, String)> = Vec::new();
    for c in &v.components {
        let d = |k: &str| {
            c.details
                .as_ref()
                .and_then(|d| d.get(k))
                .cloned()
                .unwrap_or_default()
        };
        // Component names are headers: a line without a tab ends tabwriter's column block.
        if !lines.is_empty() {
            s.push_str(&kv_block(&lines));
            lines.clear();
        }
        s.push_str(&format!(" {}:\n", c.name));
        if c.name == "Engine" {
            lines.push(("  Version:".into(), c.version.clone()));
            lines.push((
                "  API version:".into(),
                format!(
                    "{} (minimum version {})",
                    d("ApiVersion"),
                    d("MinAPIVersion")
                ),
            ));
            lines.push(("  Go version:".into(), d("GoVersion")));
            lines.push(("  Git commit:".into(), d("GitCommit")));
            lines.push(("  Built:".into(), ansic(&d("BuildTime"))));
            lines.push(("  OS/Arch:".into(), format!("{}/{}", d("Os"), d("Arch"))));
            lines.push(("  Experimental:".into(), d("Experimental")));
        } else {
            lines.push(("  Version:".into(), c.version.clone()));
            let mut keys: Vec<&String> = c
                .details
                .as_ref()
                .map(|d| d.keys().collect())
                .unwrap_or_default();
            keys.sort();
            for k in keys {
                lines.push((format!("  {k}:"), d(k)));
            }
        }
    }
    s.push_str(&kv_block(&lines));
    s
}

/// `info`.
pub async fn info(ctx: &Ctx, format: Option<String>) -> CliResult<i32> {
    let raw: Value = ctx.client.get_json("/info").await?;
    if let Some(f) = format.filter(|f| !f.is_empty()) {
        let text = if f == "json" {
            berth_cli_format::template::json_func(&raw)
        } else {
            render(&template(&f)?, &raw)?
        };
        out(&format!("{text}\n"));
        return Ok(0);
    }
    let i: SystemInfo =
        berth_api_types::json::from_value(raw).map_err(|e| CliError::Transport(e.to_string()))?;
    let mut s = format!(
        "Client:\n Version:    {}\n Context:    {}\n Debug Mode: false\n\nServer:\n",
        env!("CARGO_PKG_VERSION"),
        ctx.context
    );
    s.push_str(&format!(
        " Containers: {}\n  Running: {}\n  Paused: {}\n  Stopped: {}\n",
        i.containers, i.containers_running, i.containers_paused, i.containers_stopped
    ));
    s.push_str(&format!(" Images: {}\n", i.images));
    s.push_str(&format!(" Server Version: {}\n", i.server_version));
    s.push_str(&format!(" Storage Driver: {}\n", i.driver));
    s.push_str(&format!(" Logging Driver: {}\n", i.logging_driver));
    s.push_str(&format!(" Cgroup Driver: {}\n", i.cgroup_driver));
    s.push_str(&format!(" Cgroup Version: {}\n", i.cgroup_version));
    s.push_str(&format!(" Default Runtime: {}\n", i.default_runtime));
    s.push_str(&format!(" Kernel Version: {}\n", i.kernel_version));
    s.push_str(&format!(" Operating System: {}\n", i.operating_system));
    s.push_str(&format!(" OSType: {}\n", i.os_type));
    s.push_str(&format!(" Architecture: {}\n", i.architecture));
    s.push_str(&format!(" CPUs: {}\n", i.ncpu));
    s.push_str(&format!(
        " Total Memory: {}\n",
        berth_cli_format::units::bytes_size(i.mem_total as f64)
    ));
    s.push_str(&format!(" Name: {}\n", i.name));
    s.push_str(&format!(" ID: {}\n", i.id));
    out(&s);
    Ok(0)
}

/// `inspect` (containers, images; `--type` to choose).
pub async fn inspect(
    ctx: &Ctx,
    format: Option<String>,
    size: bool,
    kind: Option<String>,
    names: Vec<String>,
) -> CliResult<i32> {
    let tpl = match format.as_deref().filter(|f| !f.is_empty() && *f != "json") {
        Some(f) => Some(template(f)?),
        None => None,
    };
    let mut raws: Vec<String> = Vec::new();
    let mut failed = false;
    for n in &names {
        let kinds: Vec<&str> = match kind.as_deref() {
            Some(k) => vec![k],
            None => vec!["container", "image"],
        };
        let mut found = None;
        let mut last_err = None;
        for k in &kinds {
            let path = match *k {
                "container" => format!(
                    "/containers/{}/json{}",
                    seg(n),
                    if size { "?size=1" } else { "" }
                ),
                "image" => format!("/images/{}/json", seg(n)),
                "volume" => format!("/volumes/{}", seg(n)),
                "network" => format!("/networks/{}", seg(n)),
                other => {
                    return Err(CliError::msg(format!(
                        "\"{other}\" is not a valid value for --type"
                    )))
                }
            };
            match ctx.client.call(Method::GET, &path, None).await {
                Ok(b) => {
                    found = Some(b);
                    break;
                }
                Err(e) if e.is_not_found() => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        match found {
            Some(b) => raws.push(String::from_utf8_lossy(&b).trim().to_string()),
            None => {
                failed = true;
                match (kind.is_some(), last_err) {
                    (true, Some(e)) => eprintln!("{e}"),
                    _ => eprintln!("Error: No such object: {n}"),
                }
            }
        }
    }
    if let Some(t) = tpl {
        let mut s = String::new();
        for r in &raws {
            let v: Value =
                serde_json::from_str(r).map_err(|e| CliError::Transport(e.to_string()))?;
            s.push_str(&render(&t, &v)?);
            s.push('\n');
        }
        out(&s);
    } else {
        if raws.is_empty() {
            out("[]\n");
        } else {
            let joined = format!("[{}]", raws.join(","));
            out(&format!("{}\n", crate::jsonfmt::indent(&joined, "    ")));
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// `login`.
pub async fn login(
    ctx: &Ctx,
    username: Option<String>,
    password: Option<String>,
    password_stdin: bool,
    server: Option<String>,
) -> CliResult<i32> {
    let key = crate::auth::server_key(server.as_deref());
    let mut password = password;
    if password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if password_stdin {
        if password.is_some() {
            return Err(CliError::msg(
                "--password and --password-stdin are mutually exclusive",
            ));
        }
        if username.is_none() {
            return Err(CliError::msg(
                "Must provide --username with --password-stdin",
            ));
        }
        let mut p = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut p)?;
        password = Some(p.trim_end_matches(['\n', '\r']).to_string());
    }
    let username = match username {
        Some(u) => u,
        None => {
            print!("Username: ");
            let _ = std::io::stdout().flush();
            let mut u = String::new();
            std::io::stdin().lock().read_line(&mut u)?;
            u.trim().to_string()
        }
    };
    let password = match password {
        Some(p) => p,
        None => {
            print!("Password: ");
            let _ = std::io::stdout().flush();
            let mut p = String::new();
            std::io::stdin().lock().read_line(&mut p)?;
            p.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    if username.is_empty() {
        return Err(CliError::msg("Error: Non-null Username Required"));
    }
    let body = json!({"username": username, "password": password, "serveraddress": key});
    let resp: Value = ctx.client.post_json("/auth", &body).await?;
    let stored_password = resp
        .get("IdentityToken")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    match stored_password {
        Some(token) => crate::auth::store(&ctx.config_dir, &key, "<token>", &token)?,
        None => crate::auth::store(&ctx.config_dir, &key, &username, &password)?,
    }
    eprintln!(
        "WARNING! Your password will be stored unencrypted in {}.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n",
        crate::auth::config_file(&ctx.config_dir).display()
    );
    out("Login Succeeded\n");
    Ok(0)
}

/// `logout`.
pub fn logout(ctx: &Ctx, server: Option<&str>) -> CliResult<i32> {
    let key = crate::auth::server_key(server);
    if crate::auth::remove(&ctx.config_dir, &key)? {
        out(&format!(
            "Removing login credentials for {}\n",
            if key == crate::auth::DEFAULT_INDEX {
                "https://index.docker.io/v1/"
            } else {
                &key
            }
        ));
    } else {
        out(&format!("Not logged in to {key}\n"));
    }
    Ok(0)
}

/// `search`.
pub async fn search(
    ctx: &Ctx,
    filter: Vec<String>,
    limit: Option<i64>,
    no_trunc: bool,
    format: Option<String>,
    term: &str,
) -> CliResult<i32> {
    let mut q = vec![("term", term.to_string())];
    if let Some(l) = limit {
        q.push(("limit", l.to_string()));
    }
    let f = filters(&filter)?;
    if !f.is_empty() {
        q.push(("filters", f.to_json()));
    }
    let auth = crate::auth::registry_auth_header(&ctx.config_dir, term);
    let resp = ctx
        .client
        .request(
            Method::GET,
            &format!("/images/search{}", query(&q)),
            None,
            false,
            &[("X-Registry-Auth", auth)],
        )
        .await?;
    let list: Vec<Value> = serde_json::from_slice(&crate::transport::read_all(resp).await?)
        .map_err(|e| CliError::Transport(e.to_string()))?;
    let rows: Vec<Value> = list
        .iter()
        .map(|r| {
            let desc = r.get("description").and_then(|d| d.as_str()).unwrap_or("").replace('\n', " ");
            let desc = if no_trunc { desc } else { berth_cli_format::units::ellipsis(&desc, 45) };
            json!({
                "Name": r.get("name").and_then(|n| n.as_str()).unwrap_or(""),
                "Description": desc,
                "StarCount": r.get("star_count").and_then(|n| n.as_i64()).unwrap_or(0).to_string(),
                "IsOfficial": if r.get("is_official").and_then(|b| b.as_bool()).unwrap_or(false) { "[OK]" } else { "" },
            })
        })
        .collect();
    let headers = json!({"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL"});
    let f = Format::parse(
        format.as_deref().unwrap_or(""),
        "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}",
    )
    .map_err(|e| CliError::msg(e.to_string()))?;
    out(&f
        .render(&rows, &headers)
        .map_err(|e| CliError::msg(e.to_string()))?);
    Ok(0)
}

/// `events`: one line per event until `--until` or interrupted.
pub async fn events(
    ctx: &Ctx,
    since: Option<String>,
    until: Option<String>,
    filter: Vec<String>,
    format: Option<String>,
) -> CliResult<i32> {
    let mut q = Vec::new();
    if let Some(s) = since {
        q.push(("since", s));
    }
    if let Some(u) = until {
        q.push(("until", u));
    }
    let f = filters(&filter)?;
    if !f.is_empty() {
        q.push(("filters", f.to_json()));
    }
    let tpl = match format.as_deref().filter(|f| !f.is_empty() && *f != "json") {
        Some(f) => Some(template(f)?),
        None => None,
    };
    let json_out = format.as_deref() == Some("json");
    let resp = ctx
        .client
        .request(
            Method::GET,
            &format!("/events{}", query(&q)),
            None,
            false,
            &[],
        )
        .await?;
    let mut lines = BodyLines::new(resp.into_body());
    while let Some(line) = lines.next_line().await? {
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        let text = if json_out {
            berth_cli_format::template::json_func(&v)
        } else if let Some(t) = &tpl {
            render(t, &v)?
        } else {
            event_line(&v)
        };
        out(&format!("{text}\n"));
    }
    Ok(0)
}

/// docker's default event line: `<local time> <type> <action> <id> (k=v, …)`.
fn event_line(v: &Value) -> String {
    berth_cli_format::events::Message::from_value(v).docker_line()
}

/// `system df`.
pub async fn df(ctx: &Ctx, verbose: bool, format: Option<String>) -> CliResult<i32> {
    let v: Value = ctx.client.get_json("/system/df").await?;
    if verbose && format.as_deref().is_none_or(str::is_empty) {
        out(&df_verbose(&v)?);
        return Ok(0);
    }
    let arr = |k: &str| {
        v.get(k)
            .and_then(|a| a.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let images = arr("Images");
    let containers = arr("Containers");
    let volumes = arr("Volumes");
    let cache = arr("BuildCache");
    let int = |x: &Value, k: &str| x.get(k).and_then(|n| n.as_i64()).unwrap_or(0);
    let img_size: i64 = images.iter().map(|i| int(i, "Size")).sum();
    let img_active = images.iter().filter(|i| int(i, "Containers") > 0).count();
    let img_reclaim: i64 = images
        .iter()
        .filter(|i| int(i, "Containers") <= 0)
        .map(|i| int(i, "Size"))
        .sum();
    let c_size: i64 = containers.iter().map(|c| int(c, "SizeRw")).sum();
    let c_active = containers
        .iter()
        .filter(|c| c.get("State").and_then(|s| s.as_str()) == Some("running"))
        .count();
    let c_reclaim: i64 = containers
        .iter()
        .filter(|c| c.get("State").and_then(|s| s.as_str()) != Some("running"))
        .map(|c| int(c, "SizeRw"))
        .sum();
    let v_size: i64 = volumes
        .iter()
        .map(|x| {
            x.pointer("/UsageData/Size")
                .and_then(|n| n.as_i64())
                .unwrap_or(0)
        })
        .sum();
    let v_used = |x: &Value| {
        x.pointer("/UsageData/RefCount")
            .and_then(|n| n.as_i64())
            .unwrap_or(0)
            > 0
    };
    let v_active = volumes.iter().filter(|x| v_used(x)).count();
    let v_reclaim: i64 = volumes
        .iter()
        .filter(|x| !v_used(x))
        .map(|x| {
            x.pointer("/UsageData/Size")
                .and_then(|n| n.as_i64())
                .unwrap_or(0)
        })
        .sum();
    let pct = |r: i64, t: i64| {
        if t > 0 {
            format!("{} ({}%)", docker_size(r), r * 100 / t)
        } else {
            docker_size(r)
        }
    };
    let rows = vec![
        json!({"Type": "Images", "TotalCount": images.len().to_string(), "Active": img_active.to_string(), "Size": docker_size(img_size), "Reclaimable": pct(img_reclaim, img_size)}),
        json!({"Type": "Containers", "TotalCount": containers.len().to_string(), "Active": c_active.to_string(), "Size": docker_size(c_size), "Reclaimable": pct(c_reclaim, c_size)}),
        json!({"Type": "Local Volumes", "TotalCount": volumes.len().to_string(), "Active": v_active.to_string(), "Size": docker_size(v_size), "Reclaimable": pct(v_reclaim, v_size)}),
        json!({"Type": "Build Cache", "TotalCount": cache.len().to_string(), "Active": "0", "Size": "0B", "Reclaimable": "0B"}),
    ];
    let headers = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    let f = Format::parse(
        format.as_deref().unwrap_or(""),
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
    )
    .map_err(|e| CliError::msg(e.to_string()))?;
    out(&f
        .render(&rows, &headers)
        .map_err(|e| CliError::msg(e.to_string()))?);
    Ok(0)
}

/// `system df -v`: one table per kind, as docker prints them.
fn df_verbose(v: &Value) -> CliResult<String> {
    use berth_api_types::{ContainerSummary, ImageSummary};
    use berth_cli_format::rows::{container_row, image_rows, images_headers, ps_headers};
    let now = std::time::SystemTime::now();
    let list = |k: &str| {
        v.get(k)
            .and_then(|a| a.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let render = |rows: &[Value], headers: &Value, table: &str| -> CliResult<String> {
        Format::parse(table, table)
            .and_then(|f| f.render(rows, headers))
            .map_err(|e| CliError::msg(e.to_string()))
    };
    let mut text = String::from("Images space usage:\n\n");
    let images: Vec<Value> = list("Images")
        .into_iter()
        .filter_map(|i| berth_api_types::json::from_value::<ImageSummary>(i).ok())
        .filter_map(|i| image_rows(&i, now, true).into_iter().next())
        .collect();
    text.push_str(&render(
        &images,
        &images_headers(),
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
    )?);
    text.push_str("\nContainers space usage:\n\n");
    let containers: Vec<Value> = list("Containers")
        .into_iter()
        .filter_map(|c| berth_api_types::json::from_value::<ContainerSummary>(c).ok())
        .map(|c| {
            let mut row = container_row(&c, now, true);
            row["Size"] = json!(docker_size(c.size_rw.unwrap_or(0)));
            row
        })
        .collect();
    text.push_str(&render(
        &containers,
        &ps_headers(),
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
    )?);
    text.push_str("\nLocal Volumes space usage:\n\n");
    let volumes: Vec<Value> = list("Volumes")
        .iter()
        .map(|x| {
            let size = x.pointer("/UsageData/Size").and_then(|n| n.as_i64()).unwrap_or(-1);
            json!({
                "Name": x.get("Name").and_then(|n| n.as_str()).unwrap_or(""),
                "Links": x.pointer("/UsageData/RefCount").and_then(|n| n.as_i64()).unwrap_or(0).to_string(),
                "Size": if size < 0 { "N/A".to_string() } else { docker_size(size) },
            })
        })
        .collect();
    text.push_str(&render(
        &volumes,
        &json!({"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}),
        "table {{.Name}}\t{{.Links}}\t{{.Size}}",
    )?);
    // berth has no build cache yet: docker prints the empty table.
    text.push_str("\nBuild cache usage: 0B\n\n");
    text.push_str(&tabwrite(
        "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED",
    ));
    text.push('\n');
    Ok(text)
}

/// `system prune`.
pub async fn prune(
    ctx: &Ctx,
    all: bool,
    force: bool,
    volumes: bool,
    filter: Vec<String>,
) -> CliResult<i32> {
    let mut warning = String::from("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n");
    if volumes {
        warning.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    warning.push_str(if all {
        "  - all images without at least one container associated to them\n"
    } else {
        "  - all dangling images\n"
    });
    warning.push_str("  - unused build cache\n");
    if !force && !confirm(&warning)? {
        return Ok(0);
    }
    let f = filters(&filter)?;
    let fq = if f.is_empty() {
        String::new()
    } else {
        query(&[("filters", f.to_json())])
    };
    let mut total = 0i64;
    let c: Value = ctx
        .client
        .post_json(&format!("/containers/prune{fq}"), &json!(null))
        .await?;
    total += c
        .get("SpaceReclaimed")
        .and_then(|n| n.as_i64())
        .unwrap_or(0);
    let _: Value = ctx
        .client
        .post_json(&format!("/networks/prune{fq}"), &json!(null))
        .await?;
    if volumes {
        let v: Value = ctx
            .client
            .post_json(&format!("/volumes/prune{fq}"), &json!(null))
            .await?;
        total += v
            .get("SpaceReclaimed")
            .and_then(|n| n.as_i64())
            .unwrap_or(0);
    }
    let mut fi = f.clone();
    fi.add("dangling", if all { "false" } else { "true" });
    let i: Value = ctx
        .client
        .post_json(
            &format!("/images/prune{}", query(&[("filters", fi.to_json())])),
            &json!(null),
        )
        .await?;
    total += i
        .get("SpaceReclaimed")
        .and_then(|n| n.as_i64())
        .unwrap_or(0);
    let mut s = String::new();
    if let Some(list) = c
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
    s.push_str(&format!("Total reclaimed space: {}\n", docker_size(total)));
    out(&s);
    Ok(0)
}

/// docker shows build times in Go's `time.ANSIC` ("Thu Jan  1 00:00:00 2026"), in UTC here.
pub fn ansic(rfc3339: &str) -> String {
    let Some(t) = berth_units::parse_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    let c = t.civil();
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        c.weekday_abbrev(),
        c.month_abbrev(),
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.year
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn ansic_dates() {
        assert_eq!(
            super::ansic("2026-01-01T00:00:00Z"),
            "Thu Jan  1 00:00:00 2026"
        );
        assert_eq!(
            super::ansic("2024-02-29T13:05:09Z"),
            "Thu Feb 29 13:05:09 2024"
        );
    }
}
