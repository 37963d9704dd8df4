//! A tenant's role mapping (stored as the API shows it) and the effective roles each user was
//! last reported with. Every query is scoped to its tenant.

use diesel::prelude::*;

use super::prepared::{Arg, Sql};
use super::schema::{group_members, groups, role_mappings, user_effective_roles, users};
use super::{DbConn, StoreError};

/// A tenant's mapping as stored: `rules` is JSON text.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = role_mappings)]
pub struct MappingRow {
    pub tenant_id: String,
    pub rules: String,
    pub default_role: Option<String>,
    pub updated_at: i64,
}

/// The tenant's mapping, if it has one.
pub fn get_mapping(conn: &mut DbConn, tenant_id: &str) -> Result<Option<MappingRow>, StoreError> {
    Ok(role_mappings::table
        .find(tenant_id)
        .select(MappingRow::as_select())
        .first(conn)
        .optional()?)
}

/// Replace the tenant's mapping (call inside a write transaction).
pub fn put_mapping(conn: &mut DbConn, row: &MappingRow) -> Result<(), StoreError> {
    diesel::delete(role_mappings::table.find(&row.tenant_id)).execute(conn)?;
    diesel::insert_into(role_mappings::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The tenants that have a mapping.
pub fn tenants_with_mappings(conn: &mut DbConn) -> Result<Vec<String>, StoreError> {
    Ok(role_mappings::table
        .select(role_mappings::tenant_id)
        .load(conn)?)
}

/// The tenant's group-in-group memberships, as (member group, live group it belongs to).
pub fn group_edges(
    conn: &mut DbConn,
    tenant_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(group_members::table
        .inner_join(groups::table.on(groups::id.eq(group_members::group_id)))
        .filter(group_members::tenant_id.eq(tenant_id))
        .filter(group_members::member_type.eq("Group"))
        .filter(groups::tenant_id.eq(tenant_id))
        .filter(groups::deleted_at.is_null())
        .select((group_members::member_id, group_members::group_id))
        .load(conn)?)
}

/// The ids of the tenant's next live users by id, after `after`: a walk through them all.
pub fn user_ids_after(
    conn: &mut DbConn,
    tenant_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let mut q = users::table
        .filter(users::tenant_id.eq(tenant_id.to_string()))
        .filter(users::deleted_at.is_null())
        .select(users::id)
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(users::id.gt(after.to_string()));
    }
    Ok(q.order(users::id.asc()).limit(limit).load(conn)?)
}

/// The users that are direct members of these groups of the tenant.
pub fn user_members(
    conn: &mut DbConn,
    tenant_id: &str,
    group_ids: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for chunk in group_ids.chunks(500) {
        let rows: Vec<String> = group_members::table
            .filter(group_members::tenant_id.eq(tenant_id))
            .filter(group_members::group_id.eq_any(chunk))
            .filter(group_members::member_type.eq("User"))
            .select(group_members::member_id)
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// The effective roles (JSON text) these users were last reported with; a user without a
/// row was reported with none.
pub fn reported_roles(
    conn: &mut DbConn,
    tenant_id: &str,
    user_ids: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(500) {
        let rows: Vec<(String, String)> = user_effective_roles::table
            .filter(user_effective_roles::tenant_id.eq(tenant_id))
            .filter(user_effective_roles::user_id.eq_any(chunk))
            .select((user_effective_roles::user_id, user_effective_roles::roles))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Record that a user is reported with `roles`, if it was last reported with `previous`
/// (`None`: no row). False when another writer got there first: then that one reports it.
pub fn set_reported_roles(
    conn: &mut DbConn,
    tenant_id: &str,
    user_id: &str,
    previous: Option<&str>,
    roles: &str,
) -> Result<bool, StoreError> {
    let changed = match previous {
        Some(previous) => Sql::new(
            "UPDATE user_effective_roles SET roles = ? WHERE tenant_id = ? AND user_id = ? AND roles = ?",
            vec![
                Arg::Text(roles),
                Arg::Text(tenant_id),
                Arg::Text(user_id),
                Arg::Text(previous),
            ],
        )
        .run(conn)?,
        None => Sql::new(
            "INSERT INTO user_effective_roles (tenant_id, user_id, roles) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            vec![Arg::Text(tenant_id), Arg::Text(user_id), Arg::Text(roles)],
        )
        .run(conn)?,
    };
    Ok(changed == 1)
}

/// Forget what these users were reported with (they are gone).
pub fn forget_reported_roles(
    conn: &mut DbConn,
    tenant_id: &str,
    user_ids: &[String],
) -> Result<(), StoreError> {
    for chunk in user_ids.chunks(500) {
        diesel::delete(
            user_effective_roles::table
                .filter(user_effective_roles::tenant_id.eq(tenant_id))
                .filter(user_effective_roles::user_id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    Ok(())
}
