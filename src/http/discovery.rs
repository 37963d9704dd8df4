//! Discovery endpoints (RFC 7644 §4): served from scim-schemas/, plus the tenant's custom fields.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::Value;

use super::scim_json;
use crate::http::state::AppState;
use crate::scim::error::ScimError;
use crate::scim::render::list_response;
use crate::service::tenants::list_custom_fields;
use crate::service::Caller;

fn with_location(mut v: Value, location: String) -> Value {
    if let Some(obj) = v.as_object_mut() {
        let meta = obj
            .entry("meta")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("location".into(), Value::String(location));
        }
    }
    v
}

/// GET /ServiceProviderConfig.
pub async fn service_provider_config(
    state: web::Data<AppState>,
    who: Caller,
) -> Result<HttpResponse, ScimError> {
    let body = with_location(
        state.service.schemas.service_provider_config().clone(),
        format!("{}/ServiceProviderConfig", who.base_url),
    );
    Ok(scim_json(StatusCode::OK, &body))
}

async fn tenant_schemas(state: &AppState, who: &Caller) -> Result<Vec<Value>, ScimError> {
    let tenant = who.tenant.clone();
    let custom = list_custom_fields(&state.service, &tenant).await?;
    Ok(state
        .service
        .schemas
        .schema_resources(&custom)
        .into_iter()
        .map(|s| {
            let id = s
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            with_location(s, format!("{}/Schemas/{id}", who.base_url))
        })
        .collect())
}

/// GET /Schemas.
pub async fn schemas(state: web::Data<AppState>, who: Caller) -> Result<HttpResponse, ScimError> {
    let all = tenant_schemas(&state, &who).await?;
    Ok(scim_json(
        StatusCode::OK,
        &list_response(all.len() as i64, 1, all),
    ))
}

/// GET /Schemas/{id}.
pub async fn schema(
    state: web::Data<AppState>,
    who: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let all = tenant_schemas(&state, &who).await?;
    let wanted = &path.1;
    all.into_iter()
        .find(|s| s.get("id").and_then(Value::as_str) == Some(wanted.as_str()))
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found(format!("no schema {wanted}")))
}

/// The resource types, with the custom extension listed on User when the tenant has fields.
async fn resource_types_of(state: &AppState, who: &Caller) -> Result<Vec<Value>, ScimError> {
    let tenant = who.tenant.clone();
    let custom = list_custom_fields(&state.service, &tenant).await?;
    Ok(state
        .service
        .schemas
        .resource_types_for(&custom)
        .into_iter()
        .map(|rt| {
            let id = rt
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            with_location(rt, format!("{}/ResourceTypes/{id}", who.base_url))
        })
        .collect())
}

/// GET /ResourceTypes.
pub async fn resource_types(
    state: web::Data<AppState>,
    who: Caller,
) -> Result<HttpResponse, ScimError> {
    let all = resource_types_of(&state, &who).await?;
    Ok(scim_json(
        StatusCode::OK,
        &list_response(all.len() as i64, 1, all),
    ))
}

/// GET /ResourceTypes/{id}.
pub async fn resource_type(
    state: web::Data<AppState>,
    who: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let wanted = &path.1;
    resource_types_of(&state, &who)
        .await?
        .into_iter()
        .find(|s| s.get("id").and_then(Value::as_str) == Some(wanted.as_str()))
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {wanted}")))
}
