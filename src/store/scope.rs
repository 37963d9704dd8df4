//! Scope rules and exclusions of a tenant (one row, JSON text checked when put), the users'
//! `in_scope` flags, and the group reads that scope needs: the groups a user belongs to
//! through nested groups, and the users a group holds through nested groups.

use std::collections::{HashMap, HashSet};

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::schema::{group_members, scope_settings, users};
use super::users::UserRow;
use super::{DbConn, StoreError};

/// A tenant's scope settings as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = scope_settings)]
pub struct ScopeSettings {
    pub tenant_id: String,
    /// `scim::scope::ScopeRules` as JSON text.
    pub rules: String,
    /// `scim::scope::Exclusions` as JSON text.
    pub exclusions: String,
    /// Moves on at every change.
    pub generation: i64,
    /// The generation whose re-evaluation of every user finished.
    pub evaluated_generation: i64,
    pub updated_at: i64,
}

/// The tenant's settings, if it has any.
pub fn settings(conn: &mut DbConn, tenant_id: &str) -> Result<Option<ScopeSettings>, StoreError> {
    Ok(scope_settings::table
        .find(tenant_id)
        .select(ScopeSettings::as_select())
        .first(conn)
        .optional()?)
}

/// Replace the tenant's rules and/or exclusions (None: kept) and move the generation on;
/// returns the settings as now stored.
pub fn save_settings(
    conn: &mut DbConn,
    tenant_id: &str,
    rules: Option<&str>,
    exclusions: Option<&str>,
    now: i64,
) -> Result<ScopeSettings, StoreError> {
    let row = match settings(conn, tenant_id)? {
        Some(old) => ScopeSettings {
            rules: rules.map_or(old.rules, str::to_string),
            exclusions: exclusions.map_or(old.exclusions, str::to_string),
            generation: old.generation + 1,
            updated_at: now,
            ..old
        },
        None => ScopeSettings {
            tenant_id: tenant_id.to_string(),
            rules: rules.unwrap_or("{}").to_string(),
            exclusions: exclusions.unwrap_or("{}").to_string(),
            generation: 1,
            evaluated_generation: 0,
            updated_at: now,
        },
    };
    diesel::delete(scope_settings::table.find(tenant_id)).execute(conn)?;
    diesel::insert_into(scope_settings::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// Record that every user was evaluated under `generation` (unless the settings moved on).
pub fn mark_evaluated(
    conn: &mut DbConn,
    tenant_id: &str,
    generation: i64,
) -> Result<(), StoreError> {
    diesel::update(
        scope_settings::table
            .find(tenant_id)
            .filter(scope_settings::generation.eq(generation)),
    )
    .set(scope_settings::evaluated_generation.eq(generation))
    .execute(conn)?;
    Ok(())
}

/// The tenants whose re-evaluation has not finished (an instance stopped during one).
pub fn unevaluated_tenants(conn: &mut DbConn) -> Result<Vec<String>, StoreError> {
    Ok(scope_settings::table
        .filter(scope_settings::evaluated_generation.lt(scope_settings::generation))
        .select(scope_settings::tenant_id)
        .load(conn)?)
}

/// The next `limit` live users of the tenant after `(created_at, id)`, in that order (the
/// `users_created` index).
pub fn users_after(
    conn: &mut DbConn,
    tenant_id: &str,
    after: Option<&(i64, String)>,
    limit: i64,
) -> Result<Vec<UserRow>, StoreError> {
    let mut q = users::table
        .filter(users::tenant_id.eq(tenant_id.to_string()))
        .filter(users::deleted_at.is_null())
        .into_boxed();
    if let Some((at, id)) = after {
        q = q
            .filter(users::created_at.ge(*at))
            .filter(users::created_at.gt(*at).or(users::id.gt(id.clone())));
    }
    Ok(q.order((users::created_at.asc(), users::id.asc()))
        .limit(limit)
        .select(UserRow::as_select())
        .load(conn)?)
}

/// Set the user's `in_scope` to `in_scope` if it is still at `version` and was not that
/// already; its `updated_at` moves on (its view changed, so the host app's walks by
/// `updatedSince` see it). Whether it changed.
pub fn set_in_scope(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
    version: i64,
    in_scope: bool,
    at: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::version.eq(version))
            .filter(users::in_scope.eq(!in_scope))
            .filter(users::deleted_at.is_null()),
    )
    .set((users::in_scope.eq(in_scope), users::updated_at.eq(at)))
    .execute(conn)?;
    Ok(n > 0)
}

/// The groups (ids) each of `member_ids` belongs to, directly or through nested groups; a
/// member in no group is left out. One query per level of nesting (and per 500 members).
pub fn ancestors(
    conn: &mut DbConn,
    tenant_id: &str,
    member_ids: &[String],
) -> Result<HashMap<String, HashSet<String>>, StoreError> {
    // The direct groups of each member, then of each group found, level by level.
    let mut parents: HashMap<String, Vec<String>> = HashMap::new();
    let mut frontier: Vec<String> = member_ids.to_vec();
    let mut seen: HashSet<String> = HashSet::new();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for chunk in frontier.chunks(500) {
            let rows: Vec<(String, String)> = group_members::table
                .filter(group_members::member_id.eq_any(chunk))
                .filter(group_members::tenant_id.eq(tenant_id))
                .select((group_members::member_id, group_members::group_id))
                .load(conn)?;
            for (member, group) in rows {
                if seen.insert(group.clone()) {
                    next.push(group.clone());
                }
                parents.entry(member).or_default().push(group);
            }
        }
        frontier = next;
    }
    let mut out = HashMap::new();
    for member in member_ids {
        let mut found: HashSet<String> = HashSet::new();
        let mut stack: Vec<&String> = parents
            .get(member)
            .map(|p| p.iter().collect())
            .unwrap_or_default();
        while let Some(g) = stack.pop() {
            if found.insert(g.clone()) {
                if let Some(up) = parents.get(g) {
                    stack.extend(up.iter());
                }
            }
        }
        if !found.is_empty() {
            out.insert(member.clone(), found);
        }
    }
    Ok(out)
}

/// The users the tenant's groups `group_ids` hold, directly or through nested groups.
pub fn descendant_users(
    conn: &mut DbConn,
    tenant_id: &str,
    group_ids: &[String],
) -> Result<HashSet<String>, StoreError> {
    let mut users_found = HashSet::new();
    let mut seen: HashSet<String> = group_ids.iter().cloned().collect();
    let mut frontier: Vec<String> = group_ids.to_vec();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for chunk in frontier.chunks(500) {
            let rows: Vec<(String, String)> = group_members::table
                .filter(group_members::group_id.eq_any(chunk))
                .filter(group_members::tenant_id.eq(tenant_id))
                .select((group_members::member_id, group_members::member_type))
                .load(conn)?;
            for (member, kind) in rows {
                if kind == "Group" {
                    if seen.insert(member.clone()) {
                        next.push(member);
                    }
                } else {
                    users_found.insert(member);
                }
            }
        }
        frontier = next;
    }
    Ok(users_found)
}

/// How many live users of the tenant are in scope and how many are not.
pub fn scope_counts(conn: &mut DbConn, tenant_id: &str) -> Result<(i64, i64), StoreError> {
    let rows: Vec<(bool, i64)> = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::deleted_at.is_null())
        .group_by(users::in_scope)
        .select((users::in_scope, count_star()))
        .load(conn)?;
    let of = |flag: bool| rows.iter().find(|(f, _)| *f == flag).map_or(0, |(_, n)| *n);
    Ok((of(true), of(false)))
}

/// The live group of the tenant named `display_name` (case-insensitively), if any.
pub fn group_by_name(
    conn: &mut DbConn,
    tenant_id: &str,
    display_name: &str,
) -> Result<Option<String>, StoreError> {
    use super::schema::groups;
    Ok(groups::table
        .filter(groups::tenant_id.eq(tenant_id))
        .filter(groups::display_name_lower.eq(display_name.to_lowercase()))
        .filter(groups::deleted_at.is_null())
        .select(groups::id)
        .first(conn)
        .optional()?)
}

/// The display names of the tenant's live groups among `ids`, by id.
pub fn group_names(
    conn: &mut DbConn,
    tenant_id: &str,
    ids: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    use super::schema::groups;
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String)> = groups::table
            .filter(groups::id.eq_any(chunk))
            .filter(groups::tenant_id.eq(tenant_id))
            .filter(groups::deleted_at.is_null())
            .select((groups::id, groups::display_name))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// A user moving in or out of scope, as re-evaluated from its row at `version`.
#[derive(Debug, Clone)]
pub struct ScopeMove {
    pub id: String,
    pub version: i64,
    pub in_scope: bool,
}

#[derive(QueryableByName)]
struct MovedId {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

/// Set `in_scope` of each user that is still at the version it was evaluated at and was not
/// so already; its `updated_at` becomes `at`. The ids that moved. On PostgreSQL one statement
/// per 1,000 users (a join on a VALUES list, found by primary key); on SQLite, in-process, an
/// UPDATE each.
pub fn apply_moves(
    conn: &mut DbConn,
    tenant_id: &str,
    moves: &[ScopeMove],
    at: i64,
) -> Result<Vec<String>, StoreError> {
    use super::prepared::{Arg, Sql};
    if !matches!(conn, DbConn::Postgres(_)) {
        let mut moved = Vec::new();
        for m in moves {
            if set_in_scope(conn, tenant_id, &m.id, m.version, m.in_scope, at)? {
                moved.push(m.id.clone());
            }
        }
        return Ok(moved);
    }
    let mut moved = Vec::new();
    for chunk in moves.chunks(1000) {
        let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let text = format!(
            "UPDATE users AS u SET in_scope = v.s, updated_at = ? \
             FROM (VALUES {rows}) AS v(id, version, s) \
             WHERE u.id = v.id AND u.version = v.version AND u.in_scope <> v.s \
             AND u.tenant_id = ? AND u.deleted_at IS NULL RETURNING u.id"
        );
        let mut args = vec![Arg::BigInt(at)];
        for m in chunk {
            args.extend([
                Arg::Text(&m.id),
                Arg::BigInt(m.version),
                Arg::Bool(m.in_scope),
            ]);
        }
        args.push(Arg::Text(tenant_id));
        let found: Vec<MovedId> = Sql::new(text, args).load(conn)?;
        moved.extend(found.into_iter().map(|r| r.id));
    }
    Ok(moved)
}

/// Whether any webhook endpoint hears of the tenant's changes (its own, or the operator's).
pub fn has_endpoints(conn: &mut DbConn, tenant_id: &str) -> Result<bool, StoreError> {
    use super::schema::webhook_endpoints;
    let n: i64 = webhook_endpoints::table
        .filter(
            webhook_endpoints::tenant_id
                .eq(tenant_id)
                .or(webhook_endpoints::tenant_id.is_null()),
        )
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Append these log entries: their events in statements of 500 rows, and their webhook
/// messages when the tenant has endpoints.
pub fn insert_logs(
    conn: &mut DbConn,
    tenant_id: &str,
    logs: &[&super::events::ChangeLog],
) -> Result<(), StoreError> {
    use super::events::{EVENT_COLUMNS, EVENT_VALUES};
    use super::prepared::Sql;
    let events: Vec<super::events::NewEvent<'_>> = logs.iter().map(|l| l.event()).collect();
    for chunk in events.chunks(500) {
        let rows = vec![format!("({EVENT_VALUES})"); chunk.len()].join(", ");
        let args = chunk.iter().flat_map(|e| e.args()).collect();
        Sql::new(format!("INSERT INTO {EVENT_COLUMNS} VALUES {rows}"), args).run(conn)?;
    }
    if has_endpoints(conn, tenant_id)? {
        for log in logs {
            for m in &log.webhooks {
                super::webhooks::enqueue(conn, m)?;
            }
        }
    }
    Ok(())
}
