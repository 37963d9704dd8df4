//! The admin JSON API: the provisioning log as a change feed for the host app. Deprecated:
//! `/api/v1/tenants/{slug}/events` (an API key, no password hash per poll) replaces it; this
//! one keeps working for one release and says so in a `Deprecation` header.
//! Authenticated with an admin's credentials (HTTP Basic); an admin of another tenant
//! gets 404, as if the tenant did not exist.

use std::fmt;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use base64::Engine;
use serde_json::json;

use super::request::client_address;
use crate::app::AppState;
use crate::scim::error::ScimError;
use crate::service::admins::{check_password, may_manage, PasswordCheck};
use crate::service::tenants::{events_after, find_tenant};

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// An error of the feed: a [`ScimError`] answered through the shared conversion
/// ([`super::error_head`]: status and `Retry-After`), SCIM error JSON as elsewhere. Only the
/// feed's refusals of credentials (401, 429) keep the body this feed has always had,
/// `{"error": "…"}`, and a 401 asks for HTTP Basic.
#[derive(Debug)]
pub struct FeedError(ScimError);

impl From<ScimError> for FeedError {
    fn from(e: ScimError) -> Self {
        FeedError(e)
    }
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for FeedError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let e = &self.0;
        match e.status {
            StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS => {
                let mut head = super::error_head(e);
                if e.status == StatusCode::UNAUTHORIZED {
                    head.insert_header((
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"scimd admin\""),
                    ));
                }
                head.json(json!({"error": e.detail}))
            }
            _ => e.error_response(),
        }
    }
}

fn unauthorized() -> ScimError {
    ScimError::status(
        StatusCode::UNAUTHORIZED,
        "admin credentials required (HTTP Basic)",
    )
}

/// GET /api/tenants/{slug}/events?after=ID&limit=N — events after ID, oldest first.
pub async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, FeedError> {
    let (username, password) = basic_credentials(&req).ok_or_else(unauthorized)?;
    let (after, limit) = super::api::feed_position(&req)?;
    let slug = slug.into_inner();
    let address = client_address(&req, &state.settings.trusted_proxies).ok_or_else(|| {
        ScimError::status(StatusCode::BAD_REQUEST, "the client address is unknown")
    })?;
    let admin = match check_password(&state.service, &username, &password, address).await? {
        PasswordCheck::Admin(admin) => admin,
        PasswordCheck::Wrong => return Err(unauthorized().into()),
        PasswordCheck::Wait(secs) => {
            return Err(ScimError::retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                secs,
                format!("too many failed attempts; retry after {secs} s"),
            )
            .into());
        }
    };
    let tenant = find_tenant(&state.service, &slug)
        .await?
        .filter(|t| may_manage(&admin, t))
        .ok_or_else(|| ScimError::not_found(format!("no tenant {slug:?}")))?;
    let events = events_after(&state.service, &tenant, after, limit).await?;
    // Deprecated (RFC 9745) for the API-key feed, which replaces it.
    Ok(HttpResponse::build(StatusCode::OK)
        .insert_header(("Deprecation", "@1796256000"))
        .insert_header((
            header::LINK,
            format!(
                "</api/v1/tenants/{}/events>; rel=\"successor-version\"",
                tenant.slug
            ),
        ))
        .json(super::api::feed_json(&events, after)))
}
