//! Builds the actix application: shared state, routes and middleware, bound to any port.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::auth::throttle::LoginThrottle;
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
    pub throttle: Arc<LoginThrottle>,
    pub tenants: Arc<crate::service::tenants::TenantCache>,
    pub limits: Arc<crate::http::limits::RateLimits>,
    pub metrics: Arc<crate::http::metrics::Metrics>,
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
        Ok(AppState {
            store,
            keys: Arc::new(keys),
            schemas: Arc::new(schemas),
            settings: Arc::new(settings),
            throttle: Arc::new(LoginThrottle::new()),
            tenants: Arc::new(crate::service::tenants::TenantCache::default()),
            limits: Arc::new(crate::http::limits::RateLimits::new(settings_limits.0, settings_limits.1)),
            metrics: Arc::new(crate::http::metrics::Metrics::new().map_err(|e| format!("metrics: {e}"))?),
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
    let workers = state.settings.workers;
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(http::metrics::RecordMetrics)
            .wrap(http::logging::request_logger())
            .configure(configure)
    })
    .listen(listener)?
    .shutdown_timeout(30);
    if let Some(n) = workers {
        server = server.workers(n.max(1));
    }
    Ok(server.run())
}
