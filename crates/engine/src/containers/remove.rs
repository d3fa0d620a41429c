//! `DELETE /containers/{id}`: crash-safe removal (marked first, finished at the next start after a crash).

use std::sync::Arc;
use std::time::Duration;

use crate::error::{EngineError, Result};

use super::task::{self, Signal};
use super::{meta_err, Containers};
use crate::record::{self, ContainerRecord, KIND};

use super::ops::*;

impl Containers {
    /// `DELETE /containers/{id}` (`volumes`: also its anonymous volumes, `rm -v`).
    pub async fn remove(
        self: &Arc<Self>,
        reference: &str,
        force: bool,
        volumes: bool,
    ) -> Result<()> {
        let id = self.resolve(reference)?;
        let live = self.live(&id);
        let rec = self.get(&id)?;
        if rec.state.restarting && !rec.state.running && !force {
            return Err(EngineError::conflict(format!(
                "cannot remove container \"{}\": container is restarting: stop the container before removing or force remove",
                rec.name
            )));
        }
        if rec.state.running {
            if !force {
                let what = if rec.state.paused {
                    "paused"
                } else if rec.state.restarting {
                    "restarting"
                } else {
                    "running"
                };
                return Err(EngineError::conflict(format!(
                    "cannot remove container \"{}\": container is {what}: stop the container before removing or force remove",
                    rec.name
                )));
            }
            let mut rx = live.signals.subscribe();
            {
                let _op = live.op.lock().await;
                let mut r = self.get(&id)?;
                r.manually_stopped = true;
                self.save(&r).await?;
            }
            if rec.state.paused {
                let _ = runtime(self, &["resume", &id]).await;
            }
            let _ = runtime(self, &["kill", &id, "SIGKILL"]).await;
            self.wait_exit(&mut rx, Some(Duration::from_secs(15))).await;
            // The exit handler may have auto-removed it already.
            if self.get(&id).is_err() {
                return Ok(());
            }
        }
        let _op = live.op.lock().await;
        let rec = self.get(&id)?;
        self.remove_now(rec, volumes).await
    }

    /// Removes the record and what belongs to it; `volumes` also drops its anonymous
    /// volumes (`rm -v`, and `--rm` containers as Docker does).
    ///
    /// The record is marked `removing` first and deleted last: a crash in between leaves a
    /// record the next daemon start finishes removing (`containers/reconcile.rs`).
    pub(super) async fn remove_now(
        self: &Arc<Self>,
        mut rec: ContainerRecord,
        volumes: bool,
    ) -> Result<()> {
        let id = rec.id.clone();
        rec.removing = Some(record::Removal { volumes });
        rec.state.status = "removing".into();
        self.save(&rec).await?;
        crate::crash::point("rm-after-mark");
        self.networks.network_down(&id).await;
        self.unmount_rootfs(&id);
        // A shim that reported the exit deletes the runtime state itself, right after; only
        // state without such a shim (never started, or its shim died) is ours to delete.
        let state_dir = self.state_dir(&id);
        let shim_finishing =
            task::read_exit_record(&state_dir).is_some() && task::shim_alive(&state_dir);
        if runtime_root(self).join(&id).exists() && !shim_finishing {
            let _ = runtime(self, &["delete", "--force", &id]).await;
        }
        let this = self.clone();
        let rec2 = rec.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            this.volumes.container_removed(&rec2, volumes);
            let _ = this.images.images().snapshots.remove(&rec2.id);
            let _ = std::fs::remove_dir_all(this.state_dir(&rec2.id));
            let _ = std::fs::remove_dir_all(this.data_dir(&rec2.id));
            crate::crash::point("rm-after-snapshot");
            let mut tx = this.store.transaction();
            tx.delete(KIND, &rec2.id).map_err(meta_err)?;
            tx.release_name(KIND, &rec2.name).map_err(meta_err)?;
            tx.commit().map_err(meta_err)?;
            Ok(())
        })
        .await
        .map_err(EngineError::internal)??;
        self.event("destroy", &rec, &[]);
        let live = self.live(&id);
        let _ = live.signals.send(Signal::Removed(rec.state.exit_code));
        self.forget(&id);
        Ok(())
    }
}
