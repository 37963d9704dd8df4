//! Prometheus metrics: requests by route and status, latency histograms, per-tenant SCIM
//! operation counts, and database pool usage, served at `/metrics`.
//!
//! `/metrics` names tenants, so it answers only on the `--metrics-bind` address, or to a
//! client presenting `SCIMD_METRICS_TOKEN` as a bearer token. Being a loopback peer is not
//! enough: behind a reverse proxy every client is one. Only tenants that exist and
//! authenticated get a `tenant` label, so junk URLs cannot grow the series.

use std::future::{ready, Ready};
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header;
use actix_web::{web, Error, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::http::state::AppState;

/// The metrics of one process.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    operations: IntCounterVec,
    pool: IntGaugeVec,
}

impl Metrics {
    /// Register every metric.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "scimd_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "scimd_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let operations = IntCounterVec::new(
            Opts::new(
                "scimd_scim_operations_total",
                "SCIM operations by tenant, resource, method and outcome",
            ),
            &["tenant", "resource", "method", "outcome"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "scimd_db_pool_connections",
                "Database pool connections by state",
            ),
            &["state"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(operations.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            operations,
            pool,
        })
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64, tenant: Option<&str>) {
        let status_text = status.to_string();
        self.requests
            .with_label_values(&[method, route, &status_text])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
        if let Some(tenant) = tenant {
            let resource = route.split('/').nth(5).unwrap_or("");
            let outcome = match status {
                200..=299 => "ok",
                400..=499 => "rejected",
                _ => "error",
            };
            self.operations
                .with_label_values(&[tenant, resource, method, outcome])
                .inc();
        }
    }
}

/// Middleware recording every request.
pub struct RecordMetrics;

impl<S, B> Transform<S, ServiceRequest> for RecordMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RecordMetricsMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RecordMetricsMiddleware {
            service: Rc::new(service),
        }))
    }
}

/// The per-request half of [`RecordMetrics`].
pub struct RecordMetricsMiddleware<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for RecordMetricsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let started = Instant::now();
            let method = req.method().to_string();
            let state = req.app_data::<web::Data<AppState>>().cloned();
            let result = service.call(req).await;
            if let (Some(state), Ok(resp)) = (state, &result) {
                // Route templates, not paths: ids and slugs would explode the label set.
                let route = resp
                    .request()
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_string());
                let tenant = resp
                    .request()
                    .extensions()
                    .get::<super::auth::AuthenticatedTenant>()
                    .map(|t| t.0.clone());
                state.metrics.observe(
                    &method,
                    &route,
                    resp.status().as_u16(),
                    started.elapsed().as_secs_f64(),
                    tenant.as_deref(),
                );
            }
            result
        })
    }
}

fn allowed(req: &HttpRequest, settings: &crate::config::Settings) -> bool {
    let on_metrics_address = settings.metrics_bind.is_some_and(|metrics| {
        metrics.port() == req.app_config().local_addr().port()
            && (metrics.ip().is_unspecified() || metrics.ip() == req.app_config().local_addr().ip())
    });
    if on_metrics_address {
        return true;
    }
    match settings.metrics_token.as_deref().filter(|t| !t.is_empty()) {
        Some(expected) => req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| crate::service::admins::same_secret(given.trim(), expected)),
        None => false,
    }
}

/// GET /metrics in the Prometheus text format.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !allowed(&req, &state.settings) {
        return HttpResponse::NotFound().finish();
    }
    let (size, idle) = state.service.pool_state();
    state
        .metrics
        .pool
        .with_label_values(&["open"])
        .set(i64::from(size));
    state
        .metrics
        .pool
        .with_label_values(&["idle"])
        .set(i64::from(idle));
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&state.metrics.registry.gather(), &mut out) {
        tracing::error!(error = %e, "cannot encode metrics");
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out)
}
