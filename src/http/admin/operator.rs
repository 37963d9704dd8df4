//! The operator's page (`GET /admin` for an operator): every tenant, API keys, webhook
//! endpoints and their deliveries; and its forms. Anyone but an operator gets 404 here.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::error::{shown_on_page, PageError};
use super::respond::{html, redirect};
use super::session::{page_forms, Operator, PageSession, Posted};
use crate::http::state::AppState;
use crate::service::api_keys;
use crate::service::tenants as svc;
use crate::store::tenants::Tenant;
use crate::web::pages::{self, TenantsView};
use crate::webhooks;

/// Messages of an operator's tenants page render.
#[derive(Default)]
pub(super) struct TenantsMessages {
    new_api_key: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

impl TenantsMessages {
    fn error(message: String) -> Self {
        TenantsMessages {
            error: Some(message),
            ..Default::default()
        }
    }

    fn notice(message: String) -> Self {
        TenantsMessages {
            notice: Some(message),
            ..Default::default()
        }
    }
}

/// Every webhook endpoint with its latest deliveries, for the operator's page.
async fn webhook_views(
    state: &AppState,
    tenants: &[Tenant],
) -> Result<Vec<pages::WebhookView>, PageError> {
    let mut views = Vec::new();
    for endpoint in webhooks::list_endpoints(&state.service).await? {
        let deliveries = webhooks::list_deliveries(&state.service, &endpoint.id, None, 10).await?;
        let tenant_slug = svc::slug_of(tenants, endpoint.tenant_id.as_deref()).map(str::to_string);
        views.push(pages::WebhookView {
            endpoint,
            tenant_slug,
            deliveries,
        });
    }
    Ok(views)
}

/// The operator's page, with what the last form made or said.
pub(super) async fn render_tenants(
    state: &AppState,
    session: &PageSession,
    status: StatusCode,
    msgs: TenantsMessages,
) -> Result<HttpResponse, PageError> {
    let all = svc::list_tenants(&state.service).await?;
    let keys = api_keys::list_api_keys(&state.service).await?;
    let webhooks = webhook_views(state, &all).await?;
    let connections = crate::service::connection::connections(&state.service, &all).await?;
    let view = TenantsView {
        tenants: &all,
        connections: &connections,
        now: crate::store::now_millis(),
        public_url: state.settings.public_url(),
        api_keys: &keys,
        webhooks: &webhooks,
        new_api_key: msgs.new_api_key.as_deref(),
        error: msgs.error.as_deref(),
        notice: msgs.notice.as_deref(),
    };
    Ok(html(status, pages::tenants(&session.viewer(), &view)))
}

#[derive(Deserialize)]
pub(super) struct TenantForm {
    csrf: String,
    slug: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
pub(super) struct ApiKeyForm {
    csrf: String,
    #[serde(default)]
    label: String,
    /// A tenant's slug, or empty for an operator-wide key.
    #[serde(default)]
    tenant: String,
}

page_forms!(TenantForm, ApiKeyForm);

/// POST /admin/tenants.
pub(super) async fn create_tenant(
    state: web::Data<AppState>,
    posted: Posted<Operator, TenantForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: Operator(session),
        form: f,
    } = posted;
    let slug = f.slug.trim();
    let name = f.name.trim();
    let created =
        svc::create_tenant(&state.service, slug, (!name.is_empty()).then_some(name)).await;
    match shown_on_page(created)? {
        Ok(t) => Ok(redirect(&format!("/admin/t/{}", t.slug))),
        Err(message) => {
            let msgs = TenantsMessages::error(message);
            render_tenants(&state, &session, StatusCode::BAD_REQUEST, msgs).await
        }
    }
}

/// POST /admin/api-keys: make a key and show it once.
pub(super) async fn create_api_key(
    state: web::Data<AppState>,
    posted: Posted<Operator, ApiKeyForm>,
) -> Result<HttpResponse, PageError> {
    let Posted {
        scope: Operator(session),
        form: f,
    } = posted;
    let tenant = f.tenant.trim();
    let scope = (!tenant.is_empty()).then_some(tenant);
    match shown_on_page(api_keys::create_api_key(&state.service, scope, &f.label).await)? {
        Ok((key, view)) => {
            tracing::info!(api_key = %view.row.id, tenant = ?view.tenant_slug, admin = %session.actor(), "API key made on the page");
            let msgs = TenantsMessages {
                new_api_key: Some(key),
                ..Default::default()
            };
            render_tenants(&state, &session, StatusCode::OK, msgs).await
        }
        Err(message) => {
            let msgs = TenantsMessages::error(message);
            render_tenants(&state, &session, StatusCode::BAD_REQUEST, msgs).await
        }
    }
}

/// POST /admin/api-keys/{id}/revoke.
pub(super) async fn revoke_api_key(
    state: web::Data<AppState>,
    id: web::Path<String>,
    posted: Posted<Operator>,
) -> Result<HttpResponse, PageError> {
    let Operator(session) = posted.scope;
    api_keys::revoke_api_key(&state.service, &id)
        .await
        .map_err(PageError::not_found_or)?;
    let msgs = TenantsMessages::notice("API key revoked: its next request is refused.".into());
    render_tenants(&state, &session, StatusCode::OK, msgs).await
}

/// POST /admin/webhooks/{id}/enable: send to a disabled endpoint again.
pub(super) async fn enable_webhook(
    state: web::Data<AppState>,
    id: web::Path<String>,
    posted: Posted<Operator>,
) -> Result<HttpResponse, PageError> {
    let Operator(session) = posted.scope;
    if !webhooks::enable_endpoint(&state.service, &id).await? {
        return Err(PageError::NotFound);
    }
    tracing::info!(endpoint = %id, admin = %session.actor(), "webhook endpoint enabled on the page");
    let msgs = TenantsMessages::notice(
        "Endpoint enabled: what waited for it is being sent, in order.".into(),
    );
    render_tenants(&state, &session, StatusCode::OK, msgs).await
}

/// POST /admin/webhooks/{id}/deliveries/{delivery}/replay: send a delivery's message again,
/// with the same webhook-id.
pub(super) async fn replay_webhook_delivery(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    posted: Posted<Operator>,
) -> Result<HttpResponse, PageError> {
    let Operator(session) = posted.scope;
    let (id, raw) = path.into_inner();
    let delivery = raw.parse::<i64>().map_err(|_| PageError::NotFound)?;
    let new_id = webhooks::replay_delivery(&state.service, &id, delivery)
        .await?
        .ok_or(PageError::NotFound)?;
    let msgs = TenantsMessages::notice(format!(
        "Delivery {delivery} is being sent again (as delivery {new_id})."
    ));
    render_tenants(&state, &session, StatusCode::OK, msgs).await
}
