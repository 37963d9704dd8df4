//! `POST /.search` at the tenant root (RFC 7644 §3.4.3): one query over Users and Groups,
//! users first, paged as one list.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::caller;
use super::request::{json_body, search_params};
use super::scim_text;
use crate::app::AppState;
use crate::scim::error::ScimError;
use crate::service::{groups, users, ListParams, Listed};

/// POST /.search.
pub async fn search_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let body = json_body(&req, payload, state.settings.max_body_bytes).await?;
    let params = search_params(&body, super::scim_users::DEFAULT_COUNT)?;
    let start = params.start_index.max(1);
    let count = params.count.clamp(0, state.settings.max_results);
    let user_list = users::list_users(
        &state,
        &who,
        ListParams {
            start_index: start,
            count,
            ..params.clone()
        },
    )
    .await?;
    let mut found = user_list.resources;
    let remaining = count - found.len() as i64;
    let group_start = (start - user_list.total).max(1);
    let group_list = groups::list_groups(
        &state,
        &who,
        ListParams {
            start_index: group_start,
            count: remaining,
            ..params
        },
    )
    .await?;
    found.extend(group_list.resources);
    let all = Listed {
        total: user_list.total + group_list.total,
        start_index: start,
        resources: found,
    };
    Ok(scim_text(StatusCode::OK, all.into_text()))
}
