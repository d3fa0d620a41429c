//! Pipelined dependency-graph walks: every service gets its own task and each task waits
//! only for the phase it needs of the services it depends on (or of its dependents, when
//! going down), instead of whole levels finishing. `up` creates a dependent while its
//! dependency starts and waits for health; `down` stops the next service while the
//! previous one is still being removed. Compose v2 walks its graph the same way
//! (`InDependencyOrder`, one goroutine per service).

use std::collections::BTreeMap;

use tokio::sync::watch;

/// A phase a service's task has reached; higher is later.
pub type Phase = u8;

/// The phase of a task that failed: waiting for any phase of it ends, unsuccessfully.
pub const FAILED: Phase = Phase::MAX;

/// The current phase of each service's task.
pub struct Phases {
    tx: BTreeMap<String, watch::Sender<Phase>>,
}

impl Phases {
    /// All services at phase 0.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a String>) -> Phases {
        Phases {
            tx: names
                .into_iter()
                .map(|n| (n.clone(), watch::channel(0).0))
                .collect(),
        }
    }

    /// Moves a service to `phase` (never backwards).
    pub fn set(&self, name: &str, phase: Phase) {
        if let Some(tx) = self.tx.get(name) {
            tx.send_modify(|p| *p = (*p).max(phase));
        }
    }

    /// Waits until a service reached `phase`; false when its task failed. A service that is
    /// not part of the walk counts as done.
    pub async fn wait(&self, name: &str, phase: Phase) -> bool {
        let Some(tx) = self.tx.get(name) else {
            return true;
        };
        let mut rx = tx.subscribe();
        let reached = match rx.wait_for(|p| *p >= phase).await {
            Ok(p) => *p != FAILED,
            Err(_) => false,
        };
        reached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn waits_for_the_phase_and_reports_failure() {
        let names = ["a".to_string(), "b".to_string()];
        let ph = Phases::new(&names);
        let waiter = async { (ph.wait("a", 2).await, ph.wait("b", 1).await) };
        let driver = async {
            ph.set("a", 1);
            tokio::task::yield_now().await;
            ph.set("a", 2);
            ph.set("b", FAILED);
        };
        let ((a, b), ()) = tokio::join!(waiter, driver);
        assert!(a);
        assert!(!b);
        assert!(ph.wait("not-in-walk", 1).await);
        ph.set("a", 1);
        assert!(ph.wait("a", 2).await, "a phase never goes backwards");
    }
}
