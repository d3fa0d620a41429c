//! COPY and ADD: sources from the context, another stage or image, or heredocs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use berth_dockerfile::FileCopy;

use crate::backend::{Backend, ImageState, Layer};
use crate::context::Context;
use crate::error::{BuildError, IoContext, Result};
use crate::select::{plan_copy, write_group_tar, CopyGroup, CopyOptions, CopyPlan, NewDirs};
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
    /// `--link`: the cache key of the layer alone (no parent in it).
    link: Option<String>,
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn is_git(s: &str) -> bool {
    crate::git::parse(s).is_some()
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
    }
    let (gits, sources): (Vec<String>, Vec<String>) = sources.into_iter().partition(|s| is_git(s));
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
                // Indexed in place; the open file outlives its name.
                let ctx = Context::from_file(&tar, &temp_name(&work, "export-index"))?;
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
    for url in &gits {
        let r = crate::git::parse(url).expect("partitioned as git");
        let checkout = crate::git::checkout(
            &r,
            temp_name(&work, "git"),
            c.keep_git_dir,
            c.checksum.clone(),
        )
        .await?;
        sets.push(SourceSet {
            ctx: checkout.context,
            sources: vec![".".into()],
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
        "{keyword} from={} chown={} chmod={} parents={} link={} keep-git-dir={} exclude={:?} dest={dest}",
        from.clone().unwrap_or_default(),
        chown.clone().unwrap_or_default(),
        chmod.clone().unwrap_or_default(),
        c.parents,
        c.link,
        c.keep_git_dir,
        opts.exclude,
    );
    let created_by = format!(
        "/bin/sh -c #(nop) {keyword} {} in {dest} ",
        hashes.join(",")
    );
    let content = hashes.join(",");
    let link = c
        .link
        .then(|| crate::cache::step_key("link", &text, &used, Some(&content)));
    Ok(Planned {
        created_by,
        text,
        used,
        content: Some(content),
        action: Action::Copy(Box::new(CopyStep {
            sets,
            dest,
            chown,
            opts,
            link,
        })),
    })
}

pub(crate) async fn run<B: Backend>(
    stage: &mut StageBuild<B>,
    step: CopyStep,
) -> Result<(ImageState, Option<Layer>)> {
    if step.link.is_some() {
        return run_linked(stage, step).await;
    }
    let backend = stage.shared.backend.clone();
    let root = backend
        .prepare(&stage.state.layers)
        .await
        .map_err(BuildError::Backend)?;
    let filled = async {
        let opts = owner_from(stage, &root, &step).await?;
        let dest_is_dir = step.dest.ends_with('/')
            || backend
                .is_dir(&root, &step.dest)
                .await
                .map_err(BuildError::Backend)?;
        fill(stage, &root, &step, &opts, dest_is_dir).await
    }
    .await;
    if let Err(e) = filled {
        backend.release(root).await;
        return Err(e);
    }
    let layer = backend
        .commit(root, &stage.state.layers)
        .await
        .map_err(BuildError::Backend)?;
    Ok((stage.state.clone(), layer))
}

/// `COPY --link`: the files go into an empty root, committed as a layer of their own (cached
/// by a key without the parent, so a changed base reuses it), then stacked on the parent.
/// The destination is never looked up in the parent (a path without a trailing `/` is a
/// file name), as BuildKit does.
async fn run_linked<B: Backend>(
    stage: &mut StageBuild<B>,
    step: CopyStep,
) -> Result<(ImageState, Option<Layer>)> {
    let backend = stage.shared.backend.clone();
    let cache = stage.shared.cache.clone();
    let key = step.link.clone().expect("a linked step");
    let mut diff = None;
    let mut cached = false;
    if !stage.shared.prepared.request.no_cache {
        if let Some(rec) = cache.get(&key) {
            if backend.has_layers(&rec.state.layers).await {
                diff = rec.state.layers.first().cloned();
                cached = true;
            }
        }
    }
    if !cached {
        let opts = if step.chown.as_deref().is_some_and(needs_lookup) {
            let base = backend
                .prepare(&stage.state.layers)
                .await
                .map_err(BuildError::Backend)?;
            let opts = owner_from(stage, &base, &step).await;
            backend.release(base).await;
            opts?
        } else {
            step.opts.clone()
        };
        let root = backend.prepare(&[]).await.map_err(BuildError::Backend)?;
        let dest_is_dir = step.dest.ends_with('/');
        if let Err(e) = fill(stage, &root, &step, &opts, dest_is_dir).await {
            backend.release(root).await;
            return Err(e);
        }
        diff = backend
            .commit(root, &[])
            .await
            .map_err(BuildError::Backend)?;
        let t = crate::cache::now();
        let rec = crate::cache::CacheRecord {
            key: key.clone(),
            parent: String::new(),
            description: format!("{} --link (layer)", step.opts.keyword),
            state: ImageState {
                config: Default::default(),
                layers: diff.iter().cloned().collect(),
            },
            size: diff.as_ref().map_or(0, |l| l.size),
            created: t,
            last_used: t,
            usage_count: 0,
        };
        if let Err(e) = cache.put(&rec) {
            stage
                .shared
                .progress
                .event(crate::progress::Event::Warning(format!("build cache: {e}")));
        }
    }
    let layer = match diff {
        Some(d) => Some(
            backend
                .stack(&stage.state.layers, &d)
                .await
                .map_err(BuildError::Backend)?,
        ),
        None => None,
    };
    Ok((stage.state.clone(), layer))
}

/// The copy options with `--chown=name` resolved from the root's `/etc/passwd` and
/// `/etc/group`.
async fn owner_from<B: Backend>(
    stage: &StageBuild<B>,
    root: &B::Root,
    step: &CopyStep,
) -> Result<CopyOptions> {
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
    Ok(opts)
}

async fn fill<B: Backend>(
    stage: &StageBuild<B>,
    root: &B::Root,
    step: &CopyStep,
    opts: &CopyOptions,
    dest_is_dir: bool,
) -> Result<()> {
    let backend = &stage.shared.backend;
    for set in &step.sets {
        let mut o = opts.clone();
        o.extract_archives = set.extract;
        let plan: CopyPlan = plan_copy(&set.ctx, &set.sources, &step.dest, dest_is_dir, &o)?;
        for group in &plan.groups {
            make_dest(backend.as_ref(), root, group, o.owner).await?;
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

/// Makes the directories a group lands in with the owners moby gives them (`extract` makes
/// any still missing as root's).
async fn make_dest<B: Backend>(
    backend: &B,
    root: &B::Root,
    group: &CopyGroup,
    (uid, gid): (u32, u32),
) -> Result<()> {
    if (uid, gid) == (0, 0) || group.dest_dir == "/" {
        return Ok(());
    }
    let err = BuildError::Backend;
    match group.new_dirs {
        NewDirs::Root => {}
        NewDirs::All => backend
            .mkdir(root, &group.dest_dir, uid, gid)
            .await
            .map_err(err)?,
        NewDirs::Dest => {
            if !backend.is_dir(root, &group.dest_dir).await.map_err(err)? {
                let parent = match group.dest_dir.rsplit_once('/') {
                    Some(("", _)) | None => "/",
                    Some((p, _)) => p,
                };
                backend.mkdir(root, parent, 0, 0).await.map_err(err)?;
                backend
                    .mkdir(root, &group.dest_dir, uid, gid)
                    .await
                    .map_err(err)?;
            }
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
