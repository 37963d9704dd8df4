//! Groups and their members (users or groups). Members live in their own table so that a
//! membership PATCH on a large group is a delta, not a rewrite.

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::events::{ChangeLog, NewEvent, EVENT_COLUMNS, EVENT_VALUES_BUT_DETAIL};
use super::prepared::{Arg, Sql};
use super::schema::{group_members, groups};
use super::users::{resource_bytes, NumOp, SizedRow, StrOp, Walk};
use super::{DbConn, Store, StoreError};

type Backend = <DbConn as Connection>::Backend;

/// A group row; `resource` is the SCIM resource without `id`, `meta` and `members`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = groups)]
pub struct GroupRow {
    pub id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub display_name_lower: String,
    pub external_id: Option<String>,
    pub resource: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

/// One membership.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = group_members)]
pub struct MemberRow {
    pub group_id: String,
    pub member_id: String,
    /// `User` or `Group`.
    pub member_type: String,
    pub tenant_id: String,
    /// The client's label for the member (`members.display`), when it gave one.
    pub display: Option<String>,
}

/// A filter over groups that runs in SQL (display names already lower-cased).
#[derive(Debug, Clone, PartialEq)]
pub enum GroupPredicate {
    And(Box<GroupPredicate>, Box<GroupPredicate>),
    Or(Box<GroupPredicate>, Box<GroupPredicate>),
    Not(Box<GroupPredicate>),
    Id(StrOp, String),
    DisplayName(StrOp, String),
    ExternalId(StrOp, String),
    ExternalIdPresent,
    /// The group has this member id.
    Member(String),
    Created(NumOp, i64),
    LastModified(NumOp, i64),
    True,
}

type BoxedPred =
    Box<dyn BoxableExpression<groups::table, Backend, SqlType = diesel::sql_types::Bool>>;

fn to_sql(tenant_id: &str, p: &GroupPredicate) -> BoxedPred {
    use GroupPredicate as P;
    match p {
        P::And(a, b) => Box::new(to_sql(tenant_id, a).and(to_sql(tenant_id, b))),
        P::Or(a, b) => Box::new(to_sql(tenant_id, a).or(to_sql(tenant_id, b))),
        P::Not(a) => Box::new(diesel::dsl::not(to_sql(tenant_id, a))),
        P::Id(op, v) => str_cmp!(groups::id, *op, v.clone()),
        P::DisplayName(op, v) => str_cmp!(groups::display_name_lower, *op, v.clone()),
        P::ExternalId(op, v) => Box::new(groups::external_id.is_not_null().and(str_cmp!(
            groups::external_id.assume_not_null(),
            *op,
            v.clone()
        ))),
        P::ExternalIdPresent => Box::new(groups::external_id.is_not_null()),
        P::Member(id) => Box::new(
            groups::id.eq_any(
                group_members::table
                    .filter(group_members::tenant_id.eq(tenant_id.to_string()))
                    .filter(group_members::member_id.eq(id.clone()))
                    .select(group_members::group_id),
            ),
        ),
        P::Created(op, v) => num_cmp!(groups::created_at, *op, *v),
        P::LastModified(op, v) => num_cmp!(groups::updated_at, *op, *v),
        P::True => Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 1")),
    }
}

fn live_groups(tenant_id: &str) -> groups::BoxedQuery<'static, Backend> {
    groups::table
        .filter(groups::tenant_id.eq(tenant_id.to_string()))
        .filter(groups::deleted_at.is_null())
        .into_boxed()
}

/// Insert a group and its members.
pub fn insert_group(
    conn: &mut DbConn,
    row: &GroupRow,
    members: &[MemberRow],
) -> Result<(), StoreError> {
    diesel::insert_into(groups::table)
        .values(row)
        .execute(conn)?;
    add_members(conn, &row.id, members)?;
    Ok(())
}

/// A live group of the tenant.
pub fn get_group(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
) -> Result<Option<GroupRow>, StoreError> {
    // By key, then checked (see `users::get_user`).
    let row: Option<GroupRow> = groups::table
        .find(id)
        .select(GroupRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.filter(|r| r.tenant_id == tenant_id && r.deleted_at.is_none()))
}

/// Which of these ids are live groups of the tenant.
pub fn existing_group_ids(
    conn: &mut DbConn,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String, String, Option<i64>)> = groups::table
        .filter(groups::id.eq_any(ids))
        .select((groups::id, groups::tenant_id, groups::deleted_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, t, d)| t == tenant_id && d.is_none())
        .map(|(id, _, _)| id)
        .collect())
}

/// What `id` is in the tenant: `"User"` or `"Group"` when it is a live one, else None. One
/// kept statement: a membership PATCH usually names one member, and the lists by id
/// (`existing_user_ids`, `existing_group_ids`) are parsed again at every run on SQLite.
pub fn member_kind(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
) -> Result<Option<&'static str>, StoreError> {
    #[derive(QueryableByName)]
    struct Kind {
        #[diesel(sql_type = diesel::sql_types::Text)]
        kind: String,
    }
    let kinds: Vec<Kind> = Sql::new(
        "SELECT 'User' AS kind FROM users WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL \
         UNION ALL SELECT 'Group' AS kind FROM groups WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL",
        vec![Arg::Text(id), Arg::Text(tenant_id), Arg::Text(id), Arg::Text(tenant_id)],
    )
    .load(conn)?;
    Ok(kinds
        .first()
        .map(|k| if k.kind == "Group" { "Group" } else { "User" }))
}

/// Members of groups, in a stable order.
pub fn members_of(conn: &mut DbConn, group_ids: &[String]) -> Result<Vec<MemberRow>, StoreError> {
    Ok(group_members::table
        .filter(group_members::group_id.eq_any(group_ids.to_vec()))
        .order((
            group_members::group_id.asc(),
            group_members::member_id.asc(),
        ))
        .select(MemberRow::as_select())
        .load(conn)?)
}

/// Groups a member belongs to (directly): (group id, display name).
pub fn groups_of_member(
    conn: &mut DbConn,
    tenant_id: &str,
    member_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(groups::table
        .inner_join(group_members::table.on(group_members::group_id.eq(groups::id)))
        .filter(groups::tenant_id.eq(tenant_id))
        .filter(groups::deleted_at.is_null())
        .filter(group_members::member_id.eq(member_id))
        .order(groups::display_name_lower.asc())
        .select((groups::id, groups::display_name))
        .load(conn)?)
}

/// Live groups that these members belong to directly, in one query (a page of users reads
/// its groups at once): (member id, group id, display name), by member then display name.
pub fn groups_of_members(
    conn: &mut DbConn,
    tenant_id: &str,
    member_ids: &[String],
) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut out = Vec::new();
    for chunk in member_ids.chunks(500) {
        let rows: Vec<(String, String, String)> = group_members::table
            .inner_join(groups::table.on(groups::id.eq(group_members::group_id)))
            .filter(group_members::member_id.eq_any(chunk))
            .filter(group_members::tenant_id.eq(tenant_id))
            .filter(groups::tenant_id.eq(tenant_id))
            .filter(groups::deleted_at.is_null())
            .order((
                group_members::member_id.asc(),
                groups::display_name_lower.asc(),
                groups::id.asc(),
            ))
            .select((group_members::member_id, groups::id, groups::display_name))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// How many members each of these groups of the tenant has (groups without members are left
/// out).
pub fn member_counts(
    conn: &mut DbConn,
    tenant_id: &str,
    group_ids: &[String],
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut out = Vec::new();
    for chunk in group_ids.chunks(500) {
        let rows: Vec<(String, i64)> = group_members::table
            .filter(group_members::group_id.eq_any(chunk))
            .filter(group_members::tenant_id.eq(tenant_id))
            .group_by(group_members::group_id)
            .select((group_members::group_id, count_star()))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// The statement that adds one member if it is still a live resource of the tenant (adding an
/// existing member is a success; a `display` given for it replaces the stored one). Its
/// arguments: the group id (unless `in_statement`: then the group is `g.id` of the
/// statement's bump), then [`member_args`]. On PostgreSQL the member's row is locked
/// (`FOR SHARE`) so that a concurrent delete either waits for this insert (and then removes
/// the new membership with the rest) or, having committed first, is seen and nothing is
/// inserted: no membership ever points at a deleted resource. (SQLite has one writer.)
fn member_insert_sql(m: &MemberRow, in_statement: bool, postgres: bool) -> String {
    let source = if m.member_type == "Group" {
        "groups"
    } else {
        "users"
    };
    let (group, g) = if in_statement {
        ("g.id", ", g")
    } else {
        ("?", "")
    };
    let lock = if postgres { " FOR SHARE OF m" } else { "" };
    format!(
        "INSERT INTO group_members (group_id, member_id, member_type, tenant_id, display) \
         SELECT {group}, m.id, ?, m.tenant_id, ? FROM {source} m{g} \
         WHERE m.id = ? AND m.tenant_id = ? AND m.deleted_at IS NULL{lock} \
         ON CONFLICT (group_id, member_id) DO UPDATE SET display = excluded.display WHERE excluded.display IS NOT NULL"
    )
}

/// The arguments of [`member_insert_sql`] after the group's.
fn member_args(m: &MemberRow) -> [Arg<'_>; 4] {
    [
        Arg::Text(&m.member_type),
        Arg::OptText(m.display.as_deref()),
        Arg::Text(&m.member_id),
        Arg::Text(&m.tenant_id),
    ]
}

/// Which of these ids are members of the group now, with their stored `display`.
pub fn current_members(
    conn: &mut DbConn,
    group_id: &str,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Option<String>>, StoreError> {
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, Option<String>)> = group_members::table
            .filter(group_members::group_id.eq(group_id))
            .filter(group_members::member_id.eq_any(chunk))
            .select((group_members::member_id, group_members::display))
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// Add members that are still live resources of their tenant (see [`member_insert_sql`]).
pub fn add_members(
    conn: &mut DbConn,
    group_id: &str,
    members: &[MemberRow],
) -> Result<(), StoreError> {
    let postgres = matches!(conn, DbConn::Postgres(_));
    for m in members {
        let mut args = vec![Arg::Text(group_id)];
        args.extend(member_args(m));
        Sql::new(member_insert_sql(m, false, postgres), args).run(conn)?;
    }
    Ok(())
}

/// Remove the listed members (others stay).
pub fn remove_members(
    conn: &mut DbConn,
    group_id: &str,
    member_ids: &[String],
) -> Result<(), StoreError> {
    for chunk in member_ids.chunks(500) {
        diesel::delete(
            group_members::table
                .filter(group_members::group_id.eq(group_id))
                .filter(group_members::member_id.eq_any(chunk.to_vec())),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// The log detail of a changed group (also written in SQL by [`change_membership`]'s one
/// statement: `'group ' || display_name || ' patched'`).
pub fn patched_detail(display_name: &str) -> String {
    format!("group {display_name} patched")
}

/// Members (added plus removed) up to which a membership change on PostgreSQL is one
/// statement; above, a transaction (each count of members is its own prepared statement).
const ONE_STATEMENT_MEMBERS: usize = 8;

/// A change of a stored group, with everything the write needs (computed before it).
#[derive(Debug, Clone)]
pub enum GroupChange {
    /// Add (already resolved) and remove members of the live group `group_id` of the tenant
    /// and bump its version, without reading the group. A member that stopped being live
    /// since it was resolved is not added. The log entry's detail names the group (the
    /// detail of the [`ChangeLog`] is not used).
    Membership {
        tenant_id: String,
        group_id: String,
        add: Vec<MemberRow>,
        remove: Vec<String>,
    },
}

/// Write a change of a group with its log entry, all or nothing: the group's new version,
/// or None when there is no such live group. The store chooses how: on PostgreSQL a small
/// membership change is one statement, so the group's row is locked only while it runs (it
/// is the hot row when many members are added to one group at once); a larger one, and
/// every change on SQLite (through its writer), is a transaction.
pub async fn save_group_change(
    store: &Store,
    change: GroupChange,
    log: ChangeLog,
) -> Result<Option<i64>, StoreError> {
    let GroupChange::Membership {
        tenant_id,
        group_id,
        add,
        remove,
    } = change;
    if store.is_postgres() && add.len() + remove.len() <= ONE_STATEMENT_MEMBERS {
        return store
            .write_atomic(move |conn| {
                change_membership_statement(
                    conn,
                    &tenant_id,
                    &group_id,
                    &add,
                    &remove,
                    &log.event(),
                )
            })
            .await;
    }
    store
        .write(move |conn| {
            change_membership(conn, &tenant_id, &group_id, &add, &remove, &log.event())
        })
        .await
}

#[derive(QueryableByName)]
struct Bumped {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    version: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    display_name: String,
}

/// The version bump of a membership change, returning the group's id, new version and name.
const BUMP: &str = "UPDATE groups SET version = version + 1, updated_at = ? \
    WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL RETURNING id, version, display_name";

/// The arguments of [`BUMP`].
fn bump_args<'a>(event: &NewEvent<'a>, tenant_id: &'a str, group_id: &'a str) -> Vec<Arg<'a>> {
    vec![
        Arg::BigInt(event.at),
        Arg::Text(group_id),
        Arg::Text(tenant_id),
    ]
}

/// [`GroupChange::Membership`] as one PostgreSQL statement: every part takes the group from
/// the bump's row `g`, so nothing is written unless the group is a live group of the tenant.
fn change_membership_statement(
    conn: &mut DbConn,
    tenant_id: &str,
    group_id: &str,
    add: &[MemberRow],
    remove: &[String],
    event: &NewEvent<'_>,
) -> Result<Option<i64>, StoreError> {
    let mut text = format!("WITH g AS ({BUMP})");
    let mut args = bump_args(event, tenant_id, group_id);
    for (i, m) in add.iter().enumerate() {
        text.push_str(&format!(", a{i} AS ({})", member_insert_sql(m, true, true)));
        args.extend(member_args(m));
    }
    for (i, id) in remove.iter().enumerate() {
        text.push_str(&format!(", r{i} AS (DELETE FROM group_members WHERE group_id IN (SELECT id FROM g) AND member_id = ?)"));
        args.push(Arg::Text(id));
    }
    super::webhooks::push_outbox_ctes(&mut text, &mut args, event.webhooks, "g");
    // The log entry names the group, which only the bump knows.
    text.push_str(&format!(
        ", e AS (INSERT INTO {EVENT_COLUMNS} SELECT {EVENT_VALUES_BUT_DETAIL}, 'group ' || display_name || ' patched' FROM g) \
         SELECT version, display_name FROM g"
    ));
    args.extend(event.args_but_detail());
    let bumped: Vec<Bumped> = Sql::new(text, args).load(conn)?;
    Ok(bumped.first().map(|b| b.version))
}

/// [`GroupChange::Membership`] in the caller's transaction: the bump runs first and the rest
/// only if it found the group.
fn change_membership(
    conn: &mut DbConn,
    tenant_id: &str,
    group_id: &str,
    add: &[MemberRow],
    remove: &[String],
    event: &NewEvent<'_>,
) -> Result<Option<i64>, StoreError> {
    let bumped: Vec<Bumped> = Sql::new(BUMP, bump_args(event, tenant_id, group_id)).load(conn)?;
    let Some(group) = bumped.into_iter().next() else {
        return Ok(None);
    };
    add_members(conn, group_id, add)?;
    for id in remove {
        Sql::new(
            "DELETE FROM group_members WHERE group_id = ? AND member_id = ?",
            vec![Arg::Text(group_id), Arg::Text(id)],
        )
        .run(conn)?;
    }
    let detail = patched_detail(&group.display_name);
    super::events::insert_event(
        conn,
        &NewEvent {
            detail: &detail,
            ..event.clone()
        },
    )?;
    Ok(Some(group.version))
}

/// Remove every member.
pub fn clear_members(conn: &mut DbConn, group_id: &str) -> Result<(), StoreError> {
    diesel::delete(group_members::table.filter(group_members::group_id.eq(group_id)))
        .execute(conn)?;
    Ok(())
}

/// Replace a group's row when its version is still `expected_version`.
pub fn update_group(
    conn: &mut DbConn,
    row: &GroupRow,
    expected_version: i64,
) -> Result<(), StoreError> {
    let n = diesel::update(
        groups::table
            .filter(groups::id.eq(&row.id))
            .filter(groups::tenant_id.eq(&row.tenant_id))
            .filter(groups::version.eq(expected_version))
            .filter(groups::deleted_at.is_null()),
    )
    .set((
        groups::display_name.eq(&row.display_name),
        groups::display_name_lower.eq(&row.display_name_lower),
        groups::external_id.eq(&row.external_id),
        groups::resource.eq(&row.resource),
        groups::version.eq(row.version),
        groups::updated_at.eq(row.updated_at),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// Tombstone a group and drop its memberships (as a group and as a member); its `updated_at`
/// becomes the deletion time (see `users::UserChange::Tombstone`).
pub fn tombstone_group(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
    at: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        groups::table
            .filter(groups::id.eq(id))
            .filter(groups::tenant_id.eq(tenant_id))
            .filter(groups::deleted_at.is_null()),
    )
    .set((groups::deleted_at.eq(Some(at)), groups::updated_at.eq(at)))
    .execute(conn)?;
    if n > 0 {
        clear_members(conn, id)?;
        leave_groups(conn, tenant_id, id)?;
    }
    Ok(n > 0)
}

/// Take a deleted user or group out of every group of its tenant it was a member of.
pub(crate) fn leave_groups(conn: &mut DbConn, tenant_id: &str, id: &str) -> Result<(), StoreError> {
    diesel::delete(
        group_members::table
            .filter(group_members::member_id.eq(id))
            .filter(group_members::tenant_id.eq(tenant_id)),
    )
    .execute(conn)?;
    Ok(())
}

/// Remove group tombstones older than `before`.
pub fn purge_group_tombstones(conn: &mut DbConn, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        groups::table
            .filter(groups::deleted_at.is_not_null())
            .filter(groups::deleted_at.lt(before)),
    )
    .execute(conn)?)
}

/// One page of groups matching a predicate, ordered by creation: (total, rows).
pub fn query_groups(
    conn: &mut DbConn,
    tenant_id: &str,
    predicate: Option<&GroupPredicate>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<GroupRow>), StoreError> {
    let mut count = live_groups(tenant_id).select(count_star());
    if let Some(p) = predicate {
        count = count.filter(to_sql(tenant_id, p));
    }
    let total: i64 = count.first(conn)?;
    if limit <= 0 || total <= offset {
        return Ok((total, Vec::new()));
    }
    let mut q = live_groups(tenant_id).select(GroupRow::as_select());
    if let Some(p) = predicate {
        q = q.filter(to_sql(tenant_id, p));
    }
    let rows = q
        .order((groups::created_at.asc(), groups::id.asc()))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((total, rows))
}

/// Every live group matching an optional pre-filter, for filters evaluated in Rust.
pub fn scan_groups(
    conn: &mut DbConn,
    tenant_id: &str,
    predicate: Option<&GroupPredicate>,
    max: i64,
) -> Result<Vec<GroupRow>, StoreError> {
    let mut q = live_groups(tenant_id).select(GroupRow::as_select());
    if let Some(p) = predicate {
        q = q.filter(to_sql(tenant_id, p));
    }
    Ok(q.order((groups::created_at.asc(), groups::id.asc()))
        .limit(max)
        .load(conn)?)
}

/// Number of live groups.
pub fn count_groups(conn: &mut DbConn, tenant_id: &str) -> Result<i64, StoreError> {
    Ok(live_groups(tenant_id).select(count_star()).first(conn)?)
}

/// Lock a group row until the transaction ends: several instances on one PostgreSQL queue
/// instead of losing member changes (SQLite's one writer already serialises them).
pub fn lock_group(conn: &mut DbConn, tenant_id: &str, id: &str) -> Result<(), StoreError> {
    if let DbConn::Postgres(pg) = conn {
        use diesel::sql_types::Text;
        diesel::sql_query("SELECT 1 FROM groups WHERE id = $1 AND tenant_id = $2 FOR UPDATE")
            .bind::<Text, _>(id)
            .bind::<Text, _>(tenant_id)
            .execute(pg)?;
    }
    Ok(())
}

/// The next rows of a [`Walk`] over a tenant's groups (tombstones too when asked for), on
/// the (tenant_id, updated_at, id) index.
pub fn walk_groups(
    conn: &mut DbConn,
    tenant_id: &str,
    walk: &Walk,
    deleted: bool,
) -> Result<Vec<GroupRow>, StoreError> {
    Ok(walk_query(tenant_id, walk, deleted)
        .select(GroupRow::as_select())
        .load(conn)?)
}

/// The rows [`walk_groups`] returns, as ids, positions and stored sizes (of the resources
/// without members).
pub fn walk_group_sizes(
    conn: &mut DbConn,
    tenant_id: &str,
    walk: &Walk,
    deleted: bool,
) -> Result<Vec<SizedRow>, StoreError> {
    let rows: Vec<(String, i64, i32)> = walk_query(tenant_id, walk, deleted)
        .select((groups::id, groups::updated_at, resource_bytes()))
        .load(conn)?;
    Ok(rows.into_iter().map(SizedRow::from).collect())
}

fn walk_query(tenant_id: &str, walk: &Walk, deleted: bool) -> groups::BoxedQuery<'static, Backend> {
    let mut q = groups::table
        .filter(groups::tenant_id.eq(tenant_id.to_string()))
        .into_boxed();
    if !deleted {
        q = q.filter(groups::deleted_at.is_null());
    }
    if let Some(since) = walk.since {
        q = q.filter(groups::updated_at.ge(since));
    }
    if let Some((at, id)) = &walk.after {
        q = q
            .filter(groups::updated_at.ge(*at))
            .filter(groups::updated_at.gt(*at).or(groups::id.gt(id.clone())));
    }
    q.order((groups::updated_at.asc(), groups::id.asc()))
        .limit(walk.limit)
}

/// A group of the tenant by id, deleted (a tombstone) as well as live.
pub fn find_group_any(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
) -> Result<Option<GroupRow>, StoreError> {
    Ok(groups::table
        .filter(groups::id.eq(id))
        .filter(groups::tenant_id.eq(tenant_id))
        .select(GroupRow::as_select())
        .first(conn)
        .optional()?)
}

/// A page of a group's members by member id, after `after`: the primary key's order.
pub fn member_page(
    conn: &mut DbConn,
    tenant_id: &str,
    group_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberRow>, StoreError> {
    let mut q = group_members::table
        .filter(group_members::group_id.eq(group_id.to_string()))
        .filter(group_members::tenant_id.eq(tenant_id.to_string()))
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(group_members::member_id.gt(after.to_string()));
    }
    Ok(q.order(group_members::member_id.asc())
        .limit(limit)
        .select(MemberRow::as_select())
        .load(conn)?)
}
