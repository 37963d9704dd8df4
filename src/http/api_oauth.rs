//! `/api/v1/tenants/{slug}/oauth-clients`: a tenant's OAuth 2.0 clients, for identity
//! providers that authenticate with a client ID and secret (or a signed assertion) instead
//! of a Secret Token. A secret is shown once, when made.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::api::managed_tenant;
use super::request::{text_field, ScimJson};
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::scim::render::timestamp;
use crate::service::api_keys::ApiCaller;
use crate::service::oauth::{self as svc, ClientChange, ClientView, NewClient};
use crate::store::oauth::ClientSecretRow;

/// The routes, inside the `/api/v1` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tenants/{slug}/oauth-clients", web::get().to(list_clients))
        .route(
            "/tenants/{slug}/oauth-clients",
            web::post().to(create_client),
        )
        .route(
            "/tenants/{slug}/oauth-clients/{id}",
            web::get().to(get_client),
        )
        .route(
            "/tenants/{slug}/oauth-clients/{id}",
            web::patch().to(update_client),
        )
        .route(
            "/tenants/{slug}/oauth-clients/{id}",
            web::delete().to(revoke_client),
        )
        .route(
            "/tenants/{slug}/oauth-clients/{id}/secrets",
            web::post().to(add_secret),
        )
        .route(
            "/tenants/{slug}/oauth-clients/{id}/secrets/{secret}",
            web::delete().to(remove_secret),
        )
        .route(
            "/tenants/{slug}/oauth-clients/{id}/grants/{grant}",
            web::delete().to(revoke_grant),
        );
}

fn secret_json(s: &ClientSecretRow) -> Value {
    json!({ "id": s.id, "createdAt": timestamp(s.created_at) })
}

/// A client as the API shows it (never a secret).
pub fn client_json(state: &AppState, c: &ClientView) -> Value {
    json!({
        "id": c.row.id,
        "clientId": c.row.client_id,
        "label": c.row.label,
        "tokenEndpoint": state.settings.oauth_token_url(),
        "authorizationEndpoint": state.settings.oauth_authorize_url(),
        "redirectUris": c.redirect_uris,
        "jwks": c.row.jwks.as_deref().and_then(|j| serde_json::from_str::<Value>(j).ok()),
        "createdAt": timestamp(c.row.created_at),
        "revoked": c.row.revoked_at.is_some(),
        "revokedAt": c.row.revoked_at.map(timestamp),
        "secrets": c.secrets.iter().map(secret_json).collect::<Vec<_>>(),
        "grants": c.grants.iter().map(|g| json!({
            "id": g.id,
            "approvedBy": g.approved_by,
            "createdAt": timestamp(g.created_at),
            "revoked": g.revoked_at.is_some(),
        })).collect::<Vec<_>>(),
    })
}

/// `redirectUris` of a body: an array of strings, if given.
fn redirect_uris(body: &Value) -> Result<Option<Vec<String>>, ScimError> {
    match body.get("redirectUris") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ScimError::invalid_value("redirectUris must be an array of URL strings")
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ScimError::invalid_value(
            "redirectUris must be an array of URL strings",
        )),
    }
}

/// GET …/oauth-clients.
async fn list_clients(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let clients = svc::list_clients(&state.service, &tenant).await?;
    let list: Vec<Value> = clients.iter().map(|c| client_json(&state, c)).collect();
    Ok(HttpResponse::Ok().json(json!({ "oauthClients": list })))
}

/// POST …/oauth-clients `{"label", "redirectUris"?, "jwks"?}` → 201 with `clientSecret`,
/// shown this once.
async fn create_client(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let new = NewClient {
        label: text_field(&body.0, "label")?.ok_or_else(|| {
            ScimError::invalid_value(
                "label is required: say what uses the client, e.g. \"Entra production\"",
            )
        })?,
        redirect_uris: redirect_uris(&body.0)?.unwrap_or_default(),
        jwks: body.0.get("jwks").filter(|v| !v.is_null()).cloned(),
    };
    let (secret, client) = svc::create_client(&state.service, &tenant, new).await?;
    tracing::info!(tenant = %tenant.slug, client = %client.row.id, api_key = %caller.key_id, "OAuth client created by the API");
    let mut answer = client_json(&state, &client);
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("clientSecret".into(), json!(secret));
    }
    Ok(HttpResponse::Created().json(answer))
}

/// GET …/oauth-clients/{id}.
async fn get_client(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (slug, id) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let client = svc::get_client(&state.service, &tenant, &id).await?;
    Ok(HttpResponse::Ok().json(client_json(&state, &client)))
}

/// PATCH …/oauth-clients/{id} `{"label"?, "redirectUris"?, "jwks"?}`: `jwks: null` removes
/// the keys.
async fn update_client(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let (slug, id) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let change = ClientChange {
        label: text_field(&body.0, "label")?,
        redirect_uris: redirect_uris(&body.0)?,
        jwks: body
            .0
            .get("jwks")
            .map(|v| (!v.is_null()).then(|| v.clone())),
    };
    let client = svc::update_client(&state.service, &tenant, &id, change).await?;
    Ok(HttpResponse::Ok().json(client_json(&state, &client)))
}

/// DELETE …/oauth-clients/{id}: the client, its secrets, grants and tokens stop working.
async fn revoke_client(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (slug, id) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    svc::revoke_client(&state.service, &tenant, &id).await?;
    tracing::info!(tenant = %tenant.slug, client = %id, api_key = %caller.key_id, "OAuth client revoked by the API");
    Ok(HttpResponse::NoContent().finish())
}

/// POST …/oauth-clients/{id}/secrets → 201 `{"id", "clientSecret", "createdAt"}`: a second
/// secret for a rotation.
async fn add_secret(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (slug, id) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let (secret, row) = svc::add_secret(&state.service, &tenant, &id).await?;
    let mut answer = secret_json(&row);
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("clientSecret".into(), json!(secret));
    }
    Ok(HttpResponse::Created().json(answer))
}

/// DELETE …/oauth-clients/{id}/secrets/{secret}.
async fn remove_secret(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (slug, id, secret) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    svc::remove_secret(&state.service, &tenant, &id, &secret).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// DELETE …/oauth-clients/{id}/grants/{grant}: an approval ends, with its tokens.
async fn revoke_grant(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (slug, id, grant) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let client = svc::get_client(&state.service, &tenant, &id).await?;
    if !client.grants.iter().any(|g| g.id == grant) {
        return Err(ScimError::not_found(format!(
            "the client has no grant with id {grant:?}"
        )));
    }
    svc::revoke_grant(&state.service, &tenant, &grant).await?;
    Ok(HttpResponse::NoContent().finish())
}
