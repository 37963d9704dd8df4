//! Keys of the management API: their records, found by the key's hash.

use diesel::prelude::*;

use super::schema::api_keys;
use super::{DbConn, StoreError};

/// An API key's record; the key itself is never stored, only its SHA-256.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    /// The one tenant the key may manage; `None` for an operator-wide key.
    pub tenant_id: Option<String>,
    pub label: String,
    pub key_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// Insert a key record.
pub fn insert_api_key(conn: &mut DbConn, row: &ApiKeyRow) -> Result<(), StoreError> {
    diesel::insert_into(api_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Every key, newest first.
pub fn list_api_keys(conn: &mut DbConn) -> Result<Vec<ApiKeyRow>, StoreError> {
    Ok(api_keys::table
        .order(api_keys::created_at.desc())
        .select(ApiKeyRow::as_select())
        .load(conn)?)
}

/// The key whose hash this is, revoked or not.
pub fn find_api_key_by_hash(
    conn: &mut DbConn,
    key_hash: &str,
) -> Result<Option<ApiKeyRow>, StoreError> {
    Ok(on_backend!(conn, |c| api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .select(ApiKeyRow::as_select())
        .first(c)
        .optional())?)
}

/// Revoke a key (the first revocation time is kept). Returns whether it exists.
pub fn revoke_api_key(conn: &mut DbConn, id: &str, at: i64) -> Result<bool, StoreError> {
    let found = diesel::update(
        api_keys::table
            .find(id)
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(Some(at)))
    .execute(conn)?;
    if found > 0 {
        return Ok(true);
    }
    Ok(on_backend!(conn, |c| api_keys::table
        .find(id)
        .select(api_keys::id)
        .first::<String>(c)
        .optional())?
    .is_some())
}

/// Record that a key was used.
pub fn touch_api_key(conn: &mut DbConn, id: &str, at: i64) -> Result<(), StoreError> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}
