//! Hand-written SQL that the connection keeps prepared.
//!
//! diesel caches a prepared statement only when it can tell the statement's shape from its
//! type, and never for an UPDATE, an INSERT of a struct or `sql_query`: those are parsed
//! and planned again on every call. The writes that every provisioning request makes go
//! through [`Sql`] instead: the text is fixed, so diesel's cache keyed by SQL text keeps
//! the statement, on SQLite and PostgreSQL alike.

use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};

use super::{DbConn, StoreError};

/// A bind value.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    BigInt(i64),
    OptBigInt(Option<i64>),
    Bool(bool),
    Int(i32),
}

/// A statement with `?` where its arguments go (written `$n` on PostgreSQL by diesel).
#[derive(Debug, Clone)]
pub struct Sql<'a> {
    text: std::borrow::Cow<'static, str>,
    args: Vec<Arg<'a>>,
}

impl<'a> Sql<'a> {
    /// The statement `text` with one argument per `?`.
    pub fn new(text: impl Into<std::borrow::Cow<'static, str>>, args: Vec<Arg<'a>>) -> Sql<'a> {
        Sql {
            text: text.into(),
            args,
        }
    }

    /// Run it and read the rows it returns (a SELECT, or a write with RETURNING).
    pub fn load<T>(self, conn: &mut DbConn) -> Result<Vec<T>, StoreError>
    where
        T: diesel::deserialize::QueryableByName<Pg>
            + diesel::deserialize::QueryableByName<Sqlite>
            + 'static,
    {
        self.check()?;
        Ok(on_backend!(conn, |c| RunQueryDsl::load(self, c))?)
    }

    fn check(&self) -> Result<(), StoreError> {
        let wanted = self.text.matches('?').count();
        if wanted != self.args.len() {
            return Err(StoreError::Corrupt(format!(
                "statement needs {wanted} arguments, got {}",
                self.args.len()
            )));
        }
        Ok(())
    }

    /// Run it; returns the number of rows it changed.
    pub fn run(self, conn: &mut DbConn) -> Result<usize, StoreError> {
        self.check()?;
        Ok(on_backend!(conn, |c| RunQueryDsl::execute(self, c))?)
    }
}

fn walk<'b, DB>(sql: &'b Sql<'_>, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()>
where
    DB: Backend
        + diesel::sql_types::HasSqlType<Text>
        + diesel::sql_types::HasSqlType<BigInt>
        + diesel::sql_types::HasSqlType<Bool>
        + diesel::sql_types::HasSqlType<Integer>,
    for<'c> &'c str: diesel::serialize::ToSql<Text, DB>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
    bool: diesel::serialize::ToSql<Bool, DB>,
    i32: diesel::serialize::ToSql<Integer, DB>,
    for<'c> Option<&'c str>: diesel::serialize::ToSql<Nullable<Text>, DB>,
    Option<i64>: diesel::serialize::ToSql<Nullable<BigInt>, DB>,
{
    let mut parts = sql.text.split('?');
    for arg in &sql.args {
        out.push_sql(parts.next().unwrap_or_default());
        match arg {
            Arg::Text(v) => out.push_bind_param::<Text, _>(v)?,
            Arg::OptText(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
            Arg::BigInt(v) => out.push_bind_param::<BigInt, _>(v)?,
            Arg::OptBigInt(v) => out.push_bind_param::<Nullable<BigInt>, _>(v)?,
            Arg::Bool(v) => out.push_bind_param::<Bool, _>(v)?,
            Arg::Int(v) => out.push_bind_param::<Integer, _>(v)?,
        }
    }
    for rest in parts {
        out.push_sql(rest);
    }
    Ok(())
}

impl QueryFragment<Sqlite> for Sql<'_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        walk(self, out)
    }
}

impl QueryFragment<Pg> for Sql<'_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        walk(self, out)
    }
}

// No static query id: diesel then keys its statement cache by the SQL text.
impl QueryId for Sql<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> RunQueryDsl<Conn> for Sql<'_> {}

// Rows come back by column name (`QueryableByName`), as with `sql_query`.
impl diesel::query_builder::Query for Sql<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

/// Make the writers of one thing (`name`) take turns across instances: on PostgreSQL a
/// transaction-scoped advisory lock on the name's hash, held until the transaction ends;
/// SQLite has a single writer already.
pub fn take_turn(conn: &mut DbConn, name: &str) -> Result<(), StoreError> {
    if matches!(conn, DbConn::Postgres(_)) {
        Sql::new(
            "SELECT pg_advisory_xact_lock(hashtext(?))",
            vec![Arg::Text(name)],
        )
        .run(conn)?;
    }
    Ok(())
}
