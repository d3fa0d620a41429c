//! COPY and ADD: sources from the context, another stage or image, or heredocs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use berth_dockerfile::FileCopy;

use crate::backend::{Backend, ImageState, Layer};
use crate::context::Context;
use crate::error::{BuildError, IoContext, Result};
use crate::select::{plan_copy, write_group_tar, CopyOptions, CopyPlan};
use crate::stage::{Action, Planned, StageBuild};
use crate::users::{needs_lookup, parse_chmod, resolve_chown};

static SEQ: AtomicU64 = AtomicU64::new(0);

fn temp_name(stage_dir: &std::path::Path, what: &str) -> PathBuf {
    stage_dir.join(format!("{what}-{}", SEQ.fetch_add(1, Ordering::Relaxed)))
}

/// One source context with the sources (relative to it) taken from it.
pub(crate) struct SourceSet {
    ctx: Context,
    sources: Vec<String>,
    /// ADD extracts local archives from this set (not downloads, not other stages).
    extract: bool,
}

pub(crate) struct CopyStep {
    sets: Vec<SourceSet>,
    dest: String,
    chown: Option<String>,
    opts: CopyOptions,
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn is_git(s: &str) -> bool {
    s.starts_with("git@")
        || s.starts_with("git://")
        || (is_url(s) && s.split('#').next().is_some_and(|u| u.ends_with(".git")))
}

pub(crate) async fn plan<B: Backend>(
    stage: &mut StageBuild<B>,
    c: &FileCopy,
    add: bool,
) -> Result<Planned> {
    let keyword = if add { "ADD" } else { "COPY" };
    let mut used = BTreeMap::new();
    let escape = stage.escape();
    let expand = |w: &str, used: &mut BTreeMap<String, String>| -> Result<String> {
        Ok(stage.scope.expand(w, escape, used)?)
    };
    let mut sources = Vec::new();
    for s in &c.sources {
        sources.push(expand(s, &mut used)?);
    }
    let dest_raw = expand(&c.dest, &mut used)?;
    let chown = c.chown.as_ref().map(|s| expand(s, &mut used)).transpose()?;
    let chmod = c.chmod.as_ref().map(|s| expand(s, &mut used)).transpose()?;
    let from = c.from.as_ref().map(|s| expand(s, &mut used)).transpose()?;
    let mut exclude = Vec::new();
    for e in &c.exclude {
        exclude.push(expand(e, &mut used)?);
    }
    let workdir = stage.workdir();
    let dest = if dest_raw.starts_with('/') {
        dest_raw.clone()
    } else {
        let trailing = dest_raw.ends_with('/') || dest_raw == "." || dest_raw.ends_with("/.");
        let joined = crate::glob::clean(&format!("{workdir}/{dest_raw}"));
        if trailing && joined != "/" {
            format!("{joined}/")
        } else {
            joined
        }
    };
    if let Some(u) = sources.iter().find(|s| is_url(s) || is_git(s)) {
        if !add {
            return Err(BuildError::Source(format!(
                "COPY failed: source can't be a URL for COPY: {u}"
            )));
        }
        if is_git(u) {
            return Err(BuildError::Source(format!(
                "ADD failed: git sources ({u}) are not supported by berth's builder yet; clone into the build context and COPY from there"
            )));
        }
    }
    let (urls, sources): (Vec<String>, Vec<String>) = sources.into_iter().partition(|s| is_url(s));
    let owner = match &chown {
        Some(spec) if !needs_lookup(spec) => {
            resolve_chown(spec, None, None).map_err(BuildError::Invalid)?
        }
        _ => (0, 0),
    };
    let opts = CopyOptions {
        parents: c.parents,
        exclude,
        owner,
        chmod: chmod
            .as_deref()
            .map(parse_chmod)
            .transpose()
            .map_err(BuildError::Invalid)?,
        extract_archives: add,
        keyword,
    };
    let work = stage.shared.work_dir.clone();
    let mut sets = Vec::new();
    match &from {
        Some(name) => {
            let layers = crate::run_step::layers_of(stage, name).await?;
            for src in &sources {
                let abs = crate::glob::clean(&format!("/{src}"));
                let split = abs
                    .find(['*', '?', '['])
                    .map_or(abs.len(), |i| abs[..i].rfind('/').unwrap_or(0));
                let (prefix, rest) = abs.split_at(split);
                let prefix = if prefix.is_empty() { "/" } else { prefix };
                let tar = temp_name(&work, "export");
                let found = stage
                    .shared
                    .backend
                    .export(&layers, prefix, &tar)
                    .await
                    .map_err(BuildError::Backend)?;
                if !found {
                    return Err(BuildError::Source(format!(
                        "{keyword} failed: stat {abs}: file does not exist"
                    )));
                }
                let spool = temp_name(&work, "export-index");
                let file = std::fs::File::open(&tar).ctx(|| format!("open {}", tar.display()))?;
                let ctx = Context::from_tar(file, &spool)?;
                let _ = std::fs::remove_file(&tar);
                let source = if rest.is_empty() {
                    // The exported path itself: a directory's contents, or a file by name.
                    let base = prefix.rsplit('/').next().unwrap_or("");
                    if ctx
                        .get(base)
                        .is_some_and(|e| !matches!(e.kind, crate::context::EntryKind::Dir))
                    {
                        base.to_string()
                    } else {
                        ".".to_string()
                    }
                } else {
                    rest.trim_start_matches('/').to_string()
                };
                sets.push(SourceSet {
                    ctx,
                    sources: vec![source],
                    extract: false,
                });
            }
        }
        None => {
            if !sources.is_empty() {
                sets.push(SourceSet {
                    ctx: stage.shared.prepared.context.clone(),
                    sources,
                    extract: add,
                });
            }
        }
    }
    for url in &urls {
        let file = temp_name(&work, "download");
        let dl = crate::remote::download(url, &file, c.checksum.as_deref()).await?;
        let mut builder = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o600);
        h.set_size(dl.size);
        h.set_mtime(0);
        let data = std::fs::File::open(&file).ctx(|| format!("open {}", file.display()))?;
        builder
            .append_data(&mut h, &dl.name, data)
            .ctx(|| "download".into())?;
        let _ = std::fs::remove_file(&file);
        let bytes = builder.into_inner().ctx(|| "download".into())?;
        let ctx = Context::from_tar(bytes.as_slice(), &temp_name(&work, "download-index"))?;
        sets.push(SourceSet {
            ctx,
            sources: vec![dl.name],
            extract: false,
        });
    }
    if !c.inline.is_empty() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut names = Vec::new();
        for doc in &c.inline {
            let data = if doc.expand {
                stage.scope.expand(&doc.data, escape, &mut used)?
            } else {
                doc.data.clone()
            };
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            h.set_mtime(0);
            builder
                .append_data(&mut h, &doc.name, data.as_bytes())
                .ctx(|| "heredoc".into())?;
            names.push(doc.name.clone());
        }
        let bytes = builder.into_inner().ctx(|| "heredoc".into())?;
        let ctx = Context::from_tar(bytes.as_slice(), &temp_name(&work, "heredoc"))?;
        sets.push(SourceSet {
            ctx,
            sources: names,
            extract: false,
        });
    }
    let total: usize = sets.iter().map(|s| s.sources.len()).sum();
    let mut hashes = Vec::new();
    for set in &sets {
        let mut o = opts.clone();
        o.extract_archives = set.extract;
        let p = plan_copy(&set.ctx, &set.sources, &dest, false, &o)?;
        hashes.push(p.content_hash);
    }
    if total > 1 && !dest.ends_with('/') {
        return Err(BuildError::Source(format!(
            "When using {keyword} with more than one source file, the destination must be a directory and end with a /"
        )));
    }
    let text = format!(
        "{keyword} from={} chown={} chmod={} parents={} link={} exclude={:?} dest={dest}",
        from.clone().unwrap_or_default(),
        chown.clone().unwrap_or_default(),
        chmod.clone().unwrap_or_default(),
        c.parents,
        c.link,
        opts.exclude,
    );
    let created_by = format!(
        "/bin/sh -c #(nop) {keyword} {} in {dest} ",
        hashes.join(",")
    );
    Ok(Planned {
        created_by,
        text,
        used,
        content: Some(hashes.join(",")),
        action: Action::Copy(Box::new(CopyStep {
            sets,
            dest,
            chown,
            opts,
        })),
    })
}

pub(crate) async fn run<B: Backend>(
    stage: &mut StageBuild<B>,
    step: CopyStep,
) -> Result<(ImageState, Option<Layer>)> {
    let backend = stage.shared.backend.clone();
    let root = backend
        .prepare(&stage.state.layers)
        .await
        .map_err(BuildError::Backend)?;
    let result = fill(stage, &root, step).await;
    if let Err(e) = result {
        backend.release(root).await;
        return Err(e);
    }
    let layer = backend
        .commit(root, &stage.state.layers)
        .await
        .map_err(BuildError::Backend)?;
    Ok((stage.state.clone(), layer))
}

async fn fill<B: Backend>(stage: &StageBuild<B>, root: &B::Root, step: CopyStep) -> Result<()> {
    let backend = &stage.shared.backend;
    let mut opts = step.opts.clone();
    if let Some(spec) = step.chown.as_deref().filter(|s| needs_lookup(s)) {
        let passwd = backend
            .read_file(root, "/etc/passwd")
            .await
            .map_err(BuildError::Backend)?;
        let group = backend
            .read_file(root, "/etc/group")
            .await
            .map_err(BuildError::Backend)?;
        opts.owner = resolve_chown(spec, passwd.as_deref(), group.as_deref())
            .map_err(BuildError::Invalid)?;
    }
    let dest_is_dir = if step.dest.ends_with('/') {
        true
    } else {
        backend
            .is_dir(root, &step.dest)
            .await
            .map_err(BuildError::Backend)?
    };
    for set in &step.sets {
        let mut o = opts.clone();
        o.extract_archives = set.extract;
        let plan: CopyPlan = plan_copy(&set.ctx, &set.sources, &step.dest, dest_is_dir, &o)?;
        for group in &plan.groups {
            let tar = temp_name(&stage.shared.work_dir, "copy");
            let written = write_group_tar(&set.ctx, group, &tar);
            let extracted = match written {
                Ok(()) => backend
                    .extract(root, &group.dest_dir, &tar)
                    .await
                    .map_err(BuildError::Backend),
                Err(e) => Err(e),
            };
            let _ = std::fs::remove_file(&tar);
            extracted?;
        }
    }
    Ok(())
}

/// A directory holding `path` of the build context (RUN --mount=type=bind without `from`).
pub(crate) async fn materialize<B: Backend>(stage: &StageBuild<B>, path: &str) -> Result<PathBuf> {
    let ctx = &stage.shared.prepared.context;
    let plan = plan_copy(
        ctx,
        &[path.to_string()],
        "/",
        true,
        &CopyOptions {
            keyword: "RUN --mount",
            ..CopyOptions::default()
        },
    )?;
    let dir = temp_name(&stage.shared.work_dir, "bind");
    std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
    for group in &plan.groups {
        let tar = temp_name(&stage.shared.work_dir, "bind-tar");
        write_group_tar(ctx, group, &tar)?;
        let file = std::fs::File::open(&tar).ctx(|| "open bind tar".into())?;
        let mut archive = tar::Archive::new(file);
        archive.set_preserve_permissions(true);
        archive
            .unpack(&dir)
            .ctx(|| format!("unpack into {}", dir.display()))?;
        let _ = std::fs::remove_file(&tar);
    }
    Ok(dir)
}
