//! Tenants: the unit of isolation; every other row belongs to one.

use diesel::prelude::*;

use super::schema::tenants;
use super::{now_millis, DbConn, StoreError};

/// A tenant row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenants)]
pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: i64,
    /// When an operator disabled it (its SCIM endpoint answers 403 meanwhile), if it is.
    pub disabled_at: Option<i64>,
    /// The identity provider its admin chose (`entra`, `okta`, … see
    /// `service::providers::IdentityProvider`), if one was chosen.
    pub identity_provider: Option<String>,
}

/// Create a tenant; a taken slug is `StoreError::Unique`.
pub fn create_tenant(conn: &mut DbConn, slug: &str, name: &str) -> Result<Tenant, StoreError> {
    create_tenant_with_provider(conn, slug, name, None)
}

/// Create a tenant with its identity provider, if one is known already (one insert).
pub fn create_tenant_with_provider(
    conn: &mut DbConn,
    slug: &str,
    name: &str,
    identity_provider: Option<&str>,
) -> Result<Tenant, StoreError> {
    let tenant = Tenant {
        id: uuid::Uuid::new_v4().to_string(),
        slug: slug.to_string(),
        name: name.to_string(),
        created_at: now_millis(),
        disabled_at: None,
        identity_provider: identity_provider.map(str::to_string),
    };
    diesel::insert_into(tenants::table)
        .values(&tenant)
        .execute(conn)?;
    Ok(tenant)
}

/// The tenant with this slug, if any.
pub fn find_tenant_by_slug(conn: &mut DbConn, slug: &str) -> Result<Option<Tenant>, StoreError> {
    Ok(tenants::table
        .filter(tenants::slug.eq(slug))
        .select(Tenant::as_select())
        .first(conn)
        .optional()?)
}

/// The tenant with this id, if any.
pub fn find_tenant_by_id(conn: &mut DbConn, id: &str) -> Result<Option<Tenant>, StoreError> {
    Ok(tenants::table
        .find(id)
        .select(Tenant::as_select())
        .first(conn)
        .optional()?)
}

/// All tenants, by slug.
pub fn list_tenants(conn: &mut DbConn) -> Result<Vec<Tenant>, StoreError> {
    Ok(tenants::table
        .order(tenants::slug.asc())
        .select(Tenant::as_select())
        .load(conn)?)
}

/// Number of tenants (the first-start hint looks at it).
pub fn count_tenants(conn: &mut DbConn) -> Result<i64, StoreError> {
    Ok(tenants::table.count().get_result(conn)?)
}

/// Disable a tenant (`Some(at)`; one already disabled keeps its first time) or enable it
/// (`None`); the tenant as it is now, or None when there is no such tenant.
pub fn set_tenant_disabled(
    conn: &mut DbConn,
    tenant_id: &str,
    at: Option<i64>,
) -> Result<Option<Tenant>, StoreError> {
    let this = tenants::table.filter(tenants::id.eq(tenant_id));
    match at {
        Some(at) => diesel::update(this.filter(tenants::disabled_at.is_null()))
            .set(tenants::disabled_at.eq(Some(at)))
            .execute(conn)?,
        None => diesel::update(this)
            .set(tenants::disabled_at.eq(None::<i64>))
            .execute(conn)?,
    };
    Ok(tenants::table
        .filter(tenants::id.eq(tenant_id))
        .select(Tenant::as_select())
        .first(conn)
        .optional()?)
}

/// Set (or, with `None`, clear) a tenant's identity provider; the tenant as it is now, or None
/// when there is no such tenant.
pub fn set_identity_provider(
    conn: &mut DbConn,
    tenant_id: &str,
    provider: Option<&str>,
) -> Result<Option<Tenant>, StoreError> {
    diesel::update(tenants::table.filter(tenants::id.eq(tenant_id)))
        .set(tenants::identity_provider.eq(provider))
        .execute(conn)?;
    Ok(tenants::table
        .filter(tenants::id.eq(tenant_id))
        .select(Tenant::as_select())
        .first(conn)
        .optional()?)
}

/// Those of these tenant ids that name a tenant.
pub fn existing_ids(conn: &mut DbConn, ids: &[String]) -> Result<Vec<String>, StoreError> {
    Ok(tenants::table
        .filter(tenants::id.eq_any(ids))
        .select(tenants::id)
        .load(conn)?)
}
