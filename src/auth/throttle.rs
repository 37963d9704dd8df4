//! Password-guessing throttle, the rules (the counters live in the database, `login_throttle`,
//! so every instance sees the same ones; `store::throttle` keeps them).
//!
//! Every password check counts against two keys: the username and the client address. Each
//! key allows a few failures, then makes the next attempt wait, doubling each time up to
//! 15 minutes. So that an attacker cannot lock a real admin out by failing on purpose, a
//! username's wait applies only to addresses that have failed themselves: a correct password
//! from an address with no failures still logs in, while the guessing address waits. An
//! attempt is counted as a failure *before* the password is checked (and forgiven on
//! success), so concurrent guesses cannot all slip through one check.

/// Failures allowed per key before waiting starts.
pub const FREE_FAILURES: i64 = 5;
/// Failures older than this are forgotten (ms).
pub const WINDOW_MILLIS: i64 = 15 * 60 * 1000;
/// Longest wait (ms).
pub const MAX_WAIT_MILLIS: i64 = 15 * 60 * 1000;

/// A key's counter as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counter {
    pub failures: i64,
    pub last_failure: i64,
    pub blocked_until: i64,
}

impl Counter {
    /// The counter as it stands at `now` (old failures forgotten).
    pub fn current(self, now: i64) -> Counter {
        if now - self.last_failure > WINDOW_MILLIS {
            Counter::default()
        } else {
            self
        }
    }

    /// Milliseconds this key still asks the caller to wait.
    pub fn wait(self, now: i64) -> i64 {
        (self.current(now).blocked_until - now).max(0)
    }

    /// The counter with one failure forgiven: an attempt counted before it was checked that
    /// turned out right (the failures of others stay).
    pub fn forgiven_once(self, now: i64) -> Counter {
        let current = self.current(now);
        let failures = (current.failures - 1).max(0);
        Counter {
            failures,
            last_failure: current.last_failure,
            blocked_until: if failures >= FREE_FAILURES {
                current.blocked_until
            } else {
                0
            },
        }
    }

    /// The counter after one more failure at `now`.
    pub fn failed(self, now: i64) -> Counter {
        let failures = self.current(now).failures + 1;
        let blocked_until = if failures >= FREE_FAILURES {
            let exp = (failures - FREE_FAILURES).min(20);
            now + (1000i64 << exp).min(MAX_WAIT_MILLIS)
        } else {
            0
        };
        Counter {
            failures,
            last_failure: now,
            blocked_until,
        }
    }
}

/// The two keys of a password check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKeys {
    /// `user:` and the username's fingerprint (never the username itself).
    pub user: String,
    /// `addr:` and the client address.
    pub address: String,
}

impl ThrottleKeys {
    /// The keys of a username (compared case-insensitively) from an address.
    pub fn new(username: &str, address: std::net::IpAddr) -> ThrottleKeys {
        ThrottleKeys {
            user: format!("user:{}", username_fingerprint(username)),
            address: format!("addr:{address}"),
        }
    }
}

/// The key of setup-link attempts from a client address. Setup links have a counter of their
/// own: a guessed link spends none of the address's password attempts, and a mistyped
/// password none of its link attempts. Only the address counts; a link has no name to count
/// against, and each address waits for its own failures alone.
pub fn setup_link_key(address: std::net::IpAddr) -> String {
    format!("setup:{address}")
}

/// A short, stable stand-in for a username in logs and keys: the first 16 hex digits of the
/// SHA-256 of its lower-case form. A username field can hold a mistyped password or a
/// newline; neither may reach a log line.
pub fn username_fingerprint(username: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, username.to_lowercase().as_bytes());
    digest
        .as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Milliseconds an attempt must wait given the username's and the address's counters.
pub fn wait_for(user: Counter, address: Counter, now: i64) -> i64 {
    let address_wait = address.wait(now);
    // The username's wait binds only an address that has failed itself.
    let user_wait = if address.current(now).failures > 0 {
        user.wait(now)
    } else {
        0
    };
    address_wait.max(user_wait)
}

/// Whole seconds for a wait in ms (at least 1).
pub fn wait_seconds(wait_millis: i64) -> u64 {
    u64::try_from((wait_millis + 999) / 1000)
        .unwrap_or(1)
        .max(1)
}

/// Waits this instance already read from the database, by key: while one runs, an attempt
/// with that key is answered without asking the database again, so a flood of throttled
/// attempts costs no queries. (Only waits are remembered; the database stays the truth.)
#[derive(Debug, Default)]
pub struct KnownWaits {
    until: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl KnownWaits {
    /// Milliseconds still to wait for any of these keys, as far as this instance knows.
    pub fn wait(&self, keys: &ThrottleKeys, now: i64) -> i64 {
        // Only the address's own wait: a username's wait depends on the address too.
        self.wait_key(&keys.address, now)
    }

    /// Remember that the address of these keys must wait `wait` ms from `now`.
    pub fn remember(&self, keys: &ThrottleKeys, wait: i64, now: i64) {
        self.remember_key(&keys.address, wait, now);
    }

    /// Milliseconds still to wait for one key (an address's), as far as this instance knows.
    pub fn wait_key(&self, key: &str, now: i64) -> i64 {
        let map = self.until.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).map_or(0, |until| (until - now).max(0))
    }

    /// Remember that one key (an address's) must wait `wait` ms from `now`.
    pub fn remember_key(&self, key: &str, wait: i64, now: i64) {
        let mut map = self.until.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, until| *until > now);
        }
        map.insert(key.to_string(), now + wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(n: i64, now: i64) -> Counter {
        (0..n).fold(Counter::default(), |c, _| c.failed(now))
    }

    #[test]
    fn waits_start_after_free_failures_and_double() {
        assert_eq!(after(FREE_FAILURES - 1, 1_000).wait(1_000), 0);
        assert_eq!(after(FREE_FAILURES, 1_000).wait(1_000), 1_000);
        assert_eq!(after(FREE_FAILURES + 1, 1_000).wait(1_500), 1_500);
        assert_eq!(after(100, 0).wait(0), MAX_WAIT_MILLIS);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let c = after(10, 0);
        assert!(c.wait(1) > 0);
        assert_eq!(c.wait(WINDOW_MILLIS + 1), 0);
        assert_eq!(c.failed(WINDOW_MILLIS + 1).failures, 1);
    }

    #[test]
    fn a_username_under_attack_still_logs_in_from_a_clean_address() {
        let user = after(50, 0);
        let clean = Counter::default();
        assert_eq!(wait_for(user, clean, 10), 0);
        let guessing = after(1, 0);
        assert!(wait_for(user, guessing, 10) > 0);
        assert!(wait_for(Counter::default(), after(FREE_FAILURES, 0), 10) > 0);
    }

    #[test]
    fn forgiving_one_attempt_keeps_the_others() {
        let c = after(FREE_FAILURES, 0);
        assert!(c.wait(0) > 0);
        let forgiven = c.forgiven_once(0);
        assert_eq!(forgiven.failures, FREE_FAILURES - 1);
        assert_eq!(forgiven.wait(0), 0);
        let many = after(FREE_FAILURES + 3, 0).forgiven_once(0);
        assert_eq!(many.failures, FREE_FAILURES + 2);
        assert!(many.wait(0) > 0);
        assert_eq!(Counter::default().forgiven_once(0).failures, 0);
    }

    #[test]
    fn fingerprints_hide_the_username() {
        let f = username_fingerprint("Alice\nforged line");
        assert_eq!(f.len(), 16);
        assert!(f.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(f, username_fingerprint("alice\nFORGED LINE"));
    }
}
