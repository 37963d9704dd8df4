//! The database a test runs on: a SQLite file in a directory of its own, or a PostgreSQL
//! schema of its own in the database that `SCIMD_TEST_POSTGRES_URL` names.

use diesel::{Connection, PgConnection, RunQueryDsl};

use super::Turn;

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL of `SCIMD_TEST_POSTGRES_URL`, for a PostgreSQL variant: these are built
    /// as ignored ("skipped") without it (build.rs), so one that runs without it fails.
    pub fn postgres() -> Backend {
        match std::env::var("SCIMD_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Backend::Postgres(url),
            _ if std::env::var("CI").is_ok_and(|v| !v.is_empty()) => {
                panic!("CI is set but SCIMD_TEST_POSTGRES_URL is not: the PostgreSQL variants cannot run")
            }
            _ => panic!(
                "SCIMD_TEST_POSTGRES_URL was set when the tests were built but is not now: \
                 run `cargo test`, which builds them again with the PostgreSQL variants skipped"
            ),
        }
    }
}

/// Owns a test database: removes the SQLite directory or the PostgreSQL schema on drop.
pub struct DbGuard {
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.schema {
            // Best effort: a leftover schema is harmless, only untidy.
            if let Ok(mut conn) = PgConnection::establish(base) {
                let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn);
            }
        }
    }
}

/// A fresh database URL for one test, and the guard that removes it.
pub fn fresh_database(backend: &Backend) -> (String, DbGuard) {
    Turn::assert_held();
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("scimd.db").display());
            (
                url,
                DbGuard {
                    _dir: Some(dir),
                    schema: None,
                },
            )
        }
        Backend::Postgres(base) => {
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn =
                PgConnection::establish(base).expect("connect to SCIMD_TEST_POSTGRES_URL");
            diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .expect("create schema");
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
            (
                url,
                DbGuard {
                    _dir: None,
                    schema: Some((base.clone(), schema)),
                },
            )
        }
    }
}
