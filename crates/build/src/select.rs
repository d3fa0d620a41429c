//! COPY/ADD: which files an instruction selects, where they land, their content hash (the
//! cache key part), and the tar that puts them into the root.

use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::context::{clean_rel, Context, Entry, EntryKind};
use crate::error::{BuildError, IoContext, Result};
use crate::glob::{clean, Glob, IgnoreRules};

/// Options of one COPY/ADD, already substituted.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// `--parents`: keep each source's path below the destination.
    pub parents: bool,
    /// `--exclude` patterns.
    pub exclude: Vec<String>,
    /// Owner of everything copied (`--chown`, default root).
    pub owner: (u32, u32),
    /// `--chmod`.
    pub chmod: Option<u32>,
    /// ADD: extract local archives.
    pub extract_archives: bool,
    /// The keyword, for messages.
    pub keyword: &'static str,
}

/// Files that land in one directory of the image.
#[derive(Debug, Clone)]
pub struct CopyGroup {
    /// Absolute directory in the image.
    pub dest_dir: String,
    /// (name relative to `dest_dir`, entry).
    pub items: Vec<(String, Entry)>,
    /// An archive (ADD) to extract into `dest_dir` instead of `items`.
    pub archive: Option<Entry>,
    /// Which of the directories made for `dest_dir` take the copy's owner.
    pub new_dirs: NewDirs,
}

/// Who owns the directories a copy creates to reach its destination, as in moby's classic
/// builder (`copyDirectory`/`copyFile` with `fixPermissions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewDirs {
    /// All root (an extracted archive).
    Root,
    /// A directory's contents: the destination directory takes the owner if the copy made
    /// it; its new parents stay root's.
    Dest,
    /// A file: every directory the copy made takes the owner.
    All,
}

/// Everything one COPY/ADD puts into the image.
#[derive(Debug, Clone)]
pub struct CopyPlan {
    /// The groups of files, each with its destination and owner.
    pub groups: Vec<CopyGroup>,
    /// sha256 over names, kinds, modes, owners, sizes, link targets and data (not mtimes).
    pub content_hash: String,
}

fn has_wildcard(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

fn base_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Archive formats ADD extracts (by magic bytes).
pub fn is_archive(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || head.starts_with(b"BZh")
        || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || (head.len() > 262 && &head[257..262] == b"ustar")
}

/// Plans a COPY/ADD of `sources` (context-relative, substituted) to `dest` (absolute image
/// path; a trailing `/` means "a directory"). `dest_is_dir` says whether `dest` is already a
/// directory in the image.
pub fn plan_copy(
    ctx: &Context,
    sources: &[String],
    dest: &str,
    dest_is_dir: bool,
    opts: &CopyOptions,
) -> Result<CopyPlan> {
    let kw = opts.keyword;
    let mut selected: Vec<(String, String)> = Vec::new(); // (as written-ish path, resolved path)
    for src in sources {
        let rel = clean_rel(src).ok_or_else(|| {
            BuildError::Source(format!(
                "{kw} failed: forbidden path outside the build context: {src} ()"
            ))
        })?;
        if has_wildcard(&rel) {
            let glob = Glob::filepath(&rel).map_err(|e| BuildError::Source(e.to_string()))?;
            let mut any = false;
            for (path, _) in ctx.entries() {
                if !path.is_empty() && glob.matches(path) {
                    selected.push((path.to_string(), ctx.resolve(path, true)?));
                    any = true;
                }
            }
            if !any {
                return Err(BuildError::Source(format!(
                    "{kw} failed: no source files were specified"
                )));
            }
        } else {
            let resolved = ctx.resolve(&rel, true)?;
            if ctx.get(&resolved).is_none() {
                return Err(BuildError::Source(format!(
                    "{kw} failed: file not found in build context or excluded by .dockerignore: stat {src}: file does not exist"
                )));
            }
            selected.push((rel, resolved));
        }
    }
    let dest_dir_syntax = dest.ends_with('/') || dest.ends_with("/.") || dest == "/";
    if selected.len() > 1 && !dest_dir_syntax {
        return Err(BuildError::Source(format!(
            "When using {kw} with more than one source file, the destination must be a directory and end with a /"
        )));
    }
    let dest_clean = clean(dest);
    let excludes = IgnoreRules::parse(&opts.exclude.join("\n"))
        .map_err(|e| BuildError::Source(e.to_string()))?;
    let mut groups: Vec<CopyGroup> = Vec::new();
    for (written, resolved) in selected {
        let entry = ctx.get(&resolved).cloned().expect("resolved entries exist");
        let prefix = if opts.parents {
            written
                .rsplit_once('/')
                .map(|(p, _)| p.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let mut group = match &entry.kind {
            EntryKind::Dir => {
                let dest_dir = join_abs(&dest_clean, if opts.parents { &written } else { "" });
                let base = resolved.clone();
                let items = ctx
                    .descendants(&resolved)
                    .map(|(p, e)| {
                        let rel = p[base.len()..].trim_start_matches('/').to_string();
                        (rel, e.clone())
                    })
                    .filter(|(rel, _)| !excludes.excludes(rel))
                    .collect();
                CopyGroup {
                    dest_dir,
                    items,
                    archive: None,
                    new_dirs: NewDirs::Dest,
                }
            }
            _ => {
                if excludes.excludes(&written) || excludes.excludes(base_name(&written)) {
                    continue;
                }
                if opts.extract_archives && archive_head(ctx, &entry) {
                    CopyGroup {
                        dest_dir: dest_clean.clone(),
                        items: Vec::new(),
                        archive: Some(entry.clone()),
                        new_dirs: NewDirs::Root,
                    }
                } else if dest_dir_syntax || dest_is_dir || opts.parents {
                    CopyGroup {
                        dest_dir: join_abs(&dest_clean, &prefix),
                        items: vec![(base_name(&written).to_string(), entry.clone())],
                        archive: None,
                        new_dirs: NewDirs::All,
                    }
                } else {
                    let (dir, name) = dest_clean.rsplit_once('/').unwrap_or(("", &dest_clean));
                    CopyGroup {
                        dest_dir: if dir.is_empty() {
                            "/".into()
                        } else {
                            dir.to_string()
                        },
                        items: vec![(name.to_string(), entry.clone())],
                        archive: None,
                        new_dirs: NewDirs::All,
                    }
                }
            }
        };
        for (_, e) in &mut group.items {
            e.uid = u64::from(opts.owner.0);
            e.gid = u64::from(opts.owner.1);
            if let Some(m) = opts.chmod {
                if !matches!(e.kind, EntryKind::Symlink(_)) {
                    e.mode = m;
                }
            }
        }
        groups.push(group);
    }
    let content_hash = hash_groups(ctx, &groups)?;
    Ok(CopyPlan {
        groups,
        content_hash,
    })
}

fn join_abs(dir: &str, rel: &str) -> String {
    let joined = clean(&format!("{dir}/{rel}"));
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

fn archive_head(ctx: &Context, entry: &Entry) -> bool {
    let mut head = Vec::with_capacity(512);
    let _ = ctx.open(entry).take(512).read_to_end(&mut head);
    is_archive(&head)
}

fn hash_groups(ctx: &Context, groups: &[CopyGroup]) -> Result<String> {
    let mut h = Sha256::new();
    for g in groups {
        h.update(format!("dir {}\n", g.dest_dir).as_bytes());
        if let Some(a) = &g.archive {
            h.update(b"archive ");
            h.update(data_digest(ctx, a)?.as_bytes());
            h.update(b"\n");
        }
        for (name, e) in &g.items {
            let (kind, extra) = match &e.kind {
                EntryKind::File { size, .. } => ("f", format!("{size} {}", data_digest(ctx, e)?)),
                EntryKind::Dir => ("d", String::new()),
                EntryKind::Symlink(t) => ("l", t.clone()),
            };
            h.update(
                format!(
                    "{name}\0{kind}\0{:o}\0{}\0{}\0{extra}\n",
                    e.mode, e.uid, e.gid
                )
                .as_bytes(),
            );
        }
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

fn data_digest(ctx: &Context, e: &Entry) -> Result<String> {
    let mut h = Sha256::new();
    let mut r = ctx.open(e);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf).ctx(|| "read build context".into())?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Writes one group's files as a tar (names relative to its `dest_dir`) to `out`. An
/// archive group is written decompressed, as it is.
pub fn write_group_tar(ctx: &Context, group: &CopyGroup, out: &Path) -> Result<()> {
    let file = std::fs::File::create(out).ctx(|| format!("create {}", out.display()))?;
    let mut w = io::BufWriter::with_capacity(1 << 20, file);
    if let Some(a) = &group.archive {
        let mut r =
            crate::compress::decompress(ctx.open(a)).ctx(|| "ADD: decompress archive".into())?;
        io::copy(&mut r, &mut w).ctx(|| "ADD: read archive".into())?;
        return w.flush().ctx(|| "write tar".into());
    }
    let mut tar = tar::Builder::new(w);
    tar.mode(tar::HeaderMode::Complete);
    for (name, e) in &group.items {
        let mut header = tar::Header::new_gnu();
        header.set_mode(e.mode);
        header.set_uid(e.uid);
        header.set_gid(e.gid);
        header.set_mtime(e.mtime);
        let io_err = |err: io::Error| BuildError::Io {
            context: format!("tar {name}"),
            source: err,
        };
        match &e.kind {
            EntryKind::File { size, .. } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(*size);
                tar.append_data(&mut header, name, ctx.open(e))
                    .map_err(io_err)?;
            }
            EntryKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                tar.append_data(&mut header, format!("{name}/"), io::empty())
                    .map_err(io_err)?;
            }
            EntryKind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                tar.append_link(&mut header, name, target).map_err(io_err)?;
            }
        }
    }
    let mut w = tar.into_inner().ctx(|| "finish tar".into())?;
    w.flush().ctx(|| "write tar".into())
}
