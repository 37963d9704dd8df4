//! The sender every instance runs: it claims due deliveries endpoint by endpoint, each
//! within its share, posts them signed, and records how each went.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

use super::signature;
use super::target::{self, NotPublic, PublicResolver};
use super::{KEEP_FINISHED_MILLIS, RETRY_STEPS};
use crate::scim::error::ScimError;
use crate::service::Service;
use crate::store::now_millis;
use crate::store::webhooks::{self as store, AttemptRow, DeliveryRow, EndpointRow, Sent};

/// Runs one instance sends at once, in all. A run waits for its receiver at most
/// [`SEND_TIMEOUT`] a delivery, so slow receivers hold these only for a bounded time, and
/// each tenant only its share ([`PER_TENANT`]).
const MAX_IN_FLIGHT: usize = 1024;
/// Runs one instance sends to one endpoint at once: enough for a busy tenant's changes (a
/// run takes a round trip to the receiver and one to the database to record; with 32 the
/// bench's one endpoint took 3.3 s at p99 to catch up with unpaced writes, with 128 0.2 s).
const PER_ENDPOINT: usize = 128;
/// Runs one instance sends to one tenant's endpoints at once.
const PER_TENANT: usize = 128;
/// Runs one instance sends to the operator-wide endpoints at once (they carry every
/// tenant's changes).
const PER_OPERATOR: usize = 256;
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
            private: allow_private.then(|| client(true)),
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
    // The connection pool admits every run in flight: with awc's default (100 in all), one
    // tenant's slow receivers would hold the connections another tenant's runs wait for.
    let connector = awc::Connector::new()
        .connector(tcp)
        .limit(MAX_IN_FLIGHT)
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
            let tenant_share = if tenant.is_empty() {
                PER_OPERATOR
            } else {
                PER_TENANT
            };
            let n = PER_ENDPOINT
                .saturating_sub(endpoint_busy)
                .min(tenant_share.saturating_sub(*tenant_busy))
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
    /// For the endpoints an operator made, when the server allows private receivers.
    private: Option<awc::Client>,
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
            let private = self.private.as_ref().filter(|_| run.endpoint.private_ok);
            let allow_private = private.is_some();
            let client = private.unwrap_or(&self.public).clone();
            let (in_flight, finished) = (Rc::clone(&self.in_flight), Rc::clone(&self.finished));
            let wake = Arc::clone(&self.svc.webhook_wake);
            let first_retry_ms = self.first_retry_ms;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
