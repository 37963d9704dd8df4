//! `/api/v1/tenants/{slug}/role-mappings`: a tenant's role mapping, which gives each user its
//! `effectiveRoles` (see `service::roles`).

use actix_web::{web, HttpResponse};

use super::api::managed_tenant;
use super::request::ScimJson;
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::service::api_keys::ApiCaller;
use crate::service::roles;

/// The routes, inside the `/api/v1` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/tenants/{slug}/role-mappings",
        web::get().to(get_role_mappings),
    )
    .route(
        "/tenants/{slug}/role-mappings",
        web::put().to(put_role_mappings),
    );
}

/// GET …/role-mappings → `{"rules", "default", "updatedAt"}` (no rules and no default when
/// none was set).
async fn get_role_mappings(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let mapping = roles::get_mapping(&state.service, &tenant).await?;
    Ok(HttpResponse::Ok().json(mapping))
}

/// PUT …/role-mappings `{"rules": [{"group": ID, "role": R} | {"idpRole": V, "role": R}],
/// "default": R | null}` → the mapping as stored. Users are re-evaluated after the answer.
async fn put_role_mappings(
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let mapping = roles::put_mapping(&state.service, &tenant, &body.0).await?;
    Ok(HttpResponse::Ok().json(mapping))
}
