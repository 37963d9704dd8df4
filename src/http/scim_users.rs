//! `/Users` handlers.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::caller;
use super::request::{if_match, json_body, list_params, projection, search_params};
use super::{resource_response, scim_text};
use crate::app::AppState;
use crate::scim::error::ScimError;
use crate::service::users as svc;

/// Page size when the client gives no `count`.
pub const DEFAULT_COUNT: i64 = 100;

/// GET /Users: list, filter (Entra's matching queries and Test Connection).
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let params = list_params(&req, DEFAULT_COUNT)?;
    let body = svc::list_users(&state.service, &who, params).await?;
    Ok(scim_text(StatusCode::OK, body.into_text()))
}

/// POST /Users/.search.
pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let body = json_body(&req, payload, state.settings.max_body_bytes).await?;
    let params = search_params(&body, DEFAULT_COUNT)?;
    let body = svc::list_users(&state.service, &who, params).await?;
    Ok(scim_text(StatusCode::OK, body.into_text()))
}

/// POST /Users: provision a user.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let (attributes, excluded) = projection(&req)?;
    let result = async {
        let body = json_body(&req, payload, state.settings.max_body_bytes).await?;
        svc::create_user(&state.service, &who, body).await
    }
    .await;
    match result {
        Ok(mut r) => {
            r.body.project(attributes.as_deref(), excluded.as_deref())?;
            Ok(resource_response(StatusCode::CREATED, r))
        }
        Err(e) => {
            svc::record_rejection(&state.service, &who, "User", None, &e).await;
            Err(e)
        }
    }
}

/// GET /Users/{id}.
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    let (attributes, excluded) = projection(&req)?;
    let mut r = svc::get_user(&state.service, &who, &path.1).await?;
    r.body.project(attributes.as_deref(), excluded.as_deref())?;
    Ok(resource_response(StatusCode::OK, r))
}

/// PUT /Users/{id}.
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
        svc::replace_user(&state.service, &who, &id, body, if_match(&req)).await
    }
    .await;
    match result {
        Ok(mut r) => {
            r.body.project(attributes.as_deref(), excluded.as_deref())?;
            Ok(resource_response(StatusCode::OK, r))
        }
        Err(e) => {
            svc::record_rejection(&state.service, &who, "User", Some(id), &e).await;
            Err(e)
        }
    }
}

/// PATCH /Users/{id}: answers 200 with the resource.
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
        svc::patch_user(&state.service, &who, &id, body, if_match(&req)).await
    }
    .await;
    match result {
        Ok(mut r) => {
            r.body.project(attributes.as_deref(), excluded.as_deref())?;
            Ok(resource_response(StatusCode::OK, r))
        }
        Err(e) => {
            svc::record_rejection(&state.service, &who, "User", Some(id), &e).await;
            Err(e)
        }
    }
}

/// DELETE /Users/{id}: 204, then 404.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let who = caller(&req, &state).await?;
    svc::delete_user(&state.service, &who, &path.1, if_match(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}
