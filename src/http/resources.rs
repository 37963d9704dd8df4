//! The handlers of `/Users` and `/Groups`, written once: a [`ResourceType`] names the use
//! cases, the extractors of [`super::request`] read the request, and [`record_rejections`]
//! logs the writes that were refused.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use serde_json::Value;

use super::request::{IfMatch, ListQuery, Projection, ScimJson, SearchQuery};
use super::{resource_response, scim_text};
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::service::{groups, users, Caller, ListParams, Listed, Rendered, Service};

/// What a PATCH answers: the resource (200), or only its new version (204 with an `ETag`).
pub(crate) enum PatchAnswer {
    Resource(Rendered),
    Version(i64),
}

/// A SCIM resource type as its handlers see it: the use cases they call.
pub(crate) trait ResourceType: 'static {
    /// "User" or "Group", as the provisioning log names it.
    const NAME: &'static str;

    async fn list(svc: &Service, who: &Caller, params: ListParams) -> Result<Listed, ScimError>;
    async fn create(svc: &Service, who: &Caller, body: Value) -> Result<Rendered, ScimError>;
    async fn get(
        svc: &Service,
        who: &Caller,
        id: &str,
        view: &Projection,
    ) -> Result<Rendered, ScimError>;
    async fn replace(
        svc: &Service,
        who: &Caller,
        id: &str,
        body: Value,
        if_match: Option<String>,
    ) -> Result<Rendered, ScimError>;
    async fn patch(
        svc: &Service,
        who: &Caller,
        id: &str,
        body: Value,
        if_match: Option<String>,
        view: &Projection,
    ) -> Result<PatchAnswer, ScimError>;
    async fn delete(
        svc: &Service,
        who: &Caller,
        id: &str,
        if_match: Option<String>,
    ) -> Result<(), ScimError>;
}

/// `/Users`.
pub(crate) struct Users;

impl ResourceType for Users {
    const NAME: &'static str = "User";

    async fn list(svc: &Service, who: &Caller, params: ListParams) -> Result<Listed, ScimError> {
        users::list_users(svc, who, params).await
    }
    async fn create(svc: &Service, who: &Caller, body: Value) -> Result<Rendered, ScimError> {
        users::create_user(svc, who, body).await
    }
    async fn get(
        svc: &Service,
        who: &Caller,
        id: &str,
        _: &Projection,
    ) -> Result<Rendered, ScimError> {
        users::get_user(svc, who, id).await
    }
    async fn replace(
        svc: &Service,
        who: &Caller,
        id: &str,
        body: Value,
        if_match: Option<String>,
    ) -> Result<Rendered, ScimError> {
        users::replace_user(svc, who, id, body, if_match).await
    }
    /// A user PATCH answers 200 with the user: Entra reads it.
    async fn patch(
        svc: &Service,
        who: &Caller,
        id: &str,
        body: Value,
        if_match: Option<String>,
        _: &Projection,
    ) -> Result<PatchAnswer, ScimError> {
        let user = users::patch_user(svc, who, id, body, if_match).await?;
        Ok(PatchAnswer::Resource(user))
    }
    async fn delete(
        svc: &Service,
        who: &Caller,
        id: &str,
        if_match: Option<String>,
    ) -> Result<(), ScimError> {
        users::delete_user(svc, who, id, if_match).await
    }
}

/// `/Groups`.
pub(crate) struct Groups;

impl ResourceType for Groups {
    const NAME: &'static str = "Group";

    async fn list(svc: &Service, who: &Caller, params: ListParams) -> Result<Listed, ScimError> {
        groups::list_groups(svc, who, params).await
    }
    async fn create(svc: &Service, who: &Caller, body: Value) -> Result<Rendered, ScimError> {
        groups::create_group(svc, who, body).await
    }
    /// Members are read only when the projection keeps them.
    async fn get(
        svc: &Service,
        who: &Caller,
        id: &str,
        view: &Projection,
    ) -> Result<Rendered, ScimError> {
        let with_members =
            groups::wants_members(view.attributes.as_deref(), view.excluded.as_deref());
        groups::get_group(svc, who, id, with_members).await
    }
    async fn replace(
        svc: &Service,
        who: &Caller,
        id: &str,
        body: Value,
        if_match: Option<String>,
    ) -> Result<Rendered, ScimError> {
        groups::replace_group(svc, who, id, body, if_match).await
    }
    /// 204 (RFC 7644 §3.5.2) unless `attributes` or `excludedAttributes` ask for the group:
    /// a membership change on a 100,000-member group must not send the member list back.
    async fn patch(
        svc: &Service,
        who: &Caller,
        id: &str,
        body: Value,
        if_match: Option<String>,
        view: &Projection,
    ) -> Result<PatchAnswer, ScimError> {
        let answer = if view.is_asked() {
            groups::PatchAnswer::Group {
                with_members: groups::wants_members(
                    view.attributes.as_deref(),
                    view.excluded.as_deref(),
                ),
            }
        } else {
            groups::PatchAnswer::Version
        };
        let patched = groups::patch_group(svc, who, id, body, if_match, answer).await?;
        Ok(match patched.group {
            Some(group) => PatchAnswer::Resource(group),
            None => PatchAnswer::Version(patched.version),
        })
    }
    async fn delete(
        svc: &Service,
        who: &Caller,
        id: &str,
        if_match: Option<String>,
    ) -> Result<(), ScimError> {
        groups::delete_group(svc, who, id, if_match).await
    }
}

/// The `{id}` of a resource's path.
fn resource_id(path: web::Path<(String, String)>) -> String {
    path.into_inner().1
}

/// A resource, projected, with its `ETag` (and `Location` when created).
fn projected(
    status: StatusCode,
    mut r: Rendered,
    view: &Projection,
) -> Result<HttpResponse, ScimError> {
    view.apply(&mut r.body)?;
    Ok(resource_response(status, r))
}

/// GET: list and filter (Entra's matching queries and Test Connection).
pub(crate) async fn list<R: ResourceType>(
    state: web::Data<AppState>,
    who: Caller,
    query: ListQuery,
) -> Result<HttpResponse, ScimError> {
    let listed = R::list(&state.service, &who, query.0).await?;
    Ok(scim_text(StatusCode::OK, listed.into_text()))
}

/// POST `…/.search`: a list request in a body.
pub(crate) async fn search<R: ResourceType>(
    state: web::Data<AppState>,
    who: Caller,
    query: SearchQuery,
) -> Result<HttpResponse, ScimError> {
    let listed = R::list(&state.service, &who, query.0).await?;
    Ok(scim_text(StatusCode::OK, listed.into_text()))
}

/// POST `/.search` at the tenant root (RFC 7644 §3.4.3): users then groups, paged as one list.
pub(crate) async fn search_all(
    state: web::Data<AppState>,
    who: Caller,
    query: SearchQuery,
) -> Result<HttpResponse, ScimError> {
    let all = crate::service::search_all(&state.service, &who, query.0).await?;
    Ok(scim_text(StatusCode::OK, all.into_text()))
}

/// POST: create.
pub(crate) async fn create<R: ResourceType>(
    state: web::Data<AppState>,
    who: Caller,
    view: Projection,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let created = R::create(&state.service, &who, body.0).await?;
    projected(StatusCode::CREATED, created, &view)
}

/// GET `/{id}`.
pub(crate) async fn get<R: ResourceType>(
    state: web::Data<AppState>,
    who: Caller,
    view: Projection,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let found = R::get(&state.service, &who, &resource_id(path), &view).await?;
    projected(StatusCode::OK, found, &view)
}

/// PUT `/{id}`.
pub(crate) async fn replace<R: ResourceType>(
    state: web::Data<AppState>,
    who: Caller,
    view: Projection,
    if_match: IfMatch,
    path: web::Path<(String, String)>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let id = resource_id(path);
    let replaced = R::replace(&state.service, &who, &id, body.0, if_match.0).await?;
    projected(StatusCode::OK, replaced, &view)
}

/// PATCH `/{id}`.
pub(crate) async fn patch<R: ResourceType>(
    state: web::Data<AppState>,
    who: Caller,
    view: Projection,
    if_match: IfMatch,
    path: web::Path<(String, String)>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let id = resource_id(path);
    match R::patch(&state.service, &who, &id, body.0, if_match.0, &view).await? {
        PatchAnswer::Resource(r) => projected(StatusCode::OK, r, &view),
        PatchAnswer::Version(version) => Ok(HttpResponse::NoContent()
            .insert_header((header::ETAG, crate::scim::render::etag(version)))
            .finish()),
    }
}

/// DELETE `/{id}`: 204, then 404.
pub(crate) async fn delete<R: ResourceType>(
    state: web::Data<AppState>,
    who: Caller,
    if_match: IfMatch,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    R::delete(&state.service, &who, &resource_id(path), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Middleware of a resource type's routes: a write (POST, PUT, PATCH) refused with a 4xx goes
/// to the tenant's provisioning log with its detail, whichever step refused it (the body,
/// the projection or the use case), so the token page can show why Entra's change failed.
pub(crate) async fn record_rejections<R: ResourceType>(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let is_write = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    let res = next.call(req).await?;
    if !is_write {
        return Ok(res);
    }
    let refused = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ScimError>())
        .cloned();
    let who = res.request().extensions().get::<Caller>().cloned();
    let state = res.request().app_data::<web::Data<AppState>>().cloned();
    if let (Some(err), Some(who), Some(state)) = (refused, who, state) {
        let id = res.request().match_info().get("id").map(str::to_string);
        users::record_rejection(&state.service, &who, R::NAME, id, &err).await;
    }
    Ok(res)
}
