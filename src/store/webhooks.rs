//! Webhooks: the host app's endpoints, the outbox of deliveries and each delivery's attempts.
//!
//! A change queues its deliveries in its own transaction ([`enqueue`], or [`enqueue_cte`]
//! inside the one statement a change is on PostgreSQL), one per live endpoint of its tenant
//! and per operator-wide endpoint, so a change is never told without being made, nor made
//! without being told. Any instance may send them: [`claim_due`] leases a batch (PostgreSQL:
//! `FOR UPDATE SKIP LOCKED`, so instances never take the same rows), and a lease that runs
//! out (a killed instance) makes the delivery due again. A delivery is due only when no
//! older one of its endpoint and resource is still pending: that is what keeps the order per
//! resource, through retries too.

use diesel::prelude::*;

use super::prepared::{Arg, Sql};
use super::schema::{webhook_attempts, webhook_deliveries, webhook_endpoints};
use super::{DbConn, StoreError};

/// An endpoint of the host app.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointRow {
    pub id: String,
    /// The tenant whose changes it receives; `None`: every tenant's (operator-wide).
    pub tenant_id: Option<String>,
    pub url: String,
    pub label: String,
    /// The signing secret, `whsec_` and base64.
    pub secret: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    /// Since when no delivery to it succeeded (`None` while they do).
    pub failing_since: Option<i64>,
}

/// One message to one endpoint, with where its sending stands.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub endpoint_id: String,
    pub tenant_id: String,
    pub message_id: String,
    pub event_type: String,
    pub resource_key: String,
    pub payload: String,
    pub created_at: i64,
    /// `pending`, `delivered` or `failed` (gave up).
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub locked_until: Option<i64>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i64>,
    pub delivered_at: Option<i64>,
}

/// One try at sending a delivery.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptRow {
    pub delivery_id: i64,
    pub attempt: i32,
    pub at: i64,
    /// The receiver's HTTP status; `None` when it gave none (refused, timed out).
    pub status: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// A change to tell the endpoints of, made before its write and queued inside it.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub tenant_id: String,
    /// The `webhook-id`: the same for every endpoint and every retry.
    pub message_id: String,
    pub event_type: &'static str,
    /// `User/{id}` or `Group/{id}`: deliveries of one key go out in order.
    pub resource_key: String,
    /// The whole JSON body.
    pub payload: String,
    pub at: i64,
}

/// The insert of one message's deliveries; the caller adds the FROM list's rest and the
/// WHERE of [`OUTBOX_WHERE`].
const OUTBOX_INSERT: &str = "INSERT INTO webhook_deliveries \
    (endpoint_id, tenant_id, message_id, event_type, resource_key, payload, created_at, next_attempt_at) \
    SELECT ep.id, ?, ?, ?, ?, ?, ?, ? FROM webhook_endpoints ep";
// Disabled endpoints get their deliveries too: they wait, and go out once it is enabled.
const OUTBOX_WHERE: &str = "WHERE ep.tenant_id = ? OR ep.tenant_id IS NULL";

fn outbox_args(m: &OutboxMessage) -> Vec<Arg<'_>> {
    vec![
        Arg::Text(&m.tenant_id),
        Arg::Text(&m.message_id),
        Arg::Text(m.event_type),
        Arg::Text(&m.resource_key),
        Arg::Text(&m.payload),
        Arg::BigInt(m.at),
        Arg::BigInt(m.at),
        Arg::Text(&m.tenant_id),
    ]
}

/// Queue a message's deliveries, in the caller's transaction.
pub fn enqueue(conn: &mut DbConn, m: &OutboxMessage) -> Result<(), StoreError> {
    Sql::new(format!("{OUTBOX_INSERT} {OUTBOX_WHERE}"), outbox_args(m)).run(conn)?;
    Ok(())
}

/// The same as a CTE named `name` of a statement whose CTE `source` holds the changed row:
/// the deliveries are written only if the row was.
pub(crate) fn enqueue_cte<'a>(
    m: &'a OutboxMessage,
    name: &str,
    source: &str,
) -> (String, Vec<Arg<'a>>) {
    (
        format!(", {name} AS ({OUTBOX_INSERT}, {source} {OUTBOX_WHERE})"),
        outbox_args(m),
    )
}

/// Add `messages` to a statement being built, as CTEs selecting from `source`.
pub(crate) fn push_outbox_ctes<'a>(
    text: &mut String,
    args: &mut Vec<Arg<'a>>,
    messages: &'a [OutboxMessage],
    source: &str,
) {
    for (i, m) in messages.iter().enumerate() {
        let (cte, cte_args) = enqueue_cte(m, &format!("w{i}"), source);
        text.push_str(&cte);
        args.extend(cte_args);
    }
}

/// Add an endpoint.
pub fn insert_endpoint(conn: &mut DbConn, row: &EndpointRow) -> Result<(), StoreError> {
    diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Every endpoint, oldest first.
pub fn list_endpoints(conn: &mut DbConn) -> Result<Vec<EndpointRow>, StoreError> {
    Ok(webhook_endpoints::table
        .order((
            webhook_endpoints::created_at.asc(),
            webhook_endpoints::id.asc(),
        ))
        .select(EndpointRow::as_select())
        .load(conn)?)
}

/// The endpoints with these ids.
pub fn endpoints_by_ids(conn: &mut DbConn, ids: &[String]) -> Result<Vec<EndpointRow>, StoreError> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::id.eq_any(ids))
        .select(EndpointRow::as_select())
        .load(conn)?)
}

/// The endpoint with this id.
pub fn find_endpoint(conn: &mut DbConn, id: &str) -> Result<Option<EndpointRow>, StoreError> {
    Ok(webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()?)
}

/// Remove an endpoint and its deliveries; whether there was one.
pub fn delete_endpoint(conn: &mut DbConn, id: &str) -> Result<bool, StoreError> {
    // SQLite enforces the cascade only with foreign keys on; say it outright.
    let attempts = "DELETE FROM webhook_attempts WHERE delivery_id IN \
                    (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?)";
    Sql::new(attempts, vec![Arg::Text(id)]).run(conn)?;
    Sql::new(
        "DELETE FROM webhook_deliveries WHERE endpoint_id = ?",
        vec![Arg::Text(id)],
    )
    .run(conn)?;
    Ok(diesel::delete(webhook_endpoints::table.find(id)).execute(conn)? > 0)
}

/// Stop sending to an endpoint (its pending deliveries wait), saying why.
pub fn disable_endpoint(
    conn: &mut DbConn,
    id: &str,
    at: i64,
    reason: &str,
) -> Result<(), StoreError> {
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::disabled_at.eq(at),
            webhook_endpoints::disabled_reason.eq(reason),
        ))
        .execute(conn)?;
    Ok(())
}

/// Send to an endpoint again: its waiting deliveries, and those that failed for good while
/// it failed, are due at once (in their order).
pub fn enable_endpoint(conn: &mut DbConn, id: &str, now: i64) -> Result<bool, StoreError> {
    let n = diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::disabled_at.eq(None::<i64>),
            webhook_endpoints::disabled_reason.eq(None::<String>),
            webhook_endpoints::failing_since.eq(None::<i64>),
        ))
        .execute(conn)?;
    Sql::new(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ? \
         WHERE endpoint_id = ? AND state IN ('pending', 'failed')",
        vec![Arg::BigInt(now), Arg::Text(id)],
    )
    .run(conn)?;
    Ok(n > 0)
}

/// Whether any delivery is due now (a read, so that an idle sender costs no write).
pub fn any_due(conn: &mut DbConn, now: i64) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        #[allow(dead_code)]
        id: i64,
    }
    let found: Vec<Found> = Sql::new(
        "SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ? \
         AND (locked_until IS NULL OR locked_until <= ?) LIMIT 1",
        vec![Arg::BigInt(now), Arg::BigInt(now)],
    )
    .load(conn)?;
    Ok(!found.is_empty())
}

/// Lease up to `limit` due deliveries until `lease_until`, oldest due first, at most one per
/// endpoint and resource (the oldest pending one of each), none of a disabled endpoint.
pub fn claim_due(
    conn: &mut DbConn,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let skip_locked = if matches!(conn, DbConn::Postgres(_)) {
        " FOR UPDATE OF d SKIP LOCKED"
    } else {
        ""
    };
    let text = format!(
        "UPDATE webhook_deliveries SET locked_until = ? WHERE id IN (\
           SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id \
           WHERE d.state = 'pending' AND d.next_attempt_at <= ? \
             AND (d.locked_until IS NULL OR d.locked_until <= ?) AND ep.disabled_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id \
               AND p.resource_key = d.resource_key AND p.state = 'pending' AND p.id < d.id) \
           ORDER BY d.next_attempt_at, d.id LIMIT ?{skip_locked}) \
         RETURNING *"
    );
    Sql::new(
        text,
        vec![
            Arg::BigInt(lease_until),
            Arg::BigInt(now),
            Arg::BigInt(now),
            Arg::BigInt(limit),
        ],
    )
    .load(conn)
}

/// How a sent delivery ended, to record.
#[derive(Debug, Clone)]
pub struct Sent {
    pub delivery_id: i64,
    pub endpoint_id: String,
    pub attempt: AttemptRow,
    pub delivered: bool,
    /// When to try again after a failure; `None`: give up (the delivery is `failed`).
    pub retry_at: Option<i64>,
}

/// Record sent deliveries: their attempts, their state, and whether their endpoints fail.
/// Returns, per endpoint that failed, since when it has been failing.
pub fn record_sent(conn: &mut DbConn, sent: &[Sent]) -> Result<Vec<(String, i64)>, StoreError> {
    let mut failing: Vec<(String, i64)> = Vec::new();
    for s in sent {
        diesel::insert_into(webhook_attempts::table)
            .values(&s.attempt)
            .execute(conn)?;
        let a = &s.attempt;
        let (state, next) = match (s.delivered, s.retry_at) {
            (true, _) => ("delivered", a.at),
            (false, Some(at)) => ("pending", at),
            (false, None) => ("failed", a.at),
        };
        Sql::new(
            "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, \
             locked_until = NULL, last_status = ?, last_error = ?, last_latency_ms = ?, \
             delivered_at = ? WHERE id = ? AND state = 'pending'",
            vec![
                Arg::Text(state),
                Arg::Int(a.attempt),
                Arg::BigInt(next),
                Arg::OptBigInt(a.status.map(i64::from)),
                Arg::OptText(a.error.as_deref()),
                Arg::BigInt(a.latency_ms),
                Arg::OptBigInt(s.delivered.then_some(a.at)),
                Arg::BigInt(s.delivery_id),
            ],
        )
        .run(conn)?;
        if s.delivered {
            Sql::new(
                "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL",
                vec![Arg::Text(&s.endpoint_id)],
            )
            .run(conn)?;
        } else {
            Sql::new(
                "UPDATE webhook_endpoints SET failing_since = ? WHERE id = ? AND failing_since IS NULL",
                vec![Arg::BigInt(a.at), Arg::Text(&s.endpoint_id)],
            )
            .run(conn)?;
            let since: Option<Option<i64>> = webhook_endpoints::table
                .find(&s.endpoint_id)
                .select(webhook_endpoints::failing_since)
                .first(conn)
                .optional()?;
            if let Some(Some(since)) = since {
                failing.retain(|(id, _)| id != &s.endpoint_id);
                failing.push((s.endpoint_id.clone(), since));
            }
        }
    }
    Ok(failing)
}

/// An endpoint's deliveries, newest first, older than `before` (a delivery id) if given.
pub fn list_deliveries(
    conn: &mut DbConn,
    endpoint_id: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let mut q = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id.to_string()))
        .select(DeliveryRow::as_select())
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(webhook_deliveries::id.lt(before));
    }
    Ok(q.order(webhook_deliveries::id.desc())
        .limit(limit)
        .load(conn)?)
}

/// A delivery of an endpoint, with its attempts, oldest first.
pub fn find_delivery(
    conn: &mut DbConn,
    endpoint_id: &str,
    id: i64,
) -> Result<Option<(DeliveryRow, Vec<AttemptRow>)>, StoreError> {
    let found: Option<DeliveryRow> = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(id))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()?;
    let Some(delivery) = found else {
        return Ok(None);
    };
    let attempts = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq(id))
        .order(webhook_attempts::attempt.asc())
        .select(AttemptRow::as_select())
        .load(conn)?;
    Ok(Some((delivery, attempts)))
}

/// Send a delivery's message again, as a new delivery (same `webhook-id` and body) due now;
/// its id, or `None` if the endpoint has no such delivery.
pub fn replay_delivery(
    conn: &mut DbConn,
    endpoint_id: &str,
    id: i64,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let inserted: Vec<Inserted> = Sql::new(
        "INSERT INTO webhook_deliveries \
         (endpoint_id, tenant_id, message_id, event_type, resource_key, payload, created_at, next_attempt_at) \
         SELECT endpoint_id, tenant_id, message_id, event_type, resource_key, payload, ?, ? \
         FROM webhook_deliveries WHERE id = ? AND endpoint_id = ? RETURNING id",
        vec![
            Arg::BigInt(now),
            Arg::BigInt(now),
            Arg::BigInt(id),
            Arg::Text(endpoint_id),
        ],
    )
    .load(conn)?;
    Ok(inserted.first().map(|i| i.id))
}

/// Forget finished (delivered or failed) deliveries made before `before`; how many.
pub fn purge_finished(conn: &mut DbConn, before: i64) -> Result<usize, StoreError> {
    Sql::new(
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries \
         WHERE state <> 'pending' AND created_at < ?)",
        vec![Arg::BigInt(before)],
    )
    .run(conn)?;
    Sql::new(
        "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND created_at < ?",
        vec![Arg::BigInt(before)],
    )
    .run(conn)
}
