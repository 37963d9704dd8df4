//! What every request handler shares: the service, and what only HTTP needs.

use std::sync::Arc;

use crate::config::Settings;
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
    pub fn open(settings: Settings) -> Result<AppState, String> {
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
