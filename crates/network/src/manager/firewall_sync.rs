//! Firewall applies without a queue of `nft` runs: each run replaces berth's table with a
//! snapshot of the manager's state, one run at a time, and a caller whose change a run
//! already covered returns without running again. Two networks created or removed
//! together (compose does both) cost one `nft` run instead of two.
//!
//! A snapshot is taken under the state lock and numbered (`State::fw_generation`): every
//! change made before it is in it, so a caller is done once any snapshot numbered at least
//! as its own has been applied. Callers may hold the state lock while they wait (the runs
//! never take it); those that release it first (network create and remove) let a change
//! made meanwhile join the next run.

use std::sync::Arc;

use tokio::sync::Mutex;

use crate::backend::Firewall;
use crate::error::{NetworkError, Result};
use crate::nft::Ruleset;

/// A numbered snapshot of what the table must contain.
pub(super) type Snapshot = (u64, Ruleset);

#[derive(Debug, Default)]
pub(super) struct FirewallSync {
    /// The newest snapshot offered and not applied yet.
    newest: std::sync::Mutex<Option<Snapshot>>,
    /// The number of the last snapshot applied; held across a run.
    applied: Mutex<u64>,
}

impl FirewallSync {
    /// Replaces the table with `snapshot`, or with a newer one when one was offered
    /// meanwhile; returns at once when a run already applied one as new.
    pub(super) async fn apply(
        &self,
        fw: &Arc<dyn Firewall>,
        table: &str,
        snapshot: Snapshot,
    ) -> Result<()> {
        let generation = snapshot.0;
        {
            let mut newest = self.newest.lock().unwrap_or_else(|e| e.into_inner());
            if newest.as_ref().is_none_or(|(g, _)| *g < generation) {
                *newest = Some(snapshot.clone());
            }
        }
        let mut applied = self.applied.lock().await;
        if *applied >= generation {
            return Ok(());
        }
        // The newest offered (ours or a later one); ours when a failed run took it.
        let taken = self.newest.lock().unwrap_or_else(|e| e.into_inner()).take();
        let (g, rules) = match taken {
            Some(s) if s.0 >= generation => s,
            _ => snapshot,
        };
        let fw = fw.clone();
        tokio::task::spawn_blocking(move || fw.apply(&rules))
            .await
            .map_err(|e| NetworkError::Nft {
                table: table.to_string(),
                message: e.to_string(),
            })??;
        *applied = g;
        Ok(())
    }

    /// Deletes the table, between runs.
    pub(super) async fn delete(&self, fw: &Arc<dyn Firewall>) -> Result<()> {
        let _run = self.applied.lock().await;
        fw.delete()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeFirewall;
    use crate::nft::BridgeRules;

    fn rules(n: usize) -> Ruleset {
        Ruleset {
            bridges: (0..n)
                .map(|i| BridgeRules {
                    bridge: format!("br-{i}"),
                    subnet: format!("10.9.{i}.0/24").parse().unwrap(),
                    subnet6: None,
                    internal: false,
                })
                .collect(),
            ports: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_change_a_newer_run_covered_costs_no_run_of_its_own() {
        let fake = Arc::new(FakeFirewall::new());
        let fw: Arc<dyn Firewall> = fake.clone();
        let sync = FirewallSync::default();
        // The newer snapshot (two networks) is applied first: the older one is in it.
        sync.apply(&fw, "t", (2, rules(2))).await.unwrap();
        sync.apply(&fw, "t", (1, rules(1))).await.unwrap();
        assert_eq!(fake.applies(), 1);
        assert_eq!(fake.current(), Some(rules(2)));
        // A waiting caller runs the newest snapshot offered, whoever offered it.
        {
            let mut newest = sync.newest.lock().unwrap();
            *newest = Some((4, rules(3)));
        }
        sync.apply(&fw, "t", (3, rules(1))).await.unwrap();
        assert_eq!(fake.current(), Some(rules(3)));
        sync.apply(&fw, "t", (4, rules(3))).await.unwrap();
        assert_eq!(fake.applies(), 2);
    }

    #[tokio::test]
    async fn a_failed_run_is_retried_by_the_next_caller_with_its_own_snapshot() {
        let fake = Arc::new(FakeFirewall::new());
        let fw: Arc<dyn Firewall> = fake.clone();
        let sync = FirewallSync::default();
        fake.fail_apply(1);
        assert!(sync.apply(&fw, "t", (1, rules(1))).await.is_err());
        assert_eq!(fake.current(), None);
        sync.apply(&fw, "t", (1, rules(1))).await.unwrap();
        assert_eq!(fake.current(), Some(rules(1)));
    }
}
