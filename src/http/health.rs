//! Liveness and readiness probes.

use actix_web::{web, HttpResponse};

use crate::app::AppState;

/// `/healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// `/readyz`: the database answers.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.store.ping().await {
        HttpResponse::Ok().content_type("text/plain").body("ready")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unreachable")
    }
}
