//! Writes of users: inserts, updates guarded by the version read, tombstones and their
//! purge, and [`save_user_change`], which writes a change with its log entry and chooses how
//! on each backend.

use diesel::prelude::*;

use super::super::events::{insert_event, ChangeLog, NewEvent, EVENT_COLUMNS, EVENT_VALUES};
use super::super::prepared::{Arg, Sql};
use super::super::schema::{user_emails, users};
use super::super::{now_millis, DbConn, Store, StoreError};
use super::{EmailRow, UserRow};

fn insert_emails(conn: &mut DbConn, emails: &[EmailRow]) -> Result<(), StoreError> {
    // One prepared statement per email: users have a handful.
    for e in emails {
        Sql::new(
            format!("INSERT INTO {EMAIL_COLUMNS} VALUES {EMAIL_VALUES}"),
            email_args(e),
        )
        .run(conn)?;
    }
    Ok(())
}

/// Insert a user and its emails.
pub fn insert_user(
    conn: &mut DbConn,
    row: &UserRow,
    emails: &[EmailRow],
) -> Result<(), StoreError> {
    Sql::new(INSERT_USER, user_args(row)).run(conn)?;
    insert_emails(conn, emails)
}

const INSERT_USER: &str = "INSERT INTO users (user_name, user_name_lower, external_id, identity_mail, \
    display_name_lower, active, resource, version, updated_at, deactivated_at, id, tenant_id, created_at, deleted_at, in_scope) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// The bind values of a new user row, in the order of [`INSERT_USER`].
fn user_args(row: &UserRow) -> Vec<Arg<'_>> {
    vec![
        Arg::Text(&row.user_name),
        Arg::Text(&row.user_name_lower),
        Arg::OptText(row.external_id.as_deref()),
        Arg::Text(&row.identity_mail),
        Arg::OptText(row.display_name_lower.as_deref()),
        Arg::Bool(row.active),
        Arg::Text(&row.resource),
        Arg::BigInt(row.version),
        Arg::BigInt(row.updated_at),
        Arg::OptBigInt(row.deactivated_at),
        Arg::Text(&row.id),
        Arg::Text(&row.tenant_id),
        Arg::BigInt(row.created_at),
        Arg::OptBigInt(row.deleted_at),
        Arg::Bool(row.in_scope),
    ]
}

/// A change of a stored user, with everything the write needs (computed before it).
// Made once per write and moved into it whole: a box would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum UserChange {
    /// A new user and its email index rows.
    Insert { row: UserRow, emails: Vec<EmailRow> },
    /// `row` replaces `old` if nobody wrote the user since `old` was read, else
    /// `StoreError::Conflict`; `emails` replaces the email index rows when given (None:
    /// unchanged).
    Update {
        old: UserRow,
        row: UserRow,
        emails: Option<Vec<EmailRow>>,
    },
    /// A tombstone for the live user `id` (only at `version`, when given); logged only when
    /// a live user was deleted.
    Tombstone {
        tenant_id: String,
        id: String,
        version: Option<i64>,
    },
}

/// Write a change of a user with its log entry, all or nothing: whether it was written (an
/// insert or update always is, or fails; a tombstone is not when no live user matched).
/// The store chooses how: on PostgreSQL an insert, and an update that keeps the emails, are
/// one statement (data-modifying CTEs), atomic by itself and one round trip instead of five
/// with BEGIN and COMMIT; everything else, and everything on SQLite (through its writer),
/// is a transaction.
pub async fn save_user_change(
    store: &Store,
    change: UserChange,
    log: ChangeLog,
) -> Result<bool, StoreError> {
    // Entries logged with the change (rare: a user entering or leaving its tenant's scope)
    // go in a transaction.
    let one_statement = store.is_postgres() && log.more.is_empty();
    match change {
        UserChange::Insert { row, emails } if one_statement => {
            store
                .write_atomic(move |conn| insert_user_statement(conn, &row, &emails, &log.event()))
                .await?;
        }
        UserChange::Insert { row, emails } => {
            store
                .write(move |conn| {
                    insert_user(conn, &row, &emails)?;
                    log.insert(conn)
                })
                .await?;
        }
        UserChange::Update {
            old,
            row,
            emails: None,
        } if one_statement => {
            store
                .write_atomic(move |conn| update_user_statement(conn, &old, &row, &log.event()))
                .await?;
        }
        UserChange::Update { old, row, emails } => {
            store
                .write(move |conn| {
                    update_user(conn, &old, &row, emails.as_deref())?;
                    log.insert(conn)
                })
                .await?;
        }
        UserChange::Tombstone {
            tenant_id,
            id,
            version,
        } => {
            return store
                .write(move |conn| {
                    let deleted = tombstone_user(conn, &tenant_id, &id, version, now_millis())?;
                    if deleted {
                        insert_event(conn, &log.event())?;
                    }
                    Ok(deleted)
                })
                .await;
        }
    }
    Ok(true)
}

/// Insert a user, its emails and its log entry in one PostgreSQL statement.
fn insert_user_statement(
    conn: &mut DbConn,
    row: &UserRow,
    emails: &[EmailRow],
    event: &NewEvent<'_>,
) -> Result<(), StoreError> {
    let mut text = format!("WITH u AS ({INSERT_USER} RETURNING id)");
    let mut args = user_args(row);
    if !emails.is_empty() {
        text.push_str(&format!(", e AS (INSERT INTO {EMAIL_COLUMNS} VALUES "));
        let tuples: Vec<&str> = emails.iter().map(|_| EMAIL_VALUES).collect();
        text.push_str(&tuples.join(", "));
        text.push(')');
        for e in emails {
            args.extend(email_args(e));
        }
    }
    // The event row and the webhook deliveries are written only if the user's was (they
    // select from u).
    super::super::webhooks::push_outbox_ctes(&mut text, &mut args, event.webhooks, "u");
    text.push_str(&format!(
        " INSERT INTO {EVENT_COLUMNS} SELECT {EVENT_VALUES} FROM u"
    ));
    args.extend(event.args());
    Sql::new(text, args).run(conn)?;
    Ok(())
}

/// Replace the user's row `old` by `row` if nobody wrote it since `old` was read, with its
/// log entry (emails unchanged), in one PostgreSQL statement; `StoreError::Conflict`
/// otherwise.
fn update_user_statement(
    conn: &mut DbConn,
    old: &UserRow,
    row: &UserRow,
    event: &NewEvent<'_>,
) -> Result<(), StoreError> {
    let (update, mut args) = user_update(old, row);
    let mut text = format!("WITH u AS ({update} RETURNING id)");
    super::super::webhooks::push_outbox_ctes(&mut text, &mut args, event.webhooks, "u");
    text.push_str(&format!(
        " INSERT INTO {EVENT_COLUMNS} SELECT {EVENT_VALUES} FROM u"
    ));
    args.extend(event.args());
    let n = Sql::new(text, args).run(conn)?;
    if n == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// The UPDATE that turns `old` into `new`, guarded by `old`'s version: it sets only the
/// indexed columns whose values changed. Setting an indexed column rewrites its index entry
/// even when the value is the same; on SQLite that was three times the WAL pages per PATCH
/// (most PATCHes change the resource JSON, version and time, none of the indexed names).
fn user_update<'a>(old: &UserRow, new: &'a UserRow) -> (String, Vec<Arg<'a>>) {
    let mut set = String::from("UPDATE users SET resource = ?, version = ?, updated_at = ?");
    let mut args = vec![
        Arg::Text(&new.resource),
        Arg::BigInt(new.version),
        Arg::BigInt(new.updated_at),
    ];
    if new.user_name != old.user_name || new.user_name_lower != old.user_name_lower {
        set.push_str(", user_name = ?, user_name_lower = ?");
        args.extend([Arg::Text(&new.user_name), Arg::Text(&new.user_name_lower)]);
    }
    if new.external_id != old.external_id {
        set.push_str(", external_id = ?");
        args.push(Arg::OptText(new.external_id.as_deref()));
    }
    if new.identity_mail != old.identity_mail {
        set.push_str(", identity_mail = ?");
        args.push(Arg::Text(&new.identity_mail));
    }
    if new.display_name_lower != old.display_name_lower {
        set.push_str(", display_name_lower = ?");
        args.push(Arg::OptText(new.display_name_lower.as_deref()));
    }
    if new.active != old.active || new.deactivated_at != old.deactivated_at {
        set.push_str(", active = ?, deactivated_at = ?");
        args.extend([Arg::Bool(new.active), Arg::OptBigInt(new.deactivated_at)]);
    }
    if new.in_scope != old.in_scope {
        set.push_str(", in_scope = ?");
        args.push(Arg::Bool(new.in_scope));
    }
    set.push_str(" WHERE id = ? AND tenant_id = ? AND version = ? AND deleted_at IS NULL");
    args.extend([
        Arg::Text(&new.id),
        Arg::Text(&new.tenant_id),
        Arg::BigInt(old.version),
    ]);
    (set, args)
}

const EMAIL_COLUMNS: &str =
    "user_emails (user_id, position, tenant_id, value_lower, email_type, is_primary)";
const EMAIL_VALUES: &str = "(?, ?, ?, ?, ?, ?)";

/// The bind values of an email row, in the order of [`EMAIL_COLUMNS`].
fn email_args(e: &EmailRow) -> Vec<Arg<'_>> {
    vec![
        Arg::Text(&e.user_id),
        Arg::Int(e.position),
        Arg::Text(&e.tenant_id),
        Arg::Text(&e.value_lower),
        Arg::OptText(e.email_type.as_deref()),
        Arg::Bool(e.is_primary),
    ]
}

/// Replace the user's row `old` by `row` if nobody wrote it since `old` was read; otherwise
/// `StoreError::Conflict` (somebody else wrote it first). `emails` replaces the email index
/// rows when given (None: unchanged).
fn update_user(
    conn: &mut DbConn,
    old: &UserRow,
    row: &UserRow,
    emails: Option<&[EmailRow]>,
) -> Result<(), StoreError> {
    let (update, args) = user_update(old, row);
    let n = Sql::new(update, args).run(conn)?;
    if n == 0 {
        return Err(StoreError::Conflict);
    }
    match emails {
        Some(emails) => {
            diesel::delete(user_emails::table.filter(user_emails::user_id.eq(&row.id)))
                .execute(conn)?;
            insert_emails(conn, emails)
        }
        None => Ok(()),
    }
}

/// Leave a tombstone: the user disappears from reads, lists and uniqueness, and from every
/// group. Its `updated_at` becomes the deletion time, so that the host app's walks by
/// `updatedSince` see the deletion. Returns whether a live user was deleted.
fn tombstone_user(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
    version: Option<i64>,
    at: i64,
) -> Result<bool, StoreError> {
    let live = users::table
        .filter(users::id.eq(id))
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::deleted_at.is_null());
    let n = match version {
        Some(v) => diesel::update(live.filter(users::version.eq(v)))
            .set((users::deleted_at.eq(Some(at)), users::updated_at.eq(at)))
            .execute(conn)?,
        None => diesel::update(live)
            .set((users::deleted_at.eq(Some(at)), users::updated_at.eq(at)))
            .execute(conn)?,
    };
    if n > 0 {
        diesel::delete(user_emails::table.filter(user_emails::user_id.eq(id))).execute(conn)?;
        crate::store::groups::leave_groups(conn, tenant_id, id)?;
    }
    Ok(n > 0)
}

/// Remove tombstones older than `before`; returns how many.
pub fn purge_user_tombstones(conn: &mut DbConn, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        users::table
            .filter(users::deleted_at.is_not_null())
            .filter(users::deleted_at.lt(before)),
    )
    .execute(conn)?)
}
