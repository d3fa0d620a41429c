//! run, create, start, attach, exec: creating containers and driving hijacked sessions.

use berth_api_types::{ContainerCreateResponse, ContainerInspect, ExecInspect};
use hyper::Method;
use serde_json::json;

use super::{out, Ctx};
use crate::cli::CreateOpts;
use crate::error::{CliError, CliResult};
use crate::runopts;
use crate::session::{self, Ended};
use crate::terminal;
use crate::transport::{query, read_all, seg};

/// docker's exit status for a failed `run`/`create`, derived from the error text.
pub fn run_error_status(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

pub(crate) fn status_error(cmd: &str, e: CliError) -> CliError {
    let text = e.to_string();
    let code = match &e {
        CliError::Status(c) => return CliError::Status(*c),
        _ => run_error_status(&text),
    };
    eprintln!("berth: {text}\n\nRun 'berth {cmd} --help' for more information");
    CliError::Status(code)
}

/// Normalises an image reference the way the daemon tags pulls (`busybox` → `busybox:latest`).
fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// Creates the container, pulling the image first when it is missing (like docker).
async fn create(
    ctx: &Ctx,
    opts: &CreateOpts,
    attach_std: bool,
    auto_remove: bool,
) -> CliResult<String> {
    let mut req = runopts::build(opts, attach_std)?;
    if let Some(hc) = req.host_config.as_mut() {
        hc.auto_remove = auto_remove;
    }
    let mut q = Vec::new();
    if let Some(n) = &opts.name {
        q.push(("name", n.clone()));
    }
    if let Some(p) = &opts.platform {
        q.push(("platform", p.clone()));
    }
    let path = format!("/containers/create{}", query(&q));
    if opts.pull == "always" {
        super::image::pull(ctx, &opts.image, opts.quiet, opts.platform.clone(), true).await?;
    }
    let resp: CliResult<ContainerCreateResponse> = ctx.client.post_json(&path, &req).await;
    let resp = match resp {
        Err(e)
            if e.is_not_found()
                && e.daemon_message()
                    .is_some_and(|m| m.contains("No such image"))
                && opts.pull != "never" =>
        {
            eprintln!("Unable to find image '{}' locally", with_tag(&opts.image));
            super::image::pull(ctx, &opts.image, opts.quiet, opts.platform.clone(), true).await?;
            ctx.client.post_json(&path, &req).await?
        }
        other => other?,
    };
    for w in &resp.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(resp.id)
}

/// `create`.
pub async fn create_cmd(ctx: &Ctx, opts: CreateOpts) -> CliResult<i32> {
    let id = create(ctx, &opts, true, false)
        .await
        .map_err(|e| status_error("create", e))?;
    out(&format!("{id}\n"));
    Ok(0)
}

/// Attach query for a session.
fn attach_path(
    id: &str,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    logs: bool,
    detach_keys: &Option<String>,
) -> String {
    let mut q = vec![("stream", "1".to_string())];
    if logs {
        q.push(("logs", "1".into()));
    }
    if stdin {
        q.push(("stdin", "1".into()));
    }
    if stdout {
        q.push(("stdout", "1".into()));
    }
    if stderr {
        q.push(("stderr", "1".into()));
    }
    if let Some(k) = detach_keys {
        q.push(("detachKeys", k.clone()));
    }
    format!("/containers/{}/attach{}", seg(id), query(&q))
}

/// Registers a wait (the response headers arrive at once) and returns the exit code later.
async fn start_wait(
    ctx: &Ctx,
    id: &str,
    condition: &str,
) -> CliResult<tokio::task::JoinHandle<CliResult<i32>>> {
    let resp = ctx
        .client
        .request(
            Method::POST,
            &format!(
                "/containers/{}/wait{}",
                seg(id),
                query(&[("condition", condition.to_string())])
            ),
            None,
            false,
            &[],
        )
        .await?;
    Ok(tokio::spawn(async move {
        let body = read_all(resp).await?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| CliError::Transport(e.to_string()))?;
        if let Some(msg) = v
            .pointer("/Error/Message")
            .and_then(|m| m.as_str())
            .filter(|m| !m.is_empty())
        {
            return Err(CliError::msg(msg));
        }
        Ok(exit_status(
            v.get("StatusCode").and_then(|c| c.as_i64()).unwrap_or(0),
        ))
    }))
}

/// `run`.
pub async fn run(
    ctx: &Ctx,
    opts: CreateOpts,
    detach: bool,
    rm: bool,
    sig_proxy: bool,
) -> CliResult<i32> {
    if detach && !opts.attach.is_empty() {
        return Err(status_error(
            "run",
            CliError::msg("Conflicting options: -a and -d"),
        ));
    }
    let tty = opts.tty;
    if tty && opts.interactive && !detach && !terminal::stdin_is_tty() {
        return Err(status_error(
            "run",
            CliError::msg("the input device is not a TTY"),
        ));
    }
    let keys =
        session::detach_keys(ctx, opts.detach_keys.clone()).map_err(|e| status_error("run", e))?;
    let id = create(ctx, &opts, !detach, rm)
        .await
        .map_err(|e| status_error("run", e))?;
    if detach {
        ctx.client
            .post(&format!("/containers/{}/start", seg(&id)))
            .await
            .map_err(|e| status_error("run", e))?;
        out(&format!("{id}\n"));
        return Ok(0);
    }
    if sig_proxy {
        session::proxy_signals(ctx, &id);
    }
    let (a_in, a_out, a_err) = runopts::attached_streams(&opts, true);
    let conn = if a_in || a_out || a_err {
        Some(
            ctx.client
                .hijack(&attach_path(&id, a_in, a_out, a_err, false, &keys), None)
                .await
                .map_err(|e| status_error("run", e))?,
        )
    } else {
        None
    };
    let waiter = start_wait(ctx, &id, if rm { "removed" } else { "next-exit" })
        .await
        .map_err(|e| status_error("run", e))?;
    if let Err(e) = ctx
        .client
        .post(&format!("/containers/{}/start", seg(&id)))
        .await
    {
        return Err(status_error("run", e));
    }
    if tty && terminal::stdout_is_tty() {
        session::watch_resize(ctx, format!("/containers/{}", seg(&id)));
    }
    if let Some(conn) = conn {
        if session::pump(conn, tty, a_in, keys.as_deref()).await? == Ended::Detached {
            return Ok(0);
        }
    }
    match waiter.await {
        Ok(Ok(code)) => Ok(code),
        Ok(Err(e)) => Err(status_error("run", e)),
        Err(_) => Ok(125),
    }
}

/// `start`.
pub async fn start(
    ctx: &Ctx,
    attach: bool,
    interactive: bool,
    detach_keys: Option<String>,
    names: Vec<String>,
) -> CliResult<i32> {
    let keys = session::detach_keys(ctx, detach_keys)?;
    if attach || interactive {
        if names.len() > 1 {
            return Err(CliError::msg(
                "you cannot start and attach multiple containers at once",
            ));
        }
        let name = &names[0];
        let c: ContainerInspect = ctx
            .client
            .get_json(&format!("/containers/{}/json", seg(name)))
            .await?;
        let tty = c.config.tty;
        if !tty {
            session::proxy_signals(ctx, &c.id);
        }
        let stdin = interactive && c.config.open_stdin;
        let conn = ctx
            .client
            .hijack(&attach_path(&c.id, stdin, true, true, false, &keys), None)
            .await?;
        let condition = if c.host_config.auto_remove {
            "removed"
        } else {
            "next-exit"
        };
        let waiter = start_wait(ctx, &c.id, condition).await?;
        ctx.client
            .post(&format!("/containers/{}/start", seg(&c.id)))
            .await?;
        if tty && terminal::stdout_is_tty() {
            session::watch_resize(ctx, format!("/containers/{}", seg(&c.id)));
        }
        if session::pump(conn, tty, stdin, keys.as_deref()).await? == Ended::Detached {
            return Ok(0);
        }
        return match waiter.await {
            Ok(r) => r,
            Err(_) => Ok(1),
        };
    }
    super::for_each(&names, |n| async move {
        ctx.client
            .post(&format!("/containers/{}/start", seg(&n)))
            .await?;
        out(&format!("{n}\n"));
        Ok(())
    })
    .await
    .map(|code| if code != 0 { 1 } else { 0 })
}

/// `attach`.
pub async fn attach(
    ctx: &Ctx,
    name: &str,
    stdin: bool,
    sig_proxy: bool,
    detach_keys: Option<String>,
) -> CliResult<i32> {
    let keys = session::detach_keys(ctx, detach_keys)?;
    let c: ContainerInspect = ctx
        .client
        .get_json(&format!("/containers/{}/json", seg(name)))
        .await?;
    if !c.state.running {
        return Err(CliError::msg(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if c.state.paused {
        return Err(CliError::msg(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    if stdin && c.config.tty && !terminal::stdin_is_tty() {
        return Err(CliError::msg("the input device is not a TTY"));
    }
    // Registered before attaching, so a quick exit is not missed (docker waits on
    // "not-running" the same way).
    let waiter = start_wait(ctx, &c.id, "not-running").await?;
    if sig_proxy && !c.config.tty {
        session::proxy_signals(ctx, &c.id);
    }
    let stdin = stdin && c.config.open_stdin;
    let conn = ctx
        .client
        .hijack(&attach_path(&c.id, stdin, true, true, false, &keys), None)
        .await?;
    if c.config.tty && terminal::stdout_is_tty() {
        session::watch_resize(ctx, format!("/containers/{}", seg(&c.id)));
    }
    if session::pump(conn, c.config.tty, stdin, keys.as_deref()).await? == Ended::Detached {
        return Err(CliError::msg(session::ESCAPE_MESSAGE));
    }
    match waiter.await {
        Ok(r) => r,
        Err(_) => Ok(1),
    }
}

/// Flags of `exec`.
pub struct ExecArgs {
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    pub env: Vec<String>,
    pub env_file: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub privileged: bool,
    pub detach_keys: Option<String>,
    pub container: String,
    pub command: Vec<String>,
}

/// `exec`.
pub async fn exec(ctx: &Ctx, a: ExecArgs) -> CliResult<i32> {
    let mut env = runopts::read_env_files(&a.env_file)?;
    env.extend(a.env.iter().cloned());
    let mut config = json!({
        "AttachStdin": a.interactive && !a.detach,
        "AttachStdout": !a.detach,
        "AttachStderr": !a.detach,
        "Tty": a.tty,
        "Env": env,
        "Cmd": a.command,
        "Privileged": a.privileged,
    });
    if let Some(w) = &a.workdir {
        config["WorkingDir"] = json!(w);
    }
    if let Some(u) = &a.user {
        config["User"] = json!(u);
    }
    let keys = session::detach_keys(ctx, a.detach_keys.clone())?;
    if let Some(k) = &keys {
        config["DetachKeys"] = json!(k);
    }
    let _: ContainerInspect = ctx
        .client
        .get_json(&format!("/containers/{}/json", seg(&a.container)))
        .await?;
    if !a.detach && a.tty && a.interactive && !terminal::stdin_is_tty() {
        return Err(CliError::msg("the input device is not a TTY"));
    }
    let console_size = if a.tty { terminal::size() } else { None };
    if let Some((h, w)) = console_size {
        config["ConsoleSize"] = json!([h, w]);
    }
    let created: serde_json::Value = ctx
        .client
        .post_json(&format!("/containers/{}/exec", seg(&a.container)), &config)
        .await?;
    let id = created
        .get("Id")
        .and_then(|i| i.as_str())
        .unwrap_or_default()
        .to_string();
    let mut start = json!({"Detach": a.detach, "Tty": a.tty});
    if let Some((h, w)) = console_size {
        start["ConsoleSize"] = json!([h, w]);
    }
    if a.detach {
        ctx.client
            .call(Method::POST, &format!("/exec/{id}/start"), Some(&start))
            .await?;
        return Ok(0);
    }
    let conn = ctx
        .client
        .hijack(&format!("/exec/{id}/start"), Some(&start))
        .await?;
    if a.tty && terminal::stdin_is_tty() {
        session::watch_resize(ctx, format!("/exec/{id}"));
    }
    if session::pump(conn, a.tty, a.interactive, keys.as_deref()).await? == Ended::Detached {
        return Err(CliError::msg(session::ESCAPE_MESSAGE));
    }
    let info: ExecInspect = ctx.client.get_json(&format!("/exec/{id}/json")).await?;
    Ok(exit_status(info.exit_code.unwrap_or(0)))
}

/// A container's or exec's status as this process's exit code; one past `i32` (no daemon
/// sends it) is a failure.
fn exit_status(status: i64) -> i32 {
    i32::try_from(status).unwrap_or(255)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_from_message() {
        assert_eq!(
            run_error_status(
                "failed to create task: exec: \"nope\": executable file not found in $PATH"
            ),
            127
        );
        assert_eq!(run_error_status("exec /x: permission denied"), 126);
        assert_eq!(run_error_status("No such image: x"), 125);
    }
}
