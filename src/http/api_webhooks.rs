//! `/api/v1/webhooks`: the host app's webhook endpoints, their deliveries and replays.
//! An operator key sees every endpoint and may make operator-wide ones (every tenant's
//! changes); a tenant's key sees only its tenant's endpoints (any other is 404).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::request::{int_param, query_pairs, text_field, ScimJson};
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::service::api_keys::ApiCaller;
use crate::service::tenants as tenants_svc;
use crate::store::webhooks::EndpointRow;
use crate::webhooks as svc;

/// The routes, inside the `/api/v1` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::get().to(list_endpoints))
        .route("/webhooks", web::post().to(create_endpoint))
        .route("/webhooks/{id}", web::get().to(get_endpoint))
        .route("/webhooks/{id}", web::delete().to(delete_endpoint))
        .route("/webhooks/{id}/enable", web::post().to(enable_endpoint))
        .route("/webhooks/{id}/deliveries", web::get().to(list_deliveries))
        .route(
            "/webhooks/{id}/deliveries/{delivery}",
            web::get().to(get_delivery),
        )
        .route(
            "/webhooks/{id}/deliveries/{delivery}/replay",
            web::post().to(replay_delivery),
        );
}

/// Whether the key may see the endpoint: an operator every one, a tenant key its tenant's.
fn may_see(caller: &ApiCaller, e: &EndpointRow) -> bool {
    caller.is_operator() || (e.tenant_id.is_some() && e.tenant_id == caller.tenant_id)
}

/// The endpoint of the path, if the key may see it; 404 otherwise.
async fn visible_endpoint(
    state: &AppState,
    caller: &ApiCaller,
    id: &str,
) -> Result<EndpointRow, ScimError> {
    svc::find_endpoint(&state.service, id)
        .await?
        .filter(|e| may_see(caller, e))
        .ok_or_else(|| svc::no_endpoint(id))
}

async fn endpoint_answer(
    state: &AppState,
    e: &EndpointRow,
    with_secret: bool,
) -> Result<Value, ScimError> {
    let tenant = match &e.tenant_id {
        Some(id) => tenants_svc::find_tenant_by_id(&state.service, id).await?,
        None => None,
    };
    Ok(svc::endpoint_json(
        e,
        tenant.as_ref().map(|t| t.slug.as_str()),
        with_secret,
    ))
}

/// GET /api/v1/webhooks.
async fn list_endpoints(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ScimError> {
    let tenants = tenants_svc::list_tenants(&state.service).await?;
    let list: Vec<Value> = svc::list_endpoints(&state.service)
        .await?
        .iter()
        .filter(|e| may_see(&caller, e))
        .map(|e| {
            svc::endpoint_json(
                e,
                tenants_svc::slug_of(&tenants, e.tenant_id.as_deref()),
                false,
            )
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "webhooks": list })))
}

/// POST /api/v1/webhooks `{"url": "https://…", "tenant": "acme", "label": "…"}`: without a
/// tenant an operator key makes an operator-wide endpoint; a tenant key's is its tenant's.
/// The answer holds the signing secret, once.
async fn create_endpoint(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let url = text_field(&body.0, "url")?.ok_or_else(|| {
        ScimError::invalid_value("url is required, e.g. \"https://app.example.com/hooks/scim\"")
    })?;
    let label = text_field(&body.0, "label")?.unwrap_or_default();
    let tenant = match (text_field(&body.0, "tenant")?, &caller.tenant_id) {
        (Some(slug), _) => Some(
            tenants_svc::find_tenant(&state.service, &slug)
                .await?
                .filter(|t| caller.may_manage(t))
                .ok_or_else(|| ScimError::not_found(format!("no tenant {slug:?}")))?,
        ),
        (None, None) => None,
        (None, Some(own)) => Some(
            tenants_svc::find_tenant_by_id(&state.service, own)
                .await?
                .ok_or_else(|| ScimError::not_found("this key's tenant is gone"))?,
        ),
    };
    let endpoint = svc::create_endpoint(
        &state.service,
        tenant.as_ref(),
        &url,
        &label,
        caller.is_operator(),
        state.settings.webhook_allow_private,
    )
    .await?;
    tracing::info!(endpoint = %endpoint.id, api_key = %caller.key_id, "webhook endpoint created");
    Ok(HttpResponse::Created().json(svc::endpoint_json(
        &endpoint,
        tenant.as_ref().map(|t| t.slug.as_str()),
        true,
    )))
}

/// GET /api/v1/webhooks/{id}.
async fn get_endpoint(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let endpoint = visible_endpoint(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(endpoint_answer(&state, &endpoint, false).await?))
}

/// DELETE /api/v1/webhooks/{id}: the endpoint and its deliveries go.
async fn delete_endpoint(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let endpoint = visible_endpoint(&state, &caller, &id).await?;
    svc::delete_endpoint(&state.service, &endpoint.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// POST /api/v1/webhooks/{id}/enable: a disabled endpoint is sent to again.
async fn enable_endpoint(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let endpoint = visible_endpoint(&state, &caller, &id).await?;
    svc::enable_endpoint(&state.service, &endpoint.id).await?;
    let endpoint = visible_endpoint(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(endpoint_answer(&state, &endpoint, false).await?))
}

/// GET /api/v1/webhooks/{id}/deliveries?before=ID&limit=N: newest first.
async fn list_deliveries(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let pairs = query_pairs(&req)?;
    let before = int_param(&pairs, "before", "before must be a delivery id (integer)")?;
    let limit = int_param(&pairs, "limit", "limit must be an integer")?
        .unwrap_or(50)
        .clamp(1, 500);
    let endpoint = visible_endpoint(&state, &caller, &id).await?;
    let deliveries = svc::list_deliveries(&state.service, &endpoint.id, before, limit).await?;
    let next = (deliveries.len() as i64 == limit)
        .then(|| deliveries.last().map(|d| d.id))
        .flatten();
    let list: Vec<Value> = deliveries
        .iter()
        .map(|d| svc::delivery_json(d, None, None))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "deliveries": list, "nextBefore": next })))
}

fn delivery_id(raw: &str) -> Result<i64, ScimError> {
    raw.parse::<i64>()
        .map_err(|_| ScimError::not_found(format!("no delivery {raw:?}")))
}

/// GET /api/v1/webhooks/{id}/deliveries/{delivery}: with its attempts and body.
async fn get_delivery(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (id, raw) = path.into_inner();
    let endpoint = visible_endpoint(&state, &caller, &id).await?;
    let delivery = delivery_id(&raw)?;
    let (d, attempts, payload) = svc::find_delivery(&state.service, &endpoint.id, delivery)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("no delivery {delivery} to this endpoint")))?;
    Ok(HttpResponse::Ok().json(svc::delivery_json(&d, Some(&attempts), payload.as_deref())))
}

/// POST /api/v1/webhooks/{id}/deliveries/{delivery}/replay: the message again, now.
async fn replay_delivery(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (id, raw) = path.into_inner();
    let endpoint = visible_endpoint(&state, &caller, &id).await?;
    let delivery = delivery_id(&raw)?;
    let replayed = svc::replay_delivery(&state.service, &endpoint.id, delivery)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("no delivery {delivery} to this endpoint")))?;
    Ok(HttpResponse::Accepted().json(json!({ "id": replayed })))
}
