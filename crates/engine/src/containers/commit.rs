//! `POST /commit`: a new image from a container's read-write layer.

use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::remap::tar::{Direction, ShiftWriter};
use berth_api_types::*;

use super::Containers;
use crate::record::{self};

impl Containers {
    /// `POST /commit`: the container's diff as a layer on top of its image.
    pub async fn commit(
        self: &Arc<Self>,
        images: &crate::images::ImageService,
        opts: berth_api_types::query::CommitOptions,
        config: Option<ContainerConfig>,
    ) -> Result<IdResponse> {
        let rec = self.lookup(&opts.container)?;
        let paused_here = opts.pause && rec.state.running && !rec.state.paused;
        if paused_here {
            let _ = self.pause(&rec.id, true).await;
        }
        let tmp = self
            .data_root
            .join("tmp")
            .join(format!("commit-{}.tar", record::new_id()));
        let this = self.clone();
        let (id, path) = (rec.id.clone(), tmp.clone());
        let remap = self.remap_for(&rec.host_config);
        let written = tokio::task::spawn_blocking(move || -> Result<()> {
            let create = |e| EngineError::io(format!("create {}", path.display()), e);
            std::fs::create_dir_all(path.parent().unwrap_or(&path)).map_err(create)?;
            let f = std::fs::File::create(&path).map_err(create)?;
            let mut w = std::io::BufWriter::new(f);
            let snapshots = &this.images.images().snapshots;
            match &remap {
                // The layer speaks the container's ids, as one pulled would.
                Some(map) => {
                    snapshots.write_diff(&id, ShiftWriter::new(&mut w, map, Direction::ToContainer))
                }
                None => snapshots.write_diff(&id, &mut w),
            }?;
            std::io::Write::flush(&mut w)
                .map_err(|e| EngineError::io(format!("write {}", path.display()), e))
        })
        .await?;
        if paused_here {
            let _ = self.pause(&rec.id, false).await;
        }
        let result = match written {
            Ok(()) => {
                images
                    .commit_layer(
                        &tmp,
                        Some(&rec.image),
                        Some(config.unwrap_or_else(|| rec.config.clone())),
                        &opts,
                    )
                    .await
            }
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_file(&tmp);
        let id = result?;
        self.event("commit", &rec, &[]);
        Ok(IdResponse { id })
    }
}
