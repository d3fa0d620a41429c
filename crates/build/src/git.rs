//! ADD of a git repository (`ADD https://host/repo.git#ref:subdir /dest`, `git://…`,
//! `git@host:repo`), as BuildKit's Dockerfile frontend does it: a shallow fetch of the ref
//! (a branch, tag or commit; `HEAD` when none), the checkout's files (without `.git` unless
//! `--keep-git-dir`) copied into the destination with git's modes (0644/0755) and owner root.
//! The `git` program does the fetching, with only network transports allowed (no `file://`,
//! no `ext::`, also for submodules) and no prompts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::context::Context;
use crate::error::{BuildError, Result};

/// A parsed git source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRef {
    /// What `git fetch` is given.
    pub remote: String,
    /// Branch, tag or commit (`None`: the remote's HEAD).
    pub reference: Option<String>,
    /// A directory of the repository to copy instead of its root.
    pub subdir: Option<String>,
}

fn is_http(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Parses `s` as BuildKit's `ParseGitRef` does: `git://`, `ssh://`, `git@host:path`, and
/// http(s) URLs whose path ends in `.git`; a `#ref[:subdir]` fragment.
pub fn parse(s: &str) -> Option<GitRef> {
    let (remote, fragment) = match s.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (s, None),
    };
    let git = remote.starts_with("git://")
        || remote.starts_with("ssh://")
        || (remote.starts_with("git@") && remote.contains(':'))
        || (is_http(remote)
            && remote
                .split('?')
                .next()
                .is_some_and(|p| p.ends_with(".git")));
    if !git {
        return None;
    }
    let (reference, subdir) = match fragment {
        Some(f) => {
            let (r, d) = f.split_once(':').unwrap_or((f, ""));
            (
                Some(r.to_string()).filter(|r| !r.is_empty()),
                Some(d.trim_matches('/').to_string()).filter(|d| !d.is_empty()),
            )
        }
        None => (None, None),
    };
    Some(GitRef {
        remote: remote.to_string(),
        reference,
        subdir,
    })
}

fn git(dir: &Path, args: &[&str]) -> std::result::Result<String, String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "protocol.allow=never",
            "-c",
            "protocol.https.allow=always",
            "-c",
            "protocol.http.allow=always",
            "-c",
            "protocol.git.allow=always",
            "-c",
            "protocol.ssh.allow=always",
            "-c",
            "advice.detachedHead=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_ASKPASS", "true")
        .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        .env("HOME", dir)
        .output()
        .map_err(|e| format!("running git: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The checkout, as a context whose root is the repository (or its `subdir`).
pub struct Checkout {
    /// The checked-out tree as a build context.
    pub context: Context,
    /// The commit checked out.
    pub commit: String,
}

/// Fetches `r` into `work` (removed afterwards) and indexes its files. `checksum`: the commit
/// the ref must resolve to (`--checksum`, a full or abbreviated sha).
pub async fn checkout(
    r: &GitRef,
    work: PathBuf,
    keep_git_dir: bool,
    checksum: Option<String>,
) -> Result<Checkout> {
    let r = r.clone();
    tokio::task::spawn_blocking(move || {
        let result = checkout_blocking(&r, &work, keep_git_dir, checksum.as_deref());
        let _ = std::fs::remove_dir_all(&work);
        result
    })
    .await
    .map_err(|e| BuildError::Backend(format!("git checkout task: {e}")))?
}

fn checkout_blocking(
    r: &GitRef,
    work: &Path,
    keep_git_dir: bool,
    checksum: Option<&str>,
) -> Result<Checkout> {
    let fail = |m: String| BuildError::Source(format!("failed to fetch {}: {m}", r.remote));
    let repo = work.join("repo");
    std::fs::create_dir_all(&repo).map_err(|e| fail(e.to_string()))?;
    git(&repo, &["init", "-q"]).map_err(fail)?;
    git(&repo, &["remote", "add", "origin", &r.remote]).map_err(fail)?;
    let want = r.reference.as_deref().unwrap_or("HEAD");
    let shallow = git(
        &repo,
        &["fetch", "-q", "--depth=1", "--no-tags", "origin", want],
    );
    if let Err(e) = shallow {
        // A commit the server will not serve by name: fetch everything, then look for it.
        let is_sha = want.len() >= 7 && want.chars().all(|c| c.is_ascii_hexdigit());
        if !is_sha {
            return Err(fail(e));
        }
        git(&repo, &["fetch", "-q", "--tags", "origin"]).map_err(fail)?;
        git(&repo, &["checkout", "-q", want]).map_err(fail)?;
    } else {
        git(&repo, &["checkout", "-q", "FETCH_HEAD"]).map_err(fail)?;
    }
    git(
        &repo,
        &[
            "submodule",
            "update",
            "-q",
            "--init",
            "--recursive",
            "--depth=1",
        ],
    )
    .map_err(fail)?;
    let commit = git(&repo, &["rev-parse", "HEAD"]).map_err(fail)?;
    if let Some(want) = checksum {
        if want.len() < 7 || !commit.starts_with(want) {
            return Err(BuildError::Source(format!(
                "expected checksum to match {want}, got {commit}"
            )));
        }
    }
    let root = match &r.subdir {
        Some(d) => {
            let resolved = crate::context::clean_rel(d)
                .ok_or_else(|| fail(format!("subdirectory {d} escapes the repository")))?;
            let p = repo.join(&resolved);
            let meta = std::fs::symlink_metadata(&p)
                .map_err(|_| fail(format!("subdirectory {d} not found")))?;
            if !meta.is_dir() {
                return Err(fail(format!("{d} is not a directory")));
            }
            p
        }
        None => repo.clone(),
    };
    let tar_path = work.join("checkout.tar");
    let file = std::fs::File::create(&tar_path).map_err(|e| fail(e.to_string()))?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(file));
    b.mode(tar::HeaderMode::Deterministic);
    b.follow_symlinks(false);
    for entry in std::fs::read_dir(&root).map_err(|e| fail(e.to_string()))? {
        let entry = entry.map_err(|e| fail(e.to_string()))?;
        let name = entry.file_name();
        if name == ".git" && !keep_git_dir {
            continue;
        }
        let path = entry.path();
        let ft = entry.file_type().map_err(|e| fail(e.to_string()))?;
        if ft.is_dir() {
            b.append_dir_all(&name, &path)
        } else {
            b.append_path_with_name(&path, &name)
        }
        .map_err(|e| fail(e.to_string()))?;
    }
    b.into_inner()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .map_err(|e| fail(e.to_string()))?;
    let file = std::fs::File::open(&tar_path).map_err(|e| fail(e.to_string()))?;
    let context = Context::from_tar(file, &work.join("checkout.spool"))?;
    Ok(Checkout { context, commit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_a_git_source() {
        let g = parse("https://example.com/org/repo.git#v1.2:docs/").unwrap();
        assert_eq!(g.remote, "https://example.com/org/repo.git");
        assert_eq!(g.reference.as_deref(), Some("v1.2"));
        assert_eq!(g.subdir.as_deref(), Some("docs"));
        let g = parse("git://127.0.0.1:9418/repo").unwrap();
        assert_eq!((g.reference, g.subdir), (None, None));
        assert!(parse("git@github.com:org/repo.git#main").is_some());
        assert!(parse("ssh://git@host/repo").is_some());
        assert!(parse("https://example.com/file.tar.gz").is_none());
        assert!(parse("http://example.com/repo.git/file").is_none());
        assert!(parse("file:///srv/repo.git").is_none());
        assert!(parse("src/repo.git").is_none());
        assert_eq!(
            parse("https://h/r.git#:sub").unwrap().subdir.as_deref(),
            Some("sub")
        );
    }
}
