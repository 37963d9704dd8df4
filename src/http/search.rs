//! `POST /.search` at the tenant root (RFC 7644 §3.4.3): one query over Users and Groups,
//! users first, paged as one list.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::auth::caller;
use super::request::{json_body, search_params};
use super::scim_json;
use crate::app::AppState;
use crate::scim::error::ScimError;
use crate::scim::render::list_response;
use crate::service::{groups, users, ListParams};

fn resources(list: &mut Value) -> Vec<Value> {
    match list.get_mut("Resources").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

fn total(list: &Value) -> i64 {
    list.get("totalResults").and_then(Value::as_i64).unwrap_or(0)
}

/// POST /.search.
pub async fn search_all(req: HttpRequest, state: web::Data<AppState>, payload: web::Payload) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let body = json_body(&req, payload, state.settings.max_body_bytes).await?;
    let params = search_params(&body, super::scim_users::DEFAULT_COUNT)?;
    let start = params.start_index.max(1);
    let count = params.count.clamp(0, state.settings.max_results);
    let mut user_list = users::list_users(&state, &who, ListParams { start_index: start, count, ..params.clone() }).await?;
    let users_total = total(&user_list);
    let mut found = resources(&mut user_list);
    let remaining = count - found.len() as i64;
    let group_start = (start - users_total).max(1);
    let mut group_list = groups::list_groups(&state, &who, ListParams { start_index: group_start, count: remaining, ..params }).await?;
    let groups_total = total(&group_list);
    found.extend(resources(&mut group_list));
    Ok(scim_json(StatusCode::OK, &list_response(users_total + groups_total, start, found)))
}
