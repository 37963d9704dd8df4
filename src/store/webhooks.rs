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

/// One failed try at sending a delivery (the last try of a delivered one is in the
/// delivery's own columns).
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

/// A delivery that is due at the time bound twice: pending, its time come, and not leased
/// (or its lease run out).
const DUE: &str = "state = 'pending' AND next_attempt_at <= ? \
    AND (locked_until IS NULL OR locked_until <= ?)";

/// Whether any delivery is due now (a read, so that an idle sender costs no write).
pub fn any_due(conn: &mut DbConn, now: i64) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        #[allow(dead_code)]
        id: i64,
    }
    let found: Vec<Found> = Sql::new(
        format!("SELECT id FROM webhook_deliveries WHERE {DUE} LIMIT 1"),
        vec![Arg::BigInt(now), Arg::BigInt(now)],
    )
    .load(conn)?;
    Ok(!found.is_empty())
}

/// Most deliveries of one resource leased together, to be sent one after the other.
const MAX_RUN: usize = 32;

/// Lease up to `limit` runs of due deliveries until `lease_until`, oldest first. A run is the
/// oldest pending deliveries of one endpoint and resource, in order (up to [`MAX_RUN`]),
/// none of a disabled endpoint: the sender posts a run's deliveries one after the other, so
/// a busy resource (a group getting many members) does not wait for a database round trip
/// between two of its deliveries.
///
/// In steps, so that none sorts the whole backlog: a window of the oldest due deliveries
/// (in id order, the order their changes were made in: an index scan that stops early); a
/// lease on the first of each resource in it that is still the oldest pending one of its
/// resource (an older one may be waiting for its retry); then a lease on the rest of the
/// runs of those. Only a run's first delivery is ever retried, so the rest are all due.
pub fn claim_due(
    conn: &mut DbConn,
    now: i64,
    lease_until: i64,
    limit: usize,
) -> Result<Vec<Vec<DeliveryRow>>, StoreError> {
    #[derive(QueryableByName)]
    struct Candidate {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        endpoint_id: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        resource_key: String,
    }
    let window = i64::try_from(limit.saturating_mul(8).clamp(256, 4096)).unwrap_or(4096);
    let due: Vec<Candidate> = Sql::new(
        format!(
            "SELECT id, endpoint_id, resource_key FROM webhook_deliveries WHERE {DUE} \
             ORDER BY id LIMIT ?"
        ),
        vec![Arg::BigInt(now), Arg::BigInt(now), Arg::BigInt(window)],
    )
    .load(conn)?;
    // The window's deliveries of each resource, in order: the first is the candidate head.
    let mut runs: Vec<Vec<i64>> = Vec::new();
    let mut run_of: std::collections::HashMap<(&str, &str), usize> = Default::default();
    for c in &due {
        let key = (c.endpoint_id.as_str(), c.resource_key.as_str());
        match run_of.get(&key) {
            Some(&i) => {
                if let Some(run) = runs.get_mut(i) {
                    if run.len() < MAX_RUN {
                        run.push(c.id);
                    }
                }
            }
            None if runs.len() < limit => {
                run_of.insert(key, runs.len());
                runs.push(vec![c.id]);
            }
            None => {}
        }
    }
    let heads: Vec<i64> = runs.iter().filter_map(|r| r.first().copied()).collect();
    if heads.is_empty() {
        return Ok(Vec::new());
    }
    let skip_locked = if matches!(conn, DbConn::Postgres(_)) {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let list = vec!["?"; heads.len()].join(", ");
    let text = format!(
        "UPDATE webhook_deliveries SET locked_until = ? WHERE id IN (\
           SELECT d.id FROM webhook_deliveries d WHERE d.id IN ({list}) \
             AND d.state = 'pending' AND (d.locked_until IS NULL OR d.locked_until <= ?) \
             AND NOT EXISTS (SELECT 1 FROM webhook_endpoints ep WHERE ep.id = d.endpoint_id \
               AND ep.disabled_at IS NOT NULL) \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id \
               AND p.resource_key = d.resource_key AND p.state = 'pending' AND p.id < d.id)\
           {skip_locked}) \
         RETURNING *"
    );
    let mut args = vec![Arg::BigInt(lease_until)];
    args.extend(heads.iter().map(|id| Arg::BigInt(*id)));
    args.push(Arg::BigInt(now));
    let leased_heads: Vec<DeliveryRow> = Sql::new(text, args).load(conn)?;
    // The rest of each leased head's run (the heads' leases keep other instances off them).
    let rest: Vec<i64> = runs
        .iter()
        .filter(|r| {
            r.first()
                .is_some_and(|h| leased_heads.iter().any(|d| d.id == *h))
        })
        .flat_map(|r| r.iter().skip(1).copied())
        .collect();
    let mut followers: Vec<DeliveryRow> = Vec::new();
    for chunk in rest.chunks(256) {
        let list = vec!["?"; chunk.len()].join(", ");
        let mut args = vec![Arg::BigInt(lease_until)];
        args.extend(chunk.iter().map(|id| Arg::BigInt(*id)));
        args.push(Arg::BigInt(now));
        followers.extend(
            Sql::new(
                format!(
                    "UPDATE webhook_deliveries SET locked_until = ? WHERE id IN ({list}) \
                     AND state = 'pending' AND (locked_until IS NULL OR locked_until <= ?) RETURNING *"
                ),
                args,
            )
            .load::<DeliveryRow>(conn)?,
        );
    }
    let mut out = Vec::new();
    for head in leased_heads {
        let Some(ids) = runs.iter().find(|r| r.first() == Some(&head.id)) else {
            continue;
        };
        let mut run = vec![head];
        // In order, and no further than the first one that could not be leased.
        for id in ids.iter().skip(1) {
            match followers.iter().position(|f| f.id == *id) {
                Some(i) => run.push(followers.swap_remove(i)),
                None => break,
            }
        }
        out.push(run);
    }
    // Leased but cut off from their run: let them go again.
    release(conn, &followers.iter().map(|f| f.id).collect::<Vec<_>>())?;
    Ok(out)
}

/// End the leases of deliveries that were not sent (their run stopped at a failure).
pub fn release(conn: &mut DbConn, ids: &[i64]) -> Result<(), StoreError> {
    for chunk in ids.chunks(256) {
        let list = vec!["?"; chunk.len()].join(", ");
        Sql::new(
            format!("UPDATE webhook_deliveries SET locked_until = NULL WHERE id IN ({list}) AND state = 'pending'"),
            chunk.iter().map(|id| Arg::BigInt(*id)).collect(),
        )
        .run(conn)?;
    }
    Ok(())
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

/// Record sent deliveries: their state, their failed attempts, and whether their endpoints
/// fail. Returns, per endpoint that failed, since when it has been failing.
pub fn record_sent(conn: &mut DbConn, sent: &[Sent]) -> Result<Vec<(String, i64)>, StoreError> {
    // Successes, the usual outcome, are written a batch to a statement (one round trip).
    let (delivered, failed): (Vec<&Sent>, Vec<&Sent>) = sent.iter().partition(|s| s.delivered);
    for chunk in delivered.chunks(64) {
        record_delivered(conn, chunk)?;
    }
    let mut failing: Vec<(String, i64)> = Vec::new();
    for s in failed {
        let a = &s.attempt;
        // Only failed attempts get a row: the last one is in the delivery's own columns.
        diesel::insert_into(webhook_attempts::table)
            .values(a)
            .execute(conn)?;
        let (state, next) = match s.retry_at {
            Some(at) => ("pending", at),
            None => ("failed", a.at),
        };
        Sql::new(
            "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, \
             locked_until = NULL, last_status = ?, last_error = ?, last_latency_ms = ? \
             WHERE id = ? AND state = 'pending'",
            vec![
                Arg::Text(state),
                Arg::Int(a.attempt),
                Arg::BigInt(next),
                Arg::OptBigInt(a.status.map(i64::from)),
                Arg::OptText(a.error.as_deref()),
                Arg::BigInt(a.latency_ms),
                Arg::BigInt(s.delivery_id),
            ],
        )
        .run(conn)?;
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
    // An endpoint that answered is working again, unless it also failed in this batch.
    let mut succeeded: Vec<&str> = delivered.iter().map(|s| s.endpoint_id.as_str()).collect();
    succeeded.sort_unstable();
    succeeded.dedup();
    for id in succeeded {
        if !failing.iter().any(|(f, _)| f == id) {
            Sql::new(
                "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL",
                vec![Arg::Text(id)],
            )
            .run(conn)?;
        }
    }
    Ok(failing)
}

/// Mark deliveries delivered, in one statement.
fn record_delivered(conn: &mut DbConn, delivered: &[&Sent]) -> Result<(), StoreError> {
    if delivered.is_empty() {
        return Ok(());
    }
    let rows = vec!["(?, ?, ?, ?)"; delivered.len()].join(", ");
    let mut args = Vec::with_capacity(delivered.len() * 4);
    for s in delivered {
        let a = &s.attempt;
        args.extend([
            Arg::BigInt(s.delivery_id),
            Arg::OptBigInt(a.status.map(i64::from)),
            Arg::BigInt(a.latency_ms),
            Arg::BigInt(a.at),
        ]);
    }
    Sql::new(
        format!(
            "WITH v (id, status, latency, at) AS (VALUES {rows}) \
             UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, \
             next_attempt_at = v.at, locked_until = NULL, last_status = v.status, \
             last_error = NULL, last_latency_ms = v.latency, delivered_at = v.at \
             FROM v WHERE webhook_deliveries.id = v.id AND webhook_deliveries.state = 'pending'"
        ),
        args,
    )
    .run(conn)?;
    Ok(())
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
    let mut attempts: Vec<AttemptRow> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq(id))
        .order(webhook_attempts::attempt.asc())
        .select(AttemptRow::as_select())
        .load(conn)?;
    if let (Some(at), Some(latency_ms)) = (delivery.delivered_at, delivery.last_latency_ms) {
        attempts.push(AttemptRow {
            delivery_id: id,
            attempt: delivery.attempts,
            at,
            status: delivery.last_status,
            latency_ms,
            error: None,
        });
    }
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
