//! Builds the actix application: shared state, routes and middleware, bound to any port.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::http;
use crate::service::Service;

/// What every request handler shares: the service, and what only HTTP needs (settings,
/// rate limits, metrics). Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub settings: Arc<Settings>,
    pub limits: Arc<crate::http::limits::RateLimits>,
    pub metrics: Arc<crate::http::metrics::Metrics>,
}

impl AppState {
    /// Open the service (database, keys, schemas) and the HTTP layer's shared state.
    pub fn open(settings: Settings) -> anyhow_like::Result<AppState> {
        let service = Service::open(&settings)?;
        Ok(AppState {
            service,
            limits: Arc::new(crate::http::limits::RateLimits::new(
                settings.rate_limit_address,
                settings.rate_limit_tenant,
                settings.api_rate_limit,
            )),
            metrics: Arc::new(
                crate::http::metrics::Metrics::new().map_err(|e| format!("metrics: {e}"))?,
            ),
            settings: Arc::new(settings),
        })
    }
}

/// Plain string errors for start-up, where the message is all the operator needs.
pub mod anyhow_like {
    /// A start-up result.
    pub type Result<T> = std::result::Result<T, String>;
}

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
    crate::service::webhooks::start_sender(
        state.service.clone(),
        state.settings.webhook_first_retry_ms,
        state.settings.webhook_allow_private,
    );
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
