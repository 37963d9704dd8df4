//! `/api/v1/tenants/{slug}/scope` and `…/exclusions`: which of a tenant's users the host app
//! sees (see `service::scope`). A PUT answers 202 with the settings saying `"status":
//! "evaluating"` while every user is re-evaluated in the background; GET shows the status
//! and the counts.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::api::managed_tenant;
use super::request::ScimJson;
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::scim::scope::Exclusions;
use crate::service::api_keys::ApiCaller;
use crate::service::scope::{self, ScopeState};
use crate::service::Caller;
use crate::store::tenants::Tenant;

/// The routes, inside the `/api/v1` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tenants/{slug}/scope", web::get().to(get_scope))
        .route("/tenants/{slug}/scope", web::put().to(put_scope))
        .route("/tenants/{slug}/exclusions", web::get().to(get_exclusions))
        .route("/tenants/{slug}/exclusions", web::put().to(put_exclusions));
}

/// Who re-evaluates the tenant's users: no token, the tenant's SCIM base URL for the
/// resources in the webhook messages.
pub fn scope_caller(state: &AppState, tenant: &Tenant) -> Caller {
    Caller {
        tenant: tenant.clone(),
        token_jti: None,
        base_url: state.settings.tenant_url(&tenant.slug),
    }
}

/// `status` and `counts` of a tenant's scope.
pub fn status_json(s: &ScopeState) -> (Value, Value) {
    let status = if s.config.evaluating() {
        "evaluating"
    } else {
        "ready"
    };
    (
        Value::from(status),
        json!({"inScope": s.in_scope, "outOfScope": s.out_of_scope, "slept": s.slept}),
    )
}

fn scope_json(s: &ScopeState) -> Value {
    let (status, counts) = status_json(s);
    let mut body = s.config.rules.to_json();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("status".into(), status);
        obj.insert("counts".into(), counts);
    }
    body
}

fn exclusions_json(s: &ScopeState) -> Value {
    let (status, counts) = status_json(s);
    let mut body = s.config.exclusions.to_json();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("status".into(), status);
        obj.insert("counts".into(), counts);
    }
    body
}

/// The settings as they are now; a re-evaluation left unfinished (an instance stopped during
/// it) starts again here.
async fn current(state: &AppState, tenant: &Tenant) -> Result<ScopeState, ScimError> {
    let s = scope::state(&state.service, tenant).await?;
    scope::resume_if_unfinished(&state.service, &scope_caller(state, tenant), &s);
    Ok(s)
}

/// GET /api/v1/tenants/{slug}/scope.
async fn get_scope(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    Ok(HttpResponse::Ok().json(scope_json(&current(&state, &tenant).await?)))
}

/// PUT /api/v1/tenants/{slug}/scope `{"groups", "domains", "attributes"}`: 202, evaluating.
async fn put_scope(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let s = scope::put_rules(&state.service, &scope_caller(&state, &tenant), &body.0).await?;
    tracing::info!(tenant = %tenant.slug, api_key = %caller.key_id, "scope rules set by the API");
    Ok(HttpResponse::Accepted().json(scope_json(&s)))
}

/// GET /api/v1/tenants/{slug}/exclusions.
async fn get_exclusions(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    Ok(HttpResponse::Ok().json(exclusions_json(&current(&state, &tenant).await?)))
}

/// PUT /api/v1/tenants/{slug}/exclusions `{"users": [ids], "groups": [ids]}`: 202, evaluating.
async fn put_exclusions(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let exclusions = Exclusions::parse(&body.0)?;
    let s =
        scope::put_exclusions(&state.service, &scope_caller(&state, &tenant), exclusions).await?;
    tracing::info!(tenant = %tenant.slug, api_key = %caller.key_id, "exclusions set by the API");
    Ok(HttpResponse::Accepted().json(exclusions_json(&s)))
}
