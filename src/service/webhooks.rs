//! Webhooks: the host app's endpoints, the messages every change queues for them, and the
//! sender that delivers them, signed as the Standard Webhooks specification says.
//!
//! Delivery is at least once. A change and its deliveries are written in one transaction
//! (store/webhooks.rs); every instance runs a sender ([`start_sender`]) that leases due
//! deliveries, posts them, and records each attempt. A failed delivery is retried after
//! [`RETRY_STEPS`] times the first retry's delay (5 s, 30 s, 2 min, … 10 h: about 26 hours
//! in all), then marked failed; an endpoint none of whose deliveries has succeeded for that
//! long is disabled, with the reason. Receivers tell repeats apart by `webhook-id`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use super::{Caller, Service};
use crate::scim::error::{ScimError, StatusCode};
use crate::store::now_millis;
use crate::store::tenants::Tenant;
use crate::store::webhooks::{
    self as store, AttemptRow, DeliveryRow, EndpointRow, OutboxMessage, Sent,
};

/// The retry delays, in multiples of the first (5 s by default): 5 s, 30 s, 2 min, 10 min,
/// 30 min, 1 h, 2 h, 4 h, 8 h, 10 h. With the first try, eleven attempts over about 26 h.
pub const RETRY_STEPS: [i64; 10] = [1, 6, 24, 120, 360, 720, 1440, 2880, 5760, 7200];
/// The first retry's delay unless `--webhook-first-retry-ms` says otherwise.
pub const DEFAULT_FIRST_RETRY_MS: u64 = 5_000;
/// Deliveries one instance has in flight at most.
const MAX_IN_FLIGHT: usize = 128;
/// How long a leased delivery is this instance's; past it (the instance died) it is due
/// again. Longer than a send may take.
const LEASE_MS: i64 = 60_000;
/// A receiver's time to answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// Past this, a run sends no further delivery (the rest go back): with one more send's
/// [`SEND_TIMEOUT`], well within the lease.
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

/// The URL an endpoint is created with: absolute http or https, with a host.
fn check_url(url: &str) -> Result<(), ScimError> {
    let bad = || {
        ScimError::invalid_value(format!(
            "url must be an absolute http:// or https:// URL with a host, e.g. https://app.example.com/hooks/scim; got {url:?}"
        ))
    };
    let uri: awc::http::Uri = url.parse().map_err(|_| bad())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() && url.len() <= 2048 => Ok(()),
        _ => Err(bad()),
    }
}

/// Add an endpoint for a tenant's changes (`None`: every tenant's). The answer holds the
/// signing secret.
pub async fn create_endpoint(
    svc: &Service,
    tenant: Option<&Tenant>,
    url: &str,
    label: &str,
) -> Result<EndpointRow, ScimError> {
    check_url(url)?;
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
    };
    let stored = row.clone();
    svc.store
        .write(move |conn| store::insert_endpoint(conn, &stored))
        .await?;
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

/// A delivery with its attempts.
pub async fn find_delivery(
    svc: &Service,
    endpoint_id: &str,
    id: i64,
) -> Result<Option<(DeliveryRow, Vec<AttemptRow>)>, ScimError> {
    let endpoint_id = endpoint_id.to_string();
    Ok(svc
        .store
        .read(move |conn| store::find_delivery(conn, &endpoint_id, id))
        .await?)
}

/// Send a delivery's message again (same id and body), now; the new delivery's id.
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
pub fn start_sender(svc: Service, first_retry_ms: u64) {
    let first_retry_ms = i64::try_from(first_retry_ms.max(1)).unwrap_or(i64::MAX / 10_000);
    actix_web::rt::spawn(async move {
        let sender = Sender {
            client: awc::Client::builder()
                .timeout(SEND_TIMEOUT)
                .disable_redirects()
                .add_default_header(("User-Agent", concat!("scimd/", env!("CARGO_PKG_VERSION"))))
                .finish(),
            svc,
            first_retry_ms,
            in_flight: Rc::new(Cell::new(0)),
            finished: Rc::new(RefCell::new(Vec::new())),
            unsent: Rc::new(RefCell::new(Vec::new())),
        };
        sender.run().await;
    });
}

struct Sender {
    client: awc::Client,
    svc: Service,
    first_retry_ms: i64,
    in_flight: Rc<Cell<usize>>,
    /// Sent deliveries whose outcome is not yet recorded.
    finished: Rc<RefCell<Vec<Sent>>>,
    /// Leased deliveries not sent (their run stopped at a failure), to let go.
    unsent: Rc<RefCell<Vec<i64>>>,
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
            let unsent: Vec<i64> = self.unsent.borrow_mut().drain(..).collect();
            if !finished.is_empty() || !unsent.is_empty() {
                self.record(finished, unsent).await;
            }
            let free = MAX_IN_FLIGHT.saturating_sub(self.in_flight.get());
            let mut found_none = false;
            if free > 0 {
                match self.claim(free).await {
                    Ok(claimed) => {
                        let full = claimed.len() == free;
                        found_none = claimed.is_empty();
                        self.send_all(claimed).await;
                        if full {
                            continue;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.detail, "cannot read due webhook deliveries")
                    }
                }
            }
            if found_none && self.in_flight.get() == 0 {
                // Every change wakes the sender; with nothing due (no endpoints), at most
                // one look per MIN_LOOK_GAP, not one per write.
                actix_web::rt::time::sleep(MIN_LOOK_GAP).await;
            }
            let _ = actix_web::rt::time::timeout(POLL, wake.notified()).await;
        }
    }

    /// Lease up to `n` runs of due deliveries (see [`store::claim_due`]), with their endpoints.
    async fn claim(&self, n: usize) -> Result<Vec<(Vec<DeliveryRow>, EndpointRow)>, ScimError> {
        let now = now_millis();
        // A read first: an idle sender (no endpoints, nothing due) costs no write.
        if !self
            .svc
            .store
            .read(move |conn| store::any_due(conn, now))
            .await?
        {
            return Ok(Vec::new());
        }
        let claimed = self
            .svc
            .store
            .write(move |conn| store::claim_due(conn, now, now + LEASE_MS, n))
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<String> = claimed
            .iter()
            .filter_map(|run| run.first().map(|d| d.endpoint_id.clone()))
            .collect();
        ids.sort();
        ids.dedup();
        let endpoints = self
            .svc
            .store
            .read(move |conn| store::endpoints_by_ids(conn, &ids))
            .await?;
        Ok(claimed
            .into_iter()
            .filter_map(|run| {
                let id = &run.first()?.endpoint_id;
                let ep = endpoints.iter().find(|e| &e.id == id)?.clone();
                Some((run, ep))
            })
            .collect())
    }

    /// Send each run in a task of its own, its deliveries one after the other; a failure
    /// ends the run (the rest wait for the failed one's retry).
    async fn send_all(&self, claimed: Vec<(Vec<DeliveryRow>, EndpointRow)>) {
        for (run, endpoint) in claimed {
            self.in_flight.set(self.in_flight.get() + 1);
            let (client, in_flight, finished, unsent) = (
                self.client.clone(),
                Rc::clone(&self.in_flight),
                Rc::clone(&self.finished),
                Rc::clone(&self.unsent),
            );
            let wake = Arc::clone(&self.svc.webhook_wake);
            let first_retry_ms = self.first_retry_ms;
            actix_web::rt::spawn(async move {
                let started = Instant::now();
                let mut deliveries = run.into_iter();
                for delivery in deliveries.by_ref() {
                    let sent = send(&client, &delivery, &endpoint, first_retry_ms).await;
                    let delivered = sent.delivered;
                    finished.borrow_mut().push(sent);
                    wake.notify_one();
                    // A slow receiver: stop well within the lease, so that no other
                    // instance takes up the rest of the run while this one still sends it.
                    if !delivered || started.elapsed() >= RUN_TIME {
                        break;
                    }
                }
                unsent.borrow_mut().extend(deliveries.map(|d| d.id));
                in_flight.set(in_flight.get().saturating_sub(1));
                wake.notify_one();
            });
        }
    }

    /// Record outcomes in one write; disable the endpoints that failed for too long.
    async fn record(&self, sent: Vec<Sent>, unsent: Vec<i64>) {
        let limit = disable_after(self.first_retry_ms);
        let outcome = self
            .svc
            .store
            .write(move |conn| {
                let failing = store::record_sent(conn, &sent)?;
                store::release(conn, &unsent)?;
                let now = now_millis();
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

/// Post one delivery, signed, and say how it went.
async fn send(
    client: &awc::Client,
    delivery: &DeliveryRow,
    endpoint: &EndpointRow,
    first_retry_ms: i64,
) -> Sent {
    let started = Instant::now();
    let at = now_millis();
    let timestamp = at / 1000;
    let attempt = delivery.attempts + 1;
    let (status, error) = match signature(
        &endpoint.secret,
        &delivery.message_id,
        timestamp,
        &delivery.payload,
    ) {
        None => (
            None,
            Some("the endpoint's signing secret is unreadable".to_string()),
        ),
        Some(sig) => {
            let request = client
                .post(&endpoint.url)
                .insert_header(("content-type", "application/json"))
                .insert_header(("webhook-id", delivery.message_id.as_str()))
                .insert_header(("webhook-timestamp", timestamp.to_string()))
                .insert_header(("webhook-signature", sig));
            match request.send_body(delivery.payload.clone()).await {
                Ok(mut response) => {
                    // Read (a little of) the answer so the connection can be kept.
                    let _ = response.body().limit(64 * 1024).await;
                    (Some(i32::from(response.status().as_u16())), None)
                }
                Err(e) => (None, Some(format!("{e}"))),
            }
        }
    };
    let delivered = status.is_some_and(|s| (200..300).contains(&s));
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let done = now_millis();
    Sent {
        delivery_id: delivery.id,
        endpoint_id: endpoint.id.clone(),
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
pub fn delivery_json(d: &DeliveryRow, attempts: Option<&[AttemptRow]>) -> Value {
    let when = |at: Option<i64>| at.map(crate::scim::render::timestamp);
    let mut v = json!({
        "id": d.id,
        "messageId": d.message_id,
        "type": d.event_type,
        "resource": d.resource_key,
        "createdAt": crate::scim::render::timestamp(d.created_at),
        "state": d.state,
        "attempts": d.attempts,
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
        if let Ok(payload) = serde_json::from_str::<Value>(&d.payload) {
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
        assert!(check_url("https://app.example.com/hooks").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        for bad in [
            "ftp://x/y",
            "/relative",
            "https://",
            "not a url",
            "javascript:alert(1)",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
