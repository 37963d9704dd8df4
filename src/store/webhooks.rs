//! Webhooks: the host app's endpoints, the messages changes tell of, the outbox of
//! deliveries (one per message and endpoint) and each delivery's failed attempts.
//!
//! A change queues its message and deliveries in its own transaction ([`enqueue`], or
//! [`push_outbox_ctes`] inside the one statement a change is on PostgreSQL), so a change is
//! never told without being made, nor made without being told. The message (the body) is
//! stored once however many endpoints receive it, and only if its tenant has an endpoint; a
//! delivery names it.
//!
//! Order per resource: the deliveries of one endpoint and resource form a stream, sent
//! oldest first. Only a stream's oldest unfinished delivery may be sent; the others wait as
//! `queued` (a claim sets them so when it meets one, see [`claim_due`]), so that what is
//! `pending` and due is what can be sent, and nothing an endpoint holds back (a receiver
//! that fails, or is disabled) takes another endpoint's turn. Claims go endpoint by
//! endpoint, each given at most its share. The sender's own writes (claims and records) are
//! serialized across instances (an advisory lock on PostgreSQL; SQLite has one writer), so
//! a stream's head is never lost between a claim that queues and a record that promotes.

use std::collections::HashMap;

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
    /// Whether it may reach a private address: made by an operator key on a server started
    /// with `--webhook-allow-private`.
    pub private_ok: bool,
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
    pub created_at: i64,
    /// `pending` (its stream's next, due at `next_attempt_at`), `queued` (behind an older
    /// one of its endpoint and resource), `delivered` or `failed` (gave up).
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub locked_until: Option<i64>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i64>,
    pub delivered_at: Option<i64>,
}

impl DeliveryRow {
    /// Whether it is still to be sent (pending or queued).
    pub fn unfinished(&self) -> bool {
        self.state == "pending" || self.state == "queued"
    }
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

/// The message's row; the caller adds a FROM (on PostgreSQL) and the WHERE of
/// [`HAS_ENDPOINT`]: a tenant without endpoints stores no message.
const MESSAGE_INSERT: &str = "INSERT INTO webhook_messages \
    (id, tenant_id, event_type, resource_key, payload, created_at) SELECT ?, ?, ?, ?, ?, ?";
const HAS_ENDPOINT: &str = "WHERE EXISTS (SELECT 1 FROM webhook_endpoints ep \
    WHERE ep.tenant_id = ? OR ep.tenant_id IS NULL)";
/// The message's deliveries; the caller adds the FROM list's rest and [`OUTBOX_WHERE`].
const OUTBOX_INSERT: &str = "INSERT INTO webhook_deliveries \
    (endpoint_id, tenant_id, message_id, event_type, resource_key, created_at, next_attempt_at) \
    SELECT ep.id, ?, ?, ?, ?, ?, ? FROM webhook_endpoints ep";
// Disabled endpoints get their deliveries too: they wait, and go out once it is enabled.
const OUTBOX_WHERE: &str = "WHERE ep.tenant_id = ? OR ep.tenant_id IS NULL";

fn message_args(m: &OutboxMessage) -> Vec<Arg<'_>> {
    vec![
        Arg::Text(&m.message_id),
        Arg::Text(&m.tenant_id),
        Arg::Text(m.event_type),
        Arg::Text(&m.resource_key),
        Arg::Text(&m.payload),
        Arg::BigInt(m.at),
        Arg::Text(&m.tenant_id),
    ]
}

fn outbox_args(m: &OutboxMessage) -> Vec<Arg<'_>> {
    vec![
        Arg::Text(&m.tenant_id),
        Arg::Text(&m.message_id),
        Arg::Text(m.event_type),
        Arg::Text(&m.resource_key),
        Arg::BigInt(m.at),
        Arg::BigInt(m.at),
        Arg::Text(&m.tenant_id),
    ]
}

/// Queue a message and its deliveries, in the caller's transaction.
pub fn enqueue(conn: &mut DbConn, m: &OutboxMessage) -> Result<(), StoreError> {
    Sql::new(format!("{MESSAGE_INSERT} {HAS_ENDPOINT}"), message_args(m)).run(conn)?;
    Sql::new(format!("{OUTBOX_INSERT} {OUTBOX_WHERE}"), outbox_args(m)).run(conn)?;
    Ok(())
}

/// Add `messages` to a statement being built, as CTEs selecting from `source` (the CTE
/// that holds the changed row): they are written only if the row was.
pub(crate) fn push_outbox_ctes<'a>(
    text: &mut String,
    args: &mut Vec<Arg<'a>>,
    messages: &'a [OutboxMessage],
    source: &str,
) {
    for (i, m) in messages.iter().enumerate() {
        text.push_str(&format!(
            ", wm{i} AS ({MESSAGE_INSERT} FROM {source} {HAS_ENDPOINT} LIMIT 1), \
             w{i} AS ({OUTBOX_INSERT}, {source} {OUTBOX_WHERE})"
        ));
        args.extend(message_args(m));
        args.extend(outbox_args(m));
    }
}

/// Add an endpoint unless its tenant (operator-wide ones: the operator) has `max` already;
/// whether it was added. Two requests at once cannot both take the last place.
pub fn insert_endpoint_within(
    conn: &mut DbConn,
    row: &EndpointRow,
    max: i64,
) -> Result<bool, StoreError> {
    let owner = row.tenant_id.as_deref().unwrap_or("");
    super::prepared::take_turn(conn, &format!("scimd webhook endpoints of {owner}"))?;
    let mut q = webhook_endpoints::table.into_boxed();
    q = match &row.tenant_id {
        Some(t) => q.filter(webhook_endpoints::tenant_id.eq(t.clone())),
        None => q.filter(webhook_endpoints::tenant_id.is_null()),
    };
    let have: i64 = q.count().get_result(conn)?;
    if have >= max {
        return Ok(false);
    }
    diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .execute(conn)?;
    Ok(true)
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

/// Remove an endpoint, its deliveries and the messages no other endpoint still has;
/// whether there was one.
pub fn delete_endpoint(conn: &mut DbConn, id: &str) -> Result<bool, StoreError> {
    // SQLite enforces the cascade only with foreign keys on; say it outright.
    let attempts = "DELETE FROM webhook_attempts WHERE delivery_id IN \
                    (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?)";
    Sql::new(attempts, vec![Arg::Text(id)]).run(conn)?;
    #[derive(QueryableByName)]
    struct Message {
        #[diesel(sql_type = diesel::sql_types::Text)]
        message_id: String,
    }
    let messages: Vec<Message> = Sql::new(
        "DELETE FROM webhook_deliveries WHERE endpoint_id = ? RETURNING message_id",
        vec![Arg::Text(id)],
    )
    .load(conn)?;
    let mut ids: Vec<String> = messages.into_iter().map(|m| m.message_id).collect();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(256) {
        let list = vec!["?"; chunk.len()].join(", ");
        Sql::new(
            format!(
                "DELETE FROM webhook_messages WHERE id IN ({list}) AND NOT EXISTS \
                 (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id)"
            ),
            chunk.iter().map(|m| Arg::Text(m)).collect(),
        )
        .run(conn)?;
    }
    Ok(diesel::delete(webhook_endpoints::table.find(id)).execute(conn)? > 0)
}

/// Stop sending to an endpoint (its deliveries wait), saying why.
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
/// it failed, are due at once (each resource's in its order).
pub fn enable_endpoint(conn: &mut DbConn, id: &str, now: i64) -> Result<bool, StoreError> {
    serialize_senders(conn)?;
    let n = diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::disabled_at.eq(None::<i64>),
            webhook_endpoints::disabled_reason.eq(None::<String>),
            webhook_endpoints::failing_since.eq(None::<i64>),
        ))
        .execute(conn)?;
    Sql::new(
        "UPDATE webhook_deliveries SET state = 'queued', locked_until = NULL \
         WHERE endpoint_id = ? AND state IN ('pending', 'queued', 'failed')",
        vec![Arg::Text(id)],
    )
    .run(conn)?;
    Sql::new(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ? WHERE id IN \
         (SELECT MIN(id) FROM webhook_deliveries WHERE endpoint_id = ? AND state = 'queued' \
          GROUP BY resource_key)",
        vec![Arg::BigInt(now), Arg::Text(id)],
    )
    .run(conn)?;
    Ok(n > 0)
}

/// Make the sender's writes (claims, records, enabling) one at a time across instances,
/// for the rest of the transaction. SQLite has a single writer already.
fn serialize_senders(conn: &mut DbConn) -> Result<(), StoreError> {
    if matches!(conn, DbConn::Postgres(_)) {
        Sql::new("SELECT pg_advisory_xact_lock(712023)", Vec::new()).run(conn)?;
    }
    Ok(())
}

/// An enabled endpoint with deliveries due.
#[derive(Debug, Clone, QueryableByName)]
pub struct DueEndpoint {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub id: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub tenant_id: Option<String>,
}

/// The enabled endpoints with a delivery due at `now`, longest waiting first: one index
/// probe per endpoint, whatever their backlogs (a read, so an idle sender costs no write).
pub fn due_endpoints(conn: &mut DbConn, now: i64) -> Result<Vec<DueEndpoint>, StoreError> {
    Sql::new(
        "SELECT id, tenant_id FROM (SELECT ep.id, ep.tenant_id, \
           (SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d \
             WHERE d.endpoint_id = ep.id AND d.state = 'pending') AS oldest \
           FROM webhook_endpoints ep WHERE ep.disabled_at IS NULL) due \
         WHERE oldest <= ? ORDER BY oldest, id",
        vec![Arg::BigInt(now)],
    )
    .load(conn)
}

/// Most deliveries of one resource sent together, one after the other.
const MAX_RUN: usize = 32;

/// Lease, for each endpoint of `wants`, up to its number of runs of due deliveries until
/// `lease_until`. A run is a stream's oldest unfinished delivery (leased: its
/// `next_attempt_at` moves to the lease's end, so it is due again if this instance dies)
/// and the ones behind it, in order (up to [`MAX_RUN`]): the sender posts them one after the
/// other, so a busy resource (a group getting many members) does not wait for a database
/// round trip between two of its deliveries. The followers need no lease of their own:
/// while their head is unfinished no claim takes them.
///
/// A due delivery with an older unfinished one in its stream (a change queued while an older
/// delivery waited for its retry) is set `queued` on the way, so it is not looked at again.
pub fn claim_due(
    conn: &mut DbConn,
    now: i64,
    lease_until: i64,
    wants: &[(String, usize)],
) -> Result<Vec<Vec<DeliveryRow>>, StoreError> {
    #[derive(QueryableByName)]
    struct Candidate {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        resource_key: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        blocked: i32,
    }
    serialize_senders(conn)?;
    let mut out = Vec::new();
    for (endpoint, n) in wants {
        if *n == 0 {
            continue;
        }
        // A few more than wanted, so that queueing blocked ones does not cost a turn.
        let look = i64::try_from(n.saturating_add(16)).unwrap_or(64);
        let candidates: Vec<Candidate> = Sql::new(
            "SELECT c.id, c.resource_key, CASE WHEN EXISTS (SELECT 1 FROM webhook_deliveries p \
               WHERE p.endpoint_id = c.endpoint_id AND p.resource_key = c.resource_key \
               AND p.state IN ('pending', 'queued') AND p.id < c.id) THEN 1 ELSE 0 END AS blocked \
             FROM webhook_deliveries c WHERE c.endpoint_id = ? AND c.state = 'pending' \
             AND c.next_attempt_at <= ? ORDER BY c.next_attempt_at, c.id LIMIT ?",
            vec![Arg::Text(endpoint), Arg::BigInt(now), Arg::BigInt(look)],
        )
        .load(conn)?;
        let (blocked, free): (Vec<&Candidate>, Vec<&Candidate>) =
            candidates.iter().partition(|c| c.blocked != 0);
        if !blocked.is_empty() {
            let ids: Vec<i64> = blocked.iter().map(|c| c.id).collect();
            set_queued(conn, &ids)?;
            let keys: Vec<&str> = blocked.iter().map(|c| c.resource_key.as_str()).collect();
            settle_streams(conn, endpoint, &keys, now)?;
        }
        let heads: Vec<i64> = free.iter().take(*n).map(|c| c.id).collect();
        if heads.is_empty() {
            continue;
        }
        let list = vec!["?"; heads.len()].join(", ");
        let mut args = vec![Arg::BigInt(lease_until), Arg::BigInt(lease_until)];
        args.extend(heads.iter().map(|id| Arg::BigInt(*id)));
        args.push(Arg::BigInt(now));
        let mut leased: Vec<DeliveryRow> = Sql::new(
            format!(
                "UPDATE webhook_deliveries SET locked_until = ?, next_attempt_at = ? \
                 WHERE id IN ({list}) AND state = 'pending' AND next_attempt_at <= ? RETURNING *"
            ),
            args,
        )
        .load(conn)?;
        leased.sort_by_key(|d| d.id);
        let followers = followers_of(conn, &leased)?;
        for head in leased {
            let mut run: Vec<DeliveryRow> = followers
                .iter()
                .filter(|f| f.resource_key == head.resource_key && f.id > head.id)
                .take(MAX_RUN - 1)
                .cloned()
                .collect();
            run.insert(0, head);
            out.push(run);
        }
    }
    Ok(out)
}

/// The unfinished deliveries behind `heads` in their streams, in order, up to a run's length
/// each: one read of the stream index per head (a stream with a long queue gives only the
/// first of it, and the endpoint's finished deliveries are never read).
fn followers_of(conn: &mut DbConn, heads: &[DeliveryRow]) -> Result<Vec<DeliveryRow>, StoreError> {
    let mut out = Vec::new();
    for head in heads {
        out.extend(
            Sql::new(
                "SELECT * FROM webhook_deliveries WHERE endpoint_id = ? AND resource_key = ? \
                 AND state IN ('pending', 'queued') AND id > ? ORDER BY id LIMIT ?",
                vec![
                    Arg::Text(&head.endpoint_id),
                    Arg::Text(&head.resource_key),
                    Arg::BigInt(head.id),
                    Arg::BigInt(i64::try_from(MAX_RUN - 1).unwrap_or(31)),
                ],
            )
            .load::<DeliveryRow>(conn)?,
        );
    }
    Ok(out)
}

fn set_queued(conn: &mut DbConn, ids: &[i64]) -> Result<(), StoreError> {
    for chunk in ids.chunks(256) {
        let list = vec!["?"; chunk.len()].join(", ");
        Sql::new(
            format!(
                "UPDATE webhook_deliveries SET state = 'queued', locked_until = NULL \
                 WHERE id IN ({list}) AND state = 'pending'"
            ),
            chunk.iter().map(|id| Arg::BigInt(*id)).collect(),
        )
        .run(conn)?;
    }
    Ok(())
}

/// Make the oldest unfinished delivery of each of these streams of `endpoint` pending (due
/// at `now` if it was queued): the one step that moves a stream on.
fn settle_streams(
    conn: &mut DbConn,
    endpoint: &str,
    keys: &[&str],
    now: i64,
) -> Result<(), StoreError> {
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    for chunk in keys.chunks(256) {
        let list = vec!["?"; chunk.len()].join(", ");
        let mut args = vec![Arg::BigInt(now), Arg::Text(endpoint)];
        args.extend(chunk.iter().map(|k| Arg::Text(k)));
        Sql::new(
            format!(
                "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ? \
                 WHERE state = 'queued' AND id IN (SELECT MIN(q.id) FROM webhook_deliveries q \
                   WHERE q.endpoint_id = ? AND q.state IN ('pending', 'queued') \
                   AND q.resource_key IN ({list}) GROUP BY q.resource_key)"
            ),
            args,
        )
        .run(conn)?;
    }
    Ok(())
}

/// The bodies of these messages, by id.
pub fn message_payloads(
    conn: &mut DbConn,
    ids: &[&str],
) -> Result<HashMap<String, String>, StoreError> {
    #[derive(QueryableByName)]
    struct Message {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        payload: String,
    }
    let mut out = HashMap::new();
    for chunk in ids.chunks(256) {
        let list = vec!["?"; chunk.len()].join(", ");
        let found: Vec<Message> = Sql::new(
            format!("SELECT id, payload FROM webhook_messages WHERE id IN ({list})"),
            chunk.iter().map(|id| Arg::Text(id)).collect(),
        )
        .load(conn)?;
        out.extend(found.into_iter().map(|m| (m.id, m.payload)));
    }
    Ok(out)
}

/// How a sent delivery ended, to record.
#[derive(Debug, Clone)]
pub struct Sent {
    pub delivery_id: i64,
    pub endpoint_id: String,
    pub resource_key: String,
    pub attempt: AttemptRow,
    pub delivered: bool,
    /// When to try again after a failure; `None`: give up (the delivery is `failed`).
    pub retry_at: Option<i64>,
}

/// Record sent deliveries: their state, their failed attempts, whether their endpoints fail,
/// and their streams' next deliveries. A delivery that is gone (its endpoint was removed
/// while it was being sent) is skipped, not an error that would lose the others' outcomes.
/// Returns, per endpoint that failed, since when it has been failing.
pub fn record_sent(
    conn: &mut DbConn,
    sent: &[Sent],
    now: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    serialize_senders(conn)?;
    // Successes, the usual outcome, are written a batch to a statement (one round trip).
    let (delivered, failed): (Vec<&Sent>, Vec<&Sent>) = sent.iter().partition(|s| s.delivered);
    for chunk in delivered.chunks(64) {
        record_delivered(conn, chunk)?;
    }
    let mut failing: Vec<(String, i64)> = Vec::new();
    for s in failed {
        let a = &s.attempt;
        // Only failed attempts get a row: the last one is in the delivery's own columns.
        Sql::new(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status, latency_ms, error) \
             SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = ?)",
            vec![
                Arg::BigInt(a.delivery_id),
                Arg::Int(a.attempt),
                Arg::BigInt(a.at),
                Arg::OptBigInt(a.status.map(i64::from)),
                Arg::BigInt(a.latency_ms),
                Arg::OptText(a.error.as_deref()),
                Arg::BigInt(a.delivery_id),
            ],
        )
        .run(conn)?;
        let (state, next) = match s.retry_at {
            Some(at) => ("pending", at),
            None => ("failed", a.at),
        };
        let updated = Sql::new(
            "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, \
             locked_until = NULL, last_status = ?, last_error = ?, last_latency_ms = ? \
             WHERE id = ? AND state IN ('pending', 'queued')",
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
        if updated == 0 {
            continue;
        }
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
    // Each stream moves on to its next delivery.
    let mut streams: HashMap<&str, Vec<&str>> = HashMap::new();
    for s in sent {
        streams
            .entry(s.endpoint_id.as_str())
            .or_default()
            .push(s.resource_key.as_str());
    }
    for (endpoint, keys) in streams {
        settle_streams(conn, endpoint, &keys, now)?;
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
             FROM v WHERE webhook_deliveries.id = v.id \
             AND webhook_deliveries.state IN ('pending', 'queued')"
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

/// A delivery of an endpoint, with its attempts (oldest first) and its message's body.
pub type DeliveryDetail = (DeliveryRow, Vec<AttemptRow>, Option<String>);

/// A delivery of an endpoint, with its attempts and body.
pub fn find_delivery(
    conn: &mut DbConn,
    endpoint_id: &str,
    id: i64,
) -> Result<Option<DeliveryDetail>, StoreError> {
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
    let payload =
        message_payloads(conn, &[delivery.message_id.as_str()])?.remove(&delivery.message_id);
    Ok(Some((delivery, attempts, payload)))
}

/// Send a delivery's message again (same `webhook-id` and the stored body, not a copy of
/// it), now; the delivery that will send it, or `None` if the endpoint has no such delivery.
/// While one is still waiting to be sent (not being sent), replaying again answers that one:
/// replays cannot pile up.
pub fn replay_delivery(
    conn: &mut DbConn,
    endpoint_id: &str,
    id: i64,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let Some(original) = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(id))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    // One being sent right now (leased) may already be past the receiver: that one does
    // not count as waiting.
    let waiting: Option<i64> = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::message_id.eq(&original.message_id))
        .filter(webhook_deliveries::state.eq_any(["pending", "queued"]))
        .filter(
            webhook_deliveries::locked_until
                .is_null()
                .or(webhook_deliveries::locked_until.le(now)),
        )
        .select(webhook_deliveries::id)
        .order(webhook_deliveries::id.desc())
        .first(conn)
        .optional()?;
    if waiting.is_some() {
        return Ok(waiting);
    }
    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let inserted: Vec<Inserted> = Sql::new(
        "INSERT INTO webhook_deliveries \
         (endpoint_id, tenant_id, message_id, event_type, resource_key, created_at, next_attempt_at) \
         SELECT endpoint_id, tenant_id, message_id, event_type, resource_key, ?, ? \
         FROM webhook_deliveries WHERE id = ? RETURNING id",
        vec![Arg::BigInt(now), Arg::BigInt(now), Arg::BigInt(id)],
    )
    .load(conn)?;
    Ok(inserted.first().map(|i| i.id))
}

/// Forget finished (delivered or failed) deliveries made before `before`, and the messages
/// no delivery names any more; how many deliveries.
pub fn purge_finished(conn: &mut DbConn, before: i64) -> Result<usize, StoreError> {
    Sql::new(
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries \
         WHERE state IN ('delivered', 'failed') AND created_at < ?)",
        vec![Arg::BigInt(before)],
    )
    .run(conn)?;
    let n = Sql::new(
        "DELETE FROM webhook_deliveries WHERE state IN ('delivered', 'failed') AND created_at < ?",
        vec![Arg::BigInt(before)],
    )
    .run(conn)?;
    Sql::new(
        "DELETE FROM webhook_messages WHERE created_at < ? AND NOT EXISTS \
         (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id)",
        vec![Arg::BigInt(before)],
    )
    .run(conn)?;
    Ok(n)
}
