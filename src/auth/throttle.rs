//! Login throttling: after a few failures a username or address must wait, doubling each
//! time, so password guessing is slow. Kept in memory per instance.

use std::collections::HashMap;
use std::sync::Mutex;

/// Failures allowed before waiting starts.
const FREE_FAILURES: u32 = 5;
/// Failures older than this are forgotten (ms).
const WINDOW_MILLIS: i64 = 15 * 60 * 1000;
/// Longest wait (ms).
const MAX_WAIT_MILLIS: i64 = 15 * 60 * 1000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: i64,
}

/// Failure counters by key (a username or a client address).
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

impl LoginThrottle {
    /// A throttle with no history.
    pub fn new() -> Self {
        Self::default()
    }

    fn wait_for(f: &Failures, now: i64) -> i64 {
        if now - f.last > WINDOW_MILLIS || f.count < FREE_FAILURES {
            return 0;
        }
        let exp = (f.count - FREE_FAILURES).min(20);
        let wait = (1000i64 << exp).min(MAX_WAIT_MILLIS);
        (f.last + wait - now).max(0)
    }

    /// Milliseconds the caller must still wait before trying any of these keys, 0 if none.
    pub fn retry_after(&self, keys: &[&str], now: i64) -> i64 {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| map.get(*k))
            .map(|f| Self::wait_for(f, now))
            .max()
            .unwrap_or(0)
    }

    /// Count a failed attempt against each key.
    pub fn record_failure(&self, keys: &[&str], now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            // Bounded memory under a spray of usernames: forget stale entries.
            map.retain(|_, f| now - f.last <= WINDOW_MILLIS);
        }
        for k in keys {
            let entry = map.entry((*k).to_string()).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now - entry.last > WINDOW_MILLIS {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
        }
    }

    /// Forget failures after a successful login.
    pub fn record_success(&self, keys: &[&str]) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            map.remove(*k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_after_free_failures_and_reset_on_success() {
        let t = LoginThrottle::new();
        for _ in 0..FREE_FAILURES - 1 {
            t.record_failure(&["alice"], 1_000);
        }
        assert_eq!(t.retry_after(&["alice"], 1_000), 0);
        t.record_failure(&["alice"], 1_000);
        assert_eq!(t.retry_after(&["alice"], 1_000), 1_000);
        t.record_failure(&["alice"], 1_000);
        assert_eq!(t.retry_after(&["alice"], 1_500), 1_500);
        assert_eq!(t.retry_after(&["bob"], 1_500), 0);
        t.record_success(&["alice"]);
        assert_eq!(t.retry_after(&["alice"], 1_500), 0);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let t = LoginThrottle::new();
        for _ in 0..10 {
            t.record_failure(&["k"], 0);
        }
        assert!(t.retry_after(&["k"], 1) > 0);
        assert_eq!(t.retry_after(&["k"], WINDOW_MILLIS + 1), 0);
    }
}
