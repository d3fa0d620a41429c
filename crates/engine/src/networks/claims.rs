//! Networks being created or removed. Each of those requests spends tens of milliseconds
//! on the bridge and the firewall, so they run side by side (compose creates and removes
//! its networks together, and the manager lets their firewall changes share one run); a
//! claim on the name (create) or the id (remove) still keeps a name from being created
//! twice and a network from being removed twice.

use std::collections::HashSet;
use std::sync::Mutex;

/// Keys claimed by requests in flight.
#[derive(Debug, Default)]
pub(super) struct Claims(Mutex<HashSet<String>>);

/// A claim, released on drop.
#[derive(Debug)]
pub(super) struct Claim<'a> {
    claims: &'a Claims,
    key: String,
}

impl Claims {
    /// Claims `key` unless another request holds it or `taken()` says it is in use (checked
    /// under the claims' lock, so two requests never both pass).
    pub(super) fn claim(&self, key: String, taken: impl FnOnce() -> bool) -> Option<Claim<'_>> {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if set.contains(&key) || taken() {
            return None;
        }
        set.insert(key.clone());
        Some(Claim { claims: self, key })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.claims
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_claimed_once_until_released() {
        let claims = Claims::default();
        let a = claims
            .claim("name:a".into(), || false)
            .expect("first claim");
        assert!(claims.claim("name:a".into(), || false).is_none());
        assert!(claims.claim("name:b".into(), || true).is_none());
        drop(a);
        assert!(claims.claim("name:a".into(), || false).is_some());
    }
}
