//! Storage: one diesel `MultiConnection` over SQLite and PostgreSQL, an r2d2 pool, and the
//! only SQL in scimd. Blocking diesel calls run on actix's blocking pool, except short
//! reads by key ([`Store::lookup`]), which cost less than the hop to it and back.
//!
//! Here: [`Store`], the pool and the SQLite writer, and how a read or a write runs. Its
//! parts: `connection` (backends, opening, pragmas, migrations), `error` ([`StoreError`]),
//! `sql` (the helpers of the predicate SQL), `prepared` (statements kept prepared), and
//! one module per table family.

#[macro_use]
mod sql;

pub mod admins;
pub mod api_keys;
pub mod coalesce;
mod connection;
pub mod connection_health;
mod error;
pub mod events;
pub mod fields;
pub mod groups;
pub mod health;
pub mod oauth;
pub mod prepared;
pub mod recent;
pub mod role_mappings;
pub mod schema;
pub mod scope;
pub mod scratch;
pub mod sessions;
pub mod setup_links;
pub mod tenants;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod webhooks;
pub mod writer;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::Connection;

use connection::connections_suspect;
pub use connection::{DbConn, DbManager, DbUrl};
pub use error::{StoreError, UniqueIndex};

/// The connection pool and, for SQLite, the single-writer lock.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<DbManager>,
    url: DbUrl,
    /// SQLite admits one writer at a time: one dedicated connection does every write, so
    /// writers queue here instead of in SQLite's busy loop (no SQLITE_BUSY on read-to-write
    /// upgrades) and its page cache stays warm (another connection's commit would reset it).
    writer: Option<writer::SqliteWriter>,
    /// Whether writes succeed (for `/readyz`).
    health: std::sync::Arc<health::WriteHealth>,
}

impl Store {
    /// Connect, create the SQLite file if needed, and run pending migrations.
    pub fn open(url: &str, pool_size: u32) -> Result<Store, StoreError> {
        let url = DbUrl::parse(url);
        let pool_size = match url {
            DbUrl::Sqlite(ref p) if p == ":memory:" => 1,
            _ => pool_size.max(1),
        };
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            // No background pre-connecting: a libpq connect racing process exit crashes
            // short-lived CLI runs, and idle connections are kept anyway once made.
            .min_idle(Some(0))
            // Short: with the database down, callers get a 503 (Entra retries) instead of waiting.
            .connection_timeout(Duration::from_secs(3))
            // Checked only after a connection loss (see `connection`), not on every checkout.
            .test_on_check_out(false)
            .build(DbManager { url: url.clone() })
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let health = std::sync::Arc::new(health::WriteHealth::default());
        let writer = match url {
            DbUrl::Sqlite(_) => Some(writer::SqliteWriter::start(
                DbManager { url: url.clone() },
                std::sync::Arc::clone(&health),
            )),
            DbUrl::Postgres(_) => None,
        };
        let store = Store {
            pool,
            url,
            writer,
            health,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Start the background work of a serving store: on SQLite, the WAL checkpointer (a CLI
    /// command's store leaves checkpoints to SQLite, and to the server); on PostgreSQL, a
    /// warning when autovacuum is off.
    pub fn start_background(&self) {
        match (&self.writer, &self.url) {
            (Some(writer), DbUrl::Sqlite(path)) if path != ":memory:" => {
                writer.start_checkpointer(DbManager {
                    url: self.url.clone(),
                });
            }
            (_, DbUrl::Postgres(_)) => self.warn_without_autovacuum(),
            _ => {}
        }
    }

    /// A connection plans each kept statement once, from the statistics that autovacuum's
    /// ANALYZE keeps; with autovacuum off and nobody running ANALYZE they never exist, and a
    /// write by id can read a whole tenant (docs/deployment.md). Say so at start.
    fn warn_without_autovacuum(&self) {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            autovacuum: String,
        }
        let Ok(mut conn) = self.pool.get() else {
            return;
        };
        let DbConn::Postgres(c) = &mut *conn else {
            return;
        };
        if let Ok(setting) = diesel::sql_query("SHOW autovacuum").get_result::<Setting>(c) {
            if setting.autovacuum == "off" {
                tracing::warn!(
                    "PostgreSQL's autovacuum is off: scimd's tables get planner statistics only when \
                     someone runs ANALYZE, and without them writes by id can read a whole tenant. \
                     Turn autovacuum on, or ANALYZE the database regularly."
                );
            }
        }
    }

    /// Pool connections (open, idle), for metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    /// The backend in use.
    pub fn backend(&self) -> &'static str {
        self.url.backend()
    }

    /// Whether the backend is PostgreSQL, where a write of one statement is atomic by itself
    /// and needs no transaction: what the store's `save_…_change` calls decide by, once.
    pub(in crate::store) fn is_postgres(&self) -> bool {
        matches!(self.url, DbUrl::Postgres(_))
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        connection::run_migrations(&mut conn)
    }

    /// A pooled connection; after a recent connection loss, one that answers (dead ones are
    /// dropped on the way: `has_broken` checks them when they go back).
    fn connection(&self) -> Result<r2d2::PooledConnection<DbManager>, StoreError> {
        let mut tries = self.pool.max_size() + 1;
        loop {
            let mut conn = self.pool.get()?;
            if !connections_suspect()
                || (DbManager {
                    url: self.url.clone(),
                })
                .is_valid(&mut conn)
                .is_ok()
            {
                return Ok(conn);
            }
            drop(conn);
            tries -= 1;
            if tries == 0 {
                return Err(
                    StoreError::Unavailable("no database connection answers".into())
                        .noting_connection_loss(),
                );
            }
        }
    }

    /// Run a read on a pooled connection (blocking; call from a blocking context).
    pub fn read_blocking<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.connection()?;
        f(&mut conn)
    }

    /// Run a write as one transaction (blocking; call from a blocking context).
    pub fn write_blocking<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + From<diesel::result::Error>,
    {
        health::take_noted();
        let result = match &self.writer {
            None => {
                let mut conn = self.connection()?;
                let conn: &mut DbConn = &mut conn;
                conn.transaction(f)
            }
            Some(writer) => {
                let manager = DbManager {
                    url: self.url.clone(),
                };
                writer::with_connection(&writer.slot, &manager, |conn| conn.transaction(f))?
            }
        };
        match health::take_noted() {
            Some(failure) => self.health.record(Some(failure)),
            None if result.is_ok() => self.health.record(None),
            None => {}
        }
        result
    }

    /// How this store's writes are going (for `/readyz`).
    pub fn write_health(&self) -> &health::WriteHealth {
        &self.health
    }

    /// A write that touches a page (every signing key's row, rewritten as it is): whether
    /// the database can take writes at all. Recorded like any write.
    pub async fn probe_write(&self) -> bool {
        self.write(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("UPDATE signing_keys SET created_at = created_at")
                .execute(conn)
                .map_err(StoreError::from)
        })
        .await
        .is_ok()
    }

    /// Run a read on the blocking pool, keeping the caller's tracing span.
    pub async fn read<T, E>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.clone();
        let span = tracing::Span::current();
        actix_web::web::block(move || span.in_scope(|| store.read_blocking(f)))
            .await
            .map_err(|e| E::from(StoreError::Unavailable(e.to_string())))?
    }

    /// Run a short read by key (a user by id, a token, a match by mail) right on the calling
    /// thread: on SQLite the query takes microseconds, on PostgreSQL one round trip on an
    /// idle pooled connection; either costs less than a hop to the blocking pool and back
    /// (on PostgreSQL the server runs more workers instead, see [`Store::default_workers`]).
    /// Scans and counts use [`Store::read`].
    pub async fn lookup<T, E>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match self.url {
            DbUrl::Sqlite(_) => self.read_blocking(f),
            // Only with an open connection at hand: opening one, or waiting for the database
            // after a connection loss, happens on the blocking pool, not on a worker whose
            // other requests would wait with it.
            DbUrl::Postgres(_) => match self.pool.try_get().filter(|_| !connections_suspect()) {
                Some(mut conn) => f(&mut conn),
                None => self.read(f).await,
            },
        }
    }

    /// Server workers when none are configured: one per core on SQLite; on PostgreSQL two
    /// per core, since a worker waits for the database during a lookup's round trip.
    pub fn default_workers(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        match self.url {
            DbUrl::Sqlite(_) => cores,
            DbUrl::Postgres(_) => cores * 2,
        }
    }

    /// How long an instance may trust what it read of state that other processes change
    /// (a token's record, a tenant's custom fields): a second, so that a revocation or a new
    /// field made by the CLI or another instance holds within a second, while requests do not
    /// pay a read of their own for it (on SQLite that read, a read transaction with its file
    /// locks, cost as much as the request's own query; on PostgreSQL it is a round trip).
    /// A change made through this instance is seen at once (its caches forget the entry).
    pub fn recheck_interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    /// Run a write as one transaction: on SQLite through the group-committing writer
    /// thread, on PostgreSQL on the blocking pool; the caller's tracing span is kept.
    pub async fn write<T, E>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        let span = tracing::Span::current();
        if let Some(writer) = &self.writer {
            return writer.write(move |conn| span.in_scope(|| f(conn))).await;
        }
        let store = self.clone();
        actix_web::web::block(move || span.in_scope(|| store.write_blocking(f)))
            .await
            .map_err(|e| E::from(StoreError::Unavailable(e.to_string())))?
    }

    /// Run a write that is atomic by itself (one statement on PostgreSQL, which then needs
    /// no BEGIN and COMMIT round trips); on SQLite through the writer like any write. Only
    /// the store's own `save_…_change` calls choose it (see [`Store::is_postgres`]).
    pub(in crate::store) async fn write_atomic<T, E>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        if self.writer.is_some() {
            return self.write(f).await;
        }
        self.read(f).await
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        self.read(|conn| conn.batch_execute("SELECT 1").map_err(StoreError::from))
            .await
            .is_ok()
    }
}

/// Milliseconds since the Unix epoch, the time unit of every stored timestamp.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
