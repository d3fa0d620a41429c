//! `POST /containers/{id}/pause` and `/unpause`.

use std::sync::Arc;

use crate::error::{EngineError, Result};

use super::Containers;

impl Containers {
    /// `POST /containers/{id}/pause` and `unpause`.
    pub async fn pause(self: &Arc<Self>, reference: &str, pause: bool) -> Result<()> {
        let id = self.resolve(reference)?;
        let live = self.live(&id);
        let _op = live.op.lock().await;
        let mut rec = self.get(&id)?;
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "Container {id} is not running"
            )));
        }
        if pause && rec.state.paused {
            return Err(EngineError::conflict(format!(
                "Container {id} is already paused"
            )));
        }
        if !pause && !rec.state.paused {
            return Err(EngineError::conflict(format!(
                "Container {id} is not paused"
            )));
        }
        self.tasks.pause(&id, pause).await?;
        rec.state.paused = pause;
        rec.state.status = if pause { "paused" } else { "running" }.into();
        self.save(&rec).await?;
        self.event(if pause { "pause" } else { "unpause" }, &rec, &[]);
        Ok(())
    }
}
