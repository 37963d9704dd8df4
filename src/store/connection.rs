//! Connections: the backend a URL names, the connection of either backend, how one is
//! opened (PostgreSQL's settings, SQLite's pragmas), checked after a connection loss, and
//! migrated.

use std::sync::atomic::{AtomicI64, Ordering};

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{now_millis, StoreError};

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

/// When a connection was last found lost (ms since the epoch; 0: never). Connections are
/// not pinged on every checkout (on PostgreSQL that is a round trip per request); after a
/// loss, for a while, every connection is checked when taken and when given back, so the
/// pool sheds its dead ones instead of handing each to one more request.
static CONNECTION_LOST_AT: AtomicI64 = AtomicI64::new(0);
/// How long after a loss connections are checked.
const CHECK_AFTER_LOSS_MILLIS: i64 = 60_000;

pub(super) fn connections_suspect() -> bool {
    let lost = CONNECTION_LOST_AT.load(Ordering::Relaxed);
    lost != 0 && now_millis() - lost < CHECK_AFTER_LOSS_MILLIS
}

/// Note that a connection was found lost: connections are checked for a while.
pub(super) fn note_connection_loss() {
    CONNECTION_LOST_AT.store(now_millis(), Ordering::Relaxed);
}

/// Run the pending migrations of the connection's backend.
pub(super) fn run_migrations(conn: &mut DbConn) -> Result<(), StoreError> {
    let result = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        DbConn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| StoreError::Migration(e.to_string()))
}

/// Opens connections of the backend that the URL names, never guessing.
#[derive(Debug, Clone)]
pub struct DbManager {
    pub(super) url: DbUrl,
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
