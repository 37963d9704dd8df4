//! Builds the actix application: shared state, routes and middleware, bound to any port.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::auth::password::PasswordPool;
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::http;
use crate::scim::schema::Schemas;
use crate::store::Store;

/// What every request handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub keys: Arc<TokenKeys>,
    pub schemas: Arc<Schemas>,
    pub settings: Arc<Settings>,
    /// Where argon2 runs (never on a worker, the blocking pool or the writer).
    pub passwords: Arc<PasswordPool>,
    /// Login waits this instance has read, so throttled floods cost no queries.
    pub known_waits: Arc<crate::auth::throttle::KnownWaits>,
    pub tenants: Arc<crate::service::tenants::TenantCache>,
    pub custom_fields: Arc<crate::service::tenants::CustomFieldCache>,
    pub limits: Arc<crate::http::limits::RateLimits>,
    pub metrics: Arc<crate::http::metrics::Metrics>,
    /// Filters and sorts evaluated in memory: a few at a time, each within its budget.
    pub scans: Arc<crate::service::scan::ScanGate>,
}

impl AppState {
    /// Open the database (migrating it) and load keys and schemas.
    pub fn open(settings: Settings) -> anyhow_like::Result<AppState> {
        let store = Store::open(&settings.database_url(), settings.pool_size)
            .map_err(|e| format!("cannot open database: {e}"))?;
        let keys = TokenKeys::new();
        store
            .write_blocking(|conn| keys.load(conn))
            .map_err(|e| format!("cannot load signing keys: {e}"))?;
        let schemas = Schemas::load().map_err(|e| format!("bad embedded schema: {e}"))?;
        let settings_limits = (settings.rate_limit_address, settings.rate_limit_tenant);
        let settings_scan = (
            settings
                .scan_threads
                .unwrap_or_else(crate::service::scan::ScanGate::default_threads),
            settings.scan_budget_ms,
        );
        Ok(AppState {
            store,
            keys: Arc::new(keys),
            schemas: Arc::new(schemas),
            settings: Arc::new(settings),
            passwords: Arc::new(PasswordPool::new(PasswordPool::default_threads(), 64)),
            known_waits: Arc::default(),
            tenants: Arc::new(crate::service::tenants::TenantCache::default()),
            custom_fields: Arc::new(crate::service::tenants::CustomFieldCache::default()),
            limits: Arc::new(crate::http::limits::RateLimits::new(
                settings_limits.0,
                settings_limits.1,
            )),
            metrics: Arc::new(
                crate::http::metrics::Metrics::new().map_err(|e| format!("metrics: {e}"))?,
            ),
            scans: Arc::new(crate::service::scan::ScanGate::new(
                settings_scan.0,
                std::time::Duration::from_millis(settings_scan.1),
                crate::service::MAX_SCAN,
            )),
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
        .or_else(|| Some(state.store.default_workers()));
    state.store.start_background();
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
