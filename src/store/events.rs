//! The append-only provisioning log of each tenant.

use diesel::prelude::*;

use super::schema::events;
use super::{now_millis, DbConn, StoreError};

/// One provisioning event.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = events)]
pub struct Event {
    pub id: i64,
    pub tenant_id: String,
    pub at: i64,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub token_jti: Option<String>,
    pub detail: String,
}

/// A new event to append.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = events)]
pub struct NewEvent<'a> {
    pub tenant_id: &'a str,
    pub at: i64,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<&'a str>,
    pub token_jti: Option<&'a str>,
    pub detail: &'a str,
    /// What the webhook endpoints are told of this change (nothing for a refusal).
    #[diesel(skip_insertion)]
    pub webhooks: &'a [super::webhooks::OutboxMessage],
}

/// The log entry a change of a user or a group is written with, owned so that it can go to
/// the writer: its event row (stamped with the time of the write, as [`ChangeLog::event`]
/// is called there) and the webhook messages queued with it.
#[derive(Debug, Clone)]
pub struct ChangeLog {
    pub tenant_id: String,
    pub resource_type: &'static str,
    pub action: &'static str,
    pub resource_id: String,
    pub token_jti: Option<String>,
    pub detail: String,
    pub webhooks: Vec<super::webhooks::OutboxMessage>,
    /// Entries logged with this one, in the same transaction, after it (a user entering or
    /// leaving the tenant's scope with the change that moved it).
    pub more: Vec<ChangeLog>,
}

impl ChangeLog {
    /// The event to insert, stamped now.
    pub fn event(&self) -> NewEvent<'_> {
        NewEvent {
            tenant_id: &self.tenant_id,
            at: now_millis(),
            action: self.action,
            resource_type: self.resource_type,
            resource_id: Some(&self.resource_id),
            token_jti: self.token_jti.as_deref(),
            detail: &self.detail,
            webhooks: &self.webhooks,
        }
    }

    /// Insert the event, its webhook deliveries and those of the entries logged with it.
    pub fn insert(&self, conn: &mut DbConn) -> Result<(), StoreError> {
        insert_event(conn, &self.event())?;
        for more in &self.more {
            more.insert(conn)?;
        }
        Ok(())
    }
}

/// Append an event to the log.
pub fn append_event(
    conn: &mut DbConn,
    tenant_id: &str,
    action: &str,
    resource_type: &str,
    resource_id: Option<&str>,
    token_jti: Option<&str>,
    detail: &str,
) -> Result<(), StoreError> {
    insert_event(
        conn,
        &NewEvent {
            tenant_id,
            at: now_millis(),
            action,
            resource_type,
            resource_id,
            token_jti,
            detail,
            webhooks: &[],
        },
    )
}

/// Append an event built by the caller, and queue its webhook deliveries.
pub fn insert_event(conn: &mut DbConn, e: &NewEvent<'_>) -> Result<(), StoreError> {
    super::prepared::Sql::new(
        format!("INSERT INTO {EVENT_COLUMNS} VALUES ({EVENT_VALUES})"),
        e.args(),
    )
    .run(conn)?;
    for m in e.webhooks {
        super::webhooks::enqueue(conn, m)?;
    }
    Ok(())
}

/// The columns of an event insert, and the placeholders of [`NewEvent::args`].
pub(crate) const EVENT_COLUMNS: &str =
    "events (tenant_id, at, action, resource_type, resource_id, token_jti, detail)";
pub(crate) const EVENT_VALUES: &str = "?, ?, ?, ?, ?, ?, ?";
/// The placeholders of [`NewEvent::args_but_detail`], for an insert that computes the detail.
pub(crate) const EVENT_VALUES_BUT_DETAIL: &str = "?, ?, ?, ?, ?, ?";

impl<'a> NewEvent<'a> {
    /// The bind values, in the order of [`EVENT_COLUMNS`].
    pub(crate) fn args(&self) -> Vec<super::prepared::Arg<'a>> {
        use super::prepared::Arg;
        vec![
            Arg::Text(self.tenant_id),
            Arg::BigInt(self.at),
            Arg::Text(self.action),
            Arg::Text(self.resource_type),
            Arg::OptText(self.resource_id),
            Arg::OptText(self.token_jti),
            Arg::Text(self.detail),
        ]
    }

    /// The bind values of every column but the last, `detail`.
    pub(crate) fn args_but_detail(&self) -> Vec<super::prepared::Arg<'a>> {
        let mut args = self.args();
        args.pop();
        args
    }
}

/// Events of a tenant with id greater than `after`, oldest first, at most `limit`.
pub fn events_after(
    conn: &mut DbConn,
    tenant_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    Ok(events::table
        .filter(events::tenant_id.eq(tenant_id))
        .filter(events::id.gt(after))
        .order(events::id.asc())
        .limit(limit)
        .select(Event::as_select())
        .load(conn)?)
}

/// One page of a tenant's events, newest first, optionally of one action.
pub fn events_page(
    conn: &mut DbConn,
    tenant_id: &str,
    action: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    let mut q = events::table
        .filter(events::tenant_id.eq(tenant_id.to_string()))
        .select(Event::as_select())
        .into_boxed();
    if let Some(a) = action {
        q = q.filter(events::action.eq(a.to_string()));
    }
    Ok(q.order(events::id.desc())
        .offset(offset)
        .limit(limit)
        .load(conn)?)
}
