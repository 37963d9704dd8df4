//! `/api/v1/tenants/{slug}/users` and `…/groups`: the host app reads a tenant's directory,
//! page by page behind an opaque cursor, each page bounded by count and bytes.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::api::managed_tenant;
use super::request::{param, query_pairs};
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::service::api_keys::ApiCaller;
use crate::service::directory::{self, DirectoryGroup, DirectoryUser, PageRequest};
use crate::store::tenants::Tenant;

/// The routes, inside the `/api/v1` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tenants/{slug}/users", web::get().to(list_users))
        .route("/tenants/{slug}/users/{id}", web::get().to(get_user))
        .route("/tenants/{slug}/groups", web::get().to(list_groups))
        .route("/tenants/{slug}/groups/{id}", web::get().to(get_group))
        .route(
            "/tenants/{slug}/groups/{id}/members",
            web::get().to(group_members),
        );
}

/// A `true` / `false` query parameter (absent: false).
fn flag(pairs: &[(String, String)], name: &str) -> Result<bool, ScimError> {
    match param(pairs, name) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ScimError::invalid_value(format!(
            "{name} is {other:?}; use true or false"
        ))),
    }
}

/// `limit`, `cursor` and (where the list has it) `updatedSince` of a list request.
fn page_request(
    req: &HttpRequest,
    with_since: bool,
) -> Result<(PageRequest, Vec<(String, String)>), ScimError> {
    let pairs = query_pairs(req)?;
    let limit = match param(&pairs, "limit") {
        None => directory::DEFAULT_LIMIT,
        Some(v) => v.parse::<i64>().map_err(|_| {
            ScimError::invalid_value(format!(
                "limit is {v:?}; use an integer from 1 to {}",
                directory::MAX_LIMIT
            ))
        })?,
    };
    let updated_since = match param(&pairs, "updatedSince").filter(|_| with_since) {
        None => None,
        Some(v) => Some(
            chrono::DateTime::parse_from_rfc3339(v)
                .map_err(|_| {
                    ScimError::invalid_value(format!(
                        "updatedSince is {v:?}; use an RFC 3339 time such as 2026-12-04T10:00:00.000Z (an updatedAt this API returned)"
                    ))
                })?
                .timestamp_millis(),
        ),
    };
    let cursor = param(&pairs, "cursor").map(str::to_string);
    let include_out_of_scope = flag(&pairs, "includeOutOfScope")?;
    Ok((
        PageRequest {
            cursor,
            updated_since,
            limit,
            include_out_of_scope,
        },
        pairs,
    ))
}

/// `head` (an object of small fields) with `"resource"` added, as JSON text: the resource's
/// text goes in as rendered, never parsed (as a tree, a large user takes several times its
/// size, and a page of them several times the page).
fn with_resource(head: Map<String, Value>, resource: &str) -> String {
    crate::webhooks::with_resource(head, resource)
}

/// `{"<list>": [items…], "nextCursor": …}` from the items' JSON texts (`list` is one of
/// this file's names, `users` or `groups`: no escaping needed).
fn list_text(list: &str, items: &[String], next_cursor: Option<&str>) -> String {
    let len = items.iter().map(|t| t.len() + 1).sum::<usize>() + list.len() + 64;
    let mut out = String::with_capacity(len);
    out.push_str("{\"");
    out.push_str(list);
    out.push_str("\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push_str("],\"nextCursor\":");
    out.push_str(&Value::from(next_cursor).to_string());
    out.push('}');
    out
}

fn json_response(text: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(text)
}

/// A user as the host app sees it ([`directory::user_view`]: its state, times and normalized
/// fields) beside the SCIM resource as stored (with `id` and `meta`), as JSON text. The
/// stored resource is parsed for the view, one user at a time.
fn user_json(state: &AppState, tenant: &Tenant, user: &DirectoryUser) -> Result<String, ScimError> {
    let base_url = state.settings.tenant_url(&tenant.slug);
    let row = &user.row;
    let resource = crate::service::users::render_user(row, &base_url)?.body;
    let stored: Value = serde_json::from_str(&row.resource)
        .map_err(|e| ScimError::internal(format!("stored user {} is corrupt: {e}", row.id)))?;
    let mut head = directory::user_view(row, &stored, Some(&user.groups));
    crate::service::roles::insert_effective_roles(&mut head, &user.effective_roles);
    drop(stored);
    Ok(with_resource(head, &resource.text()))
}

/// A group as the host app sees it (its members are a list of their own; `memberCount` says
/// how many), as JSON text.
fn group_json(
    state: &AppState,
    tenant: &Tenant,
    group: &DirectoryGroup,
) -> Result<String, ScimError> {
    let base_url = state.settings.tenant_url(&tenant.slug);
    let resource = crate::service::groups::render_group(&group.row, None, &base_url)?.body;
    Ok(with_resource(
        directory::group_view(group),
        &resource.text(),
    ))
}

/// A page of rows as `{"<what>": [...], "nextCursor"}`, each row rendered as JSON text (the
/// rows are dropped before the answer is assembled: a page holds one copy of its bytes).
fn page_answer<R>(
    what: &str,
    found: directory::Page<R>,
    render: impl Fn(&R) -> Result<String, ScimError>,
) -> Result<HttpResponse, ScimError> {
    let items = found
        .rows
        .iter()
        .map(render)
        .collect::<Result<Vec<_>, _>>()?;
    drop(found.rows);
    Ok(json_response(list_text(
        what,
        &items,
        found.next_cursor.as_deref(),
    )))
}

/// GET /api/v1/tenants/{slug}/users?limit&cursor&updatedSince&includeDeactivated&includeDeleted:
/// `{"users": [...], "nextCursor": ...}` in (updatedAt, id) order; a page of large users ends
/// early (at `--max-page-bytes`), with its `nextCursor`. With `email=`, the live user whose
/// identity mail that is (case-insensitively), or none: a list of at most one.
async fn list_users(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let (page, pairs) = page_request(&req, true)?;
    let deactivated = flag(&pairs, "includeDeactivated")?;
    let deleted = flag(&pairs, "includeDeleted")?;
    if let Some(email) = param(&pairs, "email") {
        if deleted {
            return Err(ScimError::invalid_value(
                "email finds a live user (active, or deactivated with includeDeactivated=true); \
                 leave out includeDeleted, or list with includeDeleted=true without email",
            ));
        }
        let tenant = managed_tenant(&state, &caller, &slug).await?;
        let found = directory::user_by_email(&state.service, &tenant, email, deactivated)
            .await?
            .filter(|u| u.row.in_scope || page.include_out_of_scope);
        let items = found
            .iter()
            .map(|u| user_json(&state, &tenant, u))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(json_response(list_text("users", &items, None)));
    }
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let found = directory::list_users(&state.service, &tenant, &page, deactivated, deleted).await?;
    page_answer("users", found, |r| user_json(&state, &tenant, r))
}

/// GET /api/v1/tenants/{slug}/users/{id}: deactivated and deleted users too (they say so).
async fn get_user(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (slug, id) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let user = directory::user(&state.service, &tenant, &id).await?;
    Ok(json_response(user_json(&state, &tenant, &user)?))
}

/// GET /api/v1/tenants/{slug}/groups?limit&cursor&updatedSince&includeDeleted.
async fn list_groups(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: ApiCaller,
    slug: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let (page, pairs) = page_request(&req, true)?;
    let deleted = flag(&pairs, "includeDeleted")?;
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let found = directory::list_groups(&state.service, &tenant, &page, deleted).await?;
    page_answer("groups", found, |r| group_json(&state, &tenant, r))
}

/// GET /api/v1/tenants/{slug}/groups/{id}: deleted groups too.
async fn get_group(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (slug, id) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let group = directory::group_with_count(&state.service, &tenant, &id).await?;
    Ok(json_response(group_json(&state, &tenant, &group)?))
}

/// GET /api/v1/tenants/{slug}/groups/{id}/members?limit&cursor: `{"members": [{id, type,
/// display}], "nextCursor"}` by member id.
async fn group_members(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (page, _) = page_request(&req, false)?;
    let (slug, id) = path.into_inner();
    let tenant = managed_tenant(&state, &caller, &slug).await?;
    let found = directory::group_members(&state.service, &tenant, &id, &page).await?;
    let members: Vec<Value> = found
        .rows
        .iter()
        .map(|m| json!({"id": m.member_id, "type": m.member_type, "display": m.display}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"members": members, "nextCursor": found.next_cursor})))
}
