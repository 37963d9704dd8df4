//! Lookups coalesced per worker thread on PostgreSQL: Entra's matches by mail and reads of a
//! user by id.
//!
//! Each is one index probe, but on PostgreSQL every statement is also a round trip that wakes
//! the database's process and then the worker, and that fixed part cost about twice the probe
//! (pgbench on the match statement: 19,500 statements of one key a second against 14,500 of
//! four keys). Lookups of one kind that a worker reads together (its other connections'
//! requests of the same turn of its event loop) wait for that turn to end and then go to the
//! database as one statement; a lone lookup goes alone, one turn later. SQLite, in process,
//! runs each lookup at once.

use std::cell::RefCell;
use std::thread::LocalKey;

use super::users::{users_by_emails, users_by_ids, EmailKey, UserKey, UserRow};
use super::{DbConn, DbUrl, Store, StoreError};

/// Most keys in one statement (each batch size is a statement the connection keeps).
const MAX_KEYS: usize = 16;

/// A kind of lookup that one statement answers for many keys.
pub trait Coalesce: 'static {
    type Key: Clone + Send + 'static;
    type Found: Send + 'static;
    /// One answer per key, in the keys' order.
    fn find(conn: &mut DbConn, keys: &[Self::Key]) -> Result<Vec<Self::Found>, StoreError>;
    /// This worker's lookups of this kind not yet sent.
    fn waiting() -> &'static LocalKey<RefCell<Vec<Waiting<Self>>>>;
}

/// A lookup waiting for its statement.
pub struct Waiting<C: Coalesce + ?Sized> {
    key: C::Key,
    answer: tokio::sync::oneshot::Sender<Result<C::Found, String>>,
}

/// The live users with an email (see [`users_by_emails`]).
pub struct UsersByEmail;
/// A live user of a tenant by id (see [`users_by_ids`]).
pub struct UserById;

thread_local! {
    static WAITING_BY_EMAIL: RefCell<Vec<Waiting<UsersByEmail>>> = const { RefCell::new(Vec::new()) };
    static WAITING_BY_ID: RefCell<Vec<Waiting<UserById>>> = const { RefCell::new(Vec::new()) };
}

impl Coalesce for UsersByEmail {
    type Key = EmailKey;
    type Found = Option<Vec<UserRow>>;
    fn find(conn: &mut DbConn, keys: &[EmailKey]) -> Result<Vec<Self::Found>, StoreError> {
        users_by_emails(conn, keys)
    }
    fn waiting() -> &'static LocalKey<RefCell<Vec<Waiting<Self>>>> {
        &WAITING_BY_EMAIL
    }
}

impl Coalesce for UserById {
    type Key = UserKey;
    type Found = Option<UserRow>;
    fn find(conn: &mut DbConn, keys: &[UserKey]) -> Result<Vec<Self::Found>, StoreError> {
        users_by_ids(conn, keys)
    }
    fn waiting() -> &'static LocalKey<RefCell<Vec<Waiting<Self>>>> {
        &WAITING_BY_ID
    }
}

impl Store {
    /// Look `key` up; on PostgreSQL in one statement with the other lookups of its kind that
    /// this worker is serving.
    pub async fn coalesced<C: Coalesce>(&self, key: C::Key) -> Result<C::Found, StoreError> {
        if !matches!(self.url, DbUrl::Postgres(_)) {
            return self
                .lookup(move |conn| {
                    C::find(conn, std::slice::from_ref(&key))?
                        .pop()
                        .ok_or_else(|| StoreError::Corrupt("a lookup gave no answer".into()))
                })
                .await;
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        let first = C::waiting().with(|w| {
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
                store.send_waiting::<C>().await;
            });
        }
        match answered.await {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(e)) => Err(StoreError::Unavailable(e)),
            Err(_) => Err(StoreError::Unavailable(
                "the lookup was not completed".into(),
            )),
        }
    }

    /// Send this worker's waiting lookups of a kind, [`MAX_KEYS`] to a statement, until
    /// none wait.
    async fn send_waiting<C: Coalesce>(&self) {
        loop {
            let batch: Vec<Waiting<C>> = C::waiting().with(|w| {
                let mut waiting = w.borrow_mut();
                let n = waiting.len().min(MAX_KEYS);
                waiting.drain(..n).collect()
            });
            if batch.is_empty() {
                return;
            }
            let keys: Vec<C::Key> = batch.iter().map(|w| w.key.clone()).collect();
            let found = self.lookup(move |conn| C::find(conn, &keys)).await;
            match found {
                Ok(found) if found.len() == batch.len() => {
                    for (waiting, found) in batch.into_iter().zip(found) {
                        let _ = waiting.answer.send(Ok(found));
                    }
                }
                outcome => {
                    let e = match outcome {
                        Err(e) => e.to_string(),
                        Ok(found) => format!("{} answers to {} lookups", found.len(), batch.len()),
                    };
                    tracing::warn!(error = %e, lookups = batch.len(), "lookup failed");
                    for waiting in batch {
                        let _ = waiting.answer.send(Err(e.clone()));
                    }
                }
            }
        }
    }
}
