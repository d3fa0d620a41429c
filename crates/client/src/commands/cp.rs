//! `cp`: tar over `/containers/{id}/archive`, both directions, `-` for stdin/stdout, with the
//! docker CLI's naming rules (`archive.PrepareArchiveCopy`): an existing directory receives
//! the source under its own name (or its contents for `src/.`), anything else is created
//! under the destination's name in the destination's parent.

use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use hyper::Method;

use super::Ctx;
use crate::error::{CliError, CliResult};
use crate::transport::{full, query, read_all, seg};

/// Go's `os.ModeDir` / `os.ModeSymlink` in the path-stat header.
const MODE_DIR: u64 = 1 << 31;
const MODE_SYMLINK: u64 = 1 << 27;

/// Splits `container:path`; None for a local path.
fn split_container(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    arg.split_once(':')
}

/// `cp SRC DST`.
pub async fn cp(
    ctx: &Ctx,
    src: &str,
    dst: &str,
    quiet: bool,
    archive: bool,
    follow: bool,
) -> CliResult<i32> {
    match (split_container(src), split_container(dst)) {
        (Some((c, p)), None) => from_container(ctx, c, p, dst, quiet, follow).await,
        (None, Some((c, p))) => to_container(ctx, src, c, p, quiet, archive, follow).await,
        (Some(_), Some(_)) => Err(CliError::msg("copying between containers is not supported")),
        (None, None) => Err(CliError::msg("must specify at least one container source")),
    }
}

/// The decoded `X-Docker-Container-Path-Stat` header.
#[derive(Debug, Default, Clone)]
struct PathStat {
    mode: u64,
    link_target: String,
}

fn path_stat(resp: &hyper::Response<hyper::body::Incoming>) -> PathStat {
    let v = resp
        .headers()
        .get("X-Docker-Container-Path-Stat")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| base64::engine::general_purpose::STANDARD.decode(h).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .unwrap_or_default();
    PathStat {
        mode: v.get("mode").and_then(|m| m.as_u64()).unwrap_or(0),
        link_target: v
            .get("linkTarget")
            .and_then(|m| m.as_str())
            .unwrap_or("")
            .to_string(),
    }
}

async fn stat(ctx: &Ctx, container: &str, path: &str) -> CliResult<PathStat> {
    let resp = ctx
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
        .await?;
    Ok(path_stat(&resp))
}

/// Docker's `SplitPathDirEntry` base: `.` for `dir/.`, `/` for the root, else the last name.
fn docker_base(path: &str) -> String {
    if path == "." || path.ends_with("/.") {
        return ".".into();
    }
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .next_back()
        .unwrap_or_else(|| "/".into())
}

/// `filepath.Dir` of a path (for where a renamed copy is extracted).
fn parent_of(path: &str) -> String {
    let p = Path::new(path.trim_end_matches('/'));
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
        _ if path.starts_with('/') => "/".into(),
        _ => ".".into(),
    }
}

/// Where an archive of `src` goes and how its entries are renamed (`PrepareArchiveCopy`).
struct Plan {
    /// The directory to extract into.
    dir: String,
    /// Replace the first `old` with `new` in each entry name.
    rebase: Option<(String, String)>,
}

fn plan(
    src_is_dir: bool,
    src_base: &str,
    dst: &str,
    dst_exists: bool,
    dst_is_dir: bool,
) -> CliResult<Plan> {
    let dst_base = docker_base(dst);
    let renamed = || Plan {
        dir: parent_of(dst),
        rebase: Some((src_base.to_string(), dst_base.clone())),
    };
    if dst_exists && dst_is_dir {
        return Ok(Plan {
            dir: dst.to_string(),
            rebase: None,
        });
    }
    if dst_exists && src_is_dir {
        return Err(CliError::msg("cannot copy a directory to a file"));
    }
    if !dst_exists && !src_is_dir && (dst.ends_with('/') || dst.ends_with("/.")) {
        return Err(CliError::msg("no such directory"));
    }
    Ok(renamed())
}

/// Docker's `RebaseArchiveEntries` on one name (`/` as the old base matches the leading
/// separator every root entry has).
fn rebase(name: &[u8], old: &str, new: &str) -> Vec<u8> {
    let old: &[u8] = if old == "/" { b"" } else { old.as_bytes() };
    match name.windows(old.len().max(1)).position(|w| w == old) {
        _ if old.is_empty() => [new.as_bytes(), name].concat(),
        Some(i) => [&name[..i], new.as_bytes(), &name[i + old.len()..]].concat(),
        None => name.to_vec(),
    }
}

/// The local path an entry extracts to under `dir`, refusing names that leave it and parents
/// that are symlinks (a hostile archive must not write through them).
fn local_target(dir: &Path, name: &[u8]) -> CliResult<Option<PathBuf>> {
    let invalid = || {
        CliError::msg(format!(
            "invalid path in archive: {}",
            String::from_utf8_lossy(name)
        ))
    };
    let rel = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name));
    let mut out = dir.to_path_buf();
    let mut comps = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => comps.push(n),
            Component::ParentDir => return Err(invalid()),
            _ => {}
        }
    }
    if comps.is_empty() {
        return Ok(None);
    }
    for (i, c) in comps.iter().enumerate() {
        out.push(c);
        let last = i + 1 == comps.len();
        if !last && std::fs::symlink_metadata(&out).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(invalid());
        }
    }
    Ok(Some(out))
}

/// docker's `createTarFile` check: a symlink's target, joined to its directory, stays in
/// the extraction directory (absolute targets are joined too, so they always stay).
fn link_stays_in(dir: &Path, link_path: &Path, target: &[u8]) -> bool {
    let mut out: Vec<Component<'_>> = Vec::new();
    let parent = link_path.parent().unwrap_or(dir);
    let t = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(target));
    for c in parent.components().chain(t.components()) {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir | Component::RootDir if !out.is_empty() => {}
            c => out.push(c),
        }
    }
    out.iter().collect::<PathBuf>().starts_with(dir)
}

/// Extracts a tar (a container's export) into `dir` with the same checks as `cp` (no `..`,
/// no writing through symlinked parents, links staying inside); hard links are made to
/// their in-archive targets under `dir`.
pub(crate) fn extract_into(dir: &Path, r: impl std::io::Read) -> CliResult<()> {
    let mut ar = tar::Archive::new(r);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let name = entry.path_bytes().into_owned();
        let Some(target) = local_target(dir, &name)? else {
            continue;
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            let link = entry.link_name_bytes().unwrap_or_default().into_owned();
            if !link_stays_in(dir, &target, &link) {
                return Err(CliError::msg(format!(
                    "invalid symlink {:?} -> {:?}",
                    target.display().to_string(),
                    String::from_utf8_lossy(&link)
                )));
            }
        }
        if kind.is_hard_link() {
            let link = entry.link_name_bytes().unwrap_or_default().into_owned();
            let Some(src) = local_target(dir, &link)? else {
                continue;
            };
            let _ = std::fs::remove_file(&target);
            std::fs::hard_link(&src, &target)?;
            continue;
        }
        if kind.is_block_special() || kind.is_character_special() || kind.is_fifo() {
            continue;
        }
        entry.set_preserve_permissions(true);
        entry.set_preserve_mtime(true);
        entry.unpack(&target)?;
    }
    Ok(())
}

async fn from_container(
    ctx: &Ctx,
    container: &str,
    path: &str,
    dst: &str,
    quiet: bool,
    follow: bool,
) -> CliResult<i32> {
    let mut src_path = path.to_string();
    let mut rebase_name: Option<String> = None;
    if follow {
        let st = stat(ctx, container, path).await?;
        if st.mode & MODE_SYMLINK != 0 {
            let mut target = st.link_target.clone();
            if !target.starts_with('/') {
                target = format!("{}/{target}", parent_of(path));
            }
            if path.ends_with("/.") && !target.ends_with("/.") {
                target.push_str("/.");
            } else if path.ends_with('/') && !target.ends_with('/') {
                target.push('/');
            }
            if docker_base(path) != docker_base(&target) {
                rebase_name = Some(docker_base(path));
            }
            src_path = target;
        }
    }
    let resp = ctx
        .client
        .request(
            Method::GET,
            &format!(
                "/containers/{}/archive{}",
                seg(container),
                query(&[("path", src_path.clone())])
            ),
            None,
            false,
            &[],
        )
        .await?;
    let st = path_stat(&resp);
    let data = read_all(resp).await?;
    if dst == "-" {
        super::out_bytes(&data);
        return Ok(0);
    }
    let mut src_base = docker_base(&src_path);
    let mut renames: Vec<(String, String)> = Vec::new();
    if let Some(r) = &rebase_name {
        renames.push((src_base.clone(), r.clone()));
        src_base = r.clone();
    }
    let dmeta = std::fs::metadata(dst);
    let p = plan(
        st.mode & MODE_DIR != 0,
        &src_base,
        dst,
        dmeta.is_ok(),
        dmeta.as_ref().is_ok_and(|m| m.is_dir()),
    )?;
    renames.extend(p.rebase);
    let dir = PathBuf::from(&p.dir);
    let mut ar = tar::Archive::new(&data[..]);
    let mut copied = 0u64;
    for entry in ar.entries()? {
        let mut entry = entry?;
        let mut name = entry.path_bytes().into_owned();
        for (old, new) in &renames {
            name = rebase(&name, old, new);
        }
        let Some(target) = local_target(&dir, &name)? else {
            continue;
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if entry.header().entry_type().is_symlink() {
            let link = entry.link_name_bytes().unwrap_or_default().into_owned();
            if !link_stays_in(&dir, &target, &link) {
                return Err(CliError::msg(format!(
                    "invalid symlink {:?} -> {:?}",
                    target.display().to_string(),
                    String::from_utf8_lossy(&link)
                )));
            }
        }
        copied += entry.size();
        entry.set_preserve_permissions(true);
        entry.set_preserve_mtime(true);
        entry.unpack(&target)?;
    }
    if !quiet && crate::terminal::stderr_is_tty() {
        eprintln!(
            "Successfully copied {} to {dst}",
            berth_cli_format::units::human_size(copied as f64),
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
    follow: bool,
) -> CliResult<i32> {
    // The destination, a symlink there evaluated as docker does.
    let mut dst_path = path.to_string();
    let mut dst = stat(ctx, container, path).await;
    if let Ok(st) = &dst {
        if st.mode & MODE_SYMLINK != 0 {
            let mut target = st.link_target.clone();
            if !target.starts_with('/') {
                target = format!("{}/{target}", parent_of(path));
            }
            dst_path = target;
            dst = stat(ctx, container, &dst_path).await;
        }
    }
    let dst = match dst {
        Ok(st) => Some(st),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e),
    };
    let dst_is_dir = dst.as_ref().is_some_and(|s| s.mode & MODE_DIR != 0);
    let (dir, body) = if src == "-" {
        if !dst_is_dir {
            return Err(CliError::msg(format!(
                "destination \"{container}:{path}\" must be a directory"
            )));
        }
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)?;
        (dst_path.clone(), v)
    } else {
        let mut srcp = PathBuf::from(src);
        let meta = std::fs::symlink_metadata(&srcp).map_err(|_| {
            CliError::msg(format!(
                "lstat {}: no such file or directory",
                srcp.display()
            ))
        })?;
        let mut src_base = docker_base(src);
        if follow && meta.file_type().is_symlink() {
            srcp = std::fs::canonicalize(&srcp)?;
        }
        let src_is_dir = std::fs::symlink_metadata(&srcp).is_ok_and(|m| m.is_dir());
        if src_base == "." && !src_is_dir {
            src_base = docker_base(&srcp.display().to_string());
        }
        let p = plan(src_is_dir, &src_base, &dst_path, dst.is_some(), dst_is_dir)?;
        // Entry names as they will land: the rebase applied up front.
        let top = match &p.rebase {
            Some((_, new)) => new.clone(),
            None => src_base.clone(),
        };
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(false);
        if src_is_dir {
            b.append_dir_all(if top == "/" { "." } else { &top }, &srcp)?;
        } else {
            b.append_path_with_name(&srcp, &top)?;
        }
        (p.dir, b.into_inner()?)
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
    if !quiet && crate::terminal::stderr_is_tty() && src != "-" {
        eprintln!(
            "Successfully copied {} to {container}:{path}",
            berth_cli_format::units::human_size(len as f64)
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_and_rebases_like_docker() {
        assert_eq!(docker_base("/tmp/d/."), ".");
        assert_eq!(docker_base("/"), "/");
        assert_eq!(docker_base("/tmp/d/"), "d");
        assert_eq!(rebase(b"./sub/f", ".", "o2"), b"o2/sub/f");
        assert_eq!(rebase(b"/tmp/a", "/", "o1"), b"o1/tmp/a");
        assert_eq!(rebase(b"d/sub", "d", "new"), b"new/sub");
        let p = plan(true, "d", "/x/new", false, false).unwrap();
        assert_eq!(p.dir, "/x");
        assert_eq!(p.rebase, Some(("d".into(), "new".into())));
        assert!(plan(true, "d", "/x/file", true, false).is_err());
        assert!(plan(false, "f", "/x/nodir/", false, false).is_err());
        assert_eq!(plan(false, "f", "/x", true, true).unwrap().dir, "/x");
    }

    #[test]
    fn hostile_names_stay_in_the_target() {
        let d = std::env::temp_dir().join(format!("berth-cp-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::symlink("/etc", d.join("l")).unwrap();
        assert!(local_target(&d, b"../x").is_err());
        assert!(local_target(&d, b"l/passwd").is_err());
        assert_eq!(local_target(&d, b"/a/b").unwrap().unwrap(), d.join("a/b"));
        assert_eq!(local_target(&d, b"./").unwrap(), None);
        assert!(link_stays_in(&d, &d.join("a/l"), b"../b"));
        assert!(link_stays_in(&d, &d.join("a/l"), b"/etc"));
        assert!(!link_stays_in(&d, &d.join("a/l"), b"../../.."));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
