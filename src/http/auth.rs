//! Bearer-token authentication of SCIM requests. Every failure is the same 401 to the
//! client (no hint which part failed); the log gets the reason, never the token.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use std::future::Ready;

use super::request::client_address;

use crate::auth::tokens::TokenError;
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::service::Caller;

fn unauthorized() -> ScimError {
    ScimError::status(
        StatusCode::UNAUTHORIZED,
        "missing, invalid, expired or revoked bearer token for this tenant; issue a new one on the token page",
    )
}

/// The bearer credential of a request, if it sends one.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// A refused request: logged with its reason (never the token), counted against the
/// client's address, and answered 401 — or 429 once the address fails too often. Only
/// failures count per address: behind a proxy every client shares one address, and a
/// stranger's bad tokens must not spend the budget of Entra's valid requests.
fn refuse(req: &HttpRequest, state: &AppState, reason: &str) -> ScimError {
    tracing::info!(reason, "unauthenticated request");
    count_failed_authentication(req, state)
        .err()
        .unwrap_or_else(unauthorized)
}

/// Count a failed authentication (a bad SCIM token, a bad API key) against the client's
/// address: 429 once that address fails too often.
pub fn count_failed_authentication(req: &HttpRequest, state: &AppState) -> Result<(), ScimError> {
    match client_address(req, &state.settings.trusted_proxies) {
        Some(address) => state.limits.check_failed_address(address),
        None => Ok(()),
    }
}

/// The tenant a request authenticated for, kept in its extensions for the metrics.
#[derive(Debug, Clone)]
pub struct AuthenticatedTenant(pub String);

/// Middleware of the tenant scope: authenticate before any handler or extractor reads the
/// request, so that a request without a valid token is a 401 (or 429) whatever else is wrong
/// with it, and no body of a stranger's is read. The caller is kept for the [`Caller`]
/// extractor.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req
            .error_response(ScimError::internal("the server has no state"))
            .map_into_right_body());
    };
    match caller(req.request(), &state).await {
        Ok(who) => {
            req.extensions_mut().insert(who);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(e) => Ok(req.error_response(e).map_into_right_body()),
    }
}

/// The caller [`authenticate`] found; only routes behind it can take one.
impl FromRequest for Caller {
    type Error = ScimError;
    type Future = Ready<Result<Caller, ScimError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        super::request::from_extensions(req, "this route is not behind authentication")
    }
}

/// Authenticate the request for the tenant named in its path.
async fn caller(req: &HttpRequest, state: &AppState) -> Result<Caller, ScimError> {
    let slug = req.match_info().get("slug").unwrap_or_default().to_string();
    let Some(token) = bearer(req) else {
        return Err(refuse(req, state, "no bearer token"));
    };
    // A slug that could not have been created names no tenant: no need to ask the database.
    if crate::service::tenants::check_slug(&slug).is_err() {
        return Err(refuse(req, state, "not a tenant slug"));
    }
    // Recorded once known to be a slug: path text is not written to the log as it came.
    tracing::Span::current().record("tenant", slug.as_str());
    let tenant = match state.service.tenants.get(&state.service.store, &slug).await {
        Ok(Some(tenant)) => tenant,
        Ok(None) => return Err(refuse(req, state, &TokenError::WrongTenant.to_string())),
        Err(e) => return Err(ScimError::from(e)),
    };
    let result = state
        .service
        .keys
        .authenticate(&state.service.store, &token, &tenant)
        .await;
    match result {
        Ok(jti) => {
            // After the token, so that a stranger learns nothing of the tenant's state.
            if tenant.disabled_at.is_some() {
                return Err(ScimError::status(
                    StatusCode::FORBIDDEN,
                    "this tenant is disabled by its operator; provisioning resumes once the operator enables it again",
                ));
            }
            // Connection health: counted in memory only (see service::connection).
            let probe = req.method() == actix_web::http::Method::GET
                && req.path().ends_with("/Users")
                && crate::scim::entra::is_test_connection_probe(req.query_string());
            state.service.connection.accepted(&tenant.id, probe);
            // Authenticated requests are limited per tenant only.
            state.limits.check_tenant(&tenant.slug)?;
            req.extensions_mut()
                .insert(AuthenticatedTenant(tenant.slug.clone()));
            Ok(Caller {
                base_url: state.settings.tenant_url(&tenant.slug),
                tenant,
                token_jti: Some(jti),
            })
        }
        Err(TokenError::Store(e)) => Err(ScimError::from(e)),
        Err(reason) => {
            // A refusal of an existing tenant: its connection health counts it.
            state.service.connection.refused(&tenant.id, &reason);
            Err(refuse(req, state, &reason.to_string()))
        }
    }
}
