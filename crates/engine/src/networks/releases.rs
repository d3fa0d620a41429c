//! Endpoint releases that finish after the container's exit was recorded.
//!
//! When a task ends, its container leaves the engine's view at once (inspect, ps and
//! `network rm`'s check see it detached), and its veths and addresses are given back to the
//! manager right after, behind the `die` (as dockerd 20.10's `Cleanup` runs after
//! `SetStopped`). What must not overlap that tail waits for it here: removing a network
//! (the manager refuses one with endpoints), and connecting with a fixed address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use super::Networks;

type Pending = Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

/// Releases in flight, by container id.
#[derive(Debug, Default)]
pub struct Releases {
    pending: Pending,
}

/// A release in flight; it is over when this is dropped.
#[derive(Debug)]
pub struct Release {
    pending: Pending,
    id: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    // Dropped after the entry is gone (field order), so a waiter that found the entry
    // waits for exactly this release.
    _held: OwnedMutexGuard<()>,
}

impl Releases {
    /// Registers the release of container `id`'s endpoints.
    pub fn begin(&self, id: &str) -> Release {
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        let held = lock
            .clone()
            .try_lock_owned()
            .unwrap_or_else(|_| unreachable!("a new mutex is unlocked"));
        self.map().insert(id.to_string(), lock.clone());
        Release {
            pending: self.pending.clone(),
            id: id.to_string(),
            lock,
            _held: held,
        }
    }

    /// Waits for every release in flight now.
    pub async fn wait_all(&self) {
        let locks: Vec<_> = self.map().values().cloned().collect();
        for lock in locks {
            drop(lock.lock().await);
        }
    }

    /// True when no release is in flight.
    pub fn idle(&self) -> bool {
        self.map().is_empty()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if map
            .get(&self.id)
            .is_some_and(|l| Arc::ptr_eq(l, &self.lock))
        {
            map.remove(&self.id);
        }
    }
}

impl Networks {
    /// Takes container `id` out of the engine's view at once (inspect, ps, `network rm`'s
    /// check) and gives its published ports back, so that another container may publish
    /// them right away; [`release`](Self::release) gives back the endpoints.
    pub async fn detach(&self, id: &str) -> Release {
        let release = self.releases.begin(id);
        self.take_attached(id);
        let _ = self.mgr.unpublish(id).await;
        release
    }

    /// Deletes the veths of a [`detach`](Self::detach)ed container and frees its addresses.
    pub async fn release(&self, id: &str, release: Release) {
        for ep in self.mgr.endpoints(id).await {
            let _ = self.mgr.disconnect(&ep.network_id, id).await;
        }
        drop(release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_all_returns_once_the_releases_in_flight_are_dropped() {
        let releases = Arc::new(Releases::default());
        assert!(releases.idle());
        let a = releases.begin("a");
        let b = releases.begin("b");
        assert!(!releases.idle());
        let waiter = {
            let releases = releases.clone();
            tokio::spawn(async move { releases.wait_all().await })
        };
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        waiter.await.unwrap();
        assert!(releases.idle());
        // nothing in flight: at once
        releases.wait_all().await;
    }
}
