//! Users: the stored SCIM resource plus the columns that index it (userName, identity mail,
//! externalId, emails), and the SQL form of the filters Entra matches with.

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::events::{insert_event, ChangeLog, NewEvent, EVENT_COLUMNS, EVENT_VALUES};
use super::prepared::{Arg, Sql};
use super::schema::{group_members, user_emails, users};
use super::sql::like_pattern;
use super::{now_millis, DbConn, Store, StoreError};

type Backend = <DbConn as Connection>::Backend;

/// A user row; `resource` is the SCIM resource without `id` and `meta`.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub tenant_id: String,
    pub user_name: String,
    pub user_name_lower: String,
    pub external_id: Option<String>,
    pub identity_mail: String,
    pub display_name_lower: Option<String>,
    pub active: bool,
    pub resource: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub deactivated_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

impl UserRow {
    /// Whether the row is a live (not deleted) user of the tenant.
    fn is_live_in(&self, tenant_id: &str) -> bool {
        self.tenant_id == tenant_id && self.deleted_at.is_none()
    }
}

/// One email of a user, lower-cased, for indexed lookups.
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = user_emails)]
pub struct EmailRow {
    pub user_id: String,
    pub position: i32,
    pub tenant_id: String,
    pub value_lower: String,
    pub email_type: Option<String>,
    pub is_primary: bool,
}

/// String comparison operators that SQL runs on lower-cased or exact columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrOp {
    Eq,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Ordered comparison on an integer column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumOp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A filter over users that runs entirely in SQL. String values of case-insensitive
/// attributes are already lower-cased by the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum UserPredicate {
    And(Box<UserPredicate>, Box<UserPredicate>),
    Or(Box<UserPredicate>, Box<UserPredicate>),
    Not(Box<UserPredicate>),
    Id(StrOp, String),
    UserName(StrOp, String),
    ExternalId(StrOp, String),
    ExternalIdPresent,
    DisplayName(StrOp, String),
    DisplayNamePresent,
    /// An email (optionally of a given lower-cased type) compares to the value.
    Email {
        email_type: Option<String>,
        op: StrOp,
        value: String,
    },
    /// The user has at least one email (of the type).
    EmailPresent {
        email_type: Option<String>,
    },
    Active(bool),
    Created(NumOp, i64),
    LastModified(NumOp, i64),
    /// Always true (`id pr`, `userName pr`).
    True,
    /// The user id is one of these (an email lookup already resolved to ids).
    IdIn(Vec<String>),
}

impl UserPredicate {
    /// Whether the filter pins its users by an indexed key (`id`, `userName`, `externalId` or
    /// an email, with `eq`), as Entra's matching queries do: a few index probes, never a scan.
    pub fn is_point(&self) -> bool {
        use UserPredicate as P;
        match self {
            P::Id(StrOp::Eq, _) | P::UserName(StrOp::Eq, _) | P::ExternalId(StrOp::Eq, _) => true,
            P::Email { op: StrOp::Eq, .. } => true,
            P::And(a, b) => a.is_point() || b.is_point(),
            P::Or(a, b) => a.is_point() && b.is_point(),
            _ => false,
        }
    }
}

/// Sortable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    UserName,
    DisplayName,
    ExternalId,
    Created,
    LastModified,
    Id,
}

type BoxedPred =
    Box<dyn BoxableExpression<users::table, Backend, SqlType = diesel::sql_types::Bool>>;

fn email_subquery(
    tenant_id: &str,
    email_type: Option<&str>,
    cond: Option<(StrOp, &str)>,
) -> BoxedPred {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    // SQL text with binds: diesel's MultiBackend cannot nest a boxed subselect.
    const PREFIX: &str =
        "users.id IN (SELECT user_emails.user_id FROM user_emails WHERE user_emails.tenant_id = ";
    let tenant = tenant_id.to_string();
    let Some((op, v)) = cond else {
        return match email_type {
            Some(t) => Box::new(
                sql::<Bool>(PREFIX)
                    .bind::<Text, _>(tenant)
                    .sql(" AND user_emails.email_type = ")
                    .bind::<Text, _>(t.to_string())
                    .sql(")"),
            ),
            None => Box::new(sql::<Bool>(PREFIX).bind::<Text, _>(tenant).sql(")")),
        };
    };
    let (compare, arg, suffix) = match op {
        StrOp::Eq => (" AND user_emails.value_lower = ", v.to_string(), ")"),
        StrOp::Gt => (" AND user_emails.value_lower > ", v.to_string(), ")"),
        StrOp::Ge => (" AND user_emails.value_lower >= ", v.to_string(), ")"),
        StrOp::Lt => (" AND user_emails.value_lower < ", v.to_string(), ")"),
        StrOp::Le => (" AND user_emails.value_lower <= ", v.to_string(), ")"),
        op => (
            " AND user_emails.value_lower LIKE ",
            like_pattern(op, v),
            " ESCAPE '\\')",
        ),
    };
    match email_type {
        Some(t) => Box::new(
            sql::<Bool>(PREFIX)
                .bind::<Text, _>(tenant)
                .sql(" AND user_emails.email_type = ")
                .bind::<Text, _>(t.to_string())
                .sql(compare)
                .bind::<Text, _>(arg)
                .sql(suffix),
        ),
        None => Box::new(
            sql::<Bool>(PREFIX)
                .bind::<Text, _>(tenant)
                .sql(compare)
                .bind::<Text, _>(arg)
                .sql(suffix),
        ),
    }
}

fn to_sql(tenant_id: &str, p: &UserPredicate) -> BoxedPred {
    use UserPredicate as P;
    match p {
        P::And(a, b) => Box::new(to_sql(tenant_id, a).and(to_sql(tenant_id, b))),
        P::Or(a, b) => Box::new(to_sql(tenant_id, a).or(to_sql(tenant_id, b))),
        P::Not(a) => Box::new(diesel::dsl::not(to_sql(tenant_id, a))),
        P::Id(op, v) => str_cmp!(users::id, *op, v.clone()),
        P::UserName(op, v) => str_cmp!(users::user_name_lower, *op, v.clone()),
        // NULL columns must make the comparison false, not NULL, so `not (…)` stays correct.
        P::ExternalId(op, v) => Box::new(users::external_id.is_not_null().and(str_cmp!(
            users::external_id.assume_not_null(),
            *op,
            v.clone()
        ))),
        P::ExternalIdPresent => Box::new(users::external_id.is_not_null()),
        P::DisplayName(op, v) => Box::new(users::display_name_lower.is_not_null().and(str_cmp!(
            users::display_name_lower.assume_not_null(),
            *op,
            v.clone()
        ))),
        P::DisplayNamePresent => Box::new(users::display_name_lower.is_not_null()),
        P::Email {
            email_type,
            op,
            value,
        } => email_subquery(tenant_id, email_type.as_deref(), Some((*op, value))),
        P::EmailPresent { email_type } => email_subquery(tenant_id, email_type.as_deref(), None),
        P::Active(b) => Box::new(users::active.eq(*b)),
        P::Created(op, v) => num_cmp!(users::created_at, *op, *v),
        P::LastModified(op, v) => num_cmp!(users::updated_at, *op, *v),
        P::True => Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 1")),
        P::IdIn(ids) => Box::new(users::id.eq_any(ids.clone())),
    }
}

/// Most ids an email lookup is turned into before the query (beyond, a subquery is used).
const MAX_RESOLVED_IDS: usize = 1_000;

/// Replace exact email lookups by the ids they find. The match query Entra sends
/// (`emails[type eq "work"].value eq "…"`) then reads one index and a primary key on any
/// backend, whatever the planner would have guessed for `id IN (subquery)`.
fn resolve_emails(
    conn: &mut DbConn,
    tenant_id: &str,
    p: &UserPredicate,
) -> Result<UserPredicate, StoreError> {
    use UserPredicate as P;
    Ok(match p {
        P::And(a, b) => P::And(
            Box::new(resolve_emails(conn, tenant_id, a)?),
            Box::new(resolve_emails(conn, tenant_id, b)?),
        ),
        P::Or(a, b) => P::Or(
            Box::new(resolve_emails(conn, tenant_id, a)?),
            Box::new(resolve_emails(conn, tenant_id, b)?),
        ),
        P::Not(a) => P::Not(Box::new(resolve_emails(conn, tenant_id, a)?)),
        P::Email {
            email_type,
            op: StrOp::Eq,
            value,
        } => {
            let limit = i64::try_from(MAX_RESOLVED_IDS).unwrap_or(i64::MAX) + 1;
            let ids: Vec<String> = match email_type {
                Some(t) => on_backend!(conn, |c| user_emails::table
                    .filter(user_emails::tenant_id.eq(tenant_id))
                    .filter(user_emails::value_lower.eq(value))
                    .filter(user_emails::email_type.eq(t))
                    .select(user_emails::user_id)
                    .limit(limit)
                    .load(c))?,
                None => on_backend!(conn, |c| user_emails::table
                    .filter(user_emails::tenant_id.eq(tenant_id))
                    .filter(user_emails::value_lower.eq(value))
                    .select(user_emails::user_id)
                    .limit(limit)
                    .load(c))?,
            };
            if ids.len() > MAX_RESOLVED_IDS {
                p.clone()
            } else {
                P::IdIn(ids)
            }
        }
        other => other.clone(),
    })
}

/// Order a boxed query by a column, ascending or descending, with id as the tie-breaker.
macro_rules! order {
    ($q:expr, $col:expr, $asc:expr) => {
        if $asc {
            $q.order(($col.asc(), users::id.asc()))
        } else {
            $q.order(($col.desc(), users::id.asc()))
        }
    };
}

fn live_users(tenant_id: &str) -> users::BoxedQuery<'static, Backend> {
    users::table
        .filter(users::tenant_id.eq(tenant_id.to_string()))
        .filter(users::deleted_at.is_null())
        .into_boxed()
}

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
    display_name_lower, active, resource, version, updated_at, deactivated_at, id, tenant_id, created_at, deleted_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

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
    let one_statement = store.is_postgres();
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
                    insert_event(conn, &log.event())
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
                    insert_event(conn, &log.event())
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
    super::webhooks::push_outbox_ctes(&mut text, &mut args, event.webhooks, "u");
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
    super::webhooks::push_outbox_ctes(&mut text, &mut args, event.webhooks, "u");
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
pub fn update_user(
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

/// Users by primary key, then kept only if live and of the tenant. Looking up by the key
/// alone leaves a planner without statistics (a fresh PostgreSQL table) no index to get
/// wrong; the tenant check is the same, done on the few rows found.
fn live_users_by_id(
    conn: &mut DbConn,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<UserRow>, StoreError> {
    let rows: Vec<UserRow> = users::table
        .filter(users::id.eq_any(ids))
        .select(UserRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| r.is_live_in(tenant_id))
        .collect())
}

/// A live (not deleted) user of the tenant.
pub fn get_user(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
) -> Result<Option<UserRow>, StoreError> {
    let row: Option<UserRow> = on_backend!(conn, |c| users::table
        .find(id)
        .select(UserRow::as_select())
        .first(c)
        .optional())?;
    Ok(row.filter(|r| r.is_live_in(tenant_id)))
}

/// A user of a tenant by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserKey {
    pub tenant_id: String,
    pub id: String,
}

/// The live user each key names, one entry per key; on PostgreSQL in one statement (see
/// `store::coalesce`).
pub fn users_by_ids(
    conn: &mut DbConn,
    keys: &[UserKey],
) -> Result<Vec<Option<UserRow>>, StoreError> {
    if !matches!(conn, DbConn::Postgres(_)) {
        return keys
            .iter()
            .map(|k| get_user(conn, &k.tenant_id, &k.id))
            .collect();
    }
    let text = format!(
        "{} CROSS JOIN LATERAL (SELECT * FROM users WHERE id = q.id) u",
        keyed_values(keys.len(), "id")
    );
    let args = keys.iter().map(|k| Arg::Text(&k.id)).collect();
    let found = Sql::new(text, args).load(conn)?;
    // An id is a primary key: at most one row per key.
    Ok(live_rows_per_key(found, keys, |k| &k.tenant_id)
        .into_iter()
        .map(|mut rows| rows.pop())
        .collect())
}

/// `SELECT q.k, u.* FROM (VALUES (0, ?, …), (1, ?, …), …) AS q(k, columns…)`: one row of
/// arguments per key, numbered, for a lateral lookup per key. The text depends only on the
/// number of keys, so each batch size is a statement the connection keeps. Arguments go row
/// by row.
fn keyed_values(n: usize, columns: &str) -> String {
    let marks = vec!["?"; columns.split(',').count()].join(", ");
    let rows: Vec<String> = (0..n).map(|i| format!("({i}, {marks})")).collect();
    format!(
        "SELECT q.k, u.* FROM (VALUES {}) AS q(k, {columns})",
        rows.join(", ")
    )
}

/// The rows of a [`keyed_values`] statement by the key that found them, each kept only if it
/// is a live user of that key's tenant.
fn live_rows_per_key<K>(
    found: Vec<KeyedUserRow>,
    keys: &[K],
    tenant_of: impl Fn(&K) -> &str,
) -> Vec<Vec<UserRow>> {
    let mut per_key: Vec<Vec<UserRow>> = vec![Vec::new(); keys.len()];
    for KeyedUserRow { k, row } in found {
        let Ok(k) = usize::try_from(k) else { continue };
        if let (Some(rows), Some(key)) = (per_key.get_mut(k), keys.get(k)) {
            if row.is_live_in(tenant_of(key)) {
                rows.push(row);
            }
        }
    }
    per_key
}

/// Which of these ids are live users of the tenant.
pub fn existing_user_ids(
    conn: &mut DbConn,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    Ok(live_users_by_id(conn, tenant_id, ids)?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Leave a tombstone: the user disappears from reads, lists and uniqueness, and from every
/// group. Its `updated_at` becomes the deletion time, so that the host app's walks by
/// `updatedSince` see the deletion. Returns whether a live user was deleted.
pub fn tombstone_user(
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
        diesel::delete(
            group_members::table
                .filter(group_members::member_id.eq(id))
                .filter(group_members::tenant_id.eq(tenant_id)),
        )
        .execute(conn)?;
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

/// The live users of a tenant that Entra's matching queries name (`emails[type eq "work"].value
/// eq`, `emails.value eq`, `userName eq`, `externalId eq`), each in one statement whose
/// prepared form the connection keeps: one round trip on PostgreSQL. None for other filters.
fn point_query(
    conn: &mut DbConn,
    tenant_id: &str,
    p: &UserPredicate,
) -> Result<Option<Vec<UserRow>>, StoreError> {
    match p {
        UserPredicate::Email {
            email_type,
            op: StrOp::Eq,
            value,
        } if matches!(conn, DbConn::Postgres(_)) => {
            let key = EmailKey {
                tenant_id: tenant_id.to_string(),
                value: value.clone(),
                email_type: email_type.clone(),
            };
            Ok(users_by_emails(conn, std::slice::from_ref(&key))?
                .pop()
                .flatten())
        }
        _ => point_query_dsl(
            conn,
            tenant_id,
            p,
            i64::try_from(MAX_RESOLVED_IDS).unwrap_or(i64::MAX),
        ),
    }
}

/// Entra's matching query by mail (`emails[type eq "work"].value eq "…"`, `emails.value eq`):
/// the tenant's live users with this email, of this type if one is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailKey {
    pub tenant_id: String,
    /// Lower-cased, as stored.
    pub value: String,
    pub email_type: Option<String>,
}

/// A user row with the position of the key that found it.
#[derive(QueryableByName)]
struct KeyedUserRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    k: i32,
    #[diesel(embed)]
    row: UserRow,
}

/// The users each key names, in creation order, one entry per key (None where more users
/// share the email than a point query resolves: the caller takes the general path). On
/// PostgreSQL every key goes in one statement (see `store::coalesce`).
pub fn users_by_emails(
    conn: &mut DbConn,
    keys: &[EmailKey],
) -> Result<Vec<Option<Vec<UserRow>>>, StoreError> {
    let limit = i64::try_from(MAX_RESOLVED_IDS).unwrap_or(i64::MAX);
    if !matches!(conn, DbConn::Postgres(_)) {
        return keys
            .iter()
            .map(|k| {
                let p = UserPredicate::Email {
                    email_type: k.email_type.clone(),
                    op: StrOp::Eq,
                    value: k.value.clone(),
                };
                point_query_dsl(conn, &k.tenant_id, &p, limit)
            })
            .collect();
    }
    // Per key, the ids are gathered first (an InitPlan) and users read by primary key: a
    // join left to a planner without statistics (a table that just grew) can choose to scan
    // the tenant's users, as measured: 1,000 µs a match instead of 70.
    let text = keyed_values(keys.len(), "tenant_id, value_lower, email_type");
    let mut args = Vec::with_capacity(keys.len() * 3 + 1);
    for key in keys {
        args.extend([
            Arg::Text(&key.tenant_id),
            Arg::Text(&key.value),
            Arg::OptText(key.email_type.as_deref()),
        ]);
    }
    let text = format!(
        "{text} CROSS JOIN LATERAL (SELECT * FROM users WHERE id = ANY(ARRAY(SELECT e.user_id \
         FROM user_emails e WHERE e.tenant_id = q.tenant_id AND e.value_lower = q.value_lower \
         AND (q.email_type IS NULL OR e.email_type = q.email_type) LIMIT ?))) u"
    );
    args.push(Arg::BigInt(limit));
    let found = Sql::new(text, args).load(conn)?;
    Ok(live_rows_per_key(found, keys, |k| &k.tenant_id)
        .into_iter()
        .map(finish_point_query)
        .collect())
}

fn point_query_dsl(
    conn: &mut DbConn,
    tenant_id: &str,
    p: &UserPredicate,
    limit: i64,
) -> Result<Option<Vec<UserRow>>, StoreError> {
    use UserPredicate as P;
    // The live users of the tenant among what `$q` selects, on either backend.
    macro_rules! live_rows {
        ($q:expr) => {
            on_backend!(conn, |c| $q
                .filter(users::tenant_id.eq(tenant_id))
                .filter(users::deleted_at.is_null())
                .select(UserRow::as_select())
                .limit(limit)
                .load(c))?
        };
    }
    let by_mail = || {
        user_emails::table
            .inner_join(users::table)
            .filter(user_emails::tenant_id.eq(tenant_id))
    };
    let rows: Vec<UserRow> = match p {
        P::Email {
            email_type: Some(t),
            op: StrOp::Eq,
            value,
        } => {
            live_rows!(by_mail()
                .filter(user_emails::value_lower.eq(value))
                .filter(user_emails::email_type.eq(t)))
        }
        P::Email {
            email_type: None,
            op: StrOp::Eq,
            value,
        } => live_rows!(by_mail().filter(user_emails::value_lower.eq(value))),
        P::UserName(StrOp::Eq, v) => live_rows!(users::table.filter(users::user_name_lower.eq(v))),
        P::ExternalId(StrOp::Eq, v) => live_rows!(users::table.filter(users::external_id.eq(v))),
        _ => return Ok(None),
    };
    Ok(finish_point_query(rows))
}

/// Rows of a point query in creation order, each user once; None past the cap (then the
/// general path counts and pages in SQL).
fn finish_point_query(mut rows: Vec<UserRow>) -> Option<Vec<UserRow>> {
    // A user with the mail twice (work and other) is found twice.
    sort_by_creation(&mut rows);
    rows.dedup_by(|a, b| a.id == b.id);
    (rows.len() < MAX_RESOLVED_IDS).then_some(rows)
}

/// The order of every list: creation time, then id.
fn sort_by_creation(rows: &mut [UserRow]) {
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
}

/// A page of rows already in creation order: (total, the page).
pub fn page_in_memory(rows: Vec<UserRow>, offset: i64, limit: i64) -> (i64, Vec<UserRow>) {
    let total = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let skip = usize::try_from(offset.max(0)).unwrap_or(usize::MAX);
    let take = usize::try_from(limit.max(0)).unwrap_or(0);
    (total, rows.into_iter().skip(skip).take(take).collect())
}

/// One page of users matching a SQL predicate: (total matching, rows of the page).
pub fn query_users(
    conn: &mut DbConn,
    tenant_id: &str,
    predicate: Option<&UserPredicate>,
    sort: Option<(UserSort, bool)>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<UserRow>), StoreError> {
    match page_query(conn, tenant_id, predicate, sort, offset, limit)? {
        PageQuery::Found(total, rows) => Ok((total, rows)),
        PageQuery::Select(total, q) => Ok((total, q.select(UserRow::as_select()).load(conn)?)),
    }
}

/// The id and stored size of a user of a page, for loading the page a bounded number of
/// bytes at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizedRow {
    pub id: String,
    /// Bytes of the stored resource.
    pub bytes: i64,
    /// When it last changed (the position of a walk).
    pub updated_at: i64,
}

/// The stored size of a row's `resource` in bytes (users' and groups'), computed by the
/// database (PostgreSQL reads it from the value's header, without decompressing or fetching
/// the text).
pub(crate) fn resource_bytes() -> diesel::expression::SqlLiteral<diesel::sql_types::Integer> {
    diesel::dsl::sql::<diesel::sql_types::Integer>("octet_length(resource)")
}

type SizeColumns = (
    users::id,
    users::updated_at,
    diesel::expression::SqlLiteral<diesel::sql_types::Integer>,
);

fn size_columns() -> SizeColumns {
    (users::id, users::updated_at, resource_bytes())
}

impl From<(String, i64, i32)> for SizedRow {
    /// From the columns (id, updated_at, resource bytes).
    fn from(row: (String, i64, i32)) -> SizedRow {
        SizedRow {
            id: row.0,
            updated_at: row.1,
            bytes: i64::from(row.2),
        }
    }
}

/// The page [`query_users`] returns, as the ids and sizes of its users: a page of large users
/// is then loaded a chunk at a time ([`live_users_in_order`]), never all at once.
pub fn query_user_sizes(
    conn: &mut DbConn,
    tenant_id: &str,
    predicate: Option<&UserPredicate>,
    sort: Option<(UserSort, bool)>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<SizedRow>), StoreError> {
    match page_query(conn, tenant_id, predicate, sort, offset, limit)? {
        // Point lookups and mail matches: a handful of users, loaded already.
        PageQuery::Found(total, rows) => Ok((
            total,
            rows.into_iter()
                .map(|r| SizedRow {
                    bytes: i64::try_from(r.resource.len()).unwrap_or(i64::MAX),
                    updated_at: r.updated_at,
                    id: r.id,
                })
                .collect(),
        )),
        PageQuery::Select(total, q) => {
            let rows: Vec<(String, i64, i32)> = q.select(size_columns()).load(conn)?;
            Ok((total, rows.into_iter().map(SizedRow::from).collect()))
        }
    }
}

/// Live users of the tenant by id, in the order of `ids` (users deleted since are left out).
pub fn live_users_in_order(
    conn: &mut DbConn,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<UserRow>, StoreError> {
    let mut rows = live_users_by_id(conn, tenant_id, ids)?;
    let position: std::collections::HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    rows.sort_by_key(|r| position.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
    Ok(rows)
}

/// A page of users: found already (few rows, by key or mail), or the query that selects it.
enum PageQuery {
    Found(i64, Vec<UserRow>),
    Select(i64, users::BoxedQuery<'static, Backend>),
}

/// The total of a page query and either its rows (point lookups, mail matches) or the
/// filtered, ordered, offset query for the caller to select columns from.
fn page_query(
    conn: &mut DbConn,
    tenant_id: &str,
    predicate: Option<&UserPredicate>,
    sort: Option<(UserSort, bool)>,
    offset: i64,
    limit: i64,
) -> Result<PageQuery, StoreError> {
    if let (Some(p), None) = (predicate, sort) {
        if let Some(rows) = point_query(conn, tenant_id, p)? {
            let (total, rows) = page_in_memory(rows, offset, limit);
            return Ok(PageQuery::Found(total, rows));
        }
    }
    let resolved = predicate
        .map(|p| resolve_emails(conn, tenant_id, p))
        .transpose()?;
    if let (Some(UserPredicate::IdIn(ids)), None) = (&resolved, sort) {
        // A mail lookup resolved to a handful of users by key, paged here.
        let mut rows = live_users_by_id(conn, tenant_id, ids)?;
        sort_by_creation(&mut rows);
        let (total, rows) = page_in_memory(rows, offset, limit);
        return Ok(PageQuery::Found(total, rows));
    }
    let predicate = resolved.as_ref();
    let mut count = live_users(tenant_id).select(count_star());
    if let Some(p) = predicate {
        count = count.filter(to_sql(tenant_id, p));
    }
    let total: i64 = count.first(conn)?;
    if limit <= 0 || total <= offset {
        return Ok(PageQuery::Found(total, Vec::new()));
    }
    let mut q = live_users(tenant_id);
    if let Some(p) = predicate {
        q = q.filter(to_sql(tenant_id, p));
    }
    q = match sort {
        Some((UserSort::UserName, asc)) => order!(q, users::user_name_lower, asc),
        Some((UserSort::DisplayName, asc)) => order!(q, users::display_name_lower, asc),
        Some((UserSort::ExternalId, asc)) => order!(q, users::external_id, asc),
        Some((UserSort::LastModified, asc)) => order!(q, users::updated_at, asc),
        Some((UserSort::Id, asc)) => order!(q, users::id, asc),
        Some((UserSort::Created, asc)) => order!(q, users::created_at, asc),
        None => q.order((users::created_at.asc(), users::id.asc())),
    };
    Ok(PageQuery::Select(total, q.offset(offset).limit(limit)))
}

/// Every live user matching an optional SQL pre-filter, for filters evaluated in Rust, as
/// ids and stored sizes in creation order: the scan reads the rows a chunk at a time
/// ([`live_users_in_order`]).
pub fn scan_user_sizes(
    conn: &mut DbConn,
    tenant_id: &str,
    predicate: Option<&UserPredicate>,
    max: i64,
) -> Result<Vec<SizedRow>, StoreError> {
    let resolved = predicate
        .map(|p| resolve_emails(conn, tenant_id, p))
        .transpose()?;
    let predicate = resolved.as_ref();
    let mut q = live_users(tenant_id);
    if let Some(p) = predicate {
        q = q.filter(to_sql(tenant_id, p));
    }
    let rows: Vec<(String, i64, i32)> = q
        .order((users::created_at.asc(), users::id.asc()))
        .limit(max)
        .select(size_columns())
        .load(conn)?;
    Ok(rows.into_iter().map(SizedRow::from).collect())
}

/// Counts of live users: (active, deactivated).
pub fn count_users(conn: &mut DbConn, tenant_id: &str) -> Result<(i64, i64), StoreError> {
    let active: i64 = live_users(tenant_id)
        .filter(users::active.eq(true))
        .select(count_star())
        .first(conn)?;
    let inactive: i64 = live_users(tenant_id)
        .filter(users::active.eq(false))
        .select(count_star())
        .first(conn)?;
    Ok((active, inactive))
}

/// A walk through a tenant's users or groups in (updated_at, id) order, as the host app's
/// API pages them: a row changed during the walk moves to its end, so a client that walks to
/// the end and then asks for what changed since the last `updated_at` it saw misses nothing.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Resume after this (updated_at, id): the last row of the previous page.
    pub after: Option<(i64, String)>,
    /// Only rows updated at or after this time (ms).
    pub since: Option<i64>,
    /// At most this many rows.
    pub limit: i64,
}

/// The next rows of a [`Walk`] over a tenant's users: live active users, plus deactivated
/// ones and tombstones when asked for. Runs on the (tenant_id, updated_at, id) index.
pub fn walk_users(
    conn: &mut DbConn,
    tenant_id: &str,
    walk: &Walk,
    deactivated: bool,
    deleted: bool,
) -> Result<Vec<UserRow>, StoreError> {
    Ok(walk_query(tenant_id, walk, deactivated, deleted)
        .select(UserRow::as_select())
        .load(conn)?)
}

/// The rows [`walk_users`] returns, as ids, positions and stored sizes: what the page can
/// hold is decided before any resource is read.
pub fn walk_user_sizes(
    conn: &mut DbConn,
    tenant_id: &str,
    walk: &Walk,
    deactivated: bool,
    deleted: bool,
) -> Result<Vec<SizedRow>, StoreError> {
    let rows: Vec<(String, i64, i32)> = walk_query(tenant_id, walk, deactivated, deleted)
        .select(size_columns())
        .load(conn)?;
    Ok(rows.into_iter().map(SizedRow::from).collect())
}

fn walk_query(
    tenant_id: &str,
    walk: &Walk,
    deactivated: bool,
    deleted: bool,
) -> users::BoxedQuery<'static, Backend> {
    let mut q = users::table
        .filter(users::tenant_id.eq(tenant_id.to_string()))
        .into_boxed();
    q = match (deactivated, deleted) {
        (true, true) => q,
        (true, false) => q.filter(users::deleted_at.is_null()),
        // A tombstone is listed whatever its `active` was when it was deleted.
        (false, true) => q.filter(users::active.eq(true).or(users::deleted_at.is_not_null())),
        (false, false) => q
            .filter(users::active.eq(true))
            .filter(users::deleted_at.is_null()),
    };
    if let Some(since) = walk.since {
        q = q.filter(users::updated_at.ge(since));
    }
    if let Some((at, id)) = &walk.after {
        // (updated_at, id) > (at, id), with its first half as a range the index can seek to.
        q = q
            .filter(users::updated_at.ge(*at))
            .filter(users::updated_at.gt(*at).or(users::id.gt(id.clone())));
    }
    q.order((users::updated_at.asc(), users::id.asc()))
        .limit(walk.limit)
}

/// A user of the tenant by id, deactivated or deleted (a tombstone) as well as live.
pub fn find_user_any(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .filter(users::id.eq(id))
        .filter(users::tenant_id.eq(tenant_id))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}
