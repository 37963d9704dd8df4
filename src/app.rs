//! Builds the actix application: routes and middleware over the shared state
//! ([`crate::http::state::AppState`]), bound to any port, with TLS when configured.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::http;
pub use crate::http::state::AppState;

/// Register every route on a service config (shared by the server and tests).
pub fn configure(cfg: &mut web::ServiceConfig) {
    http::routes(cfg);
}

/// Start serving on an already bound listener (port 0 in tests).
pub fn run(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let workers = state
        .settings
        .workers
        .or_else(|| Some(state.service.store.default_workers()));
    state.service.store.start_background();
    let settings_for_tls = Arc::clone(&state.settings);
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(http::metrics::RecordMetrics)
            .wrap(actix_web::middleware::from_fn(http::paths::shape_request))
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff")),
            )
            .wrap(http::logging::request_logger())
            .configure(configure)
    })
    .shutdown_timeout(30);
    server = match tls_config(&settings_for_tls)? {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    };
    // The metrics address: plain HTTP, for a scraper on a private network.
    if let Some(bind) = settings_for_tls.metrics_bind {
        server = server.bind(bind)?;
    }
    if let Some(n) = workers {
        server = server.workers(n.max(1));
    }
    Ok(server.run())
}

/// The rustls configuration when `--tls-cert` and `--tls-key` are given.
fn tls_config(settings: &Settings) -> std::io::Result<Option<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    let (cert, key) = match (&settings.tls_cert, &settings.tls_key) {
        (Some(c), Some(k)) => (c, k),
        (None, None) => return Ok(None),
        _ => return Err(invalid("give both --tls-cert and --tls-key".into())),
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            invalid(format!(
                "cannot read certificates from {}: {e}",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(invalid(format!("no certificate in {}", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        invalid(format!(
            "cannot read the private key from {}: {e}",
            key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(format!("certificate and key do not match: {e}")))?;
    Ok(Some(config))
}
