//! Setup links and the page sessions they start. A link's secret and a session's cookie
//! secret are never stored, only their SHA-256; every query names the tenant it serves.

use diesel::prelude::*;

use super::schema::{setup_links, setup_sessions};
use super::{DbConn, StoreError};

/// A setup link's record.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = setup_links)]
pub struct SetupLinkRow {
    pub id: String,
    pub tenant_id: String,
    pub label: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// A page session started by opening a setup link.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = setup_sessions)]
pub struct SetupSessionRow {
    pub id_hash: String,
    pub link_id: String,
    /// The link's tenant, the only one the session may see.
    pub tenant_id: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Insert a link record.
pub fn insert_setup_link(conn: &mut DbConn, row: &SetupLinkRow) -> Result<(), StoreError> {
    diesel::insert_into(setup_links::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// A tenant's links, newest first.
pub fn list_setup_links(
    conn: &mut DbConn,
    tenant_id: &str,
) -> Result<Vec<SetupLinkRow>, StoreError> {
    Ok(setup_links::table
        .filter(setup_links::tenant_id.eq(tenant_id))
        .order(setup_links::created_at.desc())
        .select(SetupLinkRow::as_select())
        .load(conn)?)
}

/// The link whose secret has this hash, whatever its state.
pub fn find_setup_link_by_hash(
    conn: &mut DbConn,
    secret_hash: &str,
) -> Result<Option<SetupLinkRow>, StoreError> {
    Ok(setup_links::table
        .filter(setup_links::secret_hash.eq(secret_hash))
        .select(SetupLinkRow::as_select())
        .first(conn)
        .optional()?)
}

/// Revoke a tenant's link (the first revocation time is kept) and end the sessions it
/// started. Returns whether the tenant has such a link.
pub fn revoke_setup_link(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
    at: i64,
) -> Result<bool, StoreError> {
    let exists = setup_links::table
        .filter(setup_links::tenant_id.eq(tenant_id))
        .filter(setup_links::id.eq(id))
        .select(setup_links::id)
        .first::<String>(conn)
        .optional()?
        .is_some();
    if !exists {
        return Ok(false);
    }
    diesel::update(
        setup_links::table
            .filter(setup_links::tenant_id.eq(tenant_id))
            .filter(setup_links::id.eq(id))
            .filter(setup_links::revoked_at.is_null()),
    )
    .set(setup_links::revoked_at.eq(Some(at)))
    .execute(conn)?;
    // A session's every request checks its link anyway; deleting them too leaves no row that
    // a later bug could honour.
    diesel::delete(
        setup_sessions::table
            .filter(setup_sessions::tenant_id.eq(tenant_id))
            .filter(setup_sessions::link_id.eq(id)),
    )
    .execute(conn)?;
    Ok(true)
}

/// Record that a tenant's link was opened.
pub fn touch_setup_link(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
    at: i64,
) -> Result<(), StoreError> {
    diesel::update(
        setup_links::table
            .filter(setup_links::tenant_id.eq(tenant_id))
            .filter(setup_links::id.eq(id)),
    )
    .set(setup_links::last_used_at.eq(Some(at)))
    .execute(conn)?;
    Ok(())
}

/// Store a new session.
pub fn insert_setup_session(conn: &mut DbConn, row: &SetupSessionRow) -> Result<(), StoreError> {
    diesel::insert_into(setup_sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The session with this hash and its link, if both are live at `now`: the session has not
/// expired, and its link (of the same tenant) has neither expired nor been revoked.
pub fn find_setup_session(
    conn: &mut DbConn,
    id_hash: &str,
    now: i64,
) -> Result<Option<(SetupSessionRow, SetupLinkRow)>, StoreError> {
    Ok(setup_sessions::table
        .inner_join(
            setup_links::table.on(setup_links::id
                .eq(setup_sessions::link_id)
                .and(setup_links::tenant_id.eq(setup_sessions::tenant_id))),
        )
        .filter(setup_sessions::id_hash.eq(id_hash))
        .filter(setup_sessions::expires_at.gt(now))
        .filter(setup_links::expires_at.gt(now))
        .filter(setup_links::revoked_at.is_null())
        .select((SetupSessionRow::as_select(), SetupLinkRow::as_select()))
        .first(conn)
        .optional()?)
}

/// End a session.
pub fn delete_setup_session(conn: &mut DbConn, id_hash: &str) -> Result<(), StoreError> {
    diesel::delete(setup_sessions::table.filter(setup_sessions::id_hash.eq(id_hash)))
        .execute(conn)?;
    Ok(())
}

/// Drop expired sessions.
pub fn delete_expired_setup_sessions(conn: &mut DbConn, now: i64) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(setup_sessions::table.filter(setup_sessions::expires_at.le(now)))
            .execute(conn)?,
    )
}
