//! Webhooks: the host app's endpoints, the messages every change queues for them, and the
//! sender that delivers them, signed as the Standard Webhooks specification says.
//!
//! Delivery is at least once. A change and its deliveries are written in one transaction
//! (store/webhooks.rs); every instance runs a sender ([`start_sender`]) that leases due
//! deliveries, posts them, and records each attempt. A failed delivery is retried after
//! [`RETRY_STEPS`] times the first retry's delay (5 s, 30 s, 2 min, … 10 h: about 26 hours
//! in all), then marked failed; an endpoint none of whose deliveries has succeeded for that
//! long is disabled, with the reason. Receivers tell repeats apart by `webhook-id`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

use base64::Engine;
use serde_json::{json, Value};

use super::webhook_target::{self as target, NotPublic, PublicResolver};
use super::{Caller, Service};
use crate::scim::error::{ScimError, StatusCode};
use crate::store::now_millis;
use crate::store::tenants::Tenant;
use crate::store::webhooks::{
    self as store, AttemptRow, DeliveryDetail, DeliveryRow, EndpointRow, OutboxMessage, Sent,
};

/// The retry delays, in multiples of the first (5 s by default): 5 s, 30 s, 2 min, 10 min,
/// 30 min, 1 h, 2 h, 4 h, 8 h, 10 h. With the first try, eleven attempts over about 26 h.
pub const RETRY_STEPS: [i64; 10] = [1, 6, 24, 120, 360, 720, 1440, 2880, 5760, 7200];
/// The first retry's delay unless `--webhook-first-retry-ms` says otherwise.
pub const DEFAULT_FIRST_RETRY_MS: u64 = 5_000;
/// Runs one instance sends at once, in all. A run waits for its receiver at most
/// [`SEND_TIMEOUT`] a delivery, so slow receivers hold these only for a bounded time, and
/// each tenant only its share ([`PER_TENANT`]).
const MAX_IN_FLIGHT: usize = 512;
/// Runs one instance sends to one endpoint at once.
const PER_ENDPOINT: usize = 4;
/// Runs one instance sends to one tenant's endpoints at once (the operator-wide endpoints
/// count as one more tenant).
const PER_TENANT: usize = 8;
/// Most endpoints a tenant may have.
pub const MAX_ENDPOINTS_PER_TENANT: i64 = 10;
/// Most operator-wide endpoints.
pub const MAX_OPERATOR_ENDPOINTS: i64 = 20;
/// How long a leased delivery is this instance's; past it (the instance died) it is due
/// again. Longer than a run may take.
const LEASE_MS: i64 = 60_000;
/// A receiver's time for the whole exchange up to its status line: resolving, connecting,
/// TLS, sending the message, and its answer's head.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting (with name resolution) and the TLS handshake, each.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// After the status, how long the answer's body is read (only so that the connection can
/// be kept); a receiver that trickles it loses the connection, not the delivery.
const BODY_TIME: Duration = Duration::from_secs(1);
/// Past this, a run sends no further delivery (the rest wait for the next claim): with one
/// more send's [`SEND_TIMEOUT`] and [`BODY_TIME`], well within the lease.
const RUN_TIME: Duration = Duration::from_secs(20);
/// How often an idle sender looks for due deliveries (other instances' changes, retries).
const POLL: Duration = Duration::from_millis(200);
/// Shortest time between two looks that found nothing due.
const MIN_LOOK_GAP: Duration = Duration::from_millis(20);
/// How often an instance forgets old finished deliveries.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// Finished deliveries are kept this long, for the API and the page.
pub const KEEP_FINISHED_MILLIS: i64 = 7 * 24 * 3600 * 1000;

/// The event type a logged change is delivered as, if it is one that is delivered.
fn event_type(resource_type: &str, action: &str) -> Option<&'static str> {
    Some(match (resource_type, action) {
        ("User", "created") => "user.created",
        ("User", "updated") => "user.updated",
        ("User", "deactivated") => "user.deactivated",
        ("User", "reactivated") => "user.reactivated",
        ("User", "deleted") => "user.deleted",
        ("Group", "created") => "group.created",
        ("Group", "updated") => "group.updated",
        ("Group", "deleted") => "group.deleted",
        ("Group", "member_added") => "group.member_added",
        ("Group", "member_removed") => "group.member_removed",
        _ => return None,
    })
}

fn message(
    caller: &Caller,
    event_type: &'static str,
    resource_type: &str,
    id: &str,
    data: &str,
) -> OutboxMessage {
    let at = now_millis();
    let timestamp = crate::scim::render::timestamp(at);
    OutboxMessage {
        tenant_id: caller.tenant.id.clone(),
        message_id: format!("msg_{}", uuid::Uuid::now_v7().simple()),
        event_type,
        resource_key: format!("{resource_type}/{id}"),
        payload: format!(r#"{{"type":"{event_type}","timestamp":"{timestamp}","data":{data}}}"#),
        at,
    }
}

fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// The message of a change to a user or group: the resource as it is after the change, as
/// JSON text (`None` for a deletion). Nothing for an action that is not delivered.
pub fn change_message(
    caller: &Caller,
    resource_type: &str,
    action: &str,
    id: &str,
    resource: Option<&str>,
) -> Vec<OutboxMessage> {
    let Some(kind) = event_type(resource_type, action) else {
        return Vec::new();
    };
    // The resource's text goes in as it is: it was rendered for the answer already.
    let data = format!(
        r#"{{"tenant":{},"resourceType":{},"id":{},"resource":{}}}"#,
        quoted(&caller.tenant.slug),
        quoted(resource_type),
        quoted(id),
        resource.unwrap_or("null")
    );
    vec![message(caller, kind, resource_type, id, &data)]
}

/// The messages of members added to and removed from a group (`{"value", "type"}` each).
pub fn membership_messages(
    caller: &Caller,
    group_id: &str,
    added: Vec<Value>,
    removed: Vec<Value>,
) -> Vec<OutboxMessage> {
    let mut out = Vec::new();
    for (action, members) in [("member_added", added), ("member_removed", removed)] {
        if members.is_empty() {
            continue;
        }
        if let Some(kind) = event_type("Group", action) {
            let data = json!({
                "tenant": caller.tenant.slug,
                "resourceType": "Group",
                "id": group_id,
                "members": members,
            });
            out.push(message(caller, kind, "Group", group_id, &data.to_string()));
        }
    }
    out
}

/// The `webhook-signature` of a message: `v1,` and the base64 HMAC-SHA256, keyed with the
/// secret's bytes, of `{id}.{timestamp}.{body}`.
pub fn signature(secret: &str, message_id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key_bytes = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX)?)
        .ok()?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key_bytes);
    let signed = format!("{message_id}.{timestamp}.{body}");
    let tag = ring::hmac::sign(&key, signed.as_bytes());
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    ))
}

/// How a signing secret begins (the Standard Webhooks convention).
pub const SECRET_PREFIX: &str = "whsec_";

fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The URL an endpoint is created with: absolute http or https, with a host that is public
/// (unless `allow_private`), and no credentials in it.
fn check_url(url: &str, allow_private: bool) -> Result<(), ScimError> {
    let bad = || {
        ScimError::invalid_value(format!(
            "url must be an absolute http:// or https:// URL with a host, e.g. https://app.example.com/hooks/scim; got {url:?}"
        ))
    };
    let uri: awc::http::Uri = url.parse().map_err(|_| bad())?;
    let (Some("http" | "https"), Some(host), Some(authority)) =
        (uri.scheme_str(), uri.host(), uri.authority())
    else {
        return Err(bad());
    };
    if host.is_empty() || url.len() > 2048 {
        return Err(bad());
    }
    if authority.as_str().contains('@') {
        return Err(ScimError::invalid_value(
            "url must not carry a user name or password (user:pass@): scimd never sends credentials \
             in a URL; a receiver checks each message's webhook-signature instead",
        ));
    }
    target::check_host(host, allow_private)
        .map(|_| ())
        .map_err(|e| ScimError::invalid_value(e.0))
}

/// Add an endpoint for a tenant's changes (`None`: every tenant's). `operator` says the
/// caller is an operator, who may reach private addresses when the server allows it
/// (`allow_private`). The answer holds the signing secret.
pub async fn create_endpoint(
    svc: &Service,
    tenant: Option<&Tenant>,
    url: &str,
    label: &str,
    operator: bool,
    allow_private: bool,
) -> Result<EndpointRow, ScimError> {
    let private_ok = operator && allow_private;
    if let Err(e) = check_url(url, private_ok) {
        let hint = match (operator, allow_private) {
            (true, false) => "; an operator whose receivers are on a private network starts scimd with --webhook-allow-private (SCIMD_WEBHOOK_ALLOW_PRIVATE=true)",
            (false, true) => "; only an operator key may register a receiver on a private network",
            _ => "",
        };
        let public = url
            .parse::<awc::http::Uri>()
            .ok()
            .and_then(|u| u.host().map(|h| target::check_host(h, false).is_ok()))
            .unwrap_or(true);
        return Err(if public {
            e
        } else {
            ScimError::invalid_value(format!("{}{hint}", e.detail))
        });
    }
    if label.chars().count() > 200 {
        return Err(ScimError::invalid_value("label is at most 200 characters"));
    }
    let row = EndpointRow {
        id: format!("ep_{}", uuid::Uuid::now_v7().simple()),
        tenant_id: tenant.map(|t| t.id.clone()),
        url: url.to_string(),
        label: label.to_string(),
        secret: new_secret(),
        created_at: now_millis(),
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        private_ok,
    };
    let stored = row.clone();
    let max = match tenant {
        Some(_) => MAX_ENDPOINTS_PER_TENANT,
        None => MAX_OPERATOR_ENDPOINTS,
    };
    let added = svc
        .store
        .write(move |conn| store::insert_endpoint_within(conn, &stored, max))
        .await?;
    if !added {
        let whose = match tenant {
            Some(t) => format!("tenant {:?} has", t.slug),
            None => "there are".to_string(),
        };
        let what = if tenant.is_some() {
            "a tenant"
        } else {
            "operator-wide"
        };
        return Err(ScimError::status(
            StatusCode::CONFLICT,
            format!(
                "{whose} {max} webhook endpoints, the most {what} may have; remove one (DELETE /api/v1/webhooks/{{id}}) before adding another"
            ),
        ));
    }
    Ok(row)
}

/// Every endpoint.
pub async fn list_endpoints(svc: &Service) -> Result<Vec<EndpointRow>, ScimError> {
    Ok(svc.store.read(store::list_endpoints).await?)
}

/// The endpoint with this id.
pub async fn find_endpoint(svc: &Service, id: &str) -> Result<Option<EndpointRow>, ScimError> {
    let id = id.to_string();
    Ok(svc
        .store
        .read(move |conn| store::find_endpoint(conn, &id))
        .await?)
}

/// Remove an endpoint and what it was sent.
pub async fn delete_endpoint(svc: &Service, id: &str) -> Result<bool, ScimError> {
    let id = id.to_string();
    Ok(svc
        .store
        .write(move |conn| store::delete_endpoint(conn, &id))
        .await?)
}

/// Send to a disabled endpoint again; what waited is due at once.
pub async fn enable_endpoint(svc: &Service, id: &str) -> Result<bool, ScimError> {
    let id = id.to_string();
    let enabled = svc
        .store
        .write(move |conn| store::enable_endpoint(conn, &id, now_millis()))
        .await?;
    svc.changed();
    Ok(enabled)
}

/// An endpoint's deliveries, newest first.
pub async fn list_deliveries(
    svc: &Service,
    endpoint_id: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, ScimError> {
    let id = endpoint_id.to_string();
    Ok(svc
        .store
        .read(move |conn| store::list_deliveries(conn, &id, before, limit))
        .await?)
}

/// A delivery with its attempts and body.
pub async fn find_delivery(
    svc: &Service,
    endpoint_id: &str,
    id: i64,
) -> Result<Option<DeliveryDetail>, ScimError> {
    let endpoint_id = endpoint_id.to_string();
    Ok(svc
        .store
        .read(move |conn| store::find_delivery(conn, &endpoint_id, id))
        .await?)
}

/// Send a delivery's message again (same id and body), now; the delivery that will send it
/// (while one is still to be sent, that one: replays do not pile up).
pub async fn replay_delivery(
    svc: &Service,
    endpoint_id: &str,
    id: i64,
) -> Result<Option<i64>, ScimError> {
    let endpoint_id = endpoint_id.to_string();
    let replayed = svc
        .store
        .write(move |conn| store::replay_delivery(conn, &endpoint_id, id, now_millis()))
        .await?;
    svc.changed();
    Ok(replayed)
}

/// When to try a delivery again after its `attempts`-th failure; `None`: give up.
fn retry_at(now: i64, attempts: i32, first_retry_ms: i64) -> Option<i64> {
    let step = usize::try_from(attempts).ok()?.checked_sub(1)?;
    let delay = RETRY_STEPS.get(step)?.saturating_mul(first_retry_ms);
    // Up to a tenth later, so that a receiver back from an outage is not hit all at once.
    let jitter = rand::random::<u64>() % (delay as u64 / 10 + 1);
    Some(now + delay + jitter as i64)
}

/// How long an endpoint may fail before it is disabled: the whole retry schedule.
fn disable_after(first_retry_ms: i64) -> i64 {
    RETRY_STEPS.iter().sum::<i64>() * first_retry_ms
}

/// Start this instance's sender on the current actix system. It stops with the system.
/// `allow_private`: endpoints an operator made may reach private addresses.
pub fn start_sender(svc: Service, first_retry_ms: u64, allow_private: bool) {
    let first_retry_ms = i64::try_from(first_retry_ms.max(1)).unwrap_or(i64::MAX / 10_000);
    actix_web::rt::spawn(async move {
        let sender = Sender {
            public: client(false),
            private: client(allow_private),
            allow_private,
            svc,
            first_retry_ms,
            in_flight: Rc::new(RefCell::new(InFlight::default())),
            finished: Rc::new(RefCell::new(Vec::new())),
        };
        sender.run().await;
    });
}

/// The sender's HTTP client: every name resolved through [`PublicResolver`], no redirects,
/// each step of the exchange bounded.
fn client(allow_private: bool) -> awc::Client {
    let tcp =
        actix_tls::connect::Connector::new(actix_tls::connect::Resolver::custom(PublicResolver {
            allow_private,
        }))
        .service();
    let connector = awc::Connector::new()
        .connector(tcp)
        .timeout(CONNECT_TIMEOUT)
        .handshake_timeout(CONNECT_TIMEOUT);
    awc::Client::builder()
        .connector(connector)
        .timeout(SEND_TIMEOUT)
        .disable_redirects()
        .add_default_header(("User-Agent", concat!("scimd/", env!("CARGO_PKG_VERSION"))))
        .finish()
}

/// What this instance is sending: runs in all, per endpoint and per tenant (`""`: the
/// operator-wide endpoints).
#[derive(Default)]
struct InFlight {
    total: usize,
    endpoints: HashMap<String, usize>,
    tenants: HashMap<String, usize>,
}

impl InFlight {
    fn add(&mut self, endpoint: &str, tenant: &str, n: isize) {
        let step = |v: &mut usize| *v = v.saturating_add_signed(n);
        step(&mut self.total);
        step(self.endpoints.entry(endpoint.to_string()).or_default());
        step(self.tenants.entry(tenant.to_string()).or_default());
        self.endpoints.retain(|_, v| *v > 0);
        self.tenants.retain(|_, v| *v > 0);
    }

    /// How many runs each due endpoint may be given now, longest waiting first: each within
    /// its own share and its tenant's, all within the instance's.
    fn shares(&self, due: &[store::DueEndpoint]) -> Vec<(String, usize)> {
        let mut total = self.total;
        let mut tenants: HashMap<&str, usize> = HashMap::new();
        let mut out = Vec::new();
        for ep in due {
            let tenant = ep.tenant_id.as_deref().unwrap_or("");
            let tenant_busy = tenants
                .entry(tenant)
                .or_insert_with(|| self.tenants.get(tenant).copied().unwrap_or(0));
            let endpoint_busy = self.endpoints.get(&ep.id).copied().unwrap_or(0);
            let n = PER_ENDPOINT
                .saturating_sub(endpoint_busy)
                .min(PER_TENANT.saturating_sub(*tenant_busy))
                .min(MAX_IN_FLIGHT.saturating_sub(total));
            if n > 0 {
                *tenant_busy += n;
                total += n;
                out.push((ep.id.clone(), n));
            }
        }
        out
    }
}

/// A leased run with what it is sent with.
struct Run {
    deliveries: Vec<(DeliveryRow, Bytes)>,
    endpoint: EndpointRow,
}

struct Sender {
    /// For endpoints that must reach public addresses (all but an operator's, when allowed).
    public: awc::Client,
    private: awc::Client,
    allow_private: bool,
    svc: Service,
    first_retry_ms: i64,
    in_flight: Rc<RefCell<InFlight>>,
    /// Runs sent whose outcomes are not yet recorded.
    finished: Rc<RefCell<Vec<Sent>>>,
}

impl Sender {
    async fn run(self) {
        let wake = Arc::clone(&self.svc.webhook_wake);
        let mut purged = Instant::now();
        loop {
            if purged.elapsed() >= PURGE_EVERY {
                purged = Instant::now();
                let before = now_millis() - KEEP_FINISHED_MILLIS;
                if let Err(e) = self
                    .svc
                    .store
                    .write(move |conn| store::purge_finished(conn, before))
                    .await
                {
                    tracing::warn!(error = %e, "cannot purge finished webhook deliveries");
                }
            }
            let finished: Vec<Sent> = self.finished.borrow_mut().drain(..).collect();
            if !finished.is_empty() {
                self.record(finished).await;
            }
            let mut found_none = true;
            match self.claim().await {
                Ok(claimed) => {
                    found_none = claimed.is_empty();
                    self.send_all(claimed);
                }
                Err(e) => {
                    tracing::warn!(error = %e.detail, "cannot read due webhook deliveries")
                }
            }
            if !found_none {
                // More may be due (an endpoint's share was all it got this time).
                continue;
            }
            if self.in_flight.borrow().total == 0 {
                // Every change wakes the sender; with nothing due (no endpoints), at most
                // one look per MIN_LOOK_GAP, not one per write.
                actix_web::rt::time::sleep(MIN_LOOK_GAP).await;
            }
            let _ = actix_web::rt::time::timeout(POLL, wake.notified()).await;
        }
    }

    /// Lease runs of due deliveries, endpoint by endpoint within their shares (see
    /// [`store::claim_due`]), with their endpoints and bodies.
    async fn claim(&self) -> Result<Vec<Run>, ScimError> {
        let now = now_millis();
        // A read first: an idle sender (no endpoints, nothing due) costs no write.
        let due = self
            .svc
            .store
            .read(move |conn| store::due_endpoints(conn, now))
            .await?;
        let wants = self.in_flight.borrow().shares(&due);
        if wants.is_empty() {
            return Ok(Vec::new());
        }
        let (claimed, endpoints, payloads) = self
            .svc
            .store
            .write(move |conn| {
                let claimed = store::claim_due(conn, now, now + LEASE_MS, &wants)?;
                let mut ids: Vec<String> = claimed
                    .iter()
                    .filter_map(|run| run.first().map(|d| d.endpoint_id.clone()))
                    .collect();
                ids.sort();
                ids.dedup();
                let endpoints = store::endpoints_by_ids(conn, &ids)?;
                let mut messages: Vec<&str> = claimed
                    .iter()
                    .flatten()
                    .map(|d| d.message_id.as_str())
                    .collect();
                messages.sort_unstable();
                messages.dedup();
                let payloads = store::message_payloads(conn, &messages)?;
                Ok::<_, crate::store::StoreError>((claimed, endpoints, payloads))
            })
            .await?;
        // One copy of a body, however many endpoints it goes to.
        let bodies: HashMap<String, Bytes> = payloads
            .into_iter()
            .map(|(id, p)| (id, Bytes::from(p)))
            .collect();
        Ok(claimed
            .into_iter()
            .filter_map(|run| {
                let id = &run.first()?.endpoint_id;
                let endpoint = endpoints.iter().find(|e| &e.id == id)?.clone();
                let deliveries = run
                    .into_iter()
                    .map(|d| {
                        let body = bodies.get(&d.message_id).cloned().unwrap_or_default();
                        (d, body)
                    })
                    .collect();
                Some(Run {
                    deliveries,
                    endpoint,
                })
            })
            .collect())
    }

    /// Send each run in a task of its own, its deliveries one after the other; a failure
    /// ends the run (the rest wait for the failed one's retry). A run's outcomes are
    /// recorded together when it ends, so that no claim takes up a delivery behind one
    /// this run still sends.
    fn send_all(&self, claimed: Vec<Run>) {
        for run in claimed {
            let tenant = run.endpoint.tenant_id.clone().unwrap_or_default();
            self.in_flight
                .borrow_mut()
                .add(&run.endpoint.id, &tenant, 1);
            let client = if run.endpoint.private_ok && self.allow_private {
                self.private.clone()
            } else {
                self.public.clone()
            };
            let (in_flight, finished) = (Rc::clone(&self.in_flight), Rc::clone(&self.finished));
            let wake = Arc::clone(&self.svc.webhook_wake);
            let first_retry_ms = self.first_retry_ms;
            let allow_private = self.allow_private && run.endpoint.private_ok;
            actix_web::rt::spawn(async move {
                let started = Instant::now();
                let mut outcomes = Vec::new();
                for (delivery, body) in &run.deliveries {
                    let sent = send(
                        &client,
                        delivery,
                        body,
                        &run.endpoint,
                        first_retry_ms,
                        allow_private,
                    )
                    .await;
                    let delivered = sent.delivered;
                    outcomes.push(sent);
                    // A slow receiver: stop well within the lease, so that no other
                    // instance takes up the rest of the run while this one still sends it.
                    if !delivered || started.elapsed() >= RUN_TIME {
                        break;
                    }
                }
                finished.borrow_mut().extend(outcomes);
                in_flight.borrow_mut().add(&run.endpoint.id, &tenant, -1);
                wake.notify_one();
            });
        }
    }

    /// Record outcomes in one write; disable the endpoints that failed for too long.
    async fn record(&self, sent: Vec<Sent>) {
        let limit = disable_after(self.first_retry_ms);
        let outcome = self
            .svc
            .store
            .write(move |conn| {
                let now = now_millis();
                let failing = store::record_sent(conn, &sent, now)?;
                let mut disabled = Vec::new();
                for (endpoint_id, since) in failing {
                    if now - since >= limit {
                        let last = sent
                            .iter()
                            .rev()
                            .find(|s| s.endpoint_id == endpoint_id)
                            .map(|s| describe(&s.attempt))
                            .unwrap_or_default();
                        let reason = format!(
                            "no delivery succeeded since {} (the whole retry schedule); last attempt: {last}",
                            crate::scim::render::timestamp(since)
                        );
                        store::disable_endpoint(conn, &endpoint_id, now, &reason)?;
                        disabled.push((endpoint_id, reason));
                    }
                }
                Ok::<_, crate::store::StoreError>(disabled)
            })
            .await;
        match outcome {
            Ok(disabled) => {
                for (endpoint, reason) in disabled {
                    tracing::warn!(endpoint = %endpoint, reason = %reason, "webhook endpoint disabled");
                }
            }
            // The leases run out and the deliveries are sent again: at least once.
            Err(e) => tracing::warn!(error = %e, "cannot record webhook deliveries"),
        }
    }
}

/// What an attempt came to, in words.
fn describe(a: &AttemptRow) -> String {
    match (a.status, &a.error) {
        (Some(s), _) => format!("HTTP {s}"),
        (None, Some(e)) => e.clone(),
        (None, None) => "no answer".into(),
    }
}

/// A failed exchange in the words a receiver's owner needs: what step failed, not the
/// operating system's error text (which would make the deliveries API a port scanner).
fn send_error_text(e: &awc::error::SendRequestError) -> String {
    use awc::error::{ConnectError, SendRequestError};
    match e {
        SendRequestError::Connect(ConnectError::Resolver(inner)) => {
            match inner.downcast_ref::<NotPublic>() {
                Some(refused) => format!("not sent: {refused}"),
                None => "could not resolve the receiver's host name".into(),
            }
        }
        SendRequestError::Connect(ConnectError::NoRecords | ConnectError::Unresolved) => {
            "could not resolve the receiver's host name".into()
        }
        SendRequestError::Connect(ConnectError::Timeout) => format!(
            "could not connect to the receiver within {} s",
            CONNECT_TIMEOUT.as_secs()
        ),
        SendRequestError::Connect(ConnectError::SslIsNotSupported) => {
            "the TLS handshake with the receiver failed".into()
        }
        SendRequestError::Connect(_) => "could not connect to the receiver".into(),
        SendRequestError::Timeout => format!(
            "the receiver did not answer within {} s",
            SEND_TIMEOUT.as_secs()
        ),
        SendRequestError::Response(_) => "the receiver's answer was not valid HTTP".into(),
        _ => "the connection to the receiver failed".into(),
    }
}

/// Post one delivery, signed, and say how it went. The whole exchange is bounded: the
/// answer's head within [`SEND_TIMEOUT`], its body read for at most [`BODY_TIME`].
async fn send(
    client: &awc::Client,
    delivery: &DeliveryRow,
    body: &Bytes,
    endpoint: &EndpointRow,
    first_retry_ms: i64,
    allow_private: bool,
) -> Sent {
    let started = Instant::now();
    let at = now_millis();
    let timestamp = at / 1000;
    let attempt = delivery.attempts + 1;
    let text = std::str::from_utf8(body).unwrap_or_default();
    let host_refused = endpoint
        .url
        .parse::<awc::http::Uri>()
        .ok()
        .and_then(|u| u.host().map(|h| target::check_host(h, allow_private)))
        .and_then(Result::err);
    let (status, error) = match (
        host_refused,
        signature(&endpoint.secret, &delivery.message_id, timestamp, text),
    ) {
        // An address spelled out in the URL is never resolved: checked here, each time.
        (Some(refused), _) => (None, Some(format!("not sent: {refused}"))),
        (None, None) => (
            None,
            Some("the endpoint's signing secret is unreadable".to_string()),
        ),
        (None, Some(sig)) => {
            let request = client
                .post(&endpoint.url)
                .insert_header(("content-type", "application/json"))
                .insert_header(("webhook-id", delivery.message_id.as_str()))
                .insert_header(("webhook-timestamp", timestamp.to_string()))
                .insert_header(("webhook-signature", sig));
            match actix_web::rt::time::timeout(SEND_TIMEOUT, request.send_body(body.clone())).await
            {
                Ok(Ok(mut response)) => {
                    // Read (a little of) the answer so the connection can be kept; the
                    // status alone decides.
                    let _ =
                        actix_web::rt::time::timeout(BODY_TIME, response.body().limit(64 * 1024))
                            .await;
                    (Some(i32::from(response.status().as_u16())), None)
                }
                Ok(Err(e)) => (None, Some(send_error_text(&e))),
                Err(_) => (
                    None,
                    Some(format!(
                        "the receiver did not answer within {} s",
                        SEND_TIMEOUT.as_secs()
                    )),
                ),
            }
        }
    };
    let delivered = status.is_some_and(|s| (200..300).contains(&s));
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let done = now_millis();
    Sent {
        delivery_id: delivery.id,
        endpoint_id: endpoint.id.clone(),
        resource_key: delivery.resource_key.clone(),
        attempt: AttemptRow {
            delivery_id: delivery.id,
            attempt,
            at,
            status,
            latency_ms,
            error: error.map(|e| e.chars().take(500).collect()),
        },
        delivered,
        retry_at: if delivered {
            None
        } else {
            retry_at(done, attempt, first_retry_ms)
        },
    }
}

/// An endpoint as the API shows it (the secret only when it is made).
pub fn endpoint_json(e: &EndpointRow, tenant_slug: Option<&str>, with_secret: bool) -> Value {
    let when = |at: Option<i64>| at.map(crate::scim::render::timestamp);
    let mut v = json!({
        "id": e.id,
        "url": e.url,
        "label": e.label,
        "tenant": tenant_slug,
        "createdAt": crate::scim::render::timestamp(e.created_at),
        "disabled": e.disabled_at.is_some(),
        "disabledAt": when(e.disabled_at),
        "disabledReason": e.disabled_reason,
        "failingSince": when(e.failing_since),
    });
    if with_secret {
        if let Some(obj) = v.as_object_mut() {
            obj.insert("secret".into(), Value::String(e.secret.clone()));
        }
    }
    v
}

/// A delivery as the API shows it.
pub fn delivery_json(
    d: &DeliveryRow,
    attempts: Option<&[AttemptRow]>,
    payload: Option<&str>,
) -> Value {
    let when = |at: Option<i64>| at.map(crate::scim::render::timestamp);
    let mut v = json!({
        "id": d.id,
        "messageId": d.message_id,
        "type": d.event_type,
        "resource": d.resource_key,
        "createdAt": crate::scim::render::timestamp(d.created_at),
        "attempts": d.attempts,
        "state": if d.unfinished() { "pending" } else { d.state.as_str() },
        "waiting": d.state == "queued",
        "nextAttemptAt": (d.state == "pending").then(|| crate::scim::render::timestamp(d.next_attempt_at)),
        "lastStatus": d.last_status,
        "lastError": d.last_error,
        "lastLatencyMs": d.last_latency_ms,
        "deliveredAt": when(d.delivered_at),
    });
    if let (Some(list), Some(obj)) = (attempts, v.as_object_mut()) {
        let list: Vec<Value> = list
            .iter()
            .map(|a| {
                json!({
                    "attempt": a.attempt,
                    "at": crate::scim::render::timestamp(a.at),
                    "status": a.status,
                    "latencyMs": a.latency_ms,
                    "error": a.error,
                })
            })
            .collect();
        obj.insert("attemptLog".into(), Value::Array(list));
        if let Some(Ok(payload)) = payload.map(serde_json::from_str::<Value>) {
            obj.insert("payload".into(), payload);
        }
    }
    v
}

/// A 404 for an endpoint the caller may not see or that does not exist.
pub fn no_endpoint(id: &str) -> ScimError {
    ScimError::status(StatusCode::NOT_FOUND, format!("no webhook endpoint {id:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification (its "Signature scheme").
        let sig = signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn retries_span_more_than_a_day_then_stop() {
        let mut at = 0;
        for attempt in 1..=10 {
            at = retry_at(at, attempt, 5_000).unwrap_or(i64::MAX);
        }
        assert!(at >= 24 * 3600 * 1000, "last retry after {at} ms");
        assert_eq!(retry_at(at, 11, 5_000), None);
        assert!(disable_after(5_000) >= 24 * 3600 * 1000);
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(check_url("https://app.example.com/hooks", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check_url("http://127.0.0.1:8080/x", false).is_err());
        assert!(check_url("https://user:pass@app.example.com/x", true).is_err());
        for bad in [
            "ftp://x/y",
            "/relative",
            "https://",
            "not a url",
            "javascript:alert(1)",
        ] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
    }
}
