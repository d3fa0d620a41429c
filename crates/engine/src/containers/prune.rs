//! `POST /containers/prune`: removes stopped containers matching the filters.

use std::sync::Arc;

use crate::error::Result;
use berth_api_types::*;

use super::Containers;
use crate::record::{ContainerRecord, KIND};

impl Containers {
    /// `POST /containers/prune`.
    pub async fn prune(self: &Arc<Self>, filters: &Filters) -> Result<ContainerPruneResponse> {
        let recs = self
            .store
            .list::<ContainerRecord>(KIND)
            .map_err(super::meta_err)?;
        let mut resp = ContainerPruneResponse::default();
        for (_, rec) in recs {
            if rec.state.running || rec.state.restarting {
                continue;
            }
            let labels = rec.config.labels.clone().unwrap_or_default();
            if !labels_match(&labels, filters.get("label")) {
                continue;
            }
            let size = self.size_rw(&rec.id);
            if self.remove(&rec.id, false, false).await.is_ok() {
                resp.containers_deleted
                    .get_or_insert_with(Vec::new)
                    .push(rec.id.clone());
                resp.space_reclaimed += size;
            }
        }
        Ok(resp)
    }
}
