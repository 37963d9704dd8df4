//! Liveness and readiness probes.

use actix_web::{web, HttpResponse};

use crate::app::AppState;

/// `/healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// How long a storage failure stands before `/readyz` tries a write of its own (an instance
/// taken out of rotation gets no writes that could show the disk has room again).
const RETRY_PROBE_MILLIS: i64 = 10_000;

/// `/readyz`: the database answers, and its last write did not fail for want of storage
/// (a full disk, a read-only database).
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if let Some((since, _)) = state.store.write_health().failing() {
        if crate::store::now_millis() - since > RETRY_PROBE_MILLIS {
            state.store.probe_write().await;
        }
    }
    if let Some((_, reason)) = state.store.write_health().failing() {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!("writes are failing: {reason}"));
    }
    if state.store.ping().await {
        HttpResponse::Ok().content_type("text/plain").body("ready")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unreachable")
    }
}
