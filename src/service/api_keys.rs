//! API keys of the host app: made, listed and revoked by the operator; checked on every
//! `/api/v1` request. A key is high-entropy, so it is stored as its SHA-256 (fast to check on
//! every request, unlike a password) and found by that hash.

use super::admins::{random_secret, secret_hash};
use super::tenants::tenant_by_slug;
use super::{new_resource_id, Service};
use crate::scim::error::{ScimError, StatusCode};
use crate::store::api_keys::{self as key_store, ApiKeyRow};
use crate::store::now_millis;
use crate::store::tenants::Tenant;

/// What every key starts with, so a leaked one is recognisable (and secret scanners can
/// match it).
pub const KEY_PREFIX: &str = "scimd_";

/// A key's use is recorded at most this often (milliseconds), not on every request.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Longest label accepted.
const MAX_LABEL: usize = 200;

/// Who a request's key speaks for.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key_id: String,
    /// The one tenant the key may manage; `None` for an operator key.
    pub tenant_id: Option<String>,
}

impl ApiCaller {
    /// Whether the key may manage this tenant.
    pub fn may_manage(&self, tenant: &Tenant) -> bool {
        self.tenant_id.as_deref().is_none_or(|id| id == tenant.id)
    }

    /// Whether the key speaks for the operator (every tenant, and making tenants).
    pub fn is_operator(&self) -> bool {
        self.tenant_id.is_none()
    }
}

/// A key as listed: its record and the slug of its tenant.
#[derive(Debug, Clone)]
pub struct ApiKeyView {
    pub row: ApiKeyRow,
    pub tenant_slug: Option<String>,
}

/// Make a key, for one tenant (by slug) or operator-wide; the key is returned once, here.
pub async fn create_api_key(
    svc: &Service,
    tenant_slug: Option<&str>,
    label: &str,
) -> Result<(String, ApiKeyView), ScimError> {
    let label = label.trim().to_string();
    if label.is_empty() || label.chars().count() > MAX_LABEL || label.chars().any(char::is_control)
    {
        return Err(ScimError::invalid_value(format!(
            "the label must be 1 to {MAX_LABEL} printable characters, saying what uses the key"
        )));
    }
    let tenant = match tenant_slug {
        Some(slug) => Some(tenant_by_slug(svc, slug).await?),
        None => None,
    };
    let key = format!("{KEY_PREFIX}{}", random_secret());
    let row = ApiKeyRow {
        id: new_resource_id(),
        tenant_id: tenant.as_ref().map(|t| t.id.clone()),
        label,
        key_hash: secret_hash(&key),
        created_at: now_millis(),
        revoked_at: None,
        last_used_at: None,
    };
    let stored = row.clone();
    svc.store
        .write(move |conn| Ok::<_, ScimError>(key_store::insert_api_key(conn, &stored)?))
        .await?;
    Ok((
        key,
        ApiKeyView {
            row,
            tenant_slug: tenant.map(|t| t.slug),
        },
    ))
}

/// Every key, newest first, with its tenant's slug.
pub async fn list_api_keys(svc: &Service) -> Result<Vec<ApiKeyView>, ScimError> {
    let rows = svc
        .store
        .read(|conn| Ok::<_, ScimError>(key_store::list_api_keys(conn)?))
        .await?;
    let tenants = super::tenants::list_tenants(svc).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let tenant_slug =
                super::tenants::slug_of(&tenants, row.tenant_id.as_deref()).map(str::to_string);
            ApiKeyView { row, tenant_slug }
        })
        .collect())
}

/// Revoke a key by id: it stops working on the next request, on every instance.
pub async fn revoke_api_key(svc: &Service, id: &str) -> Result<(), ScimError> {
    let id = id.to_string();
    let shown = id.clone();
    let found = svc
        .store
        .write(move |conn| Ok::<_, ScimError>(key_store::revoke_api_key(conn, &id, now_millis())?))
        .await?;
    if !found {
        return Err(ScimError::not_found(format!("no API key {shown}")));
    }
    Ok(())
}

/// The caller a presented key speaks for, or a 401 saying nothing of why (the log gets the
/// reason, never the key).
pub async fn authenticate_api_key(svc: &Service, key: &str) -> Result<ApiCaller, ScimError> {
    let refused = |reason: &str| {
        tracing::info!(reason, "API request refused");
        ScimError::status(
            StatusCode::UNAUTHORIZED,
            "missing, unknown or revoked API key; send Authorization: Bearer scimd_…",
        )
    };
    if !key.starts_with(KEY_PREFIX) {
        return Err(refused("not an API key"));
    }
    let hash = secret_hash(key);
    let wanted = hash.clone();
    let row = svc
        .store
        .lookup(move |conn| Ok::<_, ScimError>(key_store::find_api_key_by_hash(conn, &hash)?))
        .await?;
    // The hash found the row; comparing it again in constant time costs nothing and keeps
    // the check independent of how the index compared.
    let Some(row) = row.filter(|r| super::admins::same_secret(&r.key_hash, &wanted)) else {
        return Err(refused("unknown API key"));
    };
    if row.revoked_at.is_some() {
        return Err(refused("revoked API key"));
    }
    let now = now_millis();
    if row.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY_MS) {
        let id = row.id.clone();
        let touched = svc
            .store
            .write(move |conn| Ok::<_, ScimError>(key_store::touch_api_key(conn, &id, now)?))
            .await;
        if let Err(e) = touched {
            tracing::warn!(error = %e.detail, "could not record an API key's use");
        }
    }
    Ok(ApiCaller {
        key_id: row.id,
        tenant_id: row.tenant_id,
    })
}
