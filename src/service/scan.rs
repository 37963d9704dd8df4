//! Filters and sorts evaluated in memory (attributes without an index) are CPU-heavy: they
//! read, render and test every candidate row. They run off the HTTP workers, a few at a time
//! (the rest wait their turn, bounded per tenant), and each within a budget of rows and time,
//! so that one tenant's worst filter cannot slow `/healthz` or another tenant's requests.
//!
//! Costly PATCHes (value filters tested against many values: see
//! [`crate::scim::patch::PATCH_WORK`]) take the same turns ([`ScanGate::run_work`]): they and
//! the scans share the threads and each tenant's share of them.

use crate::scim::error::StatusCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::{self, Filter};
use crate::scim::path::AttrPath;
use crate::scim::resource::{compare_sort_keys, sort_key};
use crate::store::{DbConn, Store};

/// Most scans (and costly PATCHes) of one tenant running or waiting at once; past it the
/// tenant gets 503.
pub const PER_TENANT_SCANS: usize = 2;
/// The work ([`crate::scim::work::Work`] units, about a millisecond) a PATCH may do right on
/// the HTTP worker: Entra's and Okta's spend far less. One that needs more is done again from
/// the start through [`ScanGate::run_work`], within the whole
/// [`crate::scim::patch::PATCH_WORK`]: so a costly PATCH never holds a worker (and `/healthz`
/// and other tenants with it), and at most this much is done twice.
pub const INLINE_WORK: u64 = 10_000;
/// Longest wait for a turn before answering 503.
const MAX_WAIT: Duration = Duration::from_secs(5);
/// How often (in rows) a scan looks at its clock.
const CLOCK_EVERY: usize = 32;

/// Admits in-memory scans and costly PATCHes: `threads` run at once, each tenant holds at
/// most [`PER_TENANT_SCANS`] turns (running or waiting).
pub struct ScanGate {
    running: Arc<Semaphore>,
    per_tenant: Mutex<HashMap<String, usize>>,
    budget: Duration,
    max_rows: usize,
}

/// What one scan may spend; checked by the scan as it goes.
#[derive(Debug, Clone)]
pub struct ScanBudget {
    deadline: Instant,
    budget: Duration,
    /// Most candidate rows the scan may read.
    pub max_rows: usize,
    /// "users" or "groups", for the detail.
    what: &'static str,
    hint: &'static str,
}

impl ScanBudget {
    /// The 400 `tooMany` of a scan whose candidates exceed [`ScanBudget::max_rows`].
    pub fn too_many_rows(&self) -> ScimError {
        ScimError::bad_request(
            ScimType::TooMany,
            format!(
                "the filter or sortBy needs more than {} {} evaluated in memory; narrow it with {}, which the database evaluates",
                self.max_rows, self.what, self.hint
            ),
        )
    }

    /// Called with the number of rows done so far: 400 `tooMany` once the time is spent.
    pub fn check(&self, done: usize) -> Result<(), ScimError> {
        if done.is_multiple_of(CLOCK_EVERY) && Instant::now() > self.deadline {
            return Err(ScimError::bad_request(
                ScimType::TooMany,
                format!(
                    "the filter or sortBy took longer than {} ms to evaluate in memory ({done} {} tested); narrow it with {}, which the database evaluates",
                    self.budget.as_millis(),
                    self.what,
                    self.hint
                ),
            ));
        }
        Ok(())
    }
}

/// What a scan keeps and how it orders and cuts it: the in-memory half of a list request,
/// the same for users and groups.
pub struct InMemoryQuery<'a> {
    pub filter: Option<&'a Filter>,
    /// Whether an attribute compares case-exactly (the resource type's schema says).
    pub case_exact: &'a dyn Fn(&AttrPath) -> bool,
    pub sort_by: Option<&'a AttrPath>,
    pub descending: bool,
    /// 1-based, as in the request (already clamped by [`super::page`]).
    pub start_index: i64,
    pub count: i64,
}

impl ScanBudget {
    /// The candidate rows a scan read: more than [`ScanBudget::max_rows`] is 400 `tooMany`
    /// (scans read one row past the limit to know).
    pub fn check_candidates(&self, read: usize) -> Result<(), ScimError> {
        if read > self.max_rows {
            return Err(self.too_many_rows());
        }
        Ok(())
    }

    /// Test each rendered candidate against the filter, sort what is kept and cut the page:
    /// the total kept and the page's bodies. Rendering is lazy (`candidates` renders as it is
    /// read), so the time budget covers it.
    pub fn filter_sort_page(
        &self,
        candidates: impl IntoIterator<Item = Result<Value, ScimError>>,
        query: &InMemoryQuery<'_>,
    ) -> Result<(i64, Vec<Value>), ScimError> {
        let candidates = candidates.into_iter().map(|c| c.map(|body| ((), body)));
        self.filter_sort_keep(candidates, query, |(), body| body)
    }

    /// [`ScanBudget::filter_sort_page`] keeping of each match only what `keep` makes of it
    /// (and its sort key): a scan of large resources keeps their positions, not their bodies,
    /// and reads the page's rows again once it knows them. `candidates` pairs each rendered
    /// candidate with what `keep` needs of it.
    pub fn filter_sort_keep<T, K>(
        &self,
        candidates: impl IntoIterator<Item = Result<(T, Value), ScimError>>,
        query: &InMemoryQuery<'_>,
        mut keep: impl FnMut(T, Value) -> K,
    ) -> Result<(i64, Vec<K>), ScimError> {
        let sort = query.sort_by.map(|attr| (attr, (query.case_exact)(attr)));
        let mut kept = Vec::new();
        for (i, candidate) in candidates.into_iter().enumerate() {
            self.check(i)?;
            let (t, body) = candidate?;
            if query
                .filter
                .is_none_or(|f| filter::matches(f, &body, query.case_exact))
            {
                let key = sort.and_then(|(attr, exact)| sort_key(&body, attr, exact));
                kept.push((key, keep(t, body)));
            }
        }
        if sort.is_some() {
            self.check(0)?;
            // Stable: equal keys keep the candidates' order (creation).
            kept.sort_by(|(ka, _), (kb, _)| {
                compare_sort_keys(ka.as_ref(), kb.as_ref(), query.descending)
            });
        }
        let total = kept.len() as i64;
        let page = kept
            .into_iter()
            .skip(usize::try_from(query.start_index - 1).unwrap_or(usize::MAX))
            .take(usize::try_from(query.count).unwrap_or(0))
            .map(|(_, k)| k)
            .collect();
        Ok((total, page))
    }
}

/// A tenant's turn, given back on drop.
struct TenantTurn<'a> {
    gate: &'a ScanGate,
    tenant: String,
}

impl Drop for TenantTurn<'_> {
    fn drop(&mut self) {
        let mut map = self
            .gate
            .per_tenant
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.tenant);
            }
        }
    }
}

impl ScanGate {
    /// A gate running `threads` scans at once (at least one), each within `budget` and
    /// `max_rows` candidates.
    pub fn new(threads: usize, budget: Duration, max_rows: usize) -> ScanGate {
        ScanGate {
            running: Arc::new(Semaphore::new(threads.max(1))),
            per_tenant: Mutex::new(HashMap::new()),
            budget,
            max_rows,
        }
    }

    /// Scans running at once by default: half the cores, at least one, so the other half
    /// keeps serving every other request.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get() / 2)
            .max(1)
    }

    /// A tenant's turn, or 503 saying `what` (the tenant's work already in) and `instead`.
    fn take_turn(
        &self,
        tenant_id: &str,
        what: &str,
        instead: &str,
    ) -> Result<TenantTurn<'_>, ScimError> {
        let mut map = self.per_tenant.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(tenant_id.to_string()).or_insert(0);
        if *n >= PER_TENANT_SCANS {
            return Err(ScimError::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                1,
                format!(
                    "this tenant already has {PER_TENANT_SCANS} {what}; retry after 1 s, {instead}"
                ),
            ));
        }
        *n += 1;
        Ok(TenantTurn {
            gate: self,
            tenant: tenant_id.to_string(),
        })
    }

    /// Wait for one of the threads (at most [`MAX_WAIT`]), or 503 saying `instead`.
    async fn take_thread(&self, instead: &str) -> Result<OwnedSemaphorePermit, ScimError> {
        let busy = || {
            ScimError::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                MAX_WAIT.as_secs(),
                format!(
                    "other filters or PATCHes are being evaluated; retry after {} s, {instead}",
                    MAX_WAIT.as_secs()
                ),
            )
        };
        actix_web::rt::time::timeout(MAX_WAIT, Arc::clone(&self.running).acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())
    }

    /// Run a scan of a tenant's `what` on the blocking pool when its turn comes; `hint`
    /// names the indexed attributes that would narrow it.
    pub async fn run<T: Send + 'static>(
        &self,
        store: &Store,
        tenant_id: &str,
        what: &'static str,
        hint: &'static str,
        scan: impl FnOnce(&mut DbConn, &ScanBudget) -> Result<T, ScimError> + Send + 'static,
    ) -> Result<T, ScimError> {
        let instead = format!("or filter on {hint}, which the database evaluates");
        let _turn = self.take_turn(
            tenant_id,
            "filters, sorts or PATCHes being evaluated in memory",
            &instead,
        )?;
        let _permit = self.take_thread(&instead).await?;
        let budget = ScanBudget {
            deadline: Instant::now() + self.budget,
            budget: self.budget,
            max_rows: self.max_rows,
            what,
            hint,
        };
        store.read(move |conn| scan(conn, &budget)).await
    }

    /// Run CPU-bound work of a tenant's request that needs no database (a costly PATCH) on
    /// the blocking pool when its turn comes, under the same share as scans: the work bounds
    /// itself (a work budget), this keeps it off the HTTP workers and to a tenant's share.
    pub async fn run_work<T: Send + 'static>(
        &self,
        tenant_id: &str,
        work: impl FnOnce() -> Result<T, ScimError> + Send + 'static,
    ) -> Result<T, ScimError> {
        let instead = "or send fewer operations or simpler value filters";
        let _turn = self.take_turn(
            tenant_id,
            "costly PATCHes, filters or sorts being evaluated",
            instead,
        )?;
        let _permit = self.take_thread(instead).await?;
        let span = tracing::Span::current();
        actix_web::web::block(move || span.in_scope(work))
            .await
            .map_err(|e| ScimError::from(crate::store::StoreError::Unavailable(e.to_string())))?
    }
}
