//! Scratch PostgreSQL schemas: a throwaway database inside an existing PostgreSQL database (a
//! schema of its own, reached through `search_path` in the URL), for runs whose data nobody
//! keeps, such as the bench's. Created, measured and dropped here, so that the programs that
//! use one write no SQL.

use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

use super::StoreError;

/// A PostgreSQL schema made for one run.
#[derive(Debug)]
pub struct ScratchSchema {
    /// The URL of the database that holds it, as given to [`ScratchSchema::create`].
    base_url: String,
    /// `{prefix}_{random hex}`.
    name: String,
}

/// The size of a schema, in bytes.
#[derive(QueryableByName)]
struct Size {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    size: i64,
}

fn connect(url: &str) -> Result<PgConnection, StoreError> {
    PgConnection::establish(url).map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// `name` as a PostgreSQL identifier, quoted.
fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a PostgreSQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl ScratchSchema {
    /// Create a schema named `{prefix}_{random hex}` in the PostgreSQL database at `url`.
    /// `prefix` is lower-case letters, digits and `_`, so that the name needs no quoting in the
    /// URL's `search_path`.
    pub fn create(url: &str, prefix: &str) -> Result<ScratchSchema, StoreError> {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut conn = connect(url)?;
        diesel::sql_query(format!("CREATE SCHEMA {}", identifier(&name))).execute(&mut conn)?;
        Ok(ScratchSchema {
            base_url: url.to_string(),
            name,
        })
    }

    /// The database URL with this schema as the search path of every connection (libpq's
    /// `options`), for a scimd to migrate and use it as its whole database.
    pub fn url(&self) -> String {
        let sep = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}options=-csearch_path%3D{}",
            self.base_url, self.name
        )
    }

    /// Bytes held by the schema's tables, with their indexes and TOAST.
    pub fn size(&self) -> Result<u64, StoreError> {
        let mut conn = connect(&self.base_url)?;
        let size = diesel::sql_query(format!(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT AS size FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = {} AND c.relkind = 'r'",
            literal(&self.name)
        ))
        .get_result::<Size>(&mut conn)?;
        Ok(u64::try_from(size.size).unwrap_or(0))
    }

    /// Drop the schema and everything in it.
    pub fn remove(&self) -> Result<(), StoreError> {
        let mut conn = connect(&self.base_url)?;
        diesel::sql_query(format!("DROP SCHEMA {} CASCADE", identifier(&self.name)))
            .execute(&mut conn)?;
        Ok(())
    }
}
