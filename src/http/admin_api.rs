//! The admin JSON API: the provisioning log as a change feed for the host app. Deprecated:
//! `/api/v1/tenants/{slug}/events` (an API key, no password hash per poll) replaces it; this
//! one keeps working for one release and says so in a `Deprecation` header.
//! Authenticated with an admin's credentials (HTTP Basic); an admin of another tenant
//! gets 404, as if the tenant did not exist.

use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde_json::json;

use super::request::client_address;
use crate::http::state::AppState;
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

/// Why the feed refused a request: its credentials (missing or wrong: 401; too many
/// failures: 429), or any other [`ScimError`] (a bad `after`, another tenant's feed, a busy
/// database).
enum Refused {
    Credentials(ScimError),
    Scim(ScimError),
}

impl From<ScimError> for Refused {
    fn from(e: ScimError) -> Self {
        Refused::Scim(e)
    }
}

/// The feed's errors through the shared conversion: a [`ScimError`] is answered as
/// everywhere (SCIM error JSON, logged by its `scimType`); a refusal of credentials keeps the
/// body this feed has always had, `{"error": "…"}`, on the shared head
/// ([`super::error_head`]: status, `Retry-After`) and, for a 401, a challenge for HTTP Basic.
fn answered(refused: Refused) -> actix_web::Error {
    let e = match refused {
        Refused::Scim(e) => return e.into(),
        Refused::Credentials(e) => e,
    };
    let mut head = super::error_head(&e);
    if e.status == StatusCode::UNAUTHORIZED {
        head.insert_header((
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"scimd admin\""),
        ));
    }
    let response = head.json(json!({"error": e.detail}));
    InternalError::from_response(e, response).into()
}

fn unauthorized() -> Refused {
    Refused::Credentials(ScimError::status(
        StatusCode::UNAUTHORIZED,
        "admin credentials required (HTTP Basic)",
    ))
}

/// GET /api/tenants/{slug}/events?after=ID&limit=N — events after ID, oldest first.
pub async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, actix_web::Error> {
    feed(req, state, slug).await.map_err(answered)
}

async fn feed(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, Refused> {
    let (username, password) = basic_credentials(&req).ok_or_else(unauthorized)?;
    let (after, limit) = super::api::feed_position(&req)?;
    let slug = slug.into_inner();
    let address = client_address(&req, &state.settings.trusted_proxies).ok_or_else(|| {
        ScimError::status(StatusCode::BAD_REQUEST, "the client address is unknown")
    })?;
    let admin = match check_password(&state.service, &username, &password, address).await? {
        PasswordCheck::Admin(admin) => admin,
        PasswordCheck::Wrong => return Err(unauthorized()),
        PasswordCheck::Wait(secs) => {
            return Err(Refused::Credentials(ScimError::retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                secs,
                format!("too many failed attempts; retry after {secs} s"),
            )));
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
