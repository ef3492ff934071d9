//! Replay protection: a delivery id (or, for senders without one, the signature itself) is
//! accepted once per endpoint within a window. Memory is bounded: the oldest ids go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// How long a delivery id is remembered.
pub const WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// The most ids remembered at once (over all endpoints).
pub const CAPACITY: usize = 200_000;

#[derive(Debug, Default)]
struct Seen {
    at: HashMap<String, i64>,
    order: VecDeque<(i64, String)>,
}

/// Ids seen, with the time (Unix milliseconds) they were seen.
#[derive(Debug)]
pub struct ReplayGuard {
    window_ms: i64,
    capacity: usize,
    seen: Mutex<Seen>,
}

impl Default for ReplayGuard {
    fn default() -> ReplayGuard {
        ReplayGuard::new(WINDOW, CAPACITY)
    }
}

impl ReplayGuard {
    pub fn new(window: Duration, capacity: usize) -> ReplayGuard {
        ReplayGuard {
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            capacity: capacity.max(1),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Records `key` at `now_ms`; false when it was already seen within the window (a replay).
    pub fn first_time(&self, key: &str, now_ms: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((at, old)) = seen.order.front().cloned() {
            if now_ms - at < self.window_ms && seen.order.len() < self.capacity {
                break;
            }
            seen.order.pop_front();
            if seen.at.get(&old) == Some(&at) {
                seen.at.remove(&old);
            }
        }
        if seen.at.get(key).is_some_and(|&at| now_ms - at < self.window_ms) {
            return false;
        }
        seen.at.insert(key.to_string(), now_ms);
        seen.order.push_back((now_ms, key.to_string()));
        true
    }

    /// Forgets an id (its delivery was refused after all, e.g. a body that is not JSON, so
    /// the sender's retry must go through).
    pub fn forget(&self, key: &str) {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).at.remove(key);
    }

    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_passes_once_within_the_window_and_again_after_it() {
        let guard = ReplayGuard::new(Duration::from_secs(60), 100);
        assert!(guard.first_time("a", 0));
        assert!(!guard.first_time("a", 59_999));
        assert!(guard.first_time("b", 30_000));
        assert!(guard.first_time("a", 60_000), "the window has passed");
        guard.forget("b");
        assert!(guard.first_time("b", 40_000));
    }

    #[test]
    fn memory_is_bounded() {
        let guard = ReplayGuard::new(Duration::from_secs(3600), 1000);
        for i in 0..5000 {
            assert!(guard.first_time(&format!("id-{i}"), i));
        }
        assert!(guard.len() <= 1000, "{}", guard.len());
        assert!(!guard.first_time("id-4999", 5000), "recent ids are still remembered");
    }
}
