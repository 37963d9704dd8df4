//! Thin actix handlers: parse the request, call a service, render SCIM JSON.

pub mod admin;
pub mod admin_api;
pub mod api;
pub mod api_directory;
pub mod api_oauth;
pub mod api_roles;
pub mod api_scope;
pub mod api_webhooks;
pub mod auth;
pub mod discovery;
pub mod health;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod oauth;
pub mod paths;
pub mod request;
pub mod resources;
pub mod state;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{middleware, web, HttpResponse, HttpResponseBuilder, ResponseError};
use serde_json::Value;

use crate::scim::error::ScimError;
use crate::service::Rendered;
use resources::{Groups, ResourceType, Users};

/// The media type of every SCIM response (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// Every route of scimd.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(metrics::metrics))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            // One resource per path, its methods as routes: actix matches a path pattern
            // (a regex for `{id}`) once per resource, so a route per method matched it
            // again for every method tried before the right one. Other methods answer 405
            // (RFC 7644 §3.12), not 404.
            web::scope("/scim/v2/tenants/{slug}")
                // Authentication comes first, before routing within the tenant: a stranger
                // learns nothing of the request's other faults, nor of which endpoints exist.
                .wrap(middleware::from_fn(auth::authenticate))
                .route("/.search", web::post().to(resources::search_all))
                .configure(resource_routes::<Users>("/Users"))
                .configure(resource_routes::<Groups>("/Groups"))
                .service(
                    web::resource("/ServiceProviderConfig")
                        .route(web::get().to(discovery::service_provider_config))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/Schemas")
                        .route(web::get().to(discovery::schemas))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/Schemas/{id}")
                        .route(web::get().to(discovery::schema))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/ResourceTypes")
                        .route(web::get().to(discovery::resource_types))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/ResourceTypes/{id}")
                        .route(web::get().to(discovery::resource_type))
                        .default_service(web::to(method_not_allowed)),
                )
                .default_service(web::to(not_found)),
        )
        .route(
            "/api/tenants/{slug}/events",
            web::get().to(admin_api::events),
        )
        .configure(api::routes)
        .configure(admin::routes)
        .configure(oauth::routes)
        .default_service(web::to(not_found));
}

/// The routes of one resource type: its collection, `.search` and `/{id}`.
fn resource_routes<R: ResourceType>(base: &'static str) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.service(
            web::resource(base)
                .wrap(middleware::from_fn(resources::record_rejections::<R>))
                .route(web::get().to(resources::list::<R>))
                .route(web::post().to(resources::create::<R>))
                .default_service(web::to(method_not_allowed)),
        )
        .route(
            &format!("{base}/.search"),
            web::post().to(resources::search::<R>),
        )
        .service(
            web::resource(format!("{base}/{{id}}"))
                .wrap(middleware::from_fn(resources::record_rejections::<R>))
                .route(web::get().to(resources::get::<R>))
                .route(web::put().to(resources::replace::<R>))
                .route(web::patch().to(resources::patch::<R>))
                .route(web::delete().to(resources::delete::<R>))
                .default_service(web::to(method_not_allowed)),
        );
    }
}

async fn method_not_allowed(req: actix_web::HttpRequest) -> HttpResponse {
    let route = req.match_pattern().unwrap_or_default();
    // RFC 9110 §15.5.6: a 405 names the methods the resource does support.
    let allow = if route.ends_with("/Users") || route.ends_with("/Groups") {
        "GET, POST"
    } else if route.ends_with("/Users/{id}") || route.ends_with("/Groups/{id}") {
        "GET, PUT, PATCH, DELETE"
    } else {
        "GET"
    };
    let mut response = ScimError::status(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not supported on this endpoint; use {allow}",
            req.method()
        ),
    )
    .error_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

async fn not_found() -> ScimError {
    ScimError::not_found("no such endpoint; SCIM endpoints live under /scim/v2/tenants/{slug}/")
}

/// How an error is answered, whatever the body's format: its status and the headers that
/// status calls for. SCIM answers with the JSON error body, the token page with an HTML page;
/// both start here.
pub fn error_head(e: &ScimError) -> HttpResponseBuilder {
    let mut head = HttpResponse::build(e.status);
    if e.status == StatusCode::UNAUTHORIZED {
        head.insert_header((
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scimd\""),
        ));
    }
    if matches!(
        e.status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        // Entra retries 429 and 5xx with back-off; say when.
        head.insert_header((header::RETRY_AFTER, e.retry_after.unwrap_or(1)));
    }
    head
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        error_head(self)
            .content_type(SCIM_JSON)
            .body(self.to_json().to_string())
    }
}

impl actix_web::Responder for ScimError {
    type Body = actix_web::body::BoxBody;
    fn respond_to(self, _req: &actix_web::HttpRequest) -> HttpResponse {
        self.error_response()
    }
}

/// A SCIM JSON response.
pub fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    scim_text(status, body.to_string())
}

/// A SCIM JSON response from JSON text.
pub fn scim_text(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(SCIM_JSON)
        .body(body)
}

/// A single resource with its `ETag` (and `Location` when created).
pub fn resource_response(status: StatusCode, r: Rendered) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    builder
        .content_type(SCIM_JSON)
        .insert_header((header::ETAG, crate::scim::render::etag(r.version)));
    if status == StatusCode::CREATED {
        builder.insert_header((header::LOCATION, r.location));
    }
    builder.body(r.body.into_text())
}
