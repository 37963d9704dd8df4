//! `POST /.search` at the tenant root (RFC 7644 §3.4.3): one query over Users and Groups,
//! users first, paged as one list.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::caller;
use super::request::{json_body, search_params};
use super::scim_text;
use crate::app::AppState;
use crate::scim::error::ScimError;

/// POST /.search.
pub async fn search_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let body = json_body(&req, payload, state.settings.max_body_bytes).await?;
    let params = search_params(&body, super::scim_users::DEFAULT_COUNT)?;
    let all = crate::service::search_all(&state.service, &who, params).await?;
    Ok(scim_text(StatusCode::OK, all.into_text()))
}
