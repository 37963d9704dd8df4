//! Setup links on the page: an operator makes and revokes them on a tenant's page, and
//! `GET /setup/{secret}` opens one (a page session for its one tenant, no password).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::error::{shown_on_page, PageError};
use super::respond::{cookie, html, retry_after, SESSION_COOKIE};
use super::session::{page_forms, OperatorTenant, Posted};
use super::tenant::{render_tenant, PageMessages};
use crate::http::request::client_address;
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::service::setup_links::{self as links, Opened};
use crate::service::tenants as svc;
use crate::web::pages;

#[derive(Deserialize)]
pub(super) struct SetupLinkForm {
    csrf: String,
    days: Option<String>,
    #[serde(default)]
    label: String,
}

page_forms!(SetupLinkForm);

/// POST /admin/t/{slug}/setup-links (operators): make a setup link and show it once.
pub(super) async fn create_setup_link(
    state: web::Data<AppState>,
    posted: Posted<OperatorTenant, SetupLinkForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: OperatorTenant { session, tenant },
        form: f,
    } = posted;
    let days = match f.days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(links::DEFAULT_LINK_DAYS),
        Some(d) => d.parse::<i64>().map_err(|_| {
            format!(
                "A setup link lasts a number of days between 1 and {}, got {d:?}.",
                links::MAX_LINK_DAYS
            )
        }),
    };
    let made = match days {
        Ok(days) => {
            shown_on_page(links::create_setup_link(&state.service, &tenant, days, &f.label).await)?
        }
        Err(message) => Err(message),
    };
    match made {
        Ok((secret, link)) => {
            tracing::info!(tenant = %tenant.slug, setup_link = %link.id, admin = %session.actor(), "setup link made on the page");
            let msgs = PageMessages {
                new_setup_link: Some(state.settings.setup_link_url(&secret)),
                ..Default::default()
            };
            render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
        }
        Err(message) => {
            let msgs = PageMessages::error(message);
            render_tenant(&state, &session, tenant, StatusCode::BAD_REQUEST, msgs).await
        }
    }
}

/// POST /admin/t/{slug}/setup-links/{id}/revoke (operators).
pub(super) async fn revoke_setup_link(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    posted: Posted<OperatorTenant>,
) -> Result<HttpResponse, PageError> {
    let OperatorTenant { session, tenant } = posted.scope;
    let (_, id) = path.into_inner();
    links::revoke_setup_link(&state.service, &tenant, &id)
        .await
        .map_err(PageError::not_found_or)?;
    let msgs = PageMessages::notice(
        "Setup link revoked: it no longer opens the page, and pages opened with it are closed."
            .into(),
    );
    render_tenant(&state, &session, tenant, StatusCode::OK, msgs).await
}

/// GET /setup/{secret}: open a setup link. A live link starts a page session bound to its
/// tenant and sends the browser on to that tenant's page, so the secret leaves the address
/// bar (and, with `Referrer-Policy: no-referrer`, is never a Referer). A dead link gets a page
/// saying to ask for a new one: 404 when unknown, 410 when expired or revoked, 403 while its
/// tenant is disabled; 429 with `Retry-After` when the client's address opened too many
/// unknown links (see `service::setup_links::open_setup_link`).
pub(super) async fn open_setup_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    secret: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let address = client_address(&req, &state.settings.trusted_proxies).ok_or_else(|| {
        ScimError::status(StatusCode::BAD_REQUEST, "the client address is unknown")
    })?;
    let refused = |status, title| Ok(html(status, pages::setup_link_refused(title)));
    let (secret, link) = match links::open_setup_link(&state.service, &secret, address).await? {
        Opened::Session { secret, link } => (secret, link),
        Opened::Wait(secs) => {
            let page = pages::error_page(
                "Too many attempts",
                &format!(
                    "Too many setup links that do not exist were opened from your address. \
                     Try again in {secs} seconds."
                ),
            );
            return Ok(retry_after(html(StatusCode::TOO_MANY_REQUESTS, page), secs));
        }
        Opened::Unknown => return refused(StatusCode::NOT_FOUND, "This setup link is not valid"),
        Opened::Expired => return refused(StatusCode::GONE, "This setup link has expired"),
        Opened::Revoked => return refused(StatusCode::GONE, "This setup link was revoked"),
        Opened::TenantDisabled => return Err(PageError::TenantDisabled),
    };
    let tenant = svc::find_tenant_by_id(&state.service, &link.tenant_id)
        .await?
        .ok_or(PageError::NotFound)?;
    tracing::info!(tenant = %tenant.slug, setup_link = %link.id, "setup link opened");
    // Not a 303: the cookie is SameSite=Strict, and a browser withholds it from a redirect
    // that a cross-site click (the link in a mail) started, so the tenant page would ask for a
    // password. A page of this site that moves on by itself makes a same-site request.
    let mut resp = html(
        StatusCode::OK,
        pages::setup_link_opened(&format!("/admin/t/{}", tenant.slug)),
    );
    let _ = resp.add_cookie(&cookie(&state, SESSION_COOKIE, secret));
    Ok(resp)
}
