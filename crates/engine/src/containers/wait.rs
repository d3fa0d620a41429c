//! `POST /containers/{id}/wait`.

use std::sync::Arc;

use crate::error::Result;
use crate::stream::WaitFuture;
use berth_api_types::query::WaitCondition;
use berth_api_types::*;
use tokio::sync::broadcast;

use super::task::Signal;
use super::Containers;

impl Containers {
    /// `POST /containers/{id}/wait` (registers before returning).
    pub async fn wait(
        self: &Arc<Self>,
        reference: &str,
        cond: WaitCondition,
    ) -> Result<WaitFuture> {
        let rec = self.lookup(reference)?;
        let live = self.live(&rec.id);
        let mut rx = live.signals.subscribe();
        let running = rec.state.running || rec.state.restarting;
        if cond == WaitCondition::NotRunning && !running {
            let code = rec.state.exit_code;
            return Ok(Box::pin(async move {
                ContainerWaitResponse {
                    status_code: code,
                    error: None,
                }
            }));
        }
        Ok(Box::pin(async move {
            loop {
                match rx.recv().await {
                    Ok(Signal::Exited(code)) if cond != WaitCondition::Removed => {
                        return ContainerWaitResponse {
                            status_code: code,
                            error: None,
                        }
                    }
                    Ok(Signal::Removed(code)) => {
                        return ContainerWaitResponse {
                            status_code: code,
                            error: None,
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => {
                        return ContainerWaitResponse {
                            status_code: -1,
                            error: Some(ContainerWaitExitError {
                                message: "daemon is shutting down".into(),
                            }),
                        }
                    }
                }
            }
        }))
    }
}
