//! Reads of users: by key and by mail (on PostgreSQL a batch of keys in one statement, see
//! `store::coalesce`), pages and scans for filters, walks for the host app, and counts.

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::super::prepared::{Arg, Sql};
use super::super::schema::{user_emails, users};
use super::super::{DbConn, StoreError};
use super::filter::{resolve_emails, to_sql, StrOp, UserPredicate, MAX_RESOLVED_IDS};
use super::{Backend, UserRow};

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

/// The live users of the tenant among `ids` (unknown, deleted or other tenants' ids are left
/// out), read 500 ids a statement.
pub fn live_users_among(
    conn: &mut DbConn,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<UserRow>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<UserRow> = users::table
            .filter(users::id.eq_any(chunk))
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::deleted_at.is_null())
            .select(UserRow::as_select())
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
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
    /// Users only: only those in the tenant's scope (`in_scope`), on the (tenant_id,
    /// in_scope, updated_at, id) index.
    pub in_scope_only: bool,
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
    if walk.in_scope_only {
        q = q.filter(users::in_scope.eq(true));
    }
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

/// The live user of the tenant whose identity mail (in its index form) is `mail`: at most
/// one, through the unique index on (tenant, identity mail) of live users.
pub fn find_user_by_identity_mail(
    conn: &mut DbConn,
    tenant_id: &str,
    mail: &str,
) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::identity_mail.eq(mail))
        .filter(users::deleted_at.is_null())
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}
