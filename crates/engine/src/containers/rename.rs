//! `POST /containers/{id}/rename`.

use std::sync::Arc;

use crate::error::{EngineError, Result};

use super::{meta_err, Containers};
use crate::record::{self, KIND};

impl Containers {
    /// `POST /containers/{id}/rename`.
    pub async fn rename(self: &Arc<Self>, reference: &str, new_name: &str) -> Result<()> {
        if !record::valid_name(new_name) {
            return Err(EngineError::invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let mut rec = self.lookup(reference)?;
        let old = rec.name.clone();
        let new = format!("/{}", new_name.trim_start_matches('/'));
        if old == new {
            return Err(EngineError::conflict(
                "Renaming a container with the same name as its current name",
            ));
        }
        rec.name = new.clone();
        let this = self.clone();
        let rec2 = rec.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mut tx = this.store.transaction();
            tx.release_name(KIND, &old).map_err(meta_err)?;
            tx.claim_name(KIND, &new, &rec2.id).map_err(meta_err)?;
            tx.put(KIND, &rec2.id, &rec2).map_err(meta_err)?;
            tx.commit().map_err(meta_err)?;
            Ok(())
        })
        .await
        .map_err(EngineError::internal)??;
        self.event("rename", &rec, &[]);
        Ok(())
    }
}
