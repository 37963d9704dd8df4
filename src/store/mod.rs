//! Storage: one diesel `MultiConnection` over SQLite and PostgreSQL, an r2d2 pool, and the
//! only SQL in scimd. Blocking diesel calls run on actix's blocking pool, except short
//! reads by key ([`Store::lookup`]), which cost less than the hop to it and back.

/// A LIKE pattern for `co`, `sw` and `ew` with the value's own `%`, `_` and `\\` escaped
/// (the queries say `ESCAPE '\\'`).
pub(crate) fn like_pattern(op: users::StrOp, value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    match op {
        users::StrOp::Co => format!("%{escaped}%"),
        users::StrOp::Sw => format!("{escaped}%"),
        _ => format!("%{escaped}"),
    }
}

/// A string comparison on a column as a boxed SQL predicate of the caller's table (the
/// caller's `BoxedPred` alias names the table).
macro_rules! str_cmp {
    ($col:expr, $op:expr, $v:expr) => {{
        let v: String = $v;
        let e: BoxedPred = match $op {
            StrOp::Eq => Box::new($col.eq(v)),
            StrOp::Gt => Box::new($col.gt(v)),
            StrOp::Ge => Box::new($col.ge(v)),
            StrOp::Lt => Box::new($col.lt(v)),
            StrOp::Le => Box::new($col.le(v)),
            op => Box::new($col.like($crate::store::like_pattern(op, &v)).escape('\\')),
        };
        e
    }};
}

/// An integer comparison on a column as a boxed SQL predicate of the caller's table.
macro_rules! num_cmp {
    ($col:expr, $op:expr, $v:expr) => {{
        let v: i64 = $v;
        let e: BoxedPred = match $op {
            NumOp::Eq => Box::new($col.eq(v)),
            NumOp::Gt => Box::new($col.gt(v)),
            NumOp::Ge => Box::new($col.ge(v)),
            NumOp::Lt => Box::new($col.lt(v)),
            NumOp::Le => Box::new($col.le(v)),
        };
        e
    }};
}

/// Run a query written once on the concrete connection of either backend. Its prepared
/// statement is then cached by type, and diesel's multi-backend layer, which walks and
/// serialises every query again before running it, is skipped: for the per-request reads.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::DbConn::Sqlite($c) => $body,
            $crate::store::DbConn::Postgres($c) => $body,
        }
    };
}

pub mod admins;
pub mod api_keys;
pub mod coalesce;
pub mod events;
pub mod fields;
pub mod groups;
pub mod health;
pub mod prepared;
pub mod recent;
pub mod schema;
pub mod scratch;
pub mod sessions;
pub mod setup_links;
pub mod tenants;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod webhooks;
pub mod writer;

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A database connection of either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which backend a database URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// A file path (or `:memory:`), from `sqlite://path`, `sqlite:path` or a bare path.
    Sqlite(String),
    /// A libpq URL, `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl DbUrl {
    /// Parse a database URL; anything not PostgreSQL is a SQLite file path.
    pub fn parse(url: &str) -> DbUrl {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return DbUrl::Postgres(url.to_string());
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        DbUrl::Sqlite(path.to_string())
    }

    /// The backend's name, for logs and `/readyz`.
    pub fn backend(&self) -> &'static str {
        match self {
            DbUrl::Sqlite(_) => "sqlite",
            DbUrl::Postgres(_) => "postgres",
        }
    }
}

/// Errors of the storage layer.
/// The unique indexes (migrations/) whose refusal says which value is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UniqueIndex {
    /// A live user's userName (case-insensitive), per tenant.
    UserName,
    /// A live user's identity mail, per tenant.
    IdentityMail,
    /// A live user's work email, per tenant.
    WorkEmail,
    /// A live group's displayName (case-insensitive), per tenant.
    GroupName,
    /// A tenant's slug.
    TenantSlug,
    /// A custom field's name, per tenant.
    CustomFieldName,
    /// An admin's username.
    AdminUsername,
    /// Any other index, as the database named it.
    Other(String),
}

impl UniqueIndex {
    /// The index a database error names: PostgreSQL gives the index's name, SQLite lists its
    /// columns in the message ("UNIQUE constraint failed: groups.tenant_id, …"). The one place
    /// that reads index names.
    pub fn named(name: &str) -> UniqueIndex {
        let has = |part: &str| name.contains(part);
        if has("user_emails") {
            UniqueIndex::WorkEmail
        } else if has("groups_display_name") || has("groups.display_name") {
            UniqueIndex::GroupName
        } else if has("identity_mail") {
            UniqueIndex::IdentityMail
        } else if has("user_name") {
            UniqueIndex::UserName
        } else if has("slug") {
            UniqueIndex::TenantSlug
        } else if has("custom_fields") {
            UniqueIndex::CustomFieldName
        } else if has("username") {
            UniqueIndex::AdminUsername
        } else {
            UniqueIndex::Other(name.to_string())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write.
    #[error("unique index {0:?} refused the write")]
    Unique(UniqueIndex),
    /// The row changed since it was read (optimistic concurrency).
    #[error("concurrent modification")]
    Conflict,
    #[error("database error: {0}")]
    Diesel(diesel::result::Error),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused a write for want of storage (a full disk, a read-only file system
    /// or standby): wherever it surfaced, in a statement of the write (inside the SQLite
    /// writer's savepoint) or at its commit. The connection is fine; the write may be retried.
    #[error("database storage is failing: {0}")]
    Storage(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        if let Error::DatabaseError(_, info) = &e {
            health::note_error(info.message());
        }
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                // PostgreSQL names the constraint; SQLite only lists the columns in its message.
                let name = info.constraint_name().unwrap_or_else(|| info.message());
                StoreError::Unique(UniqueIndex::named(name))
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                StoreError::Unavailable(info.message().to_string())
            }
            // A connection the server dropped (restart, failover) surfaces as an unknown
            // database error; it is unavailability, not a bug: 503, and Entra retries.
            Error::DatabaseError(_, info)
                if [
                    "server closed the connection",
                    "terminating connection",
                    "connection to server",
                    "no connection to the server",
                ]
                .iter()
                .any(|m| info.message().contains(m)) =>
            {
                StoreError::Unavailable(info.message().to_string())
            }
            // Storage refused the write (SQLite's "database or disk is full", PostgreSQL's
            // "could not extend file … No space left on device"): the database's trouble, not
            // the request's, whichever statement met it.
            Error::DatabaseError(_, info) if health::is_storage_failure(info.message()) => {
                StoreError::Storage(info.message().to_string())
            }
            Error::BrokenTransactionManager => {
                StoreError::Unavailable("connection lost mid-transaction".into())
            }
            other => StoreError::Diesel(other),
        }
        .noting_connection_loss()
    }
}

/// When a connection was last found lost (ms since the epoch; 0: never). Connections are
/// not pinged on every checkout (on PostgreSQL that is a round trip per request); after a
/// loss, for a while, every connection is checked when taken and when given back, so the
/// pool sheds its dead ones instead of handing each to one more request.
static CONNECTION_LOST_AT: AtomicI64 = AtomicI64::new(0);
/// How long after a loss connections are checked.
const CHECK_AFTER_LOSS_MILLIS: i64 = 60_000;

fn connections_suspect() -> bool {
    let lost = CONNECTION_LOST_AT.load(Ordering::Relaxed);
    lost != 0 && now_millis() - lost < CHECK_AFTER_LOSS_MILLIS
}

impl StoreError {
    fn noting_connection_loss(self) -> Self {
        if matches!(self, StoreError::Unavailable(_)) {
            CONNECTION_LOST_AT.store(now_millis(), Ordering::Relaxed);
        }
        self
    }
}

impl From<r2d2::PoolError> for StoreError {
    fn from(e: r2d2::PoolError) -> Self {
        StoreError::Unavailable(e.to_string()).noting_connection_loss()
    }
}

/// Opens connections of the backend that the URL names, never guessing.
#[derive(Debug, Clone)]
pub struct DbManager {
    url: DbUrl,
}

impl ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match &self.url {
            DbUrl::Postgres(url) => {
                let mut conn =
                    PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                // Every query scimd sends is bounded by an index (a key, or a tenant). A plan
                // made while a table was small (a new schema, before autovacuum's first
                // ANALYZE) chose a sequential scan, and a prepared statement kept that plan
                // while the table grew: 900 instead of 70 µs of database CPU per match query
                // at 10,000 users, measured. So: indexes always, and the statements kept
                // prepared (key reads and writes, whose best plan does not depend on the
                // values) planned once, generically, instead of five times with their values.
                conn.batch_execute(
                    "SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Postgres(conn))
            }
            DbUrl::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; synchronous=NORMAL is durable
                // across process crashes in WAL mode and far cheaper than FULL. No memory
                // map: SQLite unmaps a connection's whole map at every read transaction that
                // follows a commit, so under writes each read paid munmap, TLB shootdowns and
                // page faults again (measured: 20-25 % more server CPU per PATCH and match
                // beside creates); reads through the page cache cost about as much when
                // nothing is written, and matches at a million users stay within 1.1x of a
                // small tenant's. A small page cache: a reader's cache is emptied at every read
                // transaction that follows a commit, and emptying walks the cache's whole hash
                // table, so under writes a large cache cost a reader more than it saved (the
                // writer, whose cache its own commits keep, takes a large one).
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -2000; PRAGMA temp_store = MEMORY; \
                     PRAGMA mmap_size = 0;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken() || (connections_suspect() && self.is_valid(conn).is_err())
    }
}

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
    /// write by id can read a whole tenant (README, Deployment). Say so at start.
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
        let result = match &mut *conn {
            DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
            DbConn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
        };
        result.map_err(|e| StoreError::Migration(e.to_string()))
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
