//! Replay protection: a delivery is accepted once. Its keys (the verified HMAC, normalised,
//! and the sender's delivery id where the format has one) are remembered until they expire;
//! a delivery any of whose keys is remembered is a replay. Memory is bounded: past the
//! capacity the oldest keys go first. The host persists the keys so they survive restarts.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// How long the keys of a delivery without a signed timestamp are remembered.
pub const WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// The most keys remembered at once (over all endpoints).
pub const CAPACITY: usize = 200_000;

#[derive(Debug, Default)]
struct Seen {
    /// Key → when it expires (Unix milliseconds).
    expires: HashMap<String, i64>,
    /// Keys in the order they were remembered.
    order: VecDeque<String>,
}

/// Keys seen, with when each expires.
#[derive(Debug)]
pub struct ReplayGuard {
    capacity: usize,
    seen: Mutex<Seen>,
}

impl Default for ReplayGuard {
    fn default() -> ReplayGuard {
        ReplayGuard::new(CAPACITY)
    }
}

impl ReplayGuard {
    pub fn new(capacity: usize) -> ReplayGuard {
        ReplayGuard { capacity: capacity.max(1), seen: Mutex::new(Seen::default()) }
    }

    /// Remembers every one of `keys` until `expires_ms`, unless one of them is remembered
    /// and not expired at `now_ms`: then nothing changes and the answer is false (a replay).
    pub fn first_time(&self, keys: &[String], now_ms: i64, expires_ms: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if keys.iter().any(|k| seen.expires.get(k).is_some_and(|&until| now_ms < until)) {
            return false;
        }
        for key in keys {
            Self::insert(&mut seen, key.clone(), expires_ms);
        }
        self.trim(&mut seen, now_ms);
        true
    }

    /// Remembers a key until `expires_ms` (keys read back from storage at start).
    pub fn remember(&self, key: String, expires_ms: i64, now_ms: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        Self::insert(&mut seen, key, expires_ms);
        self.trim(&mut seen, now_ms);
    }

    fn insert(seen: &mut Seen, key: String, expires_ms: i64) {
        if seen.expires.insert(key.clone(), expires_ms).is_none() {
            seen.order.push_back(key);
        }
    }

    /// Drops expired keys at the front, and the oldest past the capacity.
    fn trim(&self, seen: &mut Seen, now_ms: i64) {
        while let Some(front) = seen.order.front() {
            let expired = seen.expires.get(front).is_none_or(|&until| until <= now_ms);
            if !expired && seen.order.len() <= self.capacity {
                break;
            }
            if let Some(key) = seen.order.pop_front() {
                seen.expires.remove(&key);
            }
        }
    }

    /// Forgets keys (their delivery was not run after all: a body that is not JSON, a run
    /// that failed, so the sender's retry must go through).
    pub fn forget(&self, keys: &[String]) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            seen.expires.remove(key);
        }
    }

    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).expires.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_key_passes_once_until_it_expires() {
        let guard = ReplayGuard::new(100);
        assert!(guard.first_time(&keys(&["sig:a", "id:1"]), 0, 60_000));
        assert!(!guard.first_time(&keys(&["sig:a", "id:2"]), 59_999, 119_999), "same signature, new id");
        assert!(!guard.first_time(&keys(&["sig:b", "id:1"]), 59_999, 119_999), "same id, new signature");
        assert!(guard.first_time(&keys(&["sig:b", "id:3"]), 30_000, 90_000), "a refused check remembered nothing");
        assert!(guard.first_time(&keys(&["sig:a"]), 60_000, 120_000), "expired");
        guard.forget(&keys(&["sig:b", "id:3"]));
        assert!(guard.first_time(&keys(&["sig:b", "id:3"]), 61_000, 120_000));
    }

    #[test]
    fn memory_is_bounded() {
        let guard = ReplayGuard::new(1000);
        for i in 0..5000 {
            assert!(guard.first_time(&keys(&[&format!("id-{i}")]), i, 3_600_000));
        }
        assert!(guard.len() <= 1000, "{}", guard.len());
        assert!(!guard.first_time(&keys(&["id-4999"]), 5000, 3_600_000), "recent keys are still remembered");
    }
}
