//! `DELETE /containers/<container>/<alias>?link=1` (`docker rm --link`): drops a legacy
//! link of a container, under its lifecycle lock; a running container's `/etc/hosts`
//! loses the link's lines at once, as with Docker.

use super::Containers;
use crate::error::{EngineError, Result};
use crate::record::KIND;

impl Containers {
    /// Removes the legacy link `reference` (`<container>/<alias>`). As Docker, the name
    /// must name a container first (404 otherwise), and a container's own name is its
    /// "default link name", which cannot be removed.
    pub async fn remove_link(&self, reference: &str) -> Result<()> {
        self.resolve(reference)?;
        let name = format!("/{}", reference.trim_start_matches('/'));
        let Some((parent, alias)) = name[1..].rsplit_once('/') else {
            return Err(EngineError::internal(
                "Conflict, cannot remove the default link name of the container",
            ));
        };
        let parent_id = self
            .store
            .name_owner(KIND, &format!("/{parent}"))
            .ok_or_else(|| {
                EngineError::internal(format!("Cannot get parent /{parent} for link name {name}"))
            })?;
        let live = self.live(&parent_id);
        let _op = live.lock_op().await;
        let mut rec = self.get(&parent_id)?;
        rec.links.retain(|l| l.alias != alias);
        self.save(&rec).await?;
        if rec.state.running {
            self.networks.refresh_hosts(&rec).await;
        }
        Ok(())
    }
}
