//! `POST /containers/{id}/restart`.

use std::sync::Arc;

use crate::error::Result;

use super::Containers;

impl Containers {
    /// `POST /containers/{id}/restart`.
    pub async fn restart(
        self: &Arc<Self>,
        reference: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<()> {
        match self.stop(reference, signal, timeout).await {
            Ok(()) => {}
            Err(e) if e.kind() == crate::error::ErrorKind::NotModified => {}
            Err(e) => return Err(e),
        }
        self.start(reference).await.or_else(|e| {
            if e.kind() == crate::error::ErrorKind::NotModified {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        let rec = self.lookup(reference)?;
        self.event("restart", &rec, &[]);
        Ok(())
    }
}
