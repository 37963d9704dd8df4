//! What the use cases work with: the store, the schemas, the caches and the limits they
//! apply. The HTTP layer, the CLI and the bench hold one; none of them touches the store.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::password::PasswordPool;
use crate::auth::throttle::KnownWaits;
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::scim::schema::Schemas;
use crate::store::Store;

use super::scan::ScanGate;
use super::tenants::{CustomFieldCache, TenantCache};

/// The service's context. Cheap to clone.
///
/// Transactions: a service function opens the transaction it needs (`store.read`,
/// `store.write`, `store.lookup`) and returns plain values; nothing above the service holds
/// a connection.
#[derive(Clone)]
pub struct Service {
    /// The database.
    pub store: Store,
    /// Bearer-token signing keys and the token records this instance has read.
    pub keys: Arc<TokenKeys>,
    /// The SCIM schemas (core, enterprise, custom extension).
    pub schemas: Arc<Schemas>,
    /// Tenants by slug (a tenant's id and slug never change).
    pub tenants: Arc<TenantCache>,
    /// Tenants' custom fields as last read.
    pub custom_fields: Arc<CustomFieldCache>,
    /// Where argon2 runs (never on a worker, the blocking pool or the writer).
    pub passwords: Arc<PasswordPool>,
    /// Login waits this instance has read, so throttled floods cost no queries.
    pub known_waits: Arc<KnownWaits>,
    /// Filters and sorts evaluated in memory: a few at a time, each within its budget.
    pub scans: Arc<ScanGate>,
    /// Largest page a list returns.
    pub max_results: i64,
    /// Most bytes of rendered resources one page of a list holds (past its first resource).
    pub max_page_bytes: usize,
    /// Tenants' scope settings as last read, and the re-evaluations running here.
    pub scopes: Arc<super::scope::ScopeCache>,
    /// Wakes this instance's webhook sender: a change queued deliveries, or one finished.
    pub webhook_wake: Arc<tokio::sync::Notify>,
    /// This instance's counters of each tenant's SCIM requests (connection health).
    pub connection: Arc<super::connection::ConnectionCounters>,
    /// Users whose effective roles this instance re-evaluates off the request.
    pub role_jobs: Arc<super::roles::RoleJobs>,
}

impl Service {
    /// Tell this instance's webhook sender that a change may have queued deliveries, so it
    /// sends them now rather than at its next poll.
    pub fn changed(&self) {
        self.webhook_wake.notify_one();
    }

    /// Open the database (migrating it), load the signing keys and the schemas.
    pub fn open(settings: &Settings) -> Result<Service, String> {
        let store = Store::open(&settings.database_url(), settings.pool_size)
            .map_err(|e| format!("cannot open database: {e}"))?;
        let keys = TokenKeys::new();
        store
            .write_blocking(|conn| keys.load(conn))
            .map_err(|e| format!("cannot load signing keys: {e}"))?;
        let schemas = Schemas::load().map_err(|e| format!("bad embedded schema: {e}"))?;
        let scan_threads = settings
            .scan_threads
            .unwrap_or_else(ScanGate::default_threads);
        Ok(Service {
            store,
            keys: Arc::new(keys),
            schemas: Arc::new(schemas),
            tenants: Arc::default(),
            custom_fields: Arc::default(),
            passwords: Arc::new(PasswordPool::new(PasswordPool::default_threads(), 64)),
            known_waits: Arc::default(),
            scans: Arc::new(ScanGate::new(
                scan_threads,
                Duration::from_millis(settings.scan_budget_ms),
                super::MAX_SCAN,
            )),
            max_results: settings.max_results,
            max_page_bytes: settings.max_page_bytes,
            webhook_wake: Arc::default(),
            connection: Arc::new(super::connection::ConnectionCounters::new(settings)),
            role_jobs: Arc::default(),
            scopes: Arc::default(),
        })
    }
}

/// How long a storage failure stands before a readiness check tries a write of its own (an
/// instance taken out of rotation gets no writes that could show the disk has room again).
const RETRY_PROBE_MILLIS: i64 = 10_000;

impl Service {
    /// Whether this instance can serve: the database answers, and its last write did not
    /// fail for want of storage (a full disk, a read-only database). The reason otherwise.
    pub async fn readiness(&self) -> Result<(), String> {
        let health = self.store.write_health();
        if let Some((since, _)) = health.failing() {
            if crate::store::now_millis() - since > RETRY_PROBE_MILLIS {
                self.store.probe_write().await;
            }
        }
        if let Some((_, reason)) = health.failing() {
            return Err(format!("writes are failing: {reason}"));
        }
        if self.store.ping().await {
            Ok(())
        } else {
            Err("database unreachable".into())
        }
    }

    /// Database connections (open, idle), for metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        self.store.pool_state()
    }
}
