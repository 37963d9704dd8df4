//! Entra's matching queries, coalesced per worker thread on PostgreSQL.
//!
//! A match is one index probe, but on PostgreSQL every statement is also a round trip that
//! wakes the database's process and then the worker, and that fixed part cost about twice
//! the probe (pgbench on the match statement: 19,500 statements of one key a second against
//! 14,500 of four keys). Matches that a worker reads together (its other connections'
//! requests of the same turn of its event loop) wait for that turn to end and then go to
//! the database as one statement; a lone match goes alone, one turn later.

use std::cell::RefCell;

use super::users::{users_by_emails, EmailKey, UserRow};
use super::{DbUrl, Store, StoreError};

/// Most keys in one statement (each batch size is a statement the connection keeps).
const MAX_KEYS: usize = 16;

/// What a match waits for: its users, or why the database could not say.
type Answer = Result<Option<Vec<UserRow>>, String>;

struct Waiting {
    key: EmailKey,
    answer: tokio::sync::oneshot::Sender<Answer>,
}

thread_local! {
    /// This worker's matches not yet sent.
    static WAITING: RefCell<Vec<Waiting>> = const { RefCell::new(Vec::new()) };
}

impl Store {
    /// The live users with this email (see [`users_by_emails`]), in creation order; None
    /// where more share it than a point query resolves. On PostgreSQL coalesced with the
    /// other matches this worker is serving.
    pub async fn users_by_email(&self, key: EmailKey) -> Result<Option<Vec<UserRow>>, StoreError> {
        if !matches!(self.url, DbUrl::Postgres(_)) {
            return self
                .lookup(move |conn| Ok::<_, StoreError>(users_by_emails(conn, std::slice::from_ref(&key))?.pop().flatten()))
                .await;
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        let first = WAITING.with(|w| {
            let mut waiting = w.borrow_mut();
            waiting.push(Waiting { key, answer });
            waiting.len() == 1
        });
        if first {
            let store = self.clone();
            // A task of its own, so that no request's future (dropped when its client
            // goes away) carries the others' answers.
            actix_web::rt::spawn(async move {
                // Let the requests read in this turn of the event loop queue theirs first.
                tokio::task::yield_now().await;
                store.send_waiting_matches().await;
            });
        }
        match answered.await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(StoreError::Unavailable(e)),
            Err(_) => Err(StoreError::Unavailable("the match was not completed".into())),
        }
    }

    /// Send this worker's waiting matches, [`MAX_KEYS`] to a statement, until none wait.
    async fn send_waiting_matches(&self) {
        loop {
            let batch: Vec<Waiting> = WAITING.with(|w| {
                let mut waiting = w.borrow_mut();
                let n = waiting.len().min(MAX_KEYS);
                waiting.drain(..n).collect()
            });
            if batch.is_empty() {
                return;
            }
            let keys: Vec<EmailKey> = batch.iter().map(|w| w.key.clone()).collect();
            match self.lookup(move |conn| users_by_emails(conn, &keys)).await {
                Ok(found) => {
                    for (waiting, rows) in batch.into_iter().zip(found) {
                        let _ = waiting.answer.send(Ok(rows));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, matches = batch.len(), "match query failed");
                    let e = e.to_string();
                    for waiting in batch {
                        let _ = waiting.answer.send(Err(e.clone()));
                    }
                }
            }
        }
    }
}
