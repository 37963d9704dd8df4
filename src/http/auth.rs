//! Bearer-token authentication of SCIM requests. Every failure is the same 401 to the
//! client (no hint which part failed); the log gets the reason, never the token.

use actix_web::http::header;
use actix_web::HttpRequest;

use crate::app::AppState;
use crate::auth::tokens::TokenError;
use crate::scim::error::ScimError;
use crate::service::Caller;

fn unauthorized() -> ScimError {
    ScimError::status(
        401,
        "missing, invalid, expired or revoked bearer token for this tenant; issue a new one on the token page",
    )
}

fn bearer(req: &HttpRequest) -> Option<String> {
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

/// Authenticate the request for the tenant named in its path.
pub async fn caller(req: &HttpRequest, state: &AppState) -> Result<Caller, ScimError> {
    let slug = req.match_info().get("slug").unwrap_or_default().to_string();
    if let Some(addr) = req.peer_addr() {
        state.limits.check_address(addr.ip())?;
    }
    let token = bearer(req).ok_or_else(|| {
        tracing::info!(reason = "no bearer token", "unauthenticated request");
        unauthorized()
    })?;
    // A slug that could not have been created names no tenant: no need to ask the database.
    if crate::service::tenants::check_slug(&slug).is_err() {
        tracing::info!(reason = "not a tenant slug", "unauthenticated request");
        return Err(unauthorized());
    }
    // Recorded once known to be a slug: path text is not written to the log as it came.
    tracing::Span::current().record("tenant", slug.as_str());
    let result = async {
        let tenant = state
            .tenants
            .get(&state.store, &slug)
            .await?
            .ok_or(TokenError::WrongTenant)?;
        let jti = state
            .keys
            .authenticate(&state.store, &token, &tenant)
            .await?;
        Ok::<_, TokenError>((tenant, jti))
    }
    .await;
    match result {
        Ok((tenant, jti)) => {
            // Counted after authentication, so strangers cannot spend a tenant's budget.
            state.limits.check_tenant(&tenant.slug)?;
            Ok(Caller {
                base_url: state.settings.tenant_url(&tenant.slug),
                tenant,
                token_jti: Some(jti),
            })
        }
        Err(TokenError::Store(e)) => Err(ScimError::from(e)),
        Err(reason) => {
            tracing::info!(reason = %reason, "unauthenticated request");
            Err(unauthorized())
        }
    }
}
