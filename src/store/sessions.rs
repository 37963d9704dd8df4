//! Admin sessions of the token page, kept in the database so any instance serves any admin.

use diesel::prelude::*;

use super::admins::AdminRow;
use super::schema::{admin_sessions, admins};
use super::{DbConn, StoreError};

/// A session row (the cookie secret itself is never stored, only its hash).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = admin_sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub admin_id: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Store a new session.
pub fn insert_session(conn: &mut DbConn, row: &SessionRow) -> Result<(), StoreError> {
    diesel::insert_into(admin_sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The live session with this hash and its admin.
pub fn find_session(
    conn: &mut DbConn,
    id_hash: &str,
    now: i64,
) -> Result<Option<(SessionRow, AdminRow)>, StoreError> {
    Ok(admin_sessions::table
        .inner_join(admins::table.on(admins::id.eq(admin_sessions::admin_id)))
        .filter(admin_sessions::id_hash.eq(id_hash))
        .filter(admin_sessions::expires_at.gt(now))
        .select((SessionRow::as_select(), AdminRow::as_select()))
        .first(conn)
        .optional()?)
}

/// End a session.
pub fn delete_session(conn: &mut DbConn, id_hash: &str) -> Result<(), StoreError> {
    diesel::delete(admin_sessions::table.filter(admin_sessions::id_hash.eq(id_hash)))
        .execute(conn)?;
    Ok(())
}

/// Drop expired sessions.
pub fn delete_expired_sessions(conn: &mut DbConn, now: i64) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(admin_sessions::table.filter(admin_sessions::expires_at.le(now)))
            .execute(conn)?,
    )
}
