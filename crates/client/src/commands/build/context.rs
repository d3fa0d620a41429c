//! The build context sent to the daemon: a directory tarred on the fly (owner 0:0 as the
//! docker CLI sends it, `.dockerignore` applied but the Dockerfile and the ignore file always
//! sent), a tar or Dockerfile from stdin, or nothing for a remote URL.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context as TaskCx, Poll};

use berth_build::glob::IgnoreRules;
use bytes::Bytes;
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;

use crate::error::{CliError, CliResult};
use crate::transport::ReqBody;

/// What the daemon gets.
pub struct Upload {
    pub body: ReqBody,
    /// `dockerfile=` for the query.
    pub dockerfile: Option<String>,
    /// `remote=` for the query.
    pub remote: Option<String>,
    /// Bytes written so far (for the progress line), shared with the writer thread.
    pub sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A request body fed by a channel (the tar writer runs on a blocking thread).
struct ChannelBody(mpsc::Receiver<io::Result<Bytes>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskCx<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.0.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }
}

struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 256 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.sent
            .fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the daemon stopped reading"))
    }
}

fn streamed(
    produce: impl FnOnce(&mut ChannelWriter) -> io::Result<()> + Send + 'static,
) -> (ReqBody, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use http_body_util::BodyExt;
    let (tx, rx) = mpsc::channel(4);
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut w = ChannelWriter {
        tx: tx.clone(),
        buf: Vec::new(),
        sent: sent.clone(),
    };
    tokio::task::spawn_blocking(move || {
        let r = produce(&mut w).and_then(|_| w.flush());
        if let Err(e) = r {
            let _ = tx.blocking_send(Err(e));
        }
    });
    (ChannelBody(rx).boxed(), sent)
}

/// Whether `s` is a remote context (git or http(s) URL).
pub fn is_remote(s: &str) -> bool {
    s.starts_with("http://")
        || s.starts_with("https://")
        || s.starts_with("git://")
        || s.starts_with("git@")
        || s.starts_with("github.com/")
}

fn is_archive(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || head.starts_with(b"BZh")
        || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || (head.len() > 262 && &head[257..262] == b"ustar")
}

fn single_file_tar(name: &str, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, name, data)?;
    b.into_inner()
}

/// Prepares the upload for `context` and `-f file`.
pub fn prepare(context: &str, file: Option<&str>) -> CliResult<Upload> {
    let stdin_dockerfile = file == Some("-");
    let dockerfile_text = if stdin_dockerfile {
        if context == "-" {
            return Err(CliError::msg(
                "invalid argument: can't use stdin for both build context and dockerfile",
            ));
        }
        let mut s = Vec::new();
        io::stdin()
            .read_to_end(&mut s)
            .map_err(|e| CliError::msg(format!("reading the Dockerfile from stdin: {e}")))?;
        Some(s)
    } else {
        None
    };
    if is_remote(context) {
        return Ok(Upload {
            body: crate::transport::empty(),
            dockerfile: file.map(str::to_string),
            remote: Some(context.to_string()),
            sent: Default::default(),
        });
    }
    if context == "-" {
        let mut data = Vec::new();
        io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| CliError::msg(format!("reading the context from stdin: {e}")))?;
        let (data, dockerfile) = if is_archive(&data[..data.len().min(512)]) {
            (data, file.map(str::to_string))
        } else {
            let tar =
                single_file_tar("Dockerfile", &data).map_err(|e| CliError::msg(e.to_string()))?;
            (tar, None)
        };
        let len = data.len() as u64;
        return Ok(Upload {
            body: crate::transport::full(data),
            dockerfile,
            remote: None,
            sent: std::sync::Arc::new(len.into()),
        });
    }
    let root = PathBuf::from(context);
    let meta = std::fs::metadata(&root).map_err(|e| {
        CliError::msg(format!(
            "unable to prepare context: path {context:?} not found: {e}"
        ))
    })?;
    if !meta.is_dir() {
        return Err(CliError::msg(format!(
            "unable to prepare context: path {context:?} is not a directory"
        )));
    }
    // The Dockerfile: inside the context (sent by its path), outside it or from stdin (added
    // under a private name).
    let (dockerfile_name, extra): (String, Option<(String, Vec<u8>)>) =
        match (dockerfile_text, file) {
            (Some(text), _) => {
                let name = format!(".dockerfile.{}", random_suffix());
                (name.clone(), Some((name, text)))
            }
            (None, Some(f)) => {
                let path = Path::new(f);
                let abs = std::fs::canonicalize(path)
                    .map_err(|e| CliError::msg(format!("unable to prepare context: {f}: {e}")))?;
                let root_abs = std::fs::canonicalize(&root)
                    .map_err(|e| CliError::msg(format!("unable to prepare context: {e}")))?;
                match abs.strip_prefix(&root_abs) {
                    Ok(rel) => (rel.to_string_lossy().into_owned(), None),
                    Err(_) => {
                        let text = std::fs::read(&abs)
                            .map_err(|e| CliError::msg(format!("unable to read {f}: {e}")))?;
                        let name = format!(".dockerfile.{}", random_suffix());
                        (name.clone(), Some((name, text)))
                    }
                }
            }
            (None, None) => ("Dockerfile".to_string(), None),
        };
    let ignore_text = std::fs::read_to_string(root.join(format!("{dockerfile_name}.dockerignore")))
        .or_else(|_| std::fs::read_to_string(root.join(".dockerignore")))
        .unwrap_or_default();
    let rules = IgnoreRules::parse(&ignore_text)
        .map_err(|e| CliError::msg(format!("failed to parse .dockerignore: {e}")))?;
    let keep = [dockerfile_name.clone(), ".dockerignore".to_string()];
    let (body, sent) = streamed(move |w| {
        let mut b = tar::Builder::new(w);
        b.follow_symlinks(false);
        add_dir(&mut b, &root, "", &rules, &keep)?;
        if let Some((name, text)) = extra {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o600);
            h.set_size(text.len() as u64);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            b.append_data(&mut h, &name, text.as_slice())?;
        }
        b.finish()
    });
    Ok(Upload {
        body,
        dockerfile: Some(dockerfile_name).filter(|d| d != "Dockerfile"),
        remote: None,
        sent,
    })
}

fn random_suffix() -> String {
    use sha2::Digest;
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    hex_prefix(&sha2::Sha256::digest(seed.as_bytes()))
}

fn hex_prefix(d: &[u8]) -> String {
    d.iter().take(10).map(|b| format!("{b:02x}")).collect()
}

fn add_dir<W: Write>(
    b: &mut tar::Builder<W>,
    root: &Path,
    rel: &str,
    rules: &IgnoreRules,
    keep: &[String],
) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let md = std::fs::symlink_metadata(e.path())?;
        let excluded = rules.excludes(&path) && !keep.contains(&path);
        if excluded && !(md.is_dir() && rules.has_exceptions()) {
            continue;
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(md.mode() & 0o7777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(u64::try_from(md.mtime()).unwrap_or(0));
        if md.is_dir() {
            if !excluded {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, format!("{path}/"), io::empty())?;
            }
            add_dir(b, root, &path, rules, keep)?;
        } else if excluded {
            continue;
        } else if md.file_type().is_symlink() {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, &path, std::fs::read_link(e.path())?)?;
        } else if md.is_file() {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(md.len());
            b.append_data(&mut h, &path, std::fs::File::open(e.path())?)?;
        }
    }
    Ok(())
}
