//! The volumes a container references: made and referenced after create (undone when
//! the record cannot be written), released at removal (anonymous ones with `rm -v`).

use crate::error::{EngineError, Result};

use super::super::Volumes;
use super::*;
use crate::record::ContainerRecord;

impl Volumes {
    /// Creates the plan's missing volumes and references every volume the container mounts.
    /// Returns the names it created (for [`rollback`](Self::rollback)).
    pub fn commit(&self, plan: &Plan, container: &str) -> Result<Vec<String>> {
        let mut created = Vec::new();
        let res = (|| -> Result<()> {
            for v in &plan.volumes {
                if self.store.inspect(&v.name).is_ok() {
                    continue;
                }
                self.store
                    .create_with(
                        &v.name,
                        "local",
                        v.labels.clone(),
                        v.options.clone(),
                        v.anonymous,
                    )
                    .map_err(EngineError::from)?;
                created.push(v.name.clone());
            }
            for m in plan.mounts.iter().filter(|m| m.is_volume()) {
                self.store
                    .add_ref(&m.name, container)
                    .map_err(EngineError::from)?;
            }
            Ok(())
        })();
        match res {
            Ok(()) => {
                for n in &created {
                    self.event("create", n, &[]);
                }
                Ok(created)
            }
            Err(e) => {
                self.rollback(plan, container, &created);
                Err(e)
            }
        }
    }

    /// Undoes [`commit`](Self::commit): drops the references and the volumes it created.
    pub fn rollback(&self, plan: &Plan, container: &str, created: &[String]) {
        for m in plan.mounts.iter().filter(|m| m.is_volume()) {
            self.store.remove_ref(&m.name, container);
        }
        for n in created {
            let _ = self.store.remove(n, true);
        }
    }

    /// The container record is gone: drop its references; with `remove_anonymous`
    /// (`rm -v`, `--rm`) also remove its anonymous volumes no other container uses.
    pub fn container_removed(&self, rec: &ContainerRecord, remove_anonymous: bool) {
        self.store.unmount_container(&rec.id);
        for m in rec.mounts.iter().filter(|m| m.is_volume()) {
            self.store.remove_ref(&m.name, &rec.id);
        }
        if !remove_anonymous {
            return;
        }
        for m in rec.mounts.iter().filter(|m| m.is_volume()) {
            if self.store.is_anonymous(&m.name).unwrap_or(false)
                && self.store.remove(&m.name, false).is_ok()
            {
                self.event("destroy", &m.name, &[]);
            }
        }
    }
}
