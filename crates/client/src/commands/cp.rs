//! `cp`: tar over `/containers/{id}/archive`, both directions, `-` for stdin/stdout.

use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use hyper::Method;

use super::Ctx;
use crate::error::{CliError, CliResult};
use crate::transport::{full, query, read_all, seg};

/// Splits `container:path`; None for a local path.
fn split_container(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    arg.split_once(':')
}

/// `cp SRC DST`.
pub async fn cp(ctx: &Ctx, src: &str, dst: &str, quiet: bool, archive: bool) -> CliResult<i32> {
    match (split_container(src), split_container(dst)) {
        (Some((c, p)), None) => from_container(ctx, c, p, dst, quiet).await,
        (None, Some((c, p))) => to_container(ctx, src, c, p, quiet, archive).await,
        (Some(_), Some(_)) => Err(CliError::msg("copying between containers is not supported")),
        (None, None) => Err(CliError::msg("must specify at least one container source")),
    }
}

async fn from_container(
    ctx: &Ctx,
    container: &str,
    path: &str,
    dst: &str,
    quiet: bool,
) -> CliResult<i32> {
    let resp = ctx
        .client
        .request(
            Method::GET,
            &format!(
                "/containers/{}/archive{}",
                seg(container),
                query(&[("path", path.to_string())])
            ),
            None,
            false,
            &[],
        )
        .await?;
    let data = read_all(resp).await?;
    if dst == "-" {
        super::out_bytes(&data);
        return Ok(0);
    }
    let dst = Path::new(dst);
    let into_dir = dst.is_dir();
    let mut ar = tar::Archive::new(&data[..]);
    let mut copied = 0u64;
    for entry in ar.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.into_owned();
        let mut comps = name
            .components()
            .filter(|c| !matches!(c, Component::CurDir));
        let Some(first) = comps.next() else { continue };
        let rest: PathBuf = comps.collect();
        if rest
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
            || !matches!(first, Component::Normal(_))
        {
            return Err(CliError::msg(format!(
                "invalid path in archive: {}",
                name.display()
            )));
        }
        let base = if into_dir {
            dst.join(first.as_os_str())
        } else {
            dst.to_path_buf()
        };
        let target = if rest.as_os_str().is_empty() {
            base
        } else {
            base.join(rest)
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        copied += entry.size();
        entry.set_preserve_permissions(true);
        entry.unpack(&target)?;
    }
    if !quiet && crate::terminal::stderr_is_tty() {
        eprintln!(
            "Successfully copied {} to {}",
            berth_cli_format::units::human_size(copied as f64),
            dst.display()
        );
    }
    Ok(0)
}

async fn to_container(
    ctx: &Ctx,
    src: &str,
    container: &str,
    path: &str,
    quiet: bool,
    archive: bool,
) -> CliResult<i32> {
    // Where to extract, and under which name.
    let (dir, name, body) = if src == "-" {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)?;
        (path.to_string(), None, v)
    } else {
        let srcp = Path::new(src);
        if std::fs::symlink_metadata(srcp).is_err() {
            return Err(CliError::msg(format!(
                "lstat {}: no such file or directory",
                srcp.display()
            )));
        }
        let stat = ctx
            .client
            .request(
                Method::HEAD,
                &format!(
                    "/containers/{}/archive{}",
                    seg(container),
                    query(&[("path", path.to_string())])
                ),
                None,
                false,
                &[],
            )
            .await;
        let dst_is_dir = match &stat {
            Ok(r) => r
                .headers()
                .get("X-Docker-Container-Path-Stat")
                .and_then(|h| h.to_str().ok())
                .and_then(|h| base64::engine::general_purpose::STANDARD.decode(h).ok())
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v.get("mode").and_then(|m| m.as_u64()))
                .is_some_and(|m| m & (1 << 31) != 0),
            Err(e) if e.is_not_found() => false,
            Err(_) => false,
        };
        let src_name = srcp
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| ".".into());
        let (dir, name) = if dst_is_dir || path.ends_with('/') {
            (path.to_string(), src_name)
        } else {
            let p = Path::new(path);
            (
                p.parent()
                    .map(|d| d.to_string_lossy().into_owned())
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| "/".into()),
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(src_name),
            )
        };
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(false);
        if srcp.is_dir() {
            b.append_dir_all(&name, srcp)?;
        } else {
            b.append_path_with_name(srcp, &name)?;
        }
        let v = b.into_inner()?;
        (dir, Some(name), v)
    };
    let mut q = vec![
        ("path", dir.clone()),
        ("noOverwriteDirNonDir", "true".to_string()),
    ];
    if archive {
        q.push(("copyUIDGID", "true".into()));
    }
    let len = body.len();
    ctx.client
        .request(
            Method::PUT,
            &format!("/containers/{}/archive{}", seg(container), query(&q)),
            Some(full(body)),
            false,
            &[("Content-Type", "application/x-tar".into())],
        )
        .await?;
    if !quiet && crate::terminal::stderr_is_tty() && name.is_some() {
        eprintln!(
            "Successfully copied {} to {container}:{path}",
            berth_cli_format::units::human_size(len as f64)
        );
    }
    Ok(0)
}
