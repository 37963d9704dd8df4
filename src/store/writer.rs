//! The SQLite writer: one connection, one thread, group commit.
//!
//! SQLite admits one writer at a time and every commit costs a WAL append. Writes from
//! request handlers are queued to a single thread that runs whatever is queued (up to a
//! batch) inside one transaction, each write in its own savepoint so that one refused write
//! never undoes another, then commits once and answers every caller. No caller hears
//! "done" before the commit that holds its write.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use diesel::Connection;

use super::{DbConn, DbManager, StoreError};

/// Most writes committed together.
const MAX_BATCH: usize = 256;
/// WAL frames (pages) past which the checkpointer makes the WAL start over (about 8 MiB).
const WAL_RESTART_FRAMES: i64 = 2048;
/// How often the checkpointer copies the WAL into the database file.
/// Often: a busy writer appends a few MiB of pages to the WAL a second.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(25);

/// Called once the batch's commit is known: `None` if it committed, else why not.
type Completion = Box<dyn FnOnce(Option<String>) + Send>;
/// A queued write: runs in its savepoint and returns how to answer its caller.
type Job = Box<dyn FnOnce(&mut DbConn) -> Completion + Send>;

/// The shared writer connection (also used directly by synchronous callers such as the CLI).
pub type WriterSlot = Arc<WriterShared>;

/// The writer connection and what the checkpointer asks of it.
#[derive(Default)]
pub struct WriterShared {
    conn: Mutex<Option<DbConn>>,
    /// Set by the checkpointer when the WAL should start over: the writer runs a RESTART
    /// checkpoint after its next batch (the checkpointer waiting for the lock starved behind
    /// back-to-back writes).
    restart_wanted: AtomicBool,
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct SqliteWriter {
    jobs: Sender<Job>,
    pub(super) slot: WriterSlot,
}

/// Take the writer connection, (re)connecting when it is missing or broken, for a
/// synchronous caller; then make the WAL start over if the checkpointer asked for it.
pub(super) fn with_connection<R>(
    slot: &WriterSlot,
    manager: &DbManager,
    f: impl FnOnce(&mut DbConn) -> R,
) -> Result<R, StoreError> {
    let done = with_writer_connection(slot, manager, f);
    restart_wal_if_wanted(slot);
    done
}

/// Take the writer connection, (re)connecting when it is missing or broken.
fn with_writer_connection<R>(
    slot: &WriterSlot,
    manager: &DbManager,
    f: impl FnOnce(&mut DbConn) -> R,
) -> Result<R, StoreError> {
    // A poisoned lock only means a writer panicked; diesel rolled its transaction back.
    let mut guard = slot.conn.lock().unwrap_or_else(|p| p.into_inner());
    let broken = match guard.as_mut() {
        Some(conn) => {
            use diesel::r2d2::R2D2Connection;
            conn.is_broken()
        }
        None => true,
    };
    if broken {
        use diesel::connection::SimpleConnection;
        use diesel::r2d2::ManageConnection;
        let mut conn = manager
            .connect()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // When the WAL starts over, its file is cut back to 32 MiB. The writer's page cache
        // survives its own commits, so it is worth a large one (readers keep a small one).
        conn.batch_execute("PRAGMA journal_size_limit = 33554432; PRAGMA cache_size = -16000")?;
        *guard = Some(conn);
    }
    match guard.as_mut() {
        Some(conn) => Ok(f(conn)),
        None => Err(StoreError::Unavailable("no writer connection".into())),
    }
}

/// Make the WAL start over if the checkpointer asked for it. The writer thread calls this
/// after answering its batch, so no caller of that batch waits on the checkpoint.
fn restart_wal_if_wanted(slot: &WriterSlot) {
    if !slot.restart_wanted.swap(false, Ordering::Relaxed) {
        return;
    }
    let mut guard = slot.conn.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(DbConn::Sqlite(c)) = guard.as_mut() {
        if let Err(e) = checkpoint(c, "RESTART") {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

impl SqliteWriter {
    /// Start the writer thread.
    pub fn start(manager: DbManager, health: Arc<super::health::WriteHealth>) -> SqliteWriter {
        let (jobs, queue) = channel::<Job>();
        let slot: WriterSlot = Arc::new(WriterShared::default());
        let thread_slot = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("scimd-sqlite-writer".into())
            .spawn(move || run(queue, thread_slot, manager, health));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the SQLite writer thread");
        }
        SqliteWriter { jobs, slot }
    }

    /// Start the checkpointer: it copies the WAL into the database in the background, so
    /// commits do not wait for a checkpoint's page writes and fsync (the writer's own
    /// automatic checkpoints are turned off, see `hand_over_checkpoints`).
    /// PASSIVE never waits for readers or the writer, but under a steady stream of writes it
    /// never catches up with the end of the WAL, and SQLite starts the WAL over only when it
    /// has: so once the WAL passes [`WAL_RESTART_FRAMES`], the writer follows its next batch
    /// with a RESTART checkpoint (it waits for readers of older snapshots, which take
    /// microseconds), which has little left to copy by then and makes the WAL start over.
    /// It ends with the store (its writer connection gone).
    pub fn start_checkpointer(&self, manager: DbManager) {
        let writer = Arc::downgrade(&self.slot);
        let spawned = std::thread::Builder::new()
            .name("scimd-sqlite-ckpt".into())
            .spawn(move || {
                use diesel::r2d2::ManageConnection;
                let mut conn = None;
                let mut handed_over = false;
                loop {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    let Some(slot) = writer.upgrade() else { return };
                    if conn.is_none() {
                        conn = manager.connect().ok();
                    }
                    let Some(DbConn::Sqlite(c)) = conn.as_mut() else {
                        continue;
                    };
                    if !handed_over {
                        handed_over = hand_over_checkpoints(&slot);
                    }
                    match checkpoint(c, "PASSIVE") {
                        Ok(frames) if frames > WAL_RESTART_FRAMES => {
                            slot.restart_wanted.store(true, Ordering::Relaxed)
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "WAL checkpoint failed");
                            conn = None;
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the SQLite checkpointer thread");
        }
    }

    /// Queue a write; the answer arrives after the commit that holds it.
    pub async fn write<T, E>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn: &mut DbConn| {
            let result = in_savepoint(conn, f);
            Box::new(move |commit_error: Option<String>| {
                let answer = match (result, commit_error) {
                    (Ok(_), Some(e)) if super::health::is_storage_failure(&e) => {
                        Err(E::from(StoreError::Storage(format!("commit failed: {e}"))))
                    }
                    (Ok(_), Some(e)) => Err(E::from(StoreError::Unavailable(format!(
                        "commit failed: {e}"
                    )))),
                    (result, _) => result,
                };
                let _ = tx.send(answer);
            })
        });
        self.jobs.send(job).map_err(|_| {
            E::from(StoreError::Unavailable(
                "the writer thread has stopped".into(),
            ))
        })?;
        rx.await.map_err(|_| {
            E::from(StoreError::Unavailable(
                "the write was not completed".into(),
            ))
        })?
    }
}

/// Run a write in its savepoint of the batch and answer with the write's own outcome. When
/// SQLite meets a full disk (or an I/O error) inside a statement it rolls the whole batch's
/// transaction back by itself, and rolling back to the savepoint then fails ("no such
/// savepoint"); diesel would answer that failure instead of the write's error, and a full
/// disk would read as a bug (500). The rest of the batch learns it at the batch's commit,
/// which fails, so no write of it is answered as done.
fn in_savepoint<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let mut failed: Option<E> = None;
    let outcome = conn.transaction::<T, diesel::result::Error, _>(|c| {
        f(c).map_err(|e| {
            failed = Some(e);
            diesel::result::Error::RollbackTransaction
        })
    });
    match (outcome, failed) {
        (_, Some(e)) => Err(e),
        (Ok(value), None) => Ok(value),
        (Err(e), None) => Err(E::from(e)),
    }
}

/// Stop the writer's commits from checkpointing themselves (SQLite's default once the WAL
/// passes 1,000 pages): the checkpointer does it. False while the writer has no connection
/// yet (it opens one at its first write); a reconnected writer checkpoints itself again,
/// which is only slower.
fn hand_over_checkpoints(slot: &WriterSlot) -> bool {
    use diesel::connection::SimpleConnection;
    let mut writer = slot.conn.lock().unwrap_or_else(|p| p.into_inner());
    match writer.as_mut() {
        Some(w) => match w.batch_execute("PRAGMA wal_autocheckpoint = 0") {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot hand checkpoints to the checkpointer");
                false
            }
        },
        None => false,
    }
}

/// One checkpoint (PASSIVE or RESTART); returns the frames the WAL holds.
fn checkpoint(
    conn: &mut diesel::SqliteConnection,
    mode: &str,
) -> Result<i64, diesel::result::Error> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Outcome {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        busy: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        log: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        checkpointed: i64,
    }
    let outcome: Outcome =
        diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})")).get_result(conn)?;
    tracing::trace!(
        busy = outcome.busy,
        log = outcome.log,
        checkpointed = outcome.checkpointed,
        "WAL checkpoint"
    );
    Ok(outcome.log)
}

fn run(
    queue: Receiver<Job>,
    slot: WriterSlot,
    manager: DbManager,
    health: Arc<super::health::WriteHealth>,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        super::health::take_noted();
        let outcome = with_writer_connection(&slot, &manager, |conn| {
            let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
            let ran = catch_unwind(AssertUnwindSafe(|| {
                conn.transaction::<_, diesel::result::Error, _>(|c| {
                    for job in batch.drain(..) {
                        completions.push(job(c));
                    }
                    Ok(())
                })
            }));
            (ran, completions)
        });
        match outcome {
            Ok((Ok(committed), completions)) => {
                let error = committed.err().map(|e| e.to_string());
                if let Some(e) = &error {
                    super::health::note_error(e);
                }
                health.record(super::health::take_noted());
                for done in completions {
                    done(error.clone());
                }
            }
            Ok((Err(_panic), completions)) => {
                // The callers of this batch get "not completed" when their senders drop.
                tracing::error!(
                    writes = completions.len(),
                    "a write panicked; its batch was rolled back"
                );
                drop(completions);
                if let Ok(mut guard) = slot.conn.lock() {
                    *guard = None;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "no SQLite writer connection");
                // Dropping the batch answers its callers with "not completed".
                drop(batch);
            }
        }
        restart_wal_if_wanted(&slot);
    }
}
