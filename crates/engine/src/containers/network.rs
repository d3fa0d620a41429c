//! `network connect|disconnect` on the container side: the container's lifecycle lock is
//! held while [`crate::networks::Networks`] changes its attachments, and the record is saved
//! here, so a start, stop or removal never runs in between.

use berth_api_types::{NetworkConnectRequest, NetworkDisconnectRequest};

use super::Containers;
use crate::error::Result;

impl Containers {
    /// `POST /networks/{id}/connect`.
    pub async fn network_connect(&self, reference: &str, req: NetworkConnectRequest) -> Result<()> {
        let nrec = self.networks.resolve(reference)?;
        let id = self.resolve(&req.container)?;
        let live = self.live(&id);
        let _op = live.lock_op().await;
        let mut rec = self.get(&id)?;
        let es = req.endpoint_config.unwrap_or_default();
        self.networks.connect_container(&nrec, &mut rec, es).await?;
        self.save(&rec).await
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn network_disconnect(
        &self,
        reference: &str,
        req: NetworkDisconnectRequest,
    ) -> Result<()> {
        let nrec = self.networks.resolve(reference)?;
        let id = self.resolve(&req.container)?;
        let live = self.live(&id);
        let _op = live.lock_op().await;
        let mut rec = self.get(&id)?;
        self.networks.disconnect_container(&nrec, &mut rec).await?;
        self.save(&rec).await
    }
}
