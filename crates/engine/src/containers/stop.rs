//! `POST /containers/{id}/stop`: the stop signal, then SIGKILL after the timeout.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{EngineError, Result};
use tokio::sync::broadcast;

use super::task::Signal;
use super::Containers;

use super::ops::*;

impl Containers {
    pub(super) async fn wait_exit(
        &self,
        rx: &mut broadcast::Receiver<Signal>,
        timeout: Option<Duration>,
    ) -> bool {
        let fut = async {
            loop {
                match rx.recv().await {
                    Ok(Signal::Exited(_)) | Ok(Signal::Removed(_)) => return true,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return false,
                }
            }
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, fut).await.unwrap_or(false),
            None => fut.await,
        }
    }

    /// `POST /containers/{id}/stop`.
    pub async fn stop(
        self: &Arc<Self>,
        reference: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<()> {
        let id = self.resolve(reference)?;
        let live = self.live(&id);
        let _op = live.op.lock().await;
        let mut rec = self.get(&id)?;
        rec.manually_stopped = true;
        if rec.state.restarting {
            rec.state.restarting = false;
            rec.state.status = "exited".into();
            self.save(&rec).await?;
            return Ok(());
        }
        if !rec.state.running {
            self.save(&rec).await?;
            return Err(EngineError::not_modified());
        }
        // The exit handler saves the record durably (with this mark) once the task ends.
        self.save_unsynced(&rec).await?;
        self.stop_task(&rec, &live, signal, timeout).await;
        Ok(())
    }

    /// Stops the running task of `rec` (its op lock held): the stop signal (`signal`, else
    /// the container's, else SIGTERM), SIGKILL after the timeout (`timeout`, else the
    /// container's, else 10 s; negative waits forever), then the `stop` event.
    pub(super) async fn stop_task(
        &self,
        rec: &crate::record::ContainerRecord,
        live: &super::task::Live,
        signal: Option<String>,
        timeout: Option<i64>,
    ) {
        let id = rec.id.as_str();
        let mut rx = live.signals.subscribe();
        if rec.state.paused {
            let _ = self.tasks.pause(id, false).await;
        }
        // An empty signal (query or config) means "not set", as in Docker.
        let sig = signal
            .filter(|s| !s.is_empty())
            .or(rec.config.stop_signal.clone().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "SIGTERM".into());
        let secs = timeout.or(rec.config.stop_timeout).unwrap_or(10);
        // dockerd logs a `kill` event for each signal it sends, the stop signal and SIGKILL.
        if runtime_kill(self, id, &sig).await.is_ok() {
            let num = parse_signal(&sig).unwrap_or(15);
            self.event("kill", rec, &[("signal", num.to_string())]);
        }
        let t = if secs < 0 {
            None
        } else {
            Some(Duration::from_secs(secs.unsigned_abs()))
        };
        if !self.wait_exit(&mut rx, t).await {
            if runtime_kill(self, id, "SIGKILL").await.is_ok() {
                self.event("kill", rec, &[("signal", "9".into())]);
            }
            self.wait_exit(&mut rx, Some(Duration::from_secs(30))).await;
        }
        self.event("stop", rec, &[]);
    }
}
