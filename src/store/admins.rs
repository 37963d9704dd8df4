//! Admins of the token page: tenant admins and operators (all tenants).

use diesel::prelude::*;

use super::schema::admins;
use super::{now_millis, DbConn, StoreError};

/// An admin row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = admins)]
pub struct AdminRow {
    pub id: String,
    /// None for operators.
    pub tenant_id: Option<String>,
    pub username: String,
    pub password_hash: String,
    pub is_operator: bool,
    pub created_at: i64,
}

/// Create an admin; a taken username is `StoreError::Unique`.
pub fn create_admin(
    conn: &mut DbConn,
    tenant_id: Option<&str>,
    username: &str,
    password_hash: &str,
    is_operator: bool,
) -> Result<AdminRow, StoreError> {
    let row = AdminRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant_id.map(str::to_string),
        username: username.to_string(),
        password_hash: password_hash.to_string(),
        is_operator,
        created_at: now_millis(),
    };
    diesel::insert_into(admins::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// The admin with this username.
pub fn find_admin(conn: &mut DbConn, username: &str) -> Result<Option<AdminRow>, StoreError> {
    Ok(admins::table
        .filter(admins::username.eq(username))
        .select(AdminRow::as_select())
        .first(conn)
        .optional()?)
}
