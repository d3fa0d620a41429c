//! `GET /containers/{id}/export`: the container's filesystem as a tar stream.

use std::sync::Arc;

use crate::error::Result;
use crate::remap::tar::{Direction, ShiftWriter};
use crate::stream::ByteStream;

use super::Containers;
use crate::record::{self};

impl Containers {
    /// `GET /containers/{id}/export`: a tar of the full root filesystem.
    pub async fn export(self: &Arc<Self>, reference: &str) -> Result<ByteStream> {
        let rec = self.lookup(reference)?;
        let this = self.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::task::spawn_blocking(move || {
            let snaps = &this.images.images().snapshots;
            let key = format!("export-{}", record::new_id());
            let parent = snaps.active(&rec.id).ok().and_then(|a| a.parent);
            let mounted_dir = this.state_dir(&rec.id).join(&key);
            let run = || -> Result<(), String> {
                let root = if rec.state.running {
                    this.rootfs(&rec.id)
                } else {
                    std::fs::create_dir_all(&mounted_dir).map_err(|e| e.to_string())?;
                    let m = snaps.mounts(&rec.id).map_err(|e| e.to_string())?;
                    let remap = this.remap_for(&rec.host_config);
                    super::ops::mount_snapshot(&m, &mounted_dir, remap.as_deref())
                        .map_err(|e| e.to_string())?;
                    mounted_dir.clone()
                };
                let w = ChannelWriter(tx.clone());
                let r = match this.remap_for(&rec.host_config) {
                    Some(map) => berth_image::archive::export(
                        &root,
                        ShiftWriter::new(w, &map, Direction::ToContainer),
                    ),
                    None => berth_image::archive::export(&root, w),
                }
                .map_err(|e| e.to_string());
                if !rec.state.running {
                    let _ = berth_snapshot::unmount(&mounted_dir);
                }
                r
            };
            let _ = parent;
            if let Err(e) = run() {
                let _ = tx.blocking_send(Err(std::io::Error::other(e)));
            }
            let _ = std::fs::remove_dir(&mounted_dir);
        });
        Ok(rx)
    }
}

/// Writes into a byte-stream channel from blocking code.
struct ChannelWriter(tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(bytes::Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
