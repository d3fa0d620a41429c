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
        let rec = match self.store.get::<ContainerRecord>(KIND, &id) {
            Ok(Some(rec)) => rec,
            Ok(None) => return Err(EngineError::no_such_container(reference)),
            // A record this berth cannot read (another version's, damaged): `rm -f` still
            // removes it and whatever its id names.
            Err(_) if force => return self.remove_unreadable(&id).await,
            Err(e) => return Err(meta_err(e)),
        };
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
                // Superseded by the exit handler's save, then by the removal.
                self.save_unsynced(&r).await?;
            }
            if rec.state.paused {
                let _ = self.tasks.pause(&id, false).await;
            }
            if runtime_kill(self, &id, "SIGKILL").await.is_ok() {
                self.event("kill", &rec, &[("signal", "9".into())]);
            }
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
        // Not fsync'd: the record's deletion below is, and a crash of the daemon in between
        // keeps the mark (the next start finishes the removal).
        self.save_unsynced(&rec).await?;
        crate::crash::point("rm-after-mark");
        self.release_task_resources(&id).await;
        // A shim that reported the exit deletes the runtime state itself, right after; only
        // state without such a shim (never started, or its shim died) is ours to delete.
        let state_dir = self.state_dir(&id);
        let shim_finishing =
            task::read_exit_record(&state_dir).is_some() && self.tasks.shim_alive(&id);
        if self.tasks.has_state(&id) && !shim_finishing {
            let _ = self.tasks.delete(&id).await;
        }
        let this = self.clone();
        let rec2 = rec.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            this.volumes.container_removed(&rec2, volumes);
            let _ = this.images.images().snapshots.remove(&rec2.id);
            let _ = std::fs::remove_dir_all(this.state_dir(&rec2.id));
            let _ = std::fs::remove_dir_all(this.data_dir(&rec2.id));
            crate::crash::point("rm-after-snapshot");
            this.delete_record(&rec2.id)
        })
        .await
        .map_err(EngineError::internal)??;
        self.event("destroy", &rec, &[]);
        let live = self.live(&id);
        let _ = live.signals.send(Signal::Removed(rec.state.exit_code));
        self.forget(&id);
        Ok(())
    }

    /// Deletes the record of `id` and every name the index gives it, in one transaction; a
    /// name another container owns stays that container's.
    fn delete_record(&self, id: &str) -> Result<()> {
        let mut tx = self.store.transaction();
        tx.delete(KIND, id).map_err(meta_err)?;
        for (name, owner) in self.store.names(KIND) {
            if owner == id {
                tx.release_name(KIND, &name).map_err(meta_err)?;
            }
        }
        tx.commit().map_err(meta_err)?;
        Ok(())
    }

    /// `rm -f` of a record that does not decode: ends its task, removes its mounts,
    /// snapshot and directories by id, then the record and its names.
    async fn remove_unreadable(self: &Arc<Self>, id: &str) -> Result<()> {
        let live = self.live(id);
        let _op = live.op.lock().await;
        self.networks.network_down(id).await;
        if self.tasks.has_state(id) {
            let _ = self.tasks.delete(id).await;
        }
        self.unmount_rootfs(id);
        let this = self.clone();
        let id2 = id.to_string();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let _ = this.images.images().snapshots.remove(&id2);
            let _ = std::fs::remove_dir_all(this.state_dir(&id2));
            let _ = std::fs::remove_dir_all(this.data_dir(&id2));
            this.delete_record(&id2)
        })
        .await
        .map_err(EngineError::internal)??;
        self.forget(id);
        Ok(())
    }
}
