//! Liveness and readiness probes.

use actix_web::{web, HttpResponse};

use crate::http::state::AppState;

/// `/healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// `/readyz`: the database answers, and its last write did not fail for want of storage
/// (a full disk, a read-only database).
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.service.readiness().await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(reason) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(reason),
    }
}
