//! The management API for the host app, `/api/v1`: JSON, authenticated with an API key
//! (`Authorization: Bearer scimd_…`). An operator key manages every tenant and makes new
//! ones; a tenant's key sees only that tenant (any other is 404, as if it did not exist).
//! Every error, whichever step made it, has one shape:
//! `{"error": {"status": 404, "type": "not_found", "message": "…"}}`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::future::Ready;

use super::auth::bearer;
use super::request::{int_param, query_pairs, text_field, ScimJson};
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::service::api_keys::{authenticate_api_key, ApiCaller};
use crate::service::providers::{self as providers, IdentityProvider};
use crate::service::setup_links as links;
use crate::service::tenants as svc;
use crate::store::events::Event;
use crate::store::tenants::Tenant;

/// The management API's routes, under `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(actix_web::middleware::from_fn(pipeline))
            .route("/tenants", web::get().to(list_tenants))
            .route("/tenants", web::post().to(create_tenant))
            .route("/tenants/{slug}", web::get().to(get_tenant))
            .route("/tenants/{slug}", web::patch().to(patch_tenant))
            .route("/tenants/{slug}/disable", web::post().to(disable_tenant))
            .route("/tenants/{slug}/enable", web::post().to(enable_tenant))
            .route("/tenants/{slug}/tokens", web::get().to(list_tokens))
            .route("/tenants/{slug}/tokens", web::post().to(issue_token))
            .route(
                "/tenants/{slug}/tokens/{id}",
                web::delete().to(revoke_token),
            )
            .route("/tenants/{slug}/fields", web::get().to(list_fields))
            .route("/tenants/{slug}/fields", web::post().to(add_field))
            .route(
                "/tenants/{slug}/fields/{name}",
                web::delete().to(remove_field),
            )
            .configure(super::api_directory::routes)
            .configure(super::api_scope::routes)
            .route("/tenants/{slug}/events", web::get().to(events))
            .configure(super::api_webhooks::routes)
            .configure(super::api_oauth::routes)
            .configure(super::api_roles::routes)
            .route(
                "/tenants/{slug}/setup-links",
                web::get().to(list_setup_links),
            )
            .route(
                "/tenants/{slug}/setup-links",
                web::post().to(create_setup_link),
            )
            .route(
                "/tenants/{slug}/setup-links/{id}",
                web::delete().to(revoke_setup_link),
            )
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ScimError::not_found(
                    "no such API endpoint; see openapi/scimd.yaml",
                ))
            })),
    );
}

/// The error body of the API.
pub fn error_body(e: &ScimError) -> Value {
    let kind = e
        .status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace([' ', '-'], "_");
    json!({"error": {"status": e.status.as_u16(), "type": kind, "message": e.detail}})
}

/// Middleware of `/api/v1`: authenticate the key before anything else (a stranger gets 401,
/// or 429 once its address fails too often), then give every error the API's one shape.
async fn pipeline(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let res = match authenticate(&req).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.call(req).await?.map_into_left_body()
        }
        Err(e) => req.error_response(e).map_into_right_body(),
    };
    let refused = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ScimError>())
        .cloned();
    Ok(match refused {
        Some(e) => res
            .into_response(super::error_head(&e).json(error_body(&e)))
            .map_into_right_body(),
        None => res,
    })
}

async fn authenticate(req: &ServiceRequest) -> Result<ApiCaller, ScimError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ScimError::internal("the server has no state"))?;
    let key = bearer(req.request()).unwrap_or_default();
    match authenticate_api_key(&state.service, &key).await {
        Ok(caller) => {
            // A tenant key acts on its tenant; an operator key on the tenant its path names.
            // Both count in the tenant's budget, by its id.
            let tenant = match (&caller.tenant_id, tenant_of_path(req.path())) {
                (Some(own), _) => Some(own.clone()),
                (None, Some(slug)) => state
                    .service
                    .tenants
                    .get(&state.service.store, slug)
                    .await?
                    .map(|t| t.id),
                (None, None) => None,
            };
            state.limits.check_api(&caller.key_id, tenant.as_deref())?;
            Ok(caller)
        }
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            // Only failures count against the address, as on the SCIM endpoint.
            super::auth::count_failed_authentication(req.request(), state)?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// The slug of `/api/v1/tenants/{slug}/…`, if the path names one.
fn tenant_of_path(path: &str) -> Option<&str> {
    path.strip_prefix("/api/v1/tenants/")
        .and_then(|rest| rest.split('/').next())
        .filter(|slug| !slug.is_empty())
}

impl FromRequest for ApiCaller {
    type Error = ScimError;
    type Future = Ready<Result<ApiCaller, ScimError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        super::request::from_extensions(req, "this route is not behind an API key")
    }
}

/// The tenant of the path, if the key may manage it; 404 otherwise (a tenant key learns
/// nothing of other tenants).
pub(super) async fn managed_tenant(
    state: &AppState,
    caller: &ApiCaller,
    slug: &str,
) -> Result<Tenant, ScimError> {
    svc::find_tenant(&state.service, slug)
        .await?
        .filter(|t| caller.may_manage(t))
        .ok_or_else(|| ScimError::not_found(format!("no tenant {slug:?}")))
}

/// A tenant as the API shows it, with its connection's health (see `service::connection`).
async fn tenant_json(state: &AppState, t: &Tenant) -> Result<Value, ScimError> {
    let connection = crate::service::connection::connection(&state.service, t).await?;
    Ok(tenant_fields(state, t, &connection))
}

fn tenant_fields(
    state: &AppState,
    t: &Tenant,
    connection: &crate::service::connection::Connection,
) -> Value {
    json!({
        "slug": t.slug,
        "name": t.name,
        "tenantUrl": state.settings.tenant_url(&t.slug),
        "createdAt": crate::scim::render::timestamp(t.created_at),
        "disabled": t.disabled_at.is_some(),
        "disabledAt": t.disabled_at.map(crate::scim::render::timestamp),
        "identityProvider": IdentityProvider::of(t).map(IdentityProvider::as_str),
        "connection": connection.to_json(),
    })
}

/// GET /api/v1/tenants: the tenants the key may manage.
async fn list_tenants(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ScimError> {
    let tenants: Vec<Tenant> = svc::list_tenants(&state.service)
        .await?
        .into_iter()
        .filter(|t| caller.may_manage(t))
        .collect();
    let connections = crate::service::connection::connections(&state.service, &tenants).await?;
    let tenants: Vec<Value> = tenants
        .iter()
        .filter_map(|t| Some(tenant_fields(&state, t, connections.get(&t.id)?)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "tenants": tenants })))
}

/// POST /api/v1/tenants `{"slug": "acme", "name": "Acme", "identityProvider": "okta"}`:
/// operator keys only.
async fn create_tenant(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    if !caller.is_operator() {
        return Err(ScimError::status(
            StatusCode::FORBIDDEN,
            "only an operator key makes tenants; this key manages one tenant",
        ));
    }
    let slug = text_field(&body.0, "slug")?
        .ok_or_else(|| ScimError::invalid_value("slug is required, e.g. \"acme\""))?;
    let name = text_field(&body.0, "name")?;
    let provider = identity_provider_field(&body.0)?.flatten();
    let tenant =
        svc::create_tenant_with_provider(&state.service, &slug, name.as_deref(), provider).await?;
    Ok(HttpResponse::Created().json(tenant_json(&state, &tenant).await?))
}

/// The body's `identityProvider`: absent (`None`), null (`Some(None)`: none chosen) or one of
/// the allowed values; anything else is a 400 that lists them.
fn identity_provider_field(body: &Value) -> Result<Option<Option<IdentityProvider>>, ScimError> {
    let refused = |got: &Value| {
        let got = got.to_string();
        let got = if got.chars().count() > 40 {
            "a longer value".to_string()
        } else {
            got
        };
        ScimError::invalid_value(format!(
            "identityProvider must be one of {} (or null for none), got {got}",
            IdentityProvider::allowed()
        ))
    };
    match body.get("identityProvider") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v @ Value::String(s)) => IdentityProvider::parse(s)
            .map(|p| Some(Some(p)))
            .ok_or_else(|| refused(v)),
        Some(other) => Err(refused(other)),
    }
}

/// PATCH /api/v1/tenants/{slug} `{"identityProvider": "okta"}` (or null): the provider the
/// tenant's page shows the guide of. A tenant key may set its own tenant's.
async fn patch_tenant(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let fields = body
        .0
        .as_object()
        .ok_or_else(|| ScimError::invalid_value("the body must be a JSON object"))?;
    if let Some(unknown) = fields.keys().find(|k| k.as_str() != "identityProvider") {
        return Err(ScimError::invalid_value(format!(
            "{unknown:?} cannot be changed here; a tenant's PATCH takes identityProvider"
        )));
    }
    let Some(provider) = identity_provider_field(&body.0)? else {
        return Err(ScimError::invalid_value(
            "nothing to change: send {\"identityProvider\": \"okta\"} (or another provider, or null)",
        ));
    };
    let tenant = providers::set_identity_provider(&state.service, &tenant, provider).await?;
    tracing::info!(tenant = %tenant.slug, identity_provider = ?provider.map(IdentityProvider::as_str), api_key = %caller.key_id, "identity provider set by the API");
    Ok(HttpResponse::Ok().json(tenant_json(&state, &tenant).await?))
}

/// GET /api/v1/tenants/{slug}.
async fn get_tenant(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    Ok(HttpResponse::Ok().json(tenant_json(&state, &tenant).await?))
}

/// POST /api/v1/tenants/{slug}/disable: operator keys only; the tenant's SCIM endpoint
/// answers 403 within a second on every instance, its data stays.
async fn disable_tenant(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    switch_tenant(&state, &caller, &slug, true).await
}

/// POST /api/v1/tenants/{slug}/enable: operator keys only; SCIM works again within a second.
async fn enable_tenant(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    switch_tenant(&state, &caller, &slug, false).await
}

async fn switch_tenant(
    state: &AppState,
    caller: &ApiCaller,
    slug: &str,
    disabled: bool,
) -> Result<HttpResponse, ScimError> {
    // 404 first: a tenant key learns nothing of other tenants, not even that it may not.
    let tenant = managed_tenant(state, caller, slug).await?;
    if !caller.is_operator() {
        return Err(ScimError::status(
            StatusCode::FORBIDDEN,
            "only an operator key disables or enables a tenant; this key manages one tenant",
        ));
    }
    let tenant = svc::set_tenant_disabled(&state.service, &tenant, disabled).await?;
    tracing::info!(tenant = %tenant.slug, disabled, api_key = %caller.key_id, "tenant switched by the API");
    Ok(HttpResponse::Ok().json(tenant_json(state, &tenant).await?))
}

/// GET /api/v1/tenants/{slug}/tokens: the tenant's Entra tokens (never the tokens themselves).
async fn list_tokens(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let when = |at: Option<i64>| at.map(crate::scim::render::timestamp);
    let tokens: Vec<Value> = svc::list_tokens(&state.service, &tenant)
        .await?
        .iter()
        .map(|t| {
            json!({
                "id": t.jti,
                "label": t.label,
                "createdAt": crate::scim::render::timestamp(t.created_at),
                "expiresAt": crate::scim::render::timestamp(t.expires_at),
                "lastUsedAt": when(t.last_used_at),
                "revokedAt": when(t.revoked_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "tokens": tokens })))
}

/// POST /api/v1/tenants/{slug}/tokens `{"days": 90, "label": "entra"}`: the Secret Token
/// for Entra, in the answer only.
async fn issue_token(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let days = match body.0.get("days") {
        None | Some(Value::Null) => crate::auth::tokens::DEFAULT_EXPIRY_DAYS,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ScimError::invalid_value("days must be an integer, 1 to 365"))?,
    };
    let label = text_field(&body.0, "label")?.unwrap_or_default();
    let (token, record) = svc::issue_token(&state.service, &tenant, days, &label).await?;
    tracing::info!(tenant = %tenant.slug, token_id = %record.jti, api_key = %caller.key_id, "token issued by the API");
    Ok(HttpResponse::Created().json(json!({
        "id": record.jti,
        "token": token,
        "tenantUrl": state.settings.tenant_url(&tenant.slug),
        "expiresAt": crate::scim::render::timestamp(record.expires_at),
    })))
}

/// DELETE /api/v1/tenants/{slug}/tokens/{id}: 204; the token stops working within a second.
async fn revoke_token(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (slug, id) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    svc::revoke_token(&state.service, &id, Some(&tenant)).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn field_json(f: &crate::scim::schema::CustomField) -> Value {
    json!({
        "name": f.name,
        "type": f.field_type.as_str(),
        "multiValued": f.multi_valued,
        "attribute": format!("{}:{}", crate::scim::schema::CUSTOM_USER_SCHEMA, f.name),
    })
}

/// GET /api/v1/tenants/{slug}/fields: the tenant's custom extension fields, each with the
/// attribute to map in Entra.
async fn list_fields(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let fields: Vec<Value> = svc::list_custom_fields(&state.service, &tenant)
        .await?
        .iter()
        .map(field_json)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "fields": fields })))
}

/// POST /api/v1/tenants/{slug}/fields `{"name": "costCenter", "type": "string",
/// "multiValued": false}`: running instances accept it within a second.
async fn add_field(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let name = text_field(&body.0, "name")?
        .ok_or_else(|| ScimError::invalid_value("name is required, e.g. \"costCenter\""))?;
    let field_type = text_field(&body.0, "type")?.unwrap_or_else(|| "string".into());
    let multi_valued = match body.0.get("multiValued") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ScimError::invalid_value(
                "multiValued must be true or false",
            ))
        }
    };
    let field =
        svc::add_custom_field(&state.service, &tenant, &name, &field_type, multi_valued).await?;
    Ok(HttpResponse::Created().json(field_json(&field)))
}

/// DELETE /api/v1/tenants/{slug}/fields/{name}: 204. The field leaves /Schemas and new
/// writes refuse it (every instance within a second); values already stored are kept.
async fn remove_field(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (slug, name) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    svc::remove_custom_field(&state.service, &tenant, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `after` and `limit` of an events request: the feed resumes after the last id seen.
pub fn feed_position(req: &HttpRequest) -> Result<(i64, i64), ScimError> {
    let pairs = query_pairs(req)?;
    let after = int_param(&pairs, "after", "after must be an event id (integer)")?.unwrap_or(0);
    let limit = int_param(&pairs, "limit", "limit must be an integer")?
        .unwrap_or(100)
        .clamp(1, 1000);
    Ok((after, limit))
}

/// The feed's answer: `{"events": [...], "next": ID}`, oldest first.
pub fn feed_json(events: &[Event], after: i64) -> Value {
    let next = events.last().map(|e| e.id).unwrap_or(after);
    let list: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "at": crate::scim::render::timestamp(e.at),
                "action": e.action,
                "resourceType": e.resource_type,
                "resourceId": e.resource_id,
                "tokenId": e.token_jti,
                "detail": e.detail,
            })
        })
        .collect();
    json!({"events": list, "next": next})
}

/// GET /api/v1/tenants/{slug}/events?after=ID&limit=N: the provisioning log as a change feed.
async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let (after, limit) = feed_position(&req)?;
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let events = svc::events_after(&state.service, &tenant, after, limit).await?;
    Ok(HttpResponse::Ok().json(feed_json(&events, after)))
}

/// GET /api/v1/tenants/{slug}/setup-links: the tenant's setup links (never their secrets).
async fn list_setup_links(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let when = |at: Option<i64>| at.map(crate::scim::render::timestamp);
    let list: Vec<Value> = links::list_setup_links(&state.service, &tenant)
        .await?
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "label": l.label,
                "createdAt": crate::scim::render::timestamp(l.created_at),
                "expiresAt": crate::scim::render::timestamp(l.expires_at),
                "revokedAt": when(l.revoked_at),
                "lastUsedAt": when(l.last_used_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "setupLinks": list })))
}

/// POST /api/v1/tenants/{slug}/setup-links `{"days": 15, "label": "Contoso IT"}`: a link that
/// opens the tenant's token page without a password; its URL is in this answer only.
async fn create_setup_link(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let days = match body.0.get("days") {
        None | Some(Value::Null) => links::DEFAULT_LINK_DAYS,
        Some(v) => v.as_i64().ok_or_else(|| {
            ScimError::invalid_value(format!(
                "days must be an integer, 1 to {}",
                links::MAX_LINK_DAYS
            ))
        })?,
    };
    let label = text_field(&body.0, "label")?.unwrap_or_default();
    let (secret, link) = links::create_setup_link(&state.service, &tenant, days, &label).await?;
    tracing::info!(tenant = %tenant.slug, setup_link = %link.id, api_key = %caller.key_id, "setup link made by the API");
    Ok(HttpResponse::Created().json(json!({
        "id": link.id,
        "url": state.settings.setup_link_url(&secret),
        "expiresAt": crate::scim::render::timestamp(link.expires_at),
    })))
}

/// DELETE /api/v1/tenants/{slug}/setup-links/{id}: 204; the link stops opening and the page
/// sessions it started end.
async fn revoke_setup_link(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (slug, id) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    links::revoke_setup_link(&state.service, &tenant, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
