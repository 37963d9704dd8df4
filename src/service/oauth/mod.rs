//! OAuth 2.0 for identity providers that authenticate with a client instead of a Secret
//! Token: a tenant's clients (made on the page, by the CLI or the API; up to two live secrets
//! each, for rotation; an optional key set for `private_key_jwt`), the token endpoint's grants
//! ([`token`]) and the authorization-code approval ([`authorize`]). Access tokens are bearer
//! tokens checked exactly as Secret Tokens are, tied to their client and grant so that revoking
//! either revokes them.

pub mod authorize;
pub mod token;

use std::sync::Arc;

use serde_json::Value;

use super::admins::{random_secret, secret_hash};
use super::{new_resource_id, Service};
use crate::auth::client_assertion;
use crate::scim::error::{ScimError, StatusCode};
use crate::store::now_millis;
use crate::store::oauth::{self as oauth_store, ClientSecretRow, GrantRow, OAuthClientRow};
use crate::store::tenants::Tenant;

/// Most live clients a tenant may have.
pub const MAX_CLIENTS_PER_TENANT: i64 = 10;
/// Most live secrets a client may have: the one in use and its successor.
pub const MAX_SECRETS_PER_CLIENT: usize = 2;
/// Most redirect URIs a client may register.
pub const MAX_REDIRECT_URIS: usize = 5;
/// What every client secret starts with, so that a leaked one is recognisable.
pub const SECRET_PREFIX: &str = "scimd_cs_";
const MAX_LABEL: usize = 200;
const MAX_URI: usize = 2000;

/// A client as the page, the API and the CLI show it (never a secret).
#[derive(Debug, Clone)]
pub struct ClientView {
    pub row: OAuthClientRow,
    pub redirect_uris: Vec<String>,
    /// Its live secrets (id and creation time only).
    pub secrets: Vec<ClientSecretRow>,
    /// The grants tenant admins approved for it.
    pub grants: Vec<GrantRow>,
}

/// What a client is made with.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub label: String,
    pub redirect_uris: Vec<String>,
    /// A JSON Web Key Set for `private_key_jwt`.
    pub jwks: Option<Value>,
}

/// A change to a client: each field given replaces the stored one.
#[derive(Debug, Clone, Default)]
pub struct ClientChange {
    pub label: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    /// `Some(None)` removes the key set.
    pub jwks: Option<Option<Value>>,
}

fn check_label(label: &str) -> Result<String, ScimError> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL || label.chars().any(char::is_control)
    {
        return Err(ScimError::invalid_value(format!(
            "label must be 1 to {MAX_LABEL} printable characters saying what uses the client, e.g. \"Okta production\""
        )));
    }
    Ok(label.to_string())
}

/// Check redirect URIs: absolute `https` URLs without a fragment (`http` only to a loopback
/// address, RFC 8252 §7.3), at most [`MAX_REDIRECT_URIS`]. Returns them as a JSON array text.
pub fn check_redirect_uris(uris: &[String]) -> Result<String, ScimError> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(ScimError::invalid_value(format!(
            "a client has at most {MAX_REDIRECT_URIS} redirect URIs"
        )));
    }
    for uri in uris {
        let bad = |why: &str| ScimError::invalid_value(format!("redirect URI {uri:?} {why}"));
        if uri.len() > MAX_URI {
            return Err(bad("is longer than 2000 characters"));
        }
        let parsed: actix_web::http::Uri =
            uri.parse().map_err(|_| bad("is not an absolute URL"))?;
        let host = parsed
            .host()
            .ok_or_else(|| bad("is not an absolute URL with a host"))?;
        if uri.contains('#') {
            return Err(bad("must not have a fragment (RFC 6749 §3.1.2)"));
        }
        match parsed.scheme_str() {
            Some("https") => {}
            Some("http")
                if host == "localhost"
                    || host
                        .trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback()) => {}
            _ => return Err(bad("must use https (http only to a loopback address)")),
        }
    }
    serde_json::to_string(uris).map_err(|e| ScimError::internal(e.to_string()))
}

fn check_jwks(jwks: Option<&Value>) -> Result<Option<String>, ScimError> {
    jwks.map(|set| {
        client_assertion::check_key_set(set).map_err(ScimError::invalid_value)?;
        Ok(set.to_string())
    })
    .transpose()
}

/// Make a client for a tenant; its secret is returned once, here.
pub async fn create_client(
    svc: &Service,
    tenant: &Tenant,
    new: NewClient,
) -> Result<(String, ClientView), ScimError> {
    let label = check_label(&new.label)?;
    let redirect_uris = check_redirect_uris(&new.redirect_uris)?;
    let jwks = check_jwks(new.jwks.as_ref())?;
    let now = now_millis();
    let client = OAuthClientRow {
        id: new_resource_id(),
        tenant_id: tenant.id.clone(),
        client_id: format!("scimd-{}", uuid::Uuid::new_v4().simple()),
        label,
        redirect_uris,
        jwks,
        created_at: now,
        revoked_at: None,
    };
    let secret = format!("{SECRET_PREFIX}{}", random_secret());
    let secret_row = ClientSecretRow {
        id: new_resource_id(),
        client_ref: client.id.clone(),
        secret_hash: secret_hash(&secret),
        created_at: now,
        revoked_at: None,
    };
    let (stored, stored_secret) = (client.clone(), secret_row.clone());
    svc.store
        .write(move |conn| {
            oauth_store::take_turn(conn, &stored.tenant_id)?;
            if oauth_store::count_live_clients(conn, &stored.tenant_id)? >= MAX_CLIENTS_PER_TENANT
            {
                return Err(ScimError::status(
                    StatusCode::CONFLICT,
                    format!("a tenant has at most {MAX_CLIENTS_PER_TENANT} OAuth clients; revoke one first"),
                ));
            }
            oauth_store::insert_client(conn, &stored, &stored_secret)?;
            Ok(())
        })
        .await?;
    Ok((
        secret,
        ClientView {
            redirect_uris: new.redirect_uris,
            row: client,
            secrets: vec![secret_row],
            grants: Vec::new(),
        },
    ))
}

fn view(row: OAuthClientRow, secrets: &[ClientSecretRow], grants: &[GrantRow]) -> ClientView {
    ClientView {
        redirect_uris: serde_json::from_str(&row.redirect_uris).unwrap_or_default(),
        secrets: secrets
            .iter()
            .filter(|s| s.client_ref == row.id)
            .cloned()
            .collect(),
        grants: grants
            .iter()
            .filter(|g| g.client_ref == row.id)
            .cloned()
            .collect(),
        row,
    }
}

/// A tenant's clients, newest first, with their live secrets and grants.
pub async fn list_clients(svc: &Service, tenant: &Tenant) -> Result<Vec<ClientView>, ScimError> {
    let tenant_id = tenant.id.clone();
    svc.store
        .read(move |conn| {
            let clients = oauth_store::list_clients(conn, &tenant_id)?;
            let ids: Vec<String> = clients.iter().map(|c| c.id.clone()).collect();
            let secrets = oauth_store::live_secrets(conn, &ids)?;
            let grants = oauth_store::list_grants(conn, &tenant_id)?;
            Ok::<_, ScimError>(
                clients
                    .into_iter()
                    .map(|c| view(c, &secrets, &grants))
                    .collect(),
            )
        })
        .await
}

fn no_client(id: &str) -> ScimError {
    ScimError::not_found(format!("no OAuth client with id {id:?}"))
}

/// One of a tenant's clients; 404 when it has none with this id.
pub async fn get_client(svc: &Service, tenant: &Tenant, id: &str) -> Result<ClientView, ScimError> {
    list_clients(svc, tenant)
        .await?
        .into_iter()
        .find(|c| c.row.id == id)
        .ok_or_else(|| no_client(id))
}

/// Change a live client's label, redirect URIs or key set.
pub async fn update_client(
    svc: &Service,
    tenant: &Tenant,
    id: &str,
    change: ClientChange,
) -> Result<ClientView, ScimError> {
    let label = change.label.as_deref().map(check_label).transpose()?;
    let redirect_uris = change
        .redirect_uris
        .as_deref()
        .map(check_redirect_uris)
        .transpose()?;
    let jwks = change
        .jwks
        .as_ref()
        .map(|j| check_jwks(j.as_ref()))
        .transpose()?;
    let (tenant_id, client_id) = (tenant.id.clone(), id.to_string());
    svc.store
        .write(move |conn| {
            let mut client = oauth_store::find_client(conn, &tenant_id, &client_id)?
                .filter(|c| c.revoked_at.is_none())
                .ok_or_else(|| no_client(&client_id))?;
            if let Some(label) = label {
                client.label = label;
            }
            if let Some(uris) = redirect_uris {
                client.redirect_uris = uris;
            }
            if let Some(jwks) = jwks {
                client.jwks = jwks;
            }
            oauth_store::update_client(conn, &client)?;
            Ok::<_, ScimError>(())
        })
        .await?;
    get_client(svc, tenant, id).await
}

/// Add a secret to a live client (at most [`MAX_SECRETS_PER_CLIENT`] live at once); the
/// secret is returned once, here.
pub async fn add_secret(
    svc: &Service,
    tenant: &Tenant,
    id: &str,
) -> Result<(String, ClientSecretRow), ScimError> {
    let secret = format!("{SECRET_PREFIX}{}", random_secret());
    let row = ClientSecretRow {
        id: new_resource_id(),
        client_ref: id.to_string(),
        secret_hash: secret_hash(&secret),
        created_at: now_millis(),
        revoked_at: None,
    };
    let (tenant_id, stored) = (tenant.id.clone(), row.clone());
    svc.store
        .write(move |conn| {
            oauth_store::take_turn(conn, &stored.client_ref)?;
            oauth_store::find_client(conn, &tenant_id, &stored.client_ref)?
                .filter(|c| c.revoked_at.is_none())
                .ok_or_else(|| no_client(&stored.client_ref))?;
            let live = oauth_store::live_secrets(conn, std::slice::from_ref(&stored.client_ref))?;
            if live.len() >= MAX_SECRETS_PER_CLIENT {
                return Err(ScimError::status(
                    StatusCode::CONFLICT,
                    format!("a client has at most {MAX_SECRETS_PER_CLIENT} live secrets; remove the old one once the identity provider uses the new one"),
                ));
            }
            oauth_store::insert_secret(conn, &stored)?;
            Ok(())
        })
        .await?;
    Ok((secret, row))
}

/// Remove (revoke) one secret of a client. Tokens already issued stay valid until they
/// expire: removing the old secret after a rotation must not cut the provider off.
pub async fn remove_secret(
    svc: &Service,
    tenant: &Tenant,
    id: &str,
    secret_id: &str,
) -> Result<(), ScimError> {
    let (tenant_id, client_ref, secret) =
        (tenant.id.clone(), id.to_string(), secret_id.to_string());
    svc.store
        .write(move |conn| {
            oauth_store::find_client(conn, &tenant_id, &client_ref)?
                .ok_or_else(|| no_client(&client_ref))?;
            if !oauth_store::revoke_secret(conn, &client_ref, &secret, now_millis())? {
                return Err(ScimError::not_found(format!(
                    "the client has no live secret with id {secret:?}"
                )));
            }
            Ok(())
        })
        .await
}

/// Revoke a client: its secrets, grants and every access token it obtained stop working (on
/// this instance at once, on others within a second).
pub async fn revoke_client(svc: &Service, tenant: &Tenant, id: &str) -> Result<(), ScimError> {
    let (tenant_id, client) = (tenant.id.clone(), id.to_string());
    let jtis = svc
        .store
        .write(move |conn| {
            Ok::<_, ScimError>(oauth_store::revoke_client(
                conn,
                &tenant_id,
                &client,
                now_millis(),
            )?)
        })
        .await?
        .ok_or_else(|| no_client(id))?;
    forget_tokens(&svc.keys, &jtis);
    Ok(())
}

/// Revoke a grant a tenant admin approved: its access and refresh tokens stop working.
pub async fn revoke_grant(svc: &Service, tenant: &Tenant, id: &str) -> Result<(), ScimError> {
    let (tenant_id, grant) = (tenant.id.clone(), id.to_string());
    let jtis = svc
        .store
        .write(move |conn| {
            Ok::<_, ScimError>(oauth_store::revoke_grant(
                conn,
                &tenant_id,
                &grant,
                now_millis(),
            )?)
        })
        .await?
        .ok_or_else(|| ScimError::not_found(format!("no grant with id {id:?}")))?;
    forget_tokens(&svc.keys, &jtis);
    Ok(())
}

fn forget_tokens(keys: &Arc<crate::auth::tokens::TokenKeys>, jtis: &[String]) {
    for jti in jtis {
        keys.forget(jti);
    }
}
