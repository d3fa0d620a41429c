//! Progress events for blob transfers.

use std::sync::Arc;

use berth_content::Digest;

/// What is happening to one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressStatus {
    /// Already in the content store (pull) or the registry (push): nothing transferred.
    Exists,
    /// Bytes are moving; `current` of `total` done.
    Transferring,
    /// A transient error: the transfer starts again from zero.
    Retrying,
    /// Mounted from another repository of the same registry (push).
    Mounted,
    /// Transfer finished and verified.
    Done,
}

/// One progress event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The blob.
    pub digest: Digest,
    /// Bytes so far.
    pub current: u64,
    /// Total bytes.
    pub total: u64,
    /// What is happening.
    pub status: ProgressStatus,
}

/// A progress callback, shared between concurrent transfers.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

pub(crate) fn emit(
    progress: Option<&ProgressFn>,
    digest: &Digest,
    current: u64,
    total: u64,
    status: ProgressStatus,
) {
    if let Some(f) = progress {
        f(&Progress {
            digest: digest.clone(),
            current,
            total,
            status,
        });
    }
}
