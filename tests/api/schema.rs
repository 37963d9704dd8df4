//! `src/store/schema.rs` (what diesel compiles every query against) matches what the
//! migrations make, on both backends: the same tables, columns, types and nullability; and
//! both backends' migrations run up, down and up again to the same tables and indexes.

use std::collections::BTreeMap;

use crate::helpers::{fresh_database, Backend};
use diesel::sql_types::{Integer, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Table → column → (type, nullable), as one of the two sources says.
type Tables = BTreeMap<String, BTreeMap<String, (String, bool)>>;

/// The tables of `src/store/schema.rs`.
fn declared() -> Tables {
    let text = include_str!("../../src/store/schema.rs");
    let mut tables = Tables::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some((name, _)) = line
            .split_once(" (")
            .filter(|_| line.ends_with('{') && !line.starts_with("diesel"))
        {
            current = Some(name.trim().to_string());
            tables.entry(name.trim().to_string()).or_default();
        } else if let (Some(table), Some((col, ty))) = (&current, line.split_once("->")) {
            let ty = ty.trim().trim_end_matches(',');
            let (ty, nullable) = match ty
                .strip_prefix("Nullable<")
                .and_then(|t| t.strip_suffix('>'))
            {
                Some(inner) => (inner, true),
                None => (ty, false),
            };
            let ty = match ty {
                "Text" => "text",
                "BigInt" => "bigint",
                "Integer" => "integer",
                "Bool" => "boolean",
                other => panic!("schema.rs uses a type this test does not know: {other}"),
            };
            tables
                .get_mut(table)
                .expect("table")
                .insert(col.trim().to_string(), (ty.to_string(), nullable));
        } else if line == "}" {
            current = None;
        }
    }
    assert!(
        tables.len() >= 10,
        "parsed {} tables from schema.rs",
        tables.len()
    );
    tables
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    r#type: String,
    #[diesel(sql_type = Integer)]
    notnull: i32,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

fn sqlite_tables(conn: &mut SqliteConnection) -> (Tables, Vec<String>) {
    let names: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '__diesel_schema_migrations'",
    )
    .load(conn)
    .expect("tables");
    let mut tables = Tables::new();
    for Name { name } in names {
        let cols: Vec<SqliteColumn> = diesel::sql_query(format!("PRAGMA table_info({name})"))
            .load(conn)
            .expect("columns");
        let cols = cols
            .into_iter()
            .map(|c| {
                // An INTEGER PRIMARY KEY is SQLite's 64-bit rowid: a BigInt, as on PostgreSQL.
                let ty = match c.r#type.to_lowercase() {
                    t if t == "integer" && c.pk == 1 => "bigint".to_string(),
                    t => t,
                };
                (c.name, (ty, c.notnull == 0 && c.pk == 0))
            })
            .collect();
        tables.insert(name, cols);
    }
    let indexes: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name",
    )
    .load(conn)
    .expect("indexes");
    (tables, indexes.into_iter().map(|n| n.name).collect())
}

fn postgres_tables(conn: &mut PgConnection) -> (Tables, Vec<String>) {
    let cols: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name != '__diesel_schema_migrations'",
    )
    .load(conn)
    .expect("columns");
    let mut tables = Tables::new();
    for c in cols {
        tables
            .entry(c.table_name)
            .or_default()
            .insert(c.column_name, (c.data_type, c.is_nullable == "YES"));
    }
    let indexes: Vec<Name> = diesel::sql_query(
        "SELECT indexname::text AS name FROM pg_indexes WHERE schemaname = current_schema() AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key' ORDER BY indexname",
    )
    .load(conn)
    .expect("indexes");
    (tables, indexes.into_iter().map(|n| n.name).collect())
}

/// The migrated database's tables and its indexes (those of primary keys and UNIQUE
/// constraints left out: each backend names them its own way), after running the migrations up, all the way
/// down, and up again (each step must succeed and the two ups must agree).
fn migrated(backend: &Backend) -> (Tables, Vec<String>) {
    let (url, _guard) = fresh_database(backend);
    match backend {
        Backend::Sqlite => {
            let path = url.trim_start_matches("sqlite://");
            let mut conn = SqliteConnection::establish(path).expect("sqlite");
            conn.run_pending_migrations(SQLITE).expect("up");
            let first = sqlite_tables(&mut conn);
            conn.revert_all_migrations(SQLITE).expect("down");
            assert!(
                sqlite_tables(&mut conn).0.is_empty(),
                "down leaves tables behind"
            );
            conn.run_pending_migrations(SQLITE).expect("up again");
            let second = sqlite_tables(&mut conn);
            assert_eq!(first, second, "up, down, up changed the SQLite schema");
            second
        }
        Backend::Postgres(_) => {
            let mut conn = PgConnection::establish(&url).expect("postgres");
            conn.run_pending_migrations(POSTGRES).expect("up");
            let first = postgres_tables(&mut conn);
            conn.revert_all_migrations(POSTGRES).expect("down");
            assert!(
                postgres_tables(&mut conn).0.is_empty(),
                "down leaves tables behind"
            );
            conn.run_pending_migrations(POSTGRES).expect("up again");
            let second = postgres_tables(&mut conn);
            assert_eq!(first, second, "up, down, up changed the PostgreSQL schema");
            second
        }
    }
}

fn assert_matches_schema_rs(backend: &Backend, actual: &Tables) {
    let declared = declared();
    assert_eq!(
        declared.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>(),
        "{backend:?}: schema.rs and the migrations name different tables"
    );
    for (table, columns) in &declared {
        assert_eq!(
            Some(columns),
            actual.get(table),
            "{backend:?}: table {table} differs between schema.rs and the migrations"
        );
    }
}

async fn schema_rs_matches_sqlite_migrations(backend: Backend) {
    let (tables, _) = migrated(&backend);
    assert_matches_schema_rs(&backend, &tables);
}

/// PostgreSQL's migrations make what schema.rs declares, which is what SQLite's make: the
/// same tables and columns; and both make the same indexes.
async fn schema_rs_matches_postgres_migrations_and_both_backends_agree(pg: Backend) {
    let (pg_tables, pg_indexes) = migrated(&pg);
    assert_matches_schema_rs(&pg, &pg_tables);
    let (sqlite_tables, sqlite_indexes) = migrated(&Backend::Sqlite);
    assert_eq!(
        sqlite_tables, pg_tables,
        "the backends' migrations make different tables or columns"
    );
    assert_eq!(
        sqlite_indexes, pg_indexes,
        "the backends' migrations make different indexes"
    );
}

crate::helpers::sqlite_tests!(schema_rs_matches_sqlite_migrations);
crate::helpers::postgres_tests!(schema_rs_matches_postgres_migrations_and_both_backends_agree);
