//! Request spans: route template, tenant, request id and status — never the path (a setup
//! link's path is its secret: `/setup/{secret}` is logged as that template), never the query
//! string (filters carry mail addresses) and never the Authorization header.
//!
//! Nor the detail of an error: it quotes the request back to the client (a filter's mail
//! address, a refused value), which is what the client needs and what a log must not keep.
//! So errors are detached from responses before [`TracingLogger`] sees them (it would log
//! their `Debug` form); request lines carry the status and `scimType` instead.

use actix_web::body::MessageBody;
use actix_web::dev::{
    forward_ready, Response, Service, ServiceRequest, ServiceResponse, Transform,
};
use actix_web::{Error, HttpMessage, HttpResponse};
use futures_util::future::LocalBoxFuture;
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder, StreamSpan, TracingLogger};

use crate::scim::error::ScimError;

/// Root span builder for scimd requests.
pub struct ScimRootSpan;

impl RootSpanBuilder for ScimRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        // Nothing to build when request logs are off (RUST_LOG=warn): the route lookup
        // and the id's text are a measurable part of a cheap request.
        if !tracing::enabled!(tracing::Level::INFO) {
            return Span::none();
        }
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            method = %request.method(),
            // Recorded once routed (see on_request_end): matching it here would route twice.
            route = tracing::field::Empty,
            request_id = %request_id,
            tenant = tracing::field::Empty,
            status = tracing::field::Empty,
            scim_type = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(response) => {
                // The route's template, never the request's path: a path may hold a secret
                // (`/setup/{secret}`, a setup link) and an unmatched path anything at all.
                let route = response.request().match_pattern();
                span.record("route", route.as_deref().unwrap_or("unmatched"));
                response.status().as_u16()
            }
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
        span.in_scope(|| tracing::info!(status, "request done"));
    }
}

/// The request-logging middleware: [`TracingLogger`] around [`QuietErrors`].
pub fn request_logger() -> RequestLogger {
    RequestLogger
}

/// See [`request_logger`].
pub struct RequestLogger;

type Logger = TracingLogger<ScimRootSpan>;

impl<S, B> Transform<S, ServiceRequest> for RequestLogger
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<StreamSpan<B>>;
    type Error = Error;
    type Transform = <Logger as Transform<QuietErrors<S>, ServiceRequest>>::Transform;
    type InitError = ();
    type Future = <Logger as Transform<QuietErrors<S>, ServiceRequest>>::Future;

    fn new_transform(&self, service: S) -> Self::Future {
        Logger::new().new_transform(QuietErrors { service })
    }
}

/// Answers errors as the plain responses they render to, recording their `scimType` on the
/// request span; a server error's detail (written by scimd, not from the request) is logged.
pub struct QuietErrors<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for QuietErrors<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<ServiceResponse<B>, Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let call = self.service.call(req);
        Box::pin(async move {
            let (request, response) = call.await?.into_parts();
            if let Some(err) = response.error() {
                match err.as_error::<ScimError>() {
                    Some(e) => {
                        if let Some(t) = e.scim_type {
                            Span::current().record("scim_type", t.as_str());
                        }
                        if e.status.is_server_error() {
                            tracing::error!(detail = %e.detail, "request failed");
                        }
                    }
                    None if response.status().is_server_error() => {
                        tracing::error!(error = %err, "request failed")
                    }
                    None => {}
                }
            }
            Ok(ServiceResponse::new(
                request,
                HttpResponse::from(Response::from(response)),
            ))
        })
    }
}
