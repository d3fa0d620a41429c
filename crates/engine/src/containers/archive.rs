//! `HEAD/GET/PUT /containers/{id}/archive` (`docker cp`): the container's files through
//! [`berth_inroot`]. A running container is reached through `/proc/<pid>/root` (its own mount
//! namespace, so binds and volumes are seen as the container sees them); a stopped one has its
//! snapshot mounted on a private directory for the duration of the call. The container's
//! lifecycle lock is held meanwhile, so it cannot start or be removed under the copy.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::remap::tar::{Direction, ShiftReader, ShiftWriter};
use crate::stream::{BodyReader, ByteStream};
use berth_api_types::query::ArchivePutOptions;
use berth_api_types::ContainerPathStat;
use berth_inroot::{self as inroot, ExtractOptions, InRootError, PathStat, Root};
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};

use super::Containers;
use crate::record::{self, ContainerRecord};
use crate::spec;

impl Containers {
    /// Runs `f` (off the async threads) with a descriptor of the container's `/`, holding the
    /// container's lifecycle lock.
    async fn in_root<T: Send + 'static>(
        self: &Arc<Self>,
        id: &str,
        f: impl FnOnce(&Root, &ContainerRecord) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let live = self.live(id);
        let _op = live.lock_op().await;
        let rec = self.get(id)?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            if rec.state.running {
                let dir = PathBuf::from(format!("/proc/{}/root", rec.state.pid));
                let root = Root::open(&dir)
                    .map_err(|e| EngineError::io(format!("open {}", dir.display()), e))?;
                return f(&root, &rec);
            }
            let mnt = this
                .state_dir(&rec.id)
                .join(format!("archive-{}", &record::new_id()[..16]));
            std::fs::create_dir_all(&mnt)
                .map_err(|e| EngineError::io(format!("create {}", mnt.display()), e))?;
            let mounted = this
                .images
                .images()
                .snapshots
                .mounts(&rec.id)
                .map_err(EngineError::from)
                .and_then(|m| {
                    let remap = this.remap_for(&rec.host_config);
                    super::ops::mount_snapshot(&m, &mnt, remap.as_deref())
                });
            let res = mounted.and_then(|()| {
                let root = Root::open(&mnt)
                    .map_err(|e| EngineError::io(format!("open {}", mnt.display()), e))?;
                let mut binds = Vec::new();
                let res = this
                    .mount_sources(&rec)
                    .and_then(|sources| {
                        mount_binds(&root, sources, &mut binds)
                            .map_err(|e| EngineError::io("mount the container's volumes", e))
                    })
                    .and_then(|()| f(&root, &rec));
                // Device volumes mounted for the copy are released again.
                this.volumes.store.unmount_container(&rec.id);
                for m in binds.iter().rev() {
                    let _ = rustix::mount::unmount(
                        inroot::proc_fd_path(m).as_str(),
                        rustix::mount::UnmountFlags::DETACH,
                    );
                }
                res
            });
            let _ = berth_snapshot::unmount(&mnt);
            let _ = std::fs::remove_dir(&mnt);
            res
        })
        .await?
    }

    /// `HEAD /containers/{id}/archive`.
    pub async fn archive_stat(
        self: &Arc<Self>,
        reference: &str,
        path: &str,
    ) -> Result<ContainerPathStat> {
        let id = self.resolve(reference)?;
        let (p, r) = (path.to_string(), reference.to_string());
        self.in_root(&id, move |root, _| {
            let loc =
                inroot::locate(root, &p).map_err(|e| EngineError::container_path(&r, &p, e))?;
            Ok(wire_stat(inroot::path_stat(root, &loc)))
        })
        .await
    }

    /// `GET /containers/{id}/archive`: the stat of `path` and a tar of it.
    pub async fn archive_get(
        self: &Arc<Self>,
        reference: &str,
        path: &str,
    ) -> Result<(ContainerPathStat, ByteStream)> {
        let id = self.resolve(reference)?;
        let (stat_tx, stat_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(16);
        let (p, r) = (path.to_string(), reference.to_string());
        let this = self.clone();
        let remapping = self.clone();
        let stat_tx = Arc::new(std::sync::Mutex::new(Some(stat_tx)));
        let take = |m: &std::sync::Mutex<Option<oneshot::Sender<Result<ContainerPathStat>>>>| {
            m.lock().unwrap_or_else(|e| e.into_inner()).take()
        };
        let stat_tx2 = stat_tx.clone();
        tokio::spawn(async move {
            let res = this
                .in_root(&id, move |root, rec| {
                    let loc = inroot::locate(root, &p)
                        .map_err(|e| EngineError::container_path(&r, &p, e))?;
                    let stat = wire_stat(inroot::path_stat(root, &loc));
                    if take(&stat_tx2).is_none_or(|s| s.send(Ok(stat)).is_err()) {
                        return Ok(());
                    }
                    let w = std::io::BufWriter::with_capacity(64 * 1024, ChannelWriter(tx.clone()));
                    let written = match remapping.remap_for(&rec.host_config) {
                        Some(map) => inroot::write_tar(
                            &loc,
                            ShiftWriter::new(w, &map, Direction::ToContainer),
                        ),
                        None => inroot::write_tar(&loc, w),
                    };
                    if let Err(e) = written {
                        let _ = tx.blocking_send(Err(e));
                    }
                    Ok(())
                })
                .await;
            // Errors before the stream started become the response's status.
            if let (Err(e), Some(s)) = (res, take(&stat_tx)) {
                let _ = s.send(Err(e));
            }
        });
        match stat_rx.await {
            Ok(Ok(stat)) => {
                if let Ok(rec) = self.get(&self.resolve(reference)?) {
                    self.event("archive-path", &rec, &[]);
                }
                Ok((stat, rx))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(EngineError::internal("archive reader went away")),
        }
    }

    /// `PUT /containers/{id}/archive`: extracts the tar body into the directory `opts.path`.
    pub async fn archive_put(
        self: &Arc<Self>,
        reference: &str,
        opts: ArchivePutOptions,
        mut body: BodyReader,
    ) -> Result<()> {
        let id = self.resolve(reference)?;
        let rec = self.get(&id)?;
        if rec.host_config.readonly_rootfs && !in_bind(&rec, &opts.path) {
            return Err(EngineError::invalid("container rootfs is marked read-only"));
        }
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(8);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match body.read(&mut buf).await {
                    Ok(0) => return,
                    Ok(n) => {
                        if tx
                            .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        let r = reference.to_string();
        let this2 = self.clone();
        self.in_root(&id, move |root, rec| {
            let p = &opts.path;
            let mut reader = BlockingBody {
                rx,
                cur: Bytes::new(),
            };
            let remap = this2.remap_for(&rec.host_config);
            let res =
                put_into(root, rec, &opts, &mut reader, remap.as_deref()).map_err(|e| match e {
                    Ok(e) => EngineError::container_path(&r, p, e),
                    Err(e) => e,
                });
            // Read the body to its end (the tar's trailing blocks, or what an error left) so
            // the client sees the response instead of a broken pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
            res
        })
        .await?;
        if let Ok(rec) = self.get(&id) {
            self.event("extract-to-dir", &rec, &[]);
        }
        Ok(())
    }
}

/// The extraction of a `PUT`: `Err(Ok(_))` for file errors, `Err(Err(_))` for others.
fn put_into(
    root: &Root,
    rec: &ContainerRecord,
    opts: &ArchivePutOptions,
    reader: &mut BlockingBody,
    remap: Option<&crate::remap::IdMapping>,
) -> Result<(), Result<InRootError, EngineError>> {
    inroot::check_extraction_point(root, &opts.path).map_err(Ok)?;
    let owner = if opts.copy_uid_gid {
        let passwd = root.read_text("/etc/passwd").unwrap_or_default();
        let group = root.read_text("/etc/group").unwrap_or_default();
        let (uid, gid, _) = spec::parse_user(&passwd, &group, &rec.config.user)
            .map_err(|m| Err(EngineError::invalid(m)))?;
        Some(match remap {
            Some(map) => (
                map.host_uid(uid).unwrap_or(uid),
                map.host_gid(gid).unwrap_or(gid),
            ),
            None => (uid, gid),
        })
    } else {
        None
    };
    let eo = ExtractOptions {
        no_overwrite_dir_non_dir: opts.no_overwrite_dir_non_dir,
        owner,
        ..ExtractOptions::default()
    };
    match remap {
        // The archive speaks the container's ids; its files are stored in the remapped ones.
        Some(map) => inroot::extract(
            root,
            &opts.path,
            ShiftReader::new(reader, map, Direction::ToHost),
            &eo,
        ),
        None => inroot::extract(root, &opts.path, reader, &eo),
    }
    .map_err(Ok)
}

impl Containers {
    /// What a stopped container has mounted when it runs, as (host path, destination,
    /// read-only): its binds (`-v /host:…`, `Mounts` of type bind) and its volumes, named
    /// and anonymous (a device volume is mounted for it). tmpfs mounts have no content then.
    fn mount_sources(&self, rec: &ContainerRecord) -> Result<Vec<(String, String, bool)>> {
        let mut out = Vec::new();
        for m in &rec.mounts {
            let src = match m.kind.as_str() {
                "bind" => m.source.clone(),
                "volume" => {
                    let data = self
                        .volumes
                        .store
                        .mount(&m.name, &rec.id)
                        .map_err(EngineError::from)?;
                    match crate::volumes::mounts::volume_source(&data, &m.subpath) {
                        Ok(p) => p.display().to_string(),
                        Err(_) => continue,
                    }
                }
                _ => continue,
            };
            if std::path::Path::new(&src).exists() {
                out.push((src, m.destination.clone(), !m.rw));
            }
        }
        Ok(out)
    }
}

/// The mounts of a stopped container ([`Containers::mount_sources`]) made on its root for
/// the copy, as Docker mounts a container's volumes; mount points are created inside the
/// root through descriptors. `done` gets each mount made, outermost first (also when a later
/// one fails).
fn mount_binds(
    root: &Root,
    mut binds: Vec<(String, String, bool)>,
    done: &mut Vec<OwnedFd>,
) -> std::io::Result<()> {
    binds.sort_by_key(|(_, dst, _)| inroot::clean(dst).len());
    for (src, dst, ro) in binds {
        let is_dir = std::fs::metadata(&src).map(|m| m.is_dir()).unwrap_or(true);
        let target = inroot::create_in_root(root, std::path::Path::new(&dst), is_dir)?;
        rustix::mount::mount_bind_recursive(src.as_str(), inroot::proc_fd_path(&target).as_str())?;
        // The mount now on top of the mount point.
        let mounted = inroot::open_in_root(root, std::path::Path::new(&dst))?;
        done.push(mounted.try_clone()?);
        if ro {
            inroot::remount_bind(&mounted, rustix::mount::MountFlags::RDONLY)?;
        }
    }
    Ok(())
}

/// The wire form of a path's stat (`X-Docker-Container-Path-Stat`).
fn wire_stat(s: PathStat) -> ContainerPathStat {
    ContainerPathStat {
        name: s.name,
        size: s.size,
        mode: s.mode,
        mtime: s.mtime.to_rfc3339(berth_units::SubSeconds::Trimmed),
        link_target: s.link_target,
    }
}

/// True when `path` lies in a writable mount of the container (a bind or a volume: writable
/// despite a read-only root).
fn in_bind(rec: &ContainerRecord, path: &str) -> bool {
    let p = inroot::clean(path);
    rec.mounts.iter().any(|m| {
        let d = inroot::clean(&m.destination);
        m.kind != "tmpfs" && m.rw && !d.is_empty() && p.starts_with(&d)
    })
}

/// The request body as a blocking reader (fed by an async task).
struct BlockingBody {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    cur: Bytes,
}

impl std::io::Read for BlockingBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = self.cur.len().min(buf.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

struct ChannelWriter(mpsc::Sender<std::io::Result<Bytes>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
