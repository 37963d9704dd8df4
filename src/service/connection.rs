//! Each tenant's connection health, as the host app and the pages show it: whether its
//! identity provider's requests arrive and are accepted, the last Test Connection, the
//! refusals of the last 24 hours and the soonest credential expiry — the causes for which
//! Entra quarantines an app (an expired token, many failures) seen before it does.
//!
//! Recording is cheap: the SCIM path only updates this instance's counters in memory
//! ([`ConnectionCounters`]; an accepted request is an atomic maximum), and every instance's
//! monitor ([`start_monitor`]) adds them to the database every [`FLUSH_EVERY_MILLIS`], so
//! that instances on one PostgreSQL add up. Only tenants that exist are counted: refusals of
//! strangers against slugs that name no tenant hold no memory. The monitor also looks for
//! state changes and expiring credentials every [`CHECK_EVERY_MILLIS`] and queues them as
//! webhook events, each once across instances (the database decides which instance tells).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use serde_json::{json, Value};

use crate::auth::tokens::TokenError;
use crate::scim::error::ScimError;
use crate::scim::render::timestamp;
use crate::store::connection_health::{self as store, HealthDelta, HealthRow, LiveToken};
use crate::store::tenants::Tenant;
use crate::store::{now_millis, StoreError};

use super::Service;

/// Entra's incremental provisioning cycle: about every 40 minutes.
pub const ENTRA_CYCLE_MINUTES: i64 = 40;
/// A tenant with a valid credential and no request for this long (two of Entra's cycles) is
/// `silent`: its provisioning was stopped, quarantined, or its app deleted.
pub const SILENCE_AFTER_MILLIS: i64 = 2 * ENTRA_CYCLE_MINUTES * 60 * 1000;
/// Refusals in a row (with no accepted request after them) that make a tenant `failing`;
/// one refusal for an expired or revoked token does, since only the tenant's own client
/// has such a token.
pub const FAILING_AFTER_REFUSALS: i64 = 3;
/// Days before a Secret Token's expiry at which the host app is told
/// (`tenant.credential_expiring`), once each.
pub const EXPIRY_WARNING_DAYS: [i32; 3] = [14, 7, 1];
/// How often an instance adds its counters to the database.
pub const FLUSH_EVERY_MILLIS: u64 = 2_000;
/// How often an instance looks for state changes and expiring credentials.
pub const CHECK_EVERY_MILLIS: u64 = 60_000;

const DAY_MILLIS: i64 = 24 * 3600 * 1000;
const HOUR_MILLIS: i64 = 3600 * 1000;

/// Why a request of a known tenant was refused, as the API names it.
pub fn refusal_code(e: &TokenError) -> &'static str {
    match e {
        TokenError::Missing => "missing_token",
        TokenError::Invalid => "invalid_token",
        TokenError::Expired => "expired_token",
        TokenError::Revoked => "revoked_token",
        TokenError::WrongTenant => "other_tenants_token",
        TokenError::UnknownKey => "unknown_signing_key",
        TokenError::Store(_) => "unavailable",
    }
}

/// What a refusal reason means and what to do, for the pages' banners.
pub fn refusal_advice(code: &str) -> &'static str {
    match code {
        "expired_token" => {
            "its Secret Token expired: issue a new one, paste it in the app's Provisioning blade (Admin Credentials) and press Test Connection"
        }
        "revoked_token" => {
            "its Secret Token was revoked: issue a new one, paste it in the app's Provisioning blade (Admin Credentials) and press Test Connection"
        }
        "other_tenants_token" => {
            "it sends another tenant's token: paste this tenant's own Tenant URL and Secret Token"
        }
        _ => {
            "it sends a token scimd cannot read: copy the Secret Token again, whole, into the app's Provisioning blade and press Test Connection"
        }
    }
}

/// One tenant's counters since the last flush.
#[derive(Default)]
struct Counters {
    /// The last accepted request (0: none since the flush).
    last_request_at: AtomicI64,
    /// The last Test Connection probe (0: none since the flush).
    last_probe_at: AtomicI64,
    /// Whether a refusal came since the last accepted request (so that an accepted request
    /// takes the lock only then).
    refused: AtomicBool,
    refusals: Mutex<Refusals>,
}

#[derive(Default)]
struct Refusals {
    /// By (hour, reason).
    counts: HashMap<(i64, &'static str), i64>,
    last: Option<(i64, &'static str)>,
    after_request: i64,
}

/// This instance's counters of each tenant's requests, until the next flush.
pub struct ConnectionCounters {
    tenants: RwLock<HashMap<String, Counters>>,
    /// See [`crate::config::Settings::connection_silence_ms`].
    pub silence_ms: i64,
    pub check_every: Duration,
    pub flush_every: Duration,
    /// Expiry warnings this instance knows to be told already (credential, days).
    told: Mutex<HashSet<(String, i32)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ConnectionCounters {
    /// Counters with the settings' windows.
    pub fn new(settings: &crate::config::Settings) -> ConnectionCounters {
        ConnectionCounters {
            tenants: RwLock::default(),
            silence_ms: settings.connection_silence_ms.max(1),
            check_every: Duration::from_millis(settings.connection_check_ms.max(10)),
            flush_every: Duration::from_millis(settings.connection_flush_ms.max(10)),
            told: Mutex::default(),
        }
    }

    /// Run `f` on a tenant's counters, under the map's read lock (taken for writing only
    /// the first time a tenant is seen, and by [`ConnectionCounters::take`]).
    fn with<R>(&self, tenant_id: &str, f: impl Fn(&Counters) -> R) -> R {
        if let Some(c) = self
            .tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(tenant_id)
        {
            return f(c);
        }
        let mut all = self
            .tenants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(all.entry(tenant_id.to_string()).or_default())
    }

    /// An accepted SCIM request of an existing tenant (`probe`: Entra's Test Connection).
    pub fn accepted(&self, tenant_id: &str, probe: bool) {
        let now = now_millis();
        self.with(tenant_id, |c| {
            c.last_request_at.fetch_max(now, Ordering::Relaxed);
            if probe {
                c.last_probe_at.fetch_max(now, Ordering::Relaxed);
            }
            if c.refused.load(Ordering::Relaxed) {
                let mut r = lock(&c.refusals);
                r.after_request = 0;
                c.refused.store(false, Ordering::Relaxed);
            }
        });
    }

    /// A refused request of an existing tenant, with its reason.
    pub fn refused(&self, tenant_id: &str, reason: &TokenError) {
        let now = now_millis();
        let code = refusal_code(reason);
        self.with(tenant_id, |c| {
            let mut r = lock(&c.refusals);
            *r.counts.entry((now / HOUR_MILLIS, code)).or_default() += 1;
            r.last = Some((now, code));
            r.after_request += 1;
            c.refused.store(true, Ordering::Relaxed);
        });
    }

    /// What was counted since the last call, per tenant; tenants with nothing new are
    /// forgotten (memory holds only the tenants that are busy, and only tenants that exist:
    /// the SCIM path counts a request once its tenant is found).
    fn take(&self) -> Vec<HealthDelta> {
        let mut all = self
            .tenants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        all.retain(|tenant_id, c| {
            let request = c.last_request_at.swap(0, Ordering::Relaxed);
            let probe = c.last_probe_at.swap(0, Ordering::Relaxed);
            let mut r = lock(&c.refusals);
            let counts = std::mem::take(&mut r.counts);
            let last = r.last.take();
            let after = std::mem::take(&mut r.after_request);
            drop(r);
            if request == 0 && counts.is_empty() {
                return false;
            }
            out.push(HealthDelta {
                tenant_id: tenant_id.clone(),
                last_request_at: (request > 0).then_some(request),
                last_test_connection_at: (probe > 0).then_some(probe),
                last_refusal: last.map(|(at, code)| (at, code.to_string())),
                refusals_after_request: after,
                refusals: counts
                    .into_iter()
                    .map(|((hour, code), n)| (hour, code.to_string(), n))
                    .collect(),
            });
            true
        });
        out
    }
}

/// A tenant's connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Waiting,
    Connected,
    Failing,
    Silent,
    Disabled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Connected => "connected",
            State::Failing => "failing",
            State::Silent => "silent",
            State::Disabled => "disabled",
        }
    }

    /// The webhook event a change to this state is told as, if any.
    fn event(self) -> Option<&'static str> {
        match self {
            State::Connected => Some("tenant.connected"),
            State::Failing => Some("tenant.failing"),
            State::Silent => Some("tenant.silent"),
            State::Waiting | State::Disabled => None,
        }
    }
}

/// The credential that expires first.
#[derive(Debug, Clone)]
pub struct Expiring {
    pub id: String,
    pub label: String,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

/// A tenant's connection, as the API and the pages show it.
#[derive(Debug, Clone)]
pub struct Connection {
    pub state: State,
    /// Why it is `failing` or `silent`, and what to do.
    pub reason: Option<String>,
    pub last_request_at: Option<i64>,
    pub last_test_connection_at: Option<i64>,
    pub refusals_24h: i64,
    pub most_common_reason: Option<String>,
    /// The Secret Token (not revoked) that expires first.
    pub soonest: Option<Expiring>,
    /// The state last told to the host app.
    announced: Option<String>,
    has_row: bool,
}

impl Connection {
    /// Whether the soonest credential expires within the last warning threshold (14 days).
    pub fn expiring_soon(&self, now: i64) -> Option<i64> {
        let s = self.soonest.as_ref()?;
        let left = s.expires_at - now;
        (left <= i64::from(EXPIRY_WARNING_DAYS[0]) * DAY_MILLIS).then_some(left)
    }

    /// The `connection` object of the API and the webhook events.
    pub fn to_json(&self) -> Value {
        json!({
            "state": self.state.as_str(),
            "reason": self.reason,
            "lastRequestAt": self.last_request_at.map(timestamp),
            "lastTestConnectionAt": self.last_test_connection_at.map(timestamp),
            "refusals24h": {
                "count": self.refusals_24h,
                "mostCommonReason": self.most_common_reason,
            },
            "soonestCredentialExpiry": self.soonest.as_ref().map(|s| timestamp(s.expires_at)),
            "soonestCredential": self.soonest.as_ref().map(|s| json!({
                "type": "secretToken",
                "id": s.id,
                "label": s.label,
                "expiresAt": timestamp(s.expires_at),
            })),
        })
    }
}

/// The state of a tenant from its row and whether a credential is valid now.
fn state_of(
    tenant: &Tenant,
    row: Option<&HealthRow>,
    credential_valid: bool,
    now: i64,
    silence_ms: i64,
) -> (State, Option<String>) {
    if tenant.disabled_at.is_some() {
        return (
            State::Disabled,
            Some("the operator disabled this tenant; its requests are refused until it is enabled again".into()),
        );
    }
    let Some(row) = row else {
        return (State::Waiting, None);
    };
    let refused_last = match (row.last_refusal_at, row.last_request_at) {
        (Some(r), Some(a)) => r > a,
        (Some(_), None) => true,
        _ => false,
    };
    let reason = row
        .last_refusal_reason
        .as_deref()
        .unwrap_or("invalid_token");
    let credential_refused = matches!(reason, "expired_token" | "revoked_token");
    if refused_last && (row.refusals_since_request >= FAILING_AFTER_REFUSALS || credential_refused)
    {
        return (
            State::Failing,
            Some(format!(
                "its latest requests were refused ({reason}): {}",
                refusal_advice(reason)
            )),
        );
    }
    let Some(last) = row.last_request_at else {
        return (State::Waiting, None);
    };
    if now - last > silence_ms {
        let minutes = (now - last) / 60_000;
        return if credential_valid {
            (
                State::Silent,
                Some(format!(
                    "no request for {minutes} minutes (Entra sends one every ~{ENTRA_CYCLE_MINUTES}): check that provisioning is on and not in quarantine in the app's Provisioning blade"
                )),
            )
        } else {
            (
                State::Failing,
                Some(format!(
                    "no request for {minutes} minutes and no valid credential: issue a Secret Token, paste it in the app's Provisioning blade and press Test Connection"
                )),
            )
        };
    }
    (State::Connected, None)
}

/// What the connections of some tenants are read from.
struct Facts {
    rows: HashMap<String, HealthRow>,
    refusals: HashMap<String, HashMap<String, i64>>,
    tokens: HashMap<String, Vec<LiveToken>>,
    clients: HashSet<String>,
}

fn read_facts(
    conn: &mut crate::store::DbConn,
    ids: &[String],
    now: i64,
) -> Result<Facts, StoreError> {
    let rows = store::rows(conn, ids)?
        .into_iter()
        .map(|r| (r.tenant_id.clone(), r))
        .collect();
    let mut refusals: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for (tenant, reason, n) in store::refusals_since(conn, ids, now / HOUR_MILLIS - 23)? {
        *refusals
            .entry(tenant)
            .or_default()
            .entry(reason)
            .or_default() += n;
    }
    let mut tokens: HashMap<String, Vec<LiveToken>> = HashMap::new();
    for t in store::live_tokens(conn, ids, now)? {
        tokens.entry(t.tenant_id.clone()).or_default().push(t);
    }
    let clients = store::with_live_clients(conn, ids)?.into_iter().collect();
    Ok(Facts {
        rows,
        refusals,
        tokens,
        clients,
    })
}

fn connection_from(facts: &Facts, tenant: &Tenant, now: i64, silence_ms: i64) -> Connection {
    let row = facts.rows.get(&tenant.id);
    let tokens = facts
        .tokens
        .get(&tenant.id)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let credential_valid = !tokens.is_empty() || facts.clients.contains(&tenant.id);
    let (state, reason) = state_of(tenant, row, credential_valid, now, silence_ms);
    let refusals = facts.refusals.get(&tenant.id);
    // Ties go to the reason named first in order, so that the answer does not flicker.
    let most_common_reason = refusals.and_then(|r| {
        let mut v: Vec<(&String, &i64)> = r.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.first().map(|(k, _)| (*k).clone())
    });
    // OAuth access tokens are renewed by their client at the token endpoint: only Secret
    // Tokens expire without their holder's doing.
    let soonest = tokens
        .iter()
        .filter(|t| t.oauth_client.is_none())
        .min_by_key(|t| t.expires_at)
        .map(|t| Expiring {
            id: t.jti.clone(),
            label: t.label.clone(),
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
        });
    Connection {
        state,
        reason,
        last_request_at: row.and_then(|r| r.last_request_at),
        last_test_connection_at: row.and_then(|r| r.last_test_connection_at),
        refusals_24h: refusals.map_or(0, |r| r.values().sum()),
        most_common_reason,
        soonest,
        announced: row.and_then(|r| r.announced_state.clone()),
        has_row: row.is_some(),
    }
}

/// The connections of these tenants, by tenant id (as last flushed: up to a flush interval
/// behind).
pub async fn connections(
    svc: &Service,
    tenants: &[Tenant],
) -> Result<HashMap<String, Connection>, ScimError> {
    let tenants = tenants.to_vec();
    let silence_ms = svc.connection.silence_ms;
    svc.store
        .read(move |conn| {
            let now = now_millis();
            let ids: Vec<String> = tenants.iter().map(|t| t.id.clone()).collect();
            let facts = read_facts(conn, &ids, now)?;
            Ok::<_, ScimError>(
                tenants
                    .iter()
                    .map(|t| (t.id.clone(), connection_from(&facts, t, now, silence_ms)))
                    .collect(),
            )
        })
        .await
}

/// One tenant's connection.
pub async fn connection(svc: &Service, tenant: &Tenant) -> Result<Connection, ScimError> {
    connections(svc, std::slice::from_ref(tenant))
        .await?
        .remove(&tenant.id)
        .ok_or_else(|| ScimError::internal("no connection read for the tenant"))
}

/// Start this instance's monitor on the current actix system (beside the webhook sender):
/// it flushes the counters, and looks for changes to tell. It stops with the system.
pub fn start_monitor(svc: Service) {
    actix_web::rt::spawn(async move {
        let mut last_check = std::time::Instant::now();
        loop {
            actix_web::rt::time::sleep(svc.connection.flush_every).await;
            let deltas = svc.connection.take();
            if !deltas.is_empty() {
                let flushed = svc
                    .store
                    .write(move |conn| {
                        let ids: Vec<String> = deltas.iter().map(|d| d.tenant_id.clone()).collect();
                        // Tenants deleted meanwhile are left out.
                        let existing: HashSet<String> =
                            crate::store::tenants::existing_ids(conn, &ids)?
                                .into_iter()
                                .collect();
                        let kept: Vec<HealthDelta> = deltas
                            .into_iter()
                            .filter(|d| existing.contains(&d.tenant_id))
                            .collect();
                        store::flush(conn, &kept)
                    })
                    .await;
                if let Err(e) = flushed {
                    tracing::warn!(error = %e, "connection health: counters not saved");
                }
            }
            if last_check.elapsed() >= svc.connection.check_every {
                last_check = std::time::Instant::now();
                if let Err(e) = check(&svc).await {
                    tracing::warn!(error = %e.detail, "connection health: check failed");
                }
            }
        }
    });
}

/// The Secret Token warning threshold (days) a credential with `left` ms to live is past:
/// the smallest of [`EXPIRY_WARNING_DAYS`] at or above its time left.
fn warning_threshold(left: i64) -> Option<i32> {
    EXPIRY_WARNING_DAYS
        .iter()
        .copied()
        .filter(|d| left <= i64::from(*d) * DAY_MILLIS)
        .min()
}

/// Look at every tenant: tell state changes and credentials past a warning threshold.
async fn check(svc: &Service) -> Result<(), ScimError> {
    let tenants = super::tenants::list_tenants(svc).await?;
    if tenants.is_empty() {
        return Ok(());
    }
    let all = connections(svc, &tenants).await?;
    let now = now_millis();
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    let mut live = HashSet::new();
    {
        let told = lock(&svc.connection.told);
        for t in &tenants {
            let Some(c) = all.get(&t.id) else { continue };
            if c.has_row && c.announced.as_deref() != Some(c.state.as_str()) {
                changes.push((t.clone(), c.clone()));
            }
            if c.state == State::Disabled {
                continue;
            }
            if let Some(s) = &c.soonest {
                live.insert(s.id.clone());
                if let Some(days) = warning_threshold(s.expires_at - now) {
                    if !told.contains(&(s.id.clone(), days)) {
                        warnings.push((t.clone(), c.clone(), s.clone(), days));
                    }
                }
            }
        }
    }
    if changes.is_empty() && warnings.is_empty() {
        purge(svc, now).await;
        return Ok(());
    }
    let told_now = svc
        .store
        .write(move |conn| {
            let mut told_now = Vec::new();
            for (t, c) in &changes {
                let won =
                    store::announce(conn, &t.id, c.announced.as_deref(), c.state.as_str(), now)?;
                if let (true, Some(kind)) = (won, c.state.event()) {
                    let data = json!({"tenant": t.slug, "connection": c.to_json()});
                    crate::store::webhooks::enqueue(
                        conn,
                        &crate::webhooks::messages::tenant_message(&t.id, kind, data),
                    )?;
                }
            }
            for (t, c, s, days) in &warnings {
                if store::note_expiry_warning(conn, &t.id, &s.id, *days, now)? {
                    let data = json!({
                        "tenant": t.slug,
                        "daysLeft": days,
                        "credential": {
                            "type": "secretToken",
                            "id": s.id,
                            "label": s.label,
                            "expiresAt": timestamp(s.expires_at),
                            "lastUsedAt": s.last_used_at.map(timestamp),
                        },
                        "connection": c.to_json(),
                    });
                    crate::store::webhooks::enqueue(
                        conn,
                        &crate::webhooks::messages::tenant_message(
                            &t.id,
                            "tenant.credential_expiring",
                            data,
                        ),
                    )?;
                }
                told_now.push((s.id.clone(), *days));
            }
            Ok::<_, ScimError>(told_now)
        })
        .await?;
    {
        let mut told = lock(&svc.connection.told);
        told.extend(told_now);
        told.retain(|(id, _)| live.contains(id));
    }
    svc.changed();
    Ok(())
}

/// Forget refusal counts older than a day and warnings of long-expired credentials.
async fn purge(svc: &Service, now: i64) {
    let purged = svc
        .store
        .write(move |conn| {
            store::purge_refusals(conn, now / HOUR_MILLIS - 24)?;
            store::purge_notices(conn, now)
        })
        .await;
    if let Err(e) = purged {
        tracing::warn!(error = %e, "connection health: purge failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_at_14_7_and_1_days() {
        assert_eq!(warning_threshold(20 * DAY_MILLIS), None);
        assert_eq!(warning_threshold(10 * DAY_MILLIS), Some(14));
        assert_eq!(warning_threshold(5 * DAY_MILLIS), Some(7));
        assert_eq!(warning_threshold(DAY_MILLIS - 1), Some(1));
    }
}
