//! `POST /containers/{id}/kill`.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{EngineError, Result};

use super::Containers;

use super::ops::*;

impl Containers {
    /// `POST /containers/{id}/kill`.
    pub async fn kill(self: &Arc<Self>, reference: &str, signal: Option<String>) -> Result<()> {
        let rec = self.lookup(reference)?;
        // A start in flight finishes first (`docker run`'s sig-proxy can send a signal the
        // moment the container's first output arrives, before its start has returned).
        let live = self.live(&rec.id);
        let starting = match live.starting.try_lock() {
            Ok(g) => g,
            Err(_) => {
                crate::crash::reached("kill-waits-for-start");
                live.starting.lock().await
            }
        };
        let rec = self.get(&rec.id)?;
        drop(starting);
        if !rec.state.running {
            return Err(EngineError::conflict(format!(
                "cannot kill container: {reference}: container {} is not running",
                rec.id
            )));
        }
        let sig = signal
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "SIGKILL".into());
        if parse_signal(&sig).is_none() {
            return Err(EngineError::invalid(format!("Invalid signal: {sig}")));
        }
        let mut rx = live.signals.subscribe();
        runtime_kill(self, &rec.id, &sig).await?;
        self.event(
            "kill",
            &rec,
            &[("signal", parse_signal(&sig).unwrap_or(9).to_string())],
        );
        if parse_signal(&sig) == Some(9) {
            self.wait_exit(&mut rx, Some(Duration::from_secs(10))).await;
        }
        Ok(())
    }
}
