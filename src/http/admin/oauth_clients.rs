//! The OAuth clients of a tenant's page: make one (its secret shown once), add a second
//! secret for a rotation, remove a secret, revoke a client or an approved grant.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::error::{shown_on_page, PageError};
use super::session::{page_forms, Posted, TenantPage};
use super::tenant::{render_tenant, PageMessages};
use crate::http::state::AppState;
use crate::service::oauth::{self as svc, NewClient};

#[derive(Deserialize)]
pub(super) struct ClientForm {
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    redirect_uri: String,
}

page_forms!(ClientForm);

/// POST /admin/t/{slug}/oauth-clients.
pub(super) async fn create_client(
    state: web::Data<AppState>,
    posted: Posted<TenantPage, ClientForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: TenantPage { session, tenant },
        form: f,
    } = posted;
    let redirect_uri = f.redirect_uri.trim();
    let new = NewClient {
        label: f.label,
        redirect_uris: Some(redirect_uri)
            .filter(|uri| !uri.is_empty())
            .map(str::to_string)
            .into_iter()
            .collect(),
        jwks: None,
    };
    let made = svc::create_client(&state.service, &tenant, new).await;
    let (status, msgs) = match shown_on_page(made)? {
        Ok((secret, client)) => {
            tracing::info!(tenant = %tenant.slug, client = %client.row.id, admin = %session.actor(), "OAuth client created on the page");
            (
                StatusCode::OK,
                PageMessages {
                    new_oauth_secret: Some((client.row.client_id, secret)),
                    notice: Some(format!("OAuth client \"{}\" created.", client.row.label)),
                    ..Default::default()
                },
            )
        }
        Err(message) => (StatusCode::BAD_REQUEST, PageMessages::error(message)),
    };
    render_tenant(&state, &session, tenant, status, msgs).await
}

/// POST /admin/t/{slug}/oauth-clients/{id}/secrets: a second secret, shown once.
pub(super) async fn add_secret(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    posted: Posted<TenantPage>,
) -> Result<HttpResponse, PageError> {
    let TenantPage { session, tenant } = posted.scope;
    let (_, id) = path.into_inner();
    let client = svc::get_client(&state.service, &tenant, &id)
        .await
        .map_err(PageError::not_found_or)?;
    let (status, msgs) = match shown_on_page(svc::add_secret(&state.service, &tenant, &id).await)? {
        Ok((secret, _)) => {
            tracing::info!(tenant = %tenant.slug, client = %id, admin = %session.actor(), "OAuth client secret added on the page");
            (
                StatusCode::OK,
                PageMessages {
                    new_oauth_secret: Some((client.row.client_id, secret)),
                    notice: Some("New secret made: paste it into the identity provider, then remove the old one.".into()),
                    ..Default::default()
                },
            )
        }
        Err(message) => (StatusCode::CONFLICT, PageMessages::error(message)),
    };
    render_tenant(&state, &session, tenant, status, msgs).await
}

/// POST /admin/t/{slug}/oauth-clients/{id}/secrets/{secret}/revoke.
pub(super) async fn remove_secret(
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    posted: Posted<TenantPage>,
) -> Result<HttpResponse, PageError> {
    let TenantPage { session, tenant } = posted.scope;
    let (_, id, secret) = path.into_inner();
    svc::remove_secret(&state.service, &tenant, &id, &secret)
        .await
        .map_err(PageError::not_found_or)?;
    let msgs = PageMessages::notice("Secret removed: it no longer gets tokens.".into());
    render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
}

/// POST /admin/t/{slug}/oauth-clients/{id}/revoke.
pub(super) async fn revoke_client(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    posted: Posted<TenantPage>,
) -> Result<HttpResponse, PageError> {
    let TenantPage { session, tenant } = posted.scope;
    let (_, id) = path.into_inner();
    svc::revoke_client(&state.service, &tenant, &id)
        .await
        .map_err(PageError::not_found_or)?;
    tracing::info!(tenant = %tenant.slug, client = %id, admin = %session.actor(), "OAuth client revoked on the page");
    let msgs = PageMessages::notice(
        "OAuth client revoked: its secrets and access tokens no longer work.".into(),
    );
    render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
}

/// POST /admin/t/{slug}/oauth-grants/{id}/revoke.
pub(super) async fn revoke_grant(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    posted: Posted<TenantPage>,
) -> Result<HttpResponse, PageError> {
    let TenantPage { session, tenant } = posted.scope;
    let (_, id) = path.into_inner();
    svc::revoke_grant(&state.service, &tenant, &id)
        .await
        .map_err(PageError::not_found_or)?;
    tracing::info!(tenant = %tenant.slug, grant = %id, admin = %session.actor(), "OAuth grant revoked on the page");
    let msgs = PageMessages::notice(
        "Approval revoked: the client's access and refresh tokens no longer work.".into(),
    );
    render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
}
