//! Values read from the database that an instance may trust for a while: state that other
//! processes change (a token's record, a tenant's custom fields), kept for
//! [`super::Store::recheck_interval`] so that the database is not asked at every request.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Values by key with when they were read; at most `max` of them (then it starts over).
#[derive(Debug)]
pub struct Recent<V> {
    max: usize,
    entries: RwLock<HashMap<String, (V, Instant)>>,
}

impl<V: Clone> Recent<V> {
    /// An empty set holding at most `max` values.
    pub fn new(max: usize) -> Recent<V> {
        Recent {
            max,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The value of `key` if it was read less than `max_age` ago.
    pub fn get(&self, key: &str, max_age: Duration) -> Option<V> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < max_age)
            .map(|(v, _)| v.clone())
    }

    /// Remember `value` as read now.
    pub fn put(&self, key: &str, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.max {
            entries.clear();
        }
        entries.insert(key.to_string(), (value, Instant::now()));
    }

    /// Read `key` again next time (it was just changed through this instance).
    pub fn forget(&self, key: &str) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}
