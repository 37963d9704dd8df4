//! Whether writes are succeeding, for `/readyz`: a database that answers reads but refuses
//! every write (a full disk, a read-only file system or standby) is not ready.
//!
//! Storage failures are noticed where diesel's errors become [`StoreError`]s, which happens
//! on the thread that ran the write; the write paths then record the outcome on their store.

use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

thread_local! {
    static STORAGE_FAILURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Phrases of the databases' errors that say storage itself is failing, not the request.
const STORAGE_FAILURES: &[&str] = &[
    "database or disk is full",
    "disk I/O error",
    "No space left on device",
    "could not extend file",
    "could not write",
    "attempt to write a readonly database",
    "read-only transaction",
];

/// Whether a database's error message says storage itself is failing (a full disk, a
/// read-only file system or standby), not the request.
pub(crate) fn is_storage_failure(message: &str) -> bool {
    STORAGE_FAILURES.iter().any(|p| message.contains(p))
}

/// Note, for this thread's current write, an error message if it says storage is failing.
pub(crate) fn note_error(message: &str) {
    if is_storage_failure(message) {
        STORAGE_FAILURE.with(|f| *f.borrow_mut() = Some(message.to_string()));
    }
}

/// Take what [`note_error`] noted on this thread since the last call.
pub(crate) fn take_noted() -> Option<String> {
    STORAGE_FAILURE.with(|f| f.borrow_mut().take())
}

/// The last outcomes of a store's writes.
#[derive(Debug, Default)]
pub struct WriteHealth {
    failed_at: AtomicI64,
    ok_at: AtomicI64,
    reason: Mutex<String>,
}

impl WriteHealth {
    /// Record a write's outcome: a storage failure, or success (`None`).
    pub fn record(&self, failure: Option<String>) {
        let now = super::now_millis();
        match failure {
            Some(reason) => {
                *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = reason;
                self.failed_at.store(now, Ordering::Relaxed);
            }
            None => self.ok_at.store(now, Ordering::Relaxed),
        }
    }

    /// Since when (ms) and why writes fail, if the last outcome was a storage failure.
    pub fn failing(&self) -> Option<(i64, String)> {
        let failed = self.failed_at.load(Ordering::Relaxed);
        (failed > 0 && failed >= self.ok_at.load(Ordering::Relaxed)).then(|| {
            (
                failed,
                self.reason
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            )
        })
    }
}
