//! The OAuth 2.0 authorization server's public endpoints: RFC 8414 metadata and the token
//! endpoint (RFC 6749 §3.2); the authorization endpoint is a page of the token page's (see
//! `admin::authorize`). Every answer of the token endpoint is JSON with
//! `Cache-Control: no-store`; refusals are RFC 6749 §5.2 errors.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde_json::json;

use super::auth::count_failed_authentication;
use crate::auth::client_assertion::{self, JWT_BEARER_TYPE};
use crate::http::state::AppState;
use crate::service::oauth::token::{
    authenticate_client, grant, ClientCredentials, Grant, OAuthError,
};

/// Largest token request body: a form with a client assertion fits many times over.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// Routes of the authorization server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/oauth-authorization-server",
        web::get().to(metadata),
    )
    .route("/oauth/token", web::post().to(token));
}

/// GET /.well-known/oauth-authorization-server (RFC 8414 §3).
async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let s = &state.settings;
    let algorithms: Vec<String> = client_assertion::ALGORITHMS
        .iter()
        .map(|a| format!("{a:?}"))
        .collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "max-age=3600"))
        .json(json!({
            "issuer": s.oauth_issuer(),
            "token_endpoint": s.oauth_token_url(),
            "authorization_endpoint": s.oauth_authorize_url(),
            "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
            "response_types_supported": ["code"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": algorithms,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "service_documentation": format!("{}/admin", s.public_url()),
        }))
}

/// A refusal as RFC 6749 §5.2 gives it: 400, or 401 with `WWW-Authenticate` for a client that
/// failed to authenticate; a throttle or failure keeps its own status.
fn refusal(e: &OAuthError) -> HttpResponse {
    let (status, description) = match e {
        OAuthError::InvalidClient(d) => (StatusCode::UNAUTHORIZED, d.clone()),
        OAuthError::Server(e) => (e.status, e.detail.clone()),
        other => (StatusCode::BAD_REQUEST, other.to_string()),
    };
    let mut head = HttpResponse::build(status);
    head.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if status == StatusCode::UNAUTHORIZED {
        head.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"scimd\""));
    }
    if let OAuthError::Server(e) = e {
        if matches!(
            e.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            head.insert_header((header::RETRY_AFTER, e.retry_after.unwrap_or(1)));
        }
    }
    let code = match e {
        OAuthError::Server(e) if e.status == StatusCode::TOO_MANY_REQUESTS => "invalid_request",
        other => other.code(),
    };
    head.json(json!({ "error": code, "error_description": description }))
}

/// The form's parameters, each at most once (RFC 6749 §3.2: a repeated one is refused).
fn form_params(
    req: &HttpRequest,
    body: &[u8],
) -> Result<std::collections::HashMap<String, String>, OAuthError> {
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if form_type.as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(OAuthError::InvalidRequest(
            "send the token request as application/x-www-form-urlencoded (RFC 6749 §4.4.2)".into(),
        ));
    }
    super::request::single_params(body).map_err(OAuthError::InvalidRequest)
}

/// `client_secret_basic`: the id and secret of the Basic header, each form-URL-decoded
/// (RFC 6749 §2.3.1). `None` when the request has no Basic header.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        OAuthError::InvalidClient(
            "the Authorization header is not HTTP Basic with client_id:client_secret".into(),
        )
    };
    let value = value.to_str().map_err(|_| bad())?.trim();
    let (scheme, encoded) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

/// How the request authenticates its client: exactly one method (RFC 6749 §2.3).
fn client_credentials(
    req: &HttpRequest,
    params: &std::collections::HashMap<String, String>,
) -> Result<ClientCredentials, OAuthError> {
    let basic = basic_credentials(req)?;
    let form_secret = params.get("client_secret").cloned();
    let assertion = params.get("client_assertion").cloned();
    let methods = [basic.is_some(), form_secret.is_some(), assertion.is_some()]
        .iter()
        .filter(|m| **m)
        .count();
    if methods > 1 {
        return Err(OAuthError::InvalidRequest(
            "use one client authentication method: the Basic header, client_secret, or client_assertion".into(),
        ));
    }
    let form_id = params.get("client_id").cloned();
    if let Some((client_id, secret)) = basic {
        if form_id.as_ref().is_some_and(|id| *id != client_id) {
            return Err(OAuthError::InvalidRequest(
                "client_id in the form differs from the Basic header's".into(),
            ));
        }
        return Ok(ClientCredentials::Secret { client_id, secret });
    }
    if let Some(secret) = form_secret {
        let client_id = form_id.ok_or_else(|| {
            OAuthError::InvalidRequest("client_secret needs client_id beside it".into())
        })?;
        return Ok(ClientCredentials::Secret { client_id, secret });
    }
    if let Some(assertion) = assertion {
        if params.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER_TYPE) {
            return Err(OAuthError::InvalidRequest(format!(
                "client_assertion_type must be {JWT_BEARER_TYPE}"
            )));
        }
        return Ok(ClientCredentials::Assertion {
            assertion,
            client_id: form_id,
        });
    }
    Err(OAuthError::InvalidClient(
        "no client authentication: send the client ID and secret (HTTP Basic, or client_id and client_secret in the form), or a client_assertion".into(),
    ))
}

/// The grant the form asks for.
fn requested_grant(
    params: &std::collections::HashMap<String, String>,
) -> Result<Grant, OAuthError> {
    let get = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let required = |name: &str| {
        get(name).ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
    };
    match get("grant_type").as_deref() {
        Some("client_credentials") => Ok(Grant::ClientCredentials),
        Some("authorization_code") => Ok(Grant::AuthorizationCode {
            code: required("code")?,
            redirect_uri: get("redirect_uri"),
            code_verifier: get("code_verifier"),
        }),
        Some("refresh_token") => Ok(Grant::RefreshToken(required("refresh_token")?)),
        Some(other) => Err(OAuthError::UnsupportedGrantType(format!(
            "grant_type {other:?} is not supported: use client_credentials, authorization_code or refresh_token"
        ))),
        None => Err(OAuthError::InvalidRequest(
            "grant_type is required (client_credentials, authorization_code or refresh_token)".into(),
        )),
    }
}

/// POST /oauth/token.
async fn token(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    match token_response(&req, &state, &body).await {
        Ok(response) => response,
        Err(e) => {
            tracing::info!(error = e.code(), reason = %e, "token request refused");
            // A wrong secret, assertion, code or refresh token counts against the address,
            // as a wrong Secret Token does: 429 once it fails too often.
            let guess = matches!(
                e,
                OAuthError::InvalidClient(_) | OAuthError::InvalidGrant(_)
            );
            match guess.then(|| count_failed_authentication(&req, &state)) {
                Some(Err(throttled)) => refusal(&OAuthError::Server(throttled)),
                _ => refusal(&e),
            }
        }
    }
}

async fn token_response(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<HttpResponse, OAuthError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(OAuthError::InvalidRequest(format!(
            "the form is larger than {MAX_FORM_BYTES} bytes"
        )));
    }
    let params = form_params(req, body)?;
    let credentials = client_credentials(req, &params)?;
    let requested = requested_grant(&params)?;
    let s = &state.settings;
    let audiences = vec![s.oauth_token_url(), s.oauth_issuer()];
    let who = authenticate_client(&state.service, credentials, audiences).await?;
    // An authenticated client's requests count in its tenant's budget, as its SCIM ones do.
    state.limits.check_tenant(&who.tenant.slug)?;
    tracing::Span::current().record("tenant", who.tenant.slug.as_str());
    let granted = grant(&state.service, &who, requested, s.oauth_token_seconds).await?;
    tracing::info!(tenant = %who.tenant.slug, client = %who.client.id, "access token issued");
    let mut answer = json!({
        "access_token": granted.access_token,
        "token_type": "Bearer",
        "expires_in": granted.expires_in,
    });
    if let Some(refresh) = granted.refresh_token {
        if let Some(fields) = answer.as_object_mut() {
            fields.insert("refresh_token".into(), json!(refresh));
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(answer))
}
