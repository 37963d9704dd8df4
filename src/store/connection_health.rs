//! Each tenant's connection health: what its SCIM client last did (flushed from every
//! instance's counters in memory, added up here), refusals by hour and reason, the state last
//! told to the host app, and the credential expiry warnings told. Every query names its
//! tenants.

use diesel::prelude::*;

use super::prepared::{take_turn, Arg, Sql};
use super::schema::{
    connection_health, connection_notices, connection_refusals, oauth_clients, tokens,
};
use super::{DbConn, StoreError};

/// A tenant's row.
#[derive(Debug, Clone, Default, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = connection_health)]
#[diesel(treat_none_as_null = true)]
pub struct HealthRow {
    pub tenant_id: String,
    /// The last accepted SCIM request.
    pub last_request_at: Option<i64>,
    /// The last request that looked like Entra's Test Connection probe.
    pub last_test_connection_at: Option<i64>,
    pub last_refusal_at: Option<i64>,
    pub last_refusal_reason: Option<String>,
    /// Refusals since the last accepted request (across instances, as near as the flushes
    /// tell).
    pub refusals_since_request: i64,
    /// The state last told to the host app (`None`: none yet).
    pub announced_state: Option<String>,
    pub announced_at: Option<i64>,
}

/// What one instance saw of one tenant since its last flush.
#[derive(Debug, Clone, Default)]
pub struct HealthDelta {
    pub tenant_id: String,
    pub last_request_at: Option<i64>,
    pub last_test_connection_at: Option<i64>,
    /// The last refusal and its reason.
    pub last_refusal: Option<(i64, String)>,
    /// Refusals after this instance's last accepted request of the interval (all of them
    /// when it accepted none).
    pub refusals_after_request: i64,
    /// Refusals by (hour since the epoch, reason).
    pub refusals: Vec<(i64, String, i64)>,
}

fn later(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Add one instance's delta to a tenant's row.
fn merge(mut row: HealthRow, d: &HealthDelta) -> HealthRow {
    let stored_request = row.last_request_at;
    row.last_test_connection_at = later(row.last_test_connection_at, d.last_test_connection_at);
    match d.last_request_at {
        // A newer accepted request: only the refusals after it count (this instance's, and one
        // for another instance's refusal seen since).
        Some(at) if stored_request.is_none_or(|s| at > s) => {
            let others_after = row.last_refusal_at.is_some_and(|r| r > at);
            row.refusals_since_request = d.refusals_after_request + i64::from(others_after);
            row.last_request_at = Some(at);
        }
        // Refusals this instance saw after the last accepted request that is known.
        _ => {
            let after_stored = d
                .last_refusal
                .as_ref()
                .is_some_and(|(r, _)| stored_request.is_none_or(|s| *r > s));
            if after_stored {
                row.refusals_since_request += d.refusals_after_request;
            }
        }
    }
    if let Some((at, reason)) = &d.last_refusal {
        if row.last_refusal_at.is_none_or(|r| *at >= r) {
            row.last_refusal_at = Some(*at);
            row.last_refusal_reason = Some(reason.clone());
        }
    }
    row
}

/// Add the deltas of one instance's flush: the instances' flushes take turns, so that each
/// reads what the one before wrote.
pub fn flush(conn: &mut DbConn, deltas: &[HealthDelta]) -> Result<(), StoreError> {
    take_turn(conn, "connection_health")?;
    for d in deltas {
        let found = connection_health::table
            .find(&d.tenant_id)
            .select(HealthRow::as_select())
            .first(conn)
            .optional()?;
        let exists = found.is_some();
        let row = merge(
            found.unwrap_or_else(|| HealthRow {
                tenant_id: d.tenant_id.clone(),
                ..HealthRow::default()
            }),
            d,
        );
        if exists {
            diesel::update(connection_health::table.find(&d.tenant_id))
                .set((
                    connection_health::last_request_at.eq(row.last_request_at),
                    connection_health::last_test_connection_at.eq(row.last_test_connection_at),
                    connection_health::last_refusal_at.eq(row.last_refusal_at),
                    connection_health::last_refusal_reason.eq(&row.last_refusal_reason),
                    connection_health::refusals_since_request.eq(row.refusals_since_request),
                ))
                .execute(conn)?;
        } else {
            diesel::insert_into(connection_health::table)
                .values(&row)
                .execute(conn)?;
        }
        for (hour, reason, count) in &d.refusals {
            Sql::new(
                "INSERT INTO connection_refusals (tenant_id, hour, reason, count) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (tenant_id, hour, reason) DO UPDATE SET count = connection_refusals.count + excluded.count",
                vec![
                    Arg::Text(&d.tenant_id),
                    Arg::BigInt(*hour),
                    Arg::Text(reason),
                    Arg::BigInt(*count),
                ],
            )
            .run(conn)?;
        }
    }
    Ok(())
}

/// Forget refusals counted in hours before `hour`.
pub fn purge_refusals(conn: &mut DbConn, hour: i64) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(connection_refusals::table.filter(connection_refusals::hour.lt(hour)))
            .execute(conn)?,
    )
}

/// The rows of these tenants (a tenant without one has had no request yet).
pub fn rows(conn: &mut DbConn, tenant_ids: &[String]) -> Result<Vec<HealthRow>, StoreError> {
    Ok(connection_health::table
        .filter(connection_health::tenant_id.eq_any(tenant_ids))
        .select(HealthRow::as_select())
        .load(conn)?)
}

/// These tenants' refusals from `hour` on: (tenant id, reason, count), by hour.
pub fn refusals_since(
    conn: &mut DbConn,
    tenant_ids: &[String],
    hour: i64,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(connection_refusals::table
        .filter(connection_refusals::tenant_id.eq_any(tenant_ids))
        .filter(connection_refusals::hour.ge(hour))
        .select((
            connection_refusals::tenant_id,
            connection_refusals::reason,
            connection_refusals::count,
        ))
        .load(conn)?)
}

/// A credential that could authenticate a tenant's requests now.
#[derive(Debug, Clone, Queryable)]
pub struct LiveToken {
    pub tenant_id: String,
    pub jti: String,
    pub label: String,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    /// The OAuth client of an access token (`None`: a Secret Token).
    pub oauth_client: Option<String>,
}

/// These tenants' tokens neither revoked nor expired at `now` (Secret Tokens and OAuth
/// access tokens).
pub fn live_tokens(
    conn: &mut DbConn,
    tenant_ids: &[String],
    now: i64,
) -> Result<Vec<LiveToken>, StoreError> {
    Ok(tokens::table
        .filter(tokens::tenant_id.eq_any(tenant_ids))
        .filter(tokens::revoked_at.is_null())
        .filter(tokens::expires_at.gt(now))
        .select((
            tokens::tenant_id,
            tokens::jti,
            tokens::label,
            tokens::expires_at,
            tokens::last_used_at,
            tokens::oauth_client,
        ))
        .load(conn)?)
}

/// Those of these tenants that have an OAuth client not revoked (it can get a token).
pub fn with_live_clients(
    conn: &mut DbConn,
    tenant_ids: &[String],
) -> Result<Vec<String>, StoreError> {
    Ok(oauth_clients::table
        .filter(oauth_clients::tenant_id.eq_any(tenant_ids))
        .filter(oauth_clients::revoked_at.is_null())
        .select(oauth_clients::tenant_id)
        .distinct()
        .load(conn)?)
}

/// Record that `state` is told for the tenant, if the state told last is still `was`: true
/// for the one instance whose update it was (the caller then queues the event in the same
/// transaction).
pub fn announce(
    conn: &mut DbConn,
    tenant_id: &str,
    was: Option<&str>,
    state: &str,
    at: i64,
) -> Result<bool, StoreError> {
    let target = connection_health::table.filter(connection_health::tenant_id.eq(tenant_id));
    let set = (
        connection_health::announced_state.eq(Some(state)),
        connection_health::announced_at.eq(Some(at)),
    );
    let changed = match was {
        Some(w) => diesel::update(target.filter(connection_health::announced_state.eq(w)))
            .set(set)
            .execute(conn)?,
        None => diesel::update(target.filter(connection_health::announced_state.is_null()))
            .set(set)
            .execute(conn)?,
    };
    Ok(changed > 0)
}

/// Record that the warning of `credential` at `days` is told: true for the one instance
/// that recorded it.
pub fn note_expiry_warning(
    conn: &mut DbConn,
    tenant_id: &str,
    credential: &str,
    days: i32,
    at: i64,
) -> Result<bool, StoreError> {
    let inserted = on_backend!(conn, |c| diesel::insert_into(connection_notices::table)
        .values((
            connection_notices::tenant_id.eq(tenant_id),
            connection_notices::credential.eq(credential),
            connection_notices::days.eq(days),
            connection_notices::sent_at.eq(at),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted > 0)
}

/// Forget warnings of credentials that expired before `before` (they are told no more).
pub fn purge_notices(conn: &mut DbConn, before: i64) -> Result<usize, StoreError> {
    // A warning is at most 14 days before its credential's expiry.
    let sent_before = before - 15 * 24 * 3600 * 1000;
    Ok(diesel::delete(
        connection_notices::table.filter(connection_notices::sent_at.lt(sent_before)),
    )
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(req: Option<i64>, refused: Option<i64>, after: i64) -> HealthDelta {
        HealthDelta {
            tenant_id: "t".into(),
            last_request_at: req,
            last_refusal: refused.map(|r| (r, "expired_token".into())),
            refusals_after_request: after,
            ..HealthDelta::default()
        }
    }

    #[test]
    fn refusals_after_the_last_request_add_up_across_instances() {
        let row = merge(HealthRow::default(), &delta(Some(10), Some(20), 2));
        assert_eq!(
            (row.last_request_at, row.refusals_since_request),
            (Some(10), 2)
        );
        // Another instance refused three more and accepted nothing.
        let row = merge(row, &delta(None, Some(30), 3));
        assert_eq!(row.refusals_since_request, 5);
        assert_eq!(row.last_refusal_at, Some(30));
        // A later accepted request starts the count over.
        let row = merge(row, &delta(Some(40), None, 0));
        assert_eq!(
            (row.last_request_at, row.refusals_since_request),
            (Some(40), 0)
        );
        // An older one does not, nor a refusal before the last request.
        let row = merge(row, &delta(Some(35), Some(36), 1));
        assert_eq!(
            (row.last_request_at, row.refusals_since_request),
            (Some(40), 0)
        );
        assert_eq!(row.last_refusal_at, Some(36));
    }
}
