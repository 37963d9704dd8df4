//! Tenant and token administration, shared by the CLI and the admin page.

use std::sync::Arc;

use crate::auth::tokens::check_expiry_days;
use crate::scim::error::ScimError;
use crate::scim::schema::{CustomField, FieldType};
use crate::store::events as event_store;
pub use crate::store::events::Event;
use crate::store::fields::CustomFieldRow;
use crate::store::recent::Recent;
use crate::store::tenants as tenant_store;
pub use crate::store::tenants::Tenant;
use crate::store::tokens as token_store;
pub use crate::store::tokens::TokenRecord;
use crate::store::{
    fields, groups as group_store, users as user_store, DbConn, StoreError, UniqueIndex,
};

use super::Service;

/// Check a tenant slug: 1–63 lower-case letters, digits and hyphens, not starting or
/// ending with a hyphen (it appears in URLs).
pub fn check_slug(slug: &str) -> Result<(), String> {
    let ok_chars = slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if slug.is_empty()
        || slug.len() > 63
        || !ok_chars
        || slug.starts_with('-')
        || slug.ends_with('-')
    {
        return Err(format!(
            "invalid tenant slug {slug:?}: use 1 to 63 lower-case letters, digits and hyphens (e.g. \"acme\")"
        ));
    }
    Ok(())
}

/// Longest display name of a tenant, in characters.
pub const MAX_TENANT_NAME: usize = 200;

/// A tenant's display name: at most [`MAX_TENANT_NAME`] characters, no control characters.
pub fn check_tenant_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars > MAX_TENANT_NAME {
        return Err(format!(
            "the tenant name is {chars} characters long; use at most {MAX_TENANT_NAME}"
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the tenant name contains the control character U+{:04X}; remove it",
            u32::from(c)
        ));
    }
    Ok(())
}

/// Create a tenant.
pub async fn create_tenant(
    svc: &Service,
    slug: &str,
    name: Option<&str>,
) -> Result<Tenant, ScimError> {
    create_tenant_with_provider(svc, slug, name, None).await
}

/// Create a tenant whose identity provider is known already (one insert: nothing half-made).
pub async fn create_tenant_with_provider(
    svc: &Service,
    slug: &str,
    name: Option<&str>,
    provider: Option<super::providers::IdentityProvider>,
) -> Result<Tenant, ScimError> {
    check_slug(slug).map_err(ScimError::invalid_value)?;
    if let Some(name) = name {
        check_tenant_name(name).map_err(ScimError::invalid_value)?;
    }
    let (slug, name) = (slug.to_string(), name.unwrap_or(slug).to_string());
    let shown = slug.clone();
    svc.store
        .write(move |conn| {
            tenant_store::create_tenant_with_provider(
                conn,
                &slug,
                &name,
                provider.map(|p| p.as_str()),
            )
        })
        .await
        .map_err(|e| match e {
            StoreError::Unique(UniqueIndex::TenantSlug) => {
                ScimError::uniqueness(format!("a tenant with the slug {shown:?} already exists"))
            }
            other => ScimError::from(other),
        })
}

/// The tenant with this slug, if any.
pub async fn find_tenant(svc: &Service, slug: &str) -> Result<Option<Tenant>, ScimError> {
    let slug = slug.to_string();
    svc.store
        .read(move |conn| Ok::<_, ScimError>(tenant_store::find_tenant_by_slug(conn, &slug)?))
        .await
}

/// The slug of the tenant with this id in a list of tenants (for lists of keys or endpoints,
/// each naming its tenant by id; `None`: no tenant, or not in the list).
pub fn slug_of<'a>(tenants: &'a [Tenant], id: Option<&str>) -> Option<&'a str> {
    let id = id?;
    tenants.iter().find(|t| t.id == id).map(|t| t.slug.as_str())
}

/// The tenant with this id (an admin's, a key's, a link's), if any.
pub async fn find_tenant_by_id(svc: &Service, id: &str) -> Result<Option<Tenant>, ScimError> {
    let id = id.to_string();
    svc.store
        .read(move |conn| Ok::<_, ScimError>(tenant_store::find_tenant_by_id(conn, &id)?))
        .await
}

/// The tenant with this slug, or a 404 naming it.
pub async fn tenant_by_slug(svc: &Service, slug: &str) -> Result<Tenant, ScimError> {
    find_tenant(svc, slug)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("no tenant {slug:?}")))
}

/// Every tenant, by slug.
pub async fn list_tenants(svc: &Service) -> Result<Vec<Tenant>, ScimError> {
    svc.store
        .read(|conn| Ok::<_, ScimError>(tenant_store::list_tenants(conn)?))
        .await
}

/// How many tenants there are.
pub async fn count_tenants(svc: &Service) -> Result<i64, ScimError> {
    svc.store
        .read(|conn| Ok::<_, ScimError>(tenant_store::count_tenants(conn)?))
        .await
}

/// Issue a bearer token for a tenant; returns the JWT (shown once) and its record.
pub async fn issue_token(
    svc: &Service,
    tenant: &Tenant,
    days: i64,
    label: &str,
) -> Result<(String, TokenRecord), ScimError> {
    issue_token_capped(svc, tenant, days, None, label).await
}

/// Issue a token as [`issue_token`] does, expiring at `not_after` (ms) if that comes before
/// `days` have passed: a token made through a setup link's page expires with the link.
pub async fn issue_token_capped(
    svc: &Service,
    tenant: &Tenant,
    days: i64,
    not_after: Option<i64>,
    label: &str,
) -> Result<(String, TokenRecord), ScimError> {
    let days = check_expiry_days(days).map_err(ScimError::invalid_value)?;
    if label.chars().count() > 200 {
        return Err(ScimError::invalid_value(
            "a token label is at most 200 characters",
        ));
    }
    let (keys, tenant, label) = (Arc::clone(&svc.keys), tenant.clone(), label.to_string());
    svc.store
        .write(move |conn| {
            Ok::<_, ScimError>(keys.issue_capped(conn, &tenant, days, not_after, &label)?)
        })
        .await
}

/// A tenant's tokens, newest first.
pub async fn list_tokens(svc: &Service, tenant: &Tenant) -> Result<Vec<TokenRecord>, ScimError> {
    let tenant_id = tenant.id.clone();
    svc.store
        .read(move |conn| Ok::<_, ScimError>(token_store::list_tokens(conn, &tenant_id)?))
        .await
}

/// Revoke a token, optionally only within a tenant; 404 when there is no such token. This
/// instance refuses it at once; other instances within [`crate::store::Store::recheck_interval`].
pub async fn revoke_token(
    svc: &Service,
    jti: &str,
    tenant: Option<&Tenant>,
) -> Result<(), ScimError> {
    let (id, tenant_id) = (jti.to_string(), tenant.map(|t| t.id.clone()));
    let revoked = svc
        .store
        .write(move |conn| {
            Ok::<_, ScimError>(token_store::revoke_token(conn, &id, tenant_id.as_deref())?)
        })
        .await?;
    if !revoked {
        return Err(ScimError::not_found(format!("no token with id {jti}")));
    }
    svc.keys.forget(jti);
    Ok(())
}

/// Disable (`true`) or enable a tenant: while disabled its SCIM endpoint answers 403 to
/// every authenticated request and its data stays as it is. This instance sees it at once,
/// others within [`crate::store::Store::recheck_interval`]. Disabling twice keeps the first
/// time.
pub async fn set_tenant_disabled(
    svc: &Service,
    tenant: &Tenant,
    disabled: bool,
) -> Result<Tenant, ScimError> {
    let (id, at) = (tenant.id.clone(), disabled.then(crate::store::now_millis));
    let changed = svc
        .store
        .write(move |conn| Ok::<_, ScimError>(tenant_store::set_tenant_disabled(conn, &id, at)?))
        .await;
    svc.tenants.forget(&tenant.slug);
    changed?.ok_or_else(|| ScimError::not_found(format!("no tenant {:?}", tenant.slug)))
}

/// The schema-level form of a stored custom field (rows with an unknown type are skipped).
pub fn custom_field_of(row: &CustomFieldRow) -> Option<CustomField> {
    Some(CustomField {
        name: row.name.clone(),
        field_type: FieldType::parse(&row.field_type)?,
        multi_valued: row.multi_valued,
    })
}

/// Define a custom extension field for a tenant (this instance's next write sees it).
pub async fn add_custom_field(
    svc: &Service,
    tenant: &Tenant,
    name: &str,
    field_type: &str,
    multi_valued: bool,
) -> Result<CustomField, ScimError> {
    let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= 64;
    if !valid_name {
        return Err(ScimError::invalid_value(format!(
            "invalid field name {name:?}: start with a letter, then letters, digits, '_' or '-' (at most 64)"
        )));
    }
    let kind = FieldType::parse(field_type).ok_or_else(|| {
        ScimError::invalid_value(format!(
            "unknown field type {field_type:?}: use string, boolean, integer, decimal, dateTime or reference"
        ))
    })?;
    let (tenant_id, field_name) = (tenant.id.clone(), name.to_string());
    let added = svc
        .store
        .write(move |conn| {
            Ok::<_, ScimError>(fields::add_field(
                conn,
                &tenant_id,
                &field_name,
                kind.as_str(),
                multi_valued,
            )?)
        })
        .await;
    svc.custom_fields.forget(&tenant.id);
    added?;
    Ok(CustomField {
        name: name.to_string(),
        field_type: kind,
        multi_valued,
    })
}

/// Remove a custom field's definition: it leaves `/Schemas` and new writes refuse it as an
/// unknown attribute (this instance at once, others within
/// [`crate::store::Store::recheck_interval`]); values already stored stay in the users'
/// resources (see [`crate::scim::schema::Schemas::validate_user_edit`]). 404 when the tenant has no such field.
pub async fn remove_custom_field(
    svc: &Service,
    tenant: &Tenant,
    name: &str,
) -> Result<(), ScimError> {
    let (tenant_id, field_name) = (tenant.id.clone(), name.to_string());
    let removed = svc
        .store
        .write(move |conn| Ok::<_, ScimError>(fields::remove_field(conn, &tenant_id, &field_name)?))
        .await;
    svc.custom_fields.forget(&tenant.id);
    if !removed? {
        return Err(ScimError::not_found(format!(
            "no custom field {name:?} in tenant {:?}",
            tenant.slug
        )));
    }
    Ok(())
}

/// A tenant's custom fields.
pub async fn list_custom_fields(
    svc: &Service,
    tenant: &Tenant,
) -> Result<Vec<CustomField>, ScimError> {
    let tenant_id = tenant.id.clone();
    svc.store
        .read(move |conn| custom_fields_of(conn, &tenant_id))
        .await
}

fn custom_fields_of(conn: &mut DbConn, tenant_id: &str) -> Result<Vec<CustomField>, ScimError> {
    Ok(fields::list_fields(conn, tenant_id)?
        .iter()
        .filter_map(custom_field_of)
        .collect())
}

/// What a tenant's page shows: its tokens, fields and counts.
#[derive(Debug, Clone)]
pub struct TenantOverview {
    pub tokens: Vec<TokenRecord>,
    pub fields: Vec<CustomField>,
    pub users_active: i64,
    pub users_inactive: i64,
    pub groups: i64,
}

/// A tenant's tokens, fields and counts, read together.
pub async fn tenant_overview(svc: &Service, tenant: &Tenant) -> Result<TenantOverview, ScimError> {
    let tenant_id = tenant.id.clone();
    svc.store
        .read(move |conn| {
            let (users_active, users_inactive) = user_store::count_users(conn, &tenant_id)?;
            Ok::<_, ScimError>(TenantOverview {
                tokens: token_store::list_tokens(conn, &tenant_id)?,
                fields: custom_fields_of(conn, &tenant_id)?,
                users_active,
                users_inactive,
                groups: group_store::count_groups(conn, &tenant_id)?,
            })
        })
        .await
}

/// Remove the tombstones of users and groups deleted before `before` (ms): how many of each.
pub async fn purge_tombstones(svc: &Service, before: i64) -> Result<(usize, usize), ScimError> {
    svc.store
        .write(move |conn| {
            Ok::<_, ScimError>((
                user_store::purge_user_tombstones(conn, before)?,
                group_store::purge_group_tombstones(conn, before)?,
            ))
        })
        .await
}

/// One page of a tenant's provisioning log, newest first, optionally of one action.
pub async fn events_page(
    svc: &Service,
    tenant: &Tenant,
    action: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Vec<Event>, ScimError> {
    let (tenant_id, action) = (tenant.id.clone(), action.map(str::to_string));
    svc.store
        .read(move |conn| {
            Ok::<_, ScimError>(event_store::events_page(
                conn,
                &tenant_id,
                action.as_deref(),
                offset,
                limit,
            )?)
        })
        .await
}

/// A tenant's log entries after the entry `after`, oldest first, at most `limit`.
pub async fn events_after(
    svc: &Service,
    tenant: &Tenant,
    after: i64,
    limit: i64,
) -> Result<Vec<Event>, ScimError> {
    let tenant_id = tenant.id.clone();
    svc.store
        .read(move |conn| {
            Ok::<_, ScimError>(event_store::events_after(conn, &tenant_id, after, limit)?)
        })
        .await
}

/// Tenants by slug, kept in memory so that a SCIM request need not read its tenant: trusted
/// for [`crate::store::Store::recheck_interval`], since an operator may disable or enable a
/// tenant from the CLI or another instance (a tenant disabled through this instance is seen
/// at once). Misses go to the database.
#[derive(Debug)]
pub struct TenantCache {
    by_slug: Recent<Tenant>,
}

impl Default for TenantCache {
    fn default() -> Self {
        TenantCache {
            by_slug: Recent::new(100_000),
        }
    }
}

impl TenantCache {
    /// The tenant with this slug, from memory while recent enough, else from the database.
    pub async fn get(
        &self,
        store: &crate::store::Store,
        slug: &str,
    ) -> Result<Option<Tenant>, crate::store::StoreError> {
        if let Some(t) = self.by_slug.get(slug, store.recheck_interval()) {
            return Ok(Some(t));
        }
        let wanted = slug.to_string();
        let found = store
            .lookup(move |conn| tenant_store::find_tenant_by_slug(conn, &wanted))
            .await?;
        if let Some(t) = &found {
            self.by_slug.put(slug, t.clone());
        }
        Ok(found)
    }

    /// Read the tenant again at its next request (it was just changed through this instance).
    pub fn forget(&self, slug: &str) {
        self.by_slug.forget(slug);
    }
}

/// Tenants' custom fields as last read, by tenant id, so that a user write does not read
/// them again. Trusted for [`crate::store::Store::recheck_interval`]; a field added through
/// this instance is seen at once.
#[derive(Debug)]
pub struct CustomFieldCache {
    by_tenant: Recent<std::sync::Arc<Vec<CustomField>>>,
}

impl Default for CustomFieldCache {
    fn default() -> Self {
        CustomFieldCache {
            by_tenant: Recent::new(100_000),
        }
    }
}

impl CustomFieldCache {
    /// The tenant's custom fields, from memory while recent enough, else from the database.
    pub async fn get(
        &self,
        store: &crate::store::Store,
        tenant_id: &str,
    ) -> Result<std::sync::Arc<Vec<CustomField>>, ScimError> {
        if let Some(fields) = self.by_tenant.get(tenant_id, store.recheck_interval()) {
            return Ok(fields);
        }
        let wanted = tenant_id.to_string();
        let fields = std::sync::Arc::new(
            store
                .lookup(move |conn| custom_fields_of(conn, &wanted))
                .await?,
        );
        self.by_tenant
            .put(tenant_id, std::sync::Arc::clone(&fields));
        Ok(fields)
    }

    /// Read the tenant's fields again at its next write (a field was added here).
    pub fn forget(&self, tenant_id: &str) {
        self.by_tenant.forget(tenant_id);
    }
}
