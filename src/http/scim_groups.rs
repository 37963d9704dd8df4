//! `/Groups` handlers.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::caller;
use super::request::{if_match, json_body, list_params, projection, search_params};
use super::{resource_response, scim_text};
use crate::app::AppState;
use crate::scim::error::ScimError;
use crate::service::groups as svc;

/// Page size when the client gives no `count`.
pub const DEFAULT_COUNT: i64 = 100;

/// GET /Groups: list, filter (Entra matches on displayName).
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let params = list_params(&req, DEFAULT_COUNT)?;
    let body = svc::list_groups(&state.service, &who, params).await?;
    Ok(scim_text(StatusCode::OK, body.into_text()))
}

/// POST /Groups/.search.
pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let body = json_body(&req, payload, state.settings.max_body_bytes).await?;
    let params = search_params(&body, DEFAULT_COUNT)?;
    let body = svc::list_groups(&state.service, &who, params).await?;
    Ok(scim_text(StatusCode::OK, body.into_text()))
}

/// POST /Groups: create a group.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let (attributes, excluded) = projection(&req)?;
    let result = async {
        let body = json_body(&req, payload, state.settings.max_body_bytes).await?;
        svc::create_group(&state.service, &who, body).await
    }
    .await;
    match result {
        Ok(mut r) => {
            r.body.project(attributes.as_deref(), excluded.as_deref())?;
            Ok(resource_response(StatusCode::CREATED, r))
        }
        Err(e) => {
            crate::service::users::record_rejection(&state.service, &who, "Group", None, &e).await;
            Err(e)
        }
    }
}

/// GET /Groups/{id}.
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let (attributes, excluded) = projection(&req)?;
    let with_members = svc::wants_members(attributes.as_deref(), excluded.as_deref());
    let mut r = svc::get_group(&state.service, &who, &path.1, with_members).await?;
    r.body.project(attributes.as_deref(), excluded.as_deref())?;
    Ok(resource_response(StatusCode::OK, r))
}

/// PUT /Groups/{id}.
pub async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let (attributes, excluded) = projection(&req)?;
    let id = path.into_inner().1;
    let result = async {
        let body = json_body(&req, payload, state.settings.max_body_bytes).await?;
        svc::replace_group(&state.service, &who, &id, body, if_match(&req)).await
    }
    .await;
    match result {
        Ok(mut r) => {
            r.body.project(attributes.as_deref(), excluded.as_deref())?;
            Ok(resource_response(StatusCode::OK, r))
        }
        Err(e) => {
            crate::service::users::record_rejection(&state.service, &who, "Group", Some(id), &e)
                .await;
            Err(e)
        }
    }
}

/// PATCH /Groups/{id}: 204, or 200 with the group when `attributes`/`excludedAttributes` ask for it.
pub async fn patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let (attributes, excluded) = projection(&req)?;
    let id = path.into_inner().1;
    let result = async {
        let body = json_body(&req, payload, state.settings.max_body_bytes).await?;
        // 204 (RFC 7644 §3.5.2) unless `attributes` or `excludedAttributes` ask for the group:
        // a membership change on a 100,000-member group must not send the member list back.
        let answer = if attributes.is_some() || excluded.is_some() {
            svc::PatchAnswer::Group {
                with_members: svc::wants_members(attributes.as_deref(), excluded.as_deref()),
            }
        } else {
            svc::PatchAnswer::Version
        };
        let patched =
            svc::patch_group(&state.service, &who, &id, body, if_match(&req), answer).await?;
        Ok::<_, ScimError>((patched, attributes, excluded))
    }
    .await;
    match result {
        Ok((patched, attributes, excluded)) => match patched.group {
            Some(mut r) => {
                r.body.project(attributes.as_deref(), excluded.as_deref())?;
                Ok(resource_response(StatusCode::OK, r))
            }
            None => Ok(HttpResponse::NoContent()
                .insert_header((
                    actix_web::http::header::ETAG,
                    crate::scim::render::etag(patched.version),
                ))
                .finish()),
        },
        Err(e) => {
            crate::service::users::record_rejection(&state.service, &who, "Group", Some(id), &e)
                .await;
            Err(e)
        }
    }
}

/// DELETE /Groups/{id}: 204, then 404.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    svc::delete_group(&state.service, &who, &path.1, if_match(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}
