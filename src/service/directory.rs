//! The host app's read access to a tenant's users and groups (`/api/v1`): lists that walk
//! them in (updated_at, id) order behind an opaque cursor, reads by id that also find
//! deactivated and deleted ones, and a group's members. Every read is scoped to the tenant.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::normalize;
use crate::store::groups::{self as group_store, GroupRow, MemberRow};
use crate::store::tenants::Tenant;
use crate::store::users::{self as user_store, SizedRow, UserRow, Walk};
use crate::store::StoreError;

use super::paging::{rows_that_fit, rows_that_fit_as, stored_len};
use super::Service;

/// Largest page of a list.
pub const MAX_LIMIT: i64 = 1000;
/// The page size when the request names none.
pub const DEFAULT_LIMIT: i64 = 100;

/// Where a list starts and how much of it a page holds.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// The `nextCursor` of the previous page, as the API returned it.
    pub cursor: Option<String>,
    /// Only resources changed at or after this time (ms since the epoch); inclusive, so a
    /// client that passes the last `updatedAt` it saw misses nothing (it may see that
    /// resource again).
    pub updated_since: Option<i64>,
    /// Rows per page, 1 to [`MAX_LIMIT`].
    pub limit: i64,
    /// Users only: out-of-scope users too (`includeOutOfScope=true`); else only those in the
    /// tenant's scope ([`super::scope`]).
    pub include_out_of_scope: bool,
}

/// One page of a list and the cursor of the next one (None at the end).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub next_cursor: Option<String>,
}

/// What a cursor walks: the same text cannot resume a list of another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CursorKind {
    Users,
    Groups,
    Members,
}

impl CursorKind {
    fn tag(self) -> &'static str {
        match self {
            CursorKind::Users => "u1",
            CursorKind::Groups => "g1",
            CursorKind::Members => "m1",
        }
    }
}

fn encode_cursor(kind: CursorKind, text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}:{text}", kind.tag()))
}

fn bad_cursor() -> ScimError {
    ScimError::invalid_value(
        "cursor is not a nextCursor of this list; pass nextCursor as it came, or leave cursor out to start from the beginning",
    )
}

/// The text a cursor of this kind carries.
fn decode_cursor(kind: CursorKind, cursor: &str) -> Result<String, ScimError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| bad_cursor())?;
    let rest = text
        .strip_prefix(kind.tag())
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(bad_cursor)?;
    if rest.is_empty() || rest.contains('\0') {
        return Err(bad_cursor());
    }
    Ok(rest.to_string())
}

/// The (updated_at, id) a users' or groups' cursor resumes after.
fn decode_position(kind: CursorKind, cursor: &str) -> Result<(i64, String), ScimError> {
    let text = decode_cursor(kind, cursor)?;
    let (at, id) = text.split_once(':').ok_or_else(bad_cursor)?;
    let at = at.parse::<i64>().map_err(|_| bad_cursor())?;
    if id.is_empty() {
        return Err(bad_cursor());
    }
    Ok((at, id.to_string()))
}

fn position_cursor(kind: CursorKind, updated_at: i64, id: &str) -> String {
    encode_cursor(kind, &format!("{updated_at}:{id}"))
}

fn check_limit(limit: i64) -> Result<i64, ScimError> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ScimError::invalid_value(format!(
            "limit is {limit}; use 1 to {MAX_LIMIT}"
        )));
    }
    Ok(limit)
}

/// The walk a page request asks for, reading one row more than the page to know whether
/// another page follows.
fn walk_of(kind: CursorKind, req: &PageRequest) -> Result<Walk, ScimError> {
    Ok(Walk {
        after: req
            .cursor
            .as_deref()
            .map(|c| decode_position(kind, c))
            .transpose()?,
        since: req.updated_since,
        limit: check_limit(req.limit)? + 1,
        in_scope_only: kind == CursorKind::Users && !req.include_out_of_scope,
    })
}

/// Cut the extra row off and make the next cursor from the page's last row.
fn paged<T>(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    Page { rows, next_cursor }
}

/// Bytes allowed per resource of a page besides its stored form: `id`, `meta` and the fields
/// the host API shows beside it (state, times, userName and externalId again).
const ITEM_OVERHEAD: usize = 1024;

/// What a user takes on a page of the host API, estimated from its stored size: the
/// resource, and the view beside it, which repeats the resource's emails, roles and custom
/// attributes with a few keys more each (up to about 2.6 times their size: the smallest email,
/// `{"value":"a@b.c"}`, becomes `{"value":"a@b.c","type":null,"primary":false}`), so four
/// times the stored size, and [`ITEM_OVERHEAD`] for the rest. (Its `groups` are not in the
/// estimate: a few dozen bytes a membership.)
fn user_page_bytes(row: &SizedRow) -> usize {
    stored_len(row)
        .saturating_mul(4)
        .saturating_add(ITEM_OVERHEAD)
}

/// A page of a walk that also stops at the page's bytes: `sized` is the walk's next rows (one
/// past the limit) as ids, positions and sizes, `rows` the ones read for the page. A page cut
/// short by its bytes has a `nextCursor` like one cut by its limit.
fn sized_page<T>(
    kind: CursorKind,
    rows: Vec<T>,
    sized: &[SizedRow],
    taken: usize,
    position: impl Fn(&T) -> (i64, &str),
) -> Page<T> {
    let more = sized.len() > taken;
    let next_cursor = more
        .then(|| match rows.last() {
            Some(last) => {
                let (at, id) = position(last);
                Some(position_cursor(kind, at, id))
            }
            // The rows went (deleted, moved on) between the two reads: resume after them.
            None => taken
                .checked_sub(1)
                .and_then(|i| sized.get(i))
                .map(|r| position_cursor(kind, r.updated_at, &r.id)),
        })
        .flatten();
    Page { rows, next_cursor }
}

/// A page of the tenant's users by (updated_at, id): active live users, plus deactivated
/// ones and tombstones of deleted ones when asked for. Up to `limit` users and, past the
/// first, [`Service::max_page_bytes`]: the sizes of the next users are read first, then the
/// users that fit, so a page of large users never reads more than it returns.
pub async fn list_users(
    svc: &Service,
    tenant: &Tenant,
    req: &PageRequest,
    include_deactivated: bool,
    include_deleted: bool,
) -> Result<Page<DirectoryUser>, ScimError> {
    let walk = walk_of(CursorKind::Users, req)?;
    let tenant_id = tenant.id.clone();
    let (limit, max_bytes) = (page_limit(req), svc.max_page_bytes);
    let (rows, sized, taken) = svc
        .store
        .read(move |conn| {
            let (deactivated, deleted) = (include_deactivated, include_deleted);
            let sized = user_store::walk_user_sizes(conn, &tenant_id, &walk, deactivated, deleted)?;
            let taken = rows_that_fit_as(&sized, limit, max_bytes, user_page_bytes);
            let page = Walk {
                limit: i64::try_from(taken).unwrap_or(i64::MAX),
                ..walk
            };
            let rows = user_store::walk_users(conn, &tenant_id, &page, deactivated, deleted)?;
            // The page's groups in one query, not one per user.
            let rows = with_groups(conn, &tenant_id, rows)?;
            Ok::<_, StoreError>((rows, sized, taken))
        })
        .await?;
    Ok(sized_page(CursorKind::Users, rows, &sized, taken, |u| {
        (u.row.updated_at, &u.row.id)
    }))
}

/// A user as the host app reads it: its row and the live groups it belongs to directly.
#[derive(Debug, Clone)]
pub struct DirectoryUser {
    pub row: UserRow,
    pub groups: Vec<GroupRef>,
    /// Its roles by the tenant's role mapping (see `service::roles`).
    pub effective_roles: Vec<String>,
}

/// A group a user belongs to, as the host app sees it: `{"id", "displayName"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub id: String,
    pub display_name: String,
}

/// The rows with their groups (read in one query for them all). A deleted user has none.
fn with_groups(
    conn: &mut crate::store::DbConn,
    tenant_id: &str,
    rows: Vec<UserRow>,
) -> Result<Vec<DirectoryUser>, StoreError> {
    let live: Vec<String> = rows
        .iter()
        .filter(|r| r.deleted_at.is_none())
        .map(|r| r.id.clone())
        .collect();
    let mut groups: HashMap<String, Vec<GroupRef>> = HashMap::new();
    if !live.is_empty() {
        for (member, id, display_name) in group_store::groups_of_members(conn, tenant_id, &live)? {
            groups
                .entry(member)
                .or_default()
                .push(GroupRef { id, display_name });
        }
    }
    let users: Vec<(UserRow, Vec<GroupRef>)> = rows
        .into_iter()
        .map(|row| {
            let own = groups.remove(&row.id).unwrap_or_default();
            (row, own)
        })
        .collect();
    let pairs: Vec<(&UserRow, &[GroupRef])> =
        users.iter().map(|(r, g)| (r, g.as_slice())).collect();
    let mut roles = super::roles::effective_roles_of(conn, tenant_id, &pairs)?.into_iter();
    Ok(users
        .into_iter()
        .map(|(row, groups)| DirectoryUser {
            effective_roles: roles.next().unwrap_or_default(),
            groups,
            row,
        })
        .collect())
}

/// A group as the host app reads it: its row and how many members it has.
#[derive(Debug, Clone)]
pub struct DirectoryGroup {
    pub row: GroupRow,
    pub member_count: i64,
}

/// The tenant's rows with their member counts (read in one query for them all).
fn with_member_counts(
    conn: &mut crate::store::DbConn,
    tenant_id: &str,
    rows: Vec<GroupRow>,
) -> Result<Vec<DirectoryGroup>, StoreError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut counts: HashMap<String, i64> = if ids.is_empty() {
        HashMap::new()
    } else {
        group_store::member_counts(conn, tenant_id, &ids)?
            .into_iter()
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|row| DirectoryGroup {
            member_count: counts.remove(&row.id).unwrap_or(0),
            row,
        })
        .collect())
}

fn when(at: Option<i64>) -> Value {
    at.map(crate::scim::render::timestamp).into()
}

/// The host app's view of a user, beside its `resource` (which the caller adds as it is
/// stored): the one place that builds it, for the API's answers and the webhooks' data.
/// `resource` is the stored resource, parsed; `groups` the user's direct groups (`None`
/// leaves the key out: a webhook message is written with its change, and a membership
/// change is a group's message, not the user's).
pub fn user_view(
    row: &UserRow,
    resource: &Value,
    groups: Option<&[GroupRef]>,
) -> Map<String, Value> {
    let mut view = normalize::user_fields(resource);
    let deleted = row.deleted_at.is_some();
    let fields = [
        ("id", Value::from(row.id.as_str())),
        ("userName", Value::from(row.user_name.as_str())),
        ("externalId", row.external_id.as_deref().into()),
        ("email", Value::from(row.identity_mail.as_str())),
        (
            "state",
            Value::from(normalize::user_state(row.active, deleted)),
        ),
        ("active", Value::from(row.active)),
        ("deactivatedAt", when(row.deactivated_at)),
        ("deleted", Value::from(deleted)),
        ("deletedAt", when(row.deleted_at)),
        ("createdAt", when(Some(row.created_at))),
        ("updatedAt", when(Some(row.updated_at))),
        ("inScope", Value::from(row.in_scope)),
    ];
    for (key, value) in fields {
        view.insert(key.into(), value);
    }
    if let Some(groups) = groups {
        let groups = groups
            .iter()
            .map(|g| serde_json::json!({"id": g.id, "displayName": g.display_name}))
            .collect();
        view.insert("groups".into(), Value::Array(groups));
    }
    view
}

/// The host app's view of a group, beside its `resource` (added by the caller).
pub fn group_view(group: &DirectoryGroup) -> Map<String, Value> {
    let row = &group.row;
    let fields = [
        ("id", Value::from(row.id.as_str())),
        ("displayName", Value::from(row.display_name.as_str())),
        ("externalId", row.external_id.as_deref().into()),
        ("memberCount", Value::from(group.member_count)),
        ("deleted", Value::from(row.deleted_at.is_some())),
        ("deletedAt", when(row.deleted_at)),
        ("createdAt", when(Some(row.created_at))),
        ("updatedAt", when(Some(row.updated_at))),
    ];
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// The live user of the tenant whose identity mail is `email` (case-insensitively: compared
/// in its index form, see [`crate::scim::mail`]), with its groups; deactivated ones only when
/// asked for. One indexed lookup.
pub async fn user_by_email(
    svc: &Service,
    tenant: &Tenant,
    email: &str,
    include_deactivated: bool,
) -> Result<Option<DirectoryUser>, ScimError> {
    let mail = crate::scim::mail::index_form("email", email.trim())?;
    let tenant_id = tenant.id.clone();
    let found = svc
        .store
        .lookup(move |conn| {
            let Some(row) = user_store::find_user_by_identity_mail(conn, &tenant_id, &mail)? else {
                return Ok::<_, StoreError>(None);
            };
            Ok(with_groups(conn, &tenant_id, vec![row])?.pop())
        })
        .await?;
    Ok(found.filter(|u| u.row.active || include_deactivated))
}

/// The rows a page may hold by its `limit` (checked by [`walk_of`] already).
fn page_limit(req: &PageRequest) -> usize {
    usize::try_from(req.limit).unwrap_or(0)
}

/// A user of the tenant by id, deactivated or deleted too, with its groups; 404 when there
/// is none.
pub async fn user(svc: &Service, tenant: &Tenant, id: &str) -> Result<DirectoryUser, ScimError> {
    let (tenant_id, wanted) = (tenant.id.clone(), id.to_string());
    let found = if super::possible_id(id) {
        svc.store
            .lookup(move |conn| {
                let rows = user_store::find_user_any(conn, &tenant_id, &wanted)?
                    .into_iter()
                    .collect();
                Ok::<_, StoreError>(with_groups(conn, &tenant_id, rows)?.pop())
            })
            .await?
    } else {
        None
    };
    found.ok_or_else(|| ScimError::not_found(format!("no user with id {id} in this tenant")))
}

/// A page of the tenant's groups by (updated_at, id); tombstones too when asked for. Bounded
/// by `limit` and by bytes, as [`list_users`] is.
pub async fn list_groups(
    svc: &Service,
    tenant: &Tenant,
    req: &PageRequest,
    include_deleted: bool,
) -> Result<Page<DirectoryGroup>, ScimError> {
    let walk = walk_of(CursorKind::Groups, req)?;
    let tenant_id = tenant.id.clone();
    let (limit, max_bytes) = (page_limit(req), svc.max_page_bytes);
    let (rows, sized, taken) = svc
        .store
        .read(move |conn| {
            let sized = group_store::walk_group_sizes(conn, &tenant_id, &walk, include_deleted)?;
            let taken = rows_that_fit(&sized, limit, max_bytes, ITEM_OVERHEAD);
            let page = Walk {
                limit: i64::try_from(taken).unwrap_or(i64::MAX),
                ..walk
            };
            let rows = group_store::walk_groups(conn, &tenant_id, &page, include_deleted)?;
            let rows = with_member_counts(conn, &tenant_id, rows)?;
            Ok::<_, StoreError>((rows, sized, taken))
        })
        .await?;
    Ok(sized_page(CursorKind::Groups, rows, &sized, taken, |g| {
        (g.row.updated_at, &g.row.id)
    }))
}

/// A group of the tenant by id, deleted too; 404 when there is none.
pub async fn group(svc: &Service, tenant: &Tenant, id: &str) -> Result<GroupRow, ScimError> {
    let (tenant_id, wanted) = (tenant.id.clone(), id.to_string());
    let found = if super::possible_id(id) {
        svc.store
            .lookup(move |conn| group_store::find_group_any(conn, &tenant_id, &wanted))
            .await?
    } else {
        None
    };
    found.ok_or_else(|| ScimError::not_found(format!("no group with id {id} in this tenant")))
}

/// A group of the tenant by id, deleted too, with its member count; 404 when there is none.
pub async fn group_with_count(
    svc: &Service,
    tenant: &Tenant,
    id: &str,
) -> Result<DirectoryGroup, ScimError> {
    let (tenant_id, wanted) = (tenant.id.clone(), id.to_string());
    let found = if super::possible_id(id) {
        svc.store
            .lookup(move |conn| {
                let rows = group_store::find_group_any(conn, &tenant_id, &wanted)?
                    .into_iter()
                    .collect();
                Ok::<_, StoreError>(with_member_counts(conn, &tenant_id, rows)?.pop())
            })
            .await?
    } else {
        None
    };
    found.ok_or_else(|| ScimError::not_found(format!("no group with id {id} in this tenant")))
}

/// A page of a group's members by member id (`updatedSince` does not apply); 404 when the
/// tenant has no such group. A deleted group has no members left.
pub async fn group_members(
    svc: &Service,
    tenant: &Tenant,
    group_id: &str,
    req: &PageRequest,
) -> Result<Page<MemberRow>, ScimError> {
    let limit = check_limit(req.limit)?;
    let after = req
        .cursor
        .as_deref()
        .map(|c| decode_cursor(CursorKind::Members, c))
        .transpose()?;
    let group = group(svc, tenant, group_id).await?;
    let tenant_id = tenant.id.clone();
    let rows = svc
        .store
        .read(move |conn| {
            group_store::member_page(conn, &tenant_id, &group.id, after.as_deref(), limit + 1)
        })
        .await?;
    Ok(paged(rows, limit, |m| {
        encode_cursor(CursorKind::Members, &m.member_id)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_stay_with_their_list() {
        let c = position_cursor(CursorKind::Users, 1_700_000_000_123, "0190-ab:cd");
        assert_eq!(
            decode_position(CursorKind::Users, &c),
            Ok((1_700_000_000_123, "0190-ab:cd".to_string()))
        );
        assert!(decode_position(CursorKind::Groups, &c).is_err());
        for bad in ["", "!!!", "dTE6", "dTE6eDp5", "bTE6"] {
            assert!(decode_position(CursorKind::Users, bad).is_err(), "{bad}");
        }
        let m = encode_cursor(CursorKind::Members, "abc");
        assert_eq!(
            decode_cursor(CursorKind::Members, &m),
            Ok("abc".to_string())
        );
    }

    #[test]
    fn limits_are_checked() {
        assert!(check_limit(0).is_err());
        assert!(check_limit(1001).is_err());
        assert_eq!(check_limit(1000), Ok(1000));
    }

    #[test]
    fn a_page_cut_by_its_bytes_says_where_to_go_on() {
        let sized: Vec<SizedRow> = (1..=3)
            .map(|i| SizedRow {
                id: format!("u{i}"),
                bytes: 900_000,
                updated_at: i,
            })
            .collect();
        let at = |r: &(i64, String)| (r.0, r.1.clone());
        let rows = vec![(1, "u1".to_string()), (2, "u2".to_string())];
        let page = sized_page(CursorKind::Users, rows, &sized, 2, |r| (r.0, r.1.as_str()));
        let next = page.next_cursor.expect("more follow");
        assert_eq!(
            decode_position(CursorKind::Users, &next),
            Ok(at(&(2, "u2".into())))
        );
        // All taken: the end of the walk.
        let rows = vec![(3, "u3".to_string())];
        let page = sized_page(CursorKind::Users, rows, &sized[2..], 1, |r| {
            (r.0, r.1.as_str())
        });
        assert_eq!(page.next_cursor, None);
        // The rows went between the two reads: go on after where they were.
        let page = sized_page(
            CursorKind::Users,
            Vec::<(i64, String)>::new(),
            &sized,
            1,
            |r| (r.0, r.1.as_str()),
        );
        let next = page.next_cursor.expect("more follow");
        assert_eq!(
            decode_position(CursorKind::Users, &next),
            Ok(at(&(1, "u1".into())))
        );
    }

    #[test]
    fn a_page_says_whether_another_follows() {
        let full = paged(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(
            (full.rows, full.next_cursor),
            (vec![1, 2], Some("2".into()))
        );
        let last = paged(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((last.rows, last.next_cursor), (vec![1, 2], None));
    }
}
