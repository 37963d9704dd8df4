//! Group use cases. Members are stored as rows and changed as deltas; the JSON resource
//! holds everything else.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::paging::PageBytes;
use super::query::{plan_groups, Plan};
use super::scan::{InMemoryQuery, ScanBudget, INLINE_WORK};
use super::Service;
use super::{
    change_log, check_if_match, check_indexed_len, new_event, page, possible_id, Caller,
    FilterScope, ListParams, Listed, Rendered,
};
use crate::scim::error::ScimError;
use crate::scim::patch::{
    apply_group_patch, member_refs, membership_only, parse_patch_request_within, MemberChange,
    MemberRef, MembershipDelta, PatchOperation, PATCH_WORK,
};
use crate::scim::path::AttrPath;
use crate::scim::render::{with_meta, Json, Meta};
use crate::scim::schema::{ResourceKind, Schemas};
use crate::scim::work::Work;
use crate::store::events::{insert_event, NewEvent};
use crate::store::groups::{
    self as group_store, save_group_change, GroupChange, GroupRow, MemberRow,
};
use crate::store::users as user_store;
use crate::store::{now_millis, DbConn};
use crate::webhooks::{change_message, membership_messages};

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("no group with id {id} in this tenant"))
}

fn member_refs_of(resource: &Value) -> Vec<MemberRef> {
    resource.get("members").map(member_refs).unwrap_or_default()
}

/// Members up to which each is looked up by its own kept statement rather than in lists.
const FEW_MEMBERS: usize = 8;

/// Resolve members to rows of this tenant: each must be a live user or group. Duplicate
/// ids collapse into one row (the last display given wins).
fn resolve_members(
    conn: &mut DbConn,
    tenant_id: &str,
    group_id: &str,
    refs: &[MemberRef],
) -> Result<Vec<MemberRow>, ScimError> {
    let mut unique: Vec<MemberRef> = Vec::with_capacity(refs.len());
    let mut at: HashMap<&str, usize> = HashMap::new();
    for r in refs {
        match at.get(r.id.as_str()).and_then(|&i| unique.get_mut(i)) {
            Some(first) => {
                if r.display.is_some() {
                    first.display.clone_from(&r.display);
                }
            }
            None => {
                at.insert(r.id.as_str(), unique.len());
                unique.push(r.clone());
            }
        }
    }
    if unique.iter().any(|r| r.id == group_id) {
        return Err(ScimError::invalid_value(
            "a group cannot be a member of itself",
        ));
    }
    let ids: Vec<String> = unique.iter().map(|r| r.id.clone()).collect();
    let mut kinds: HashMap<String, &'static str> = HashMap::new();
    if ids.len() <= FEW_MEMBERS {
        for id in &ids {
            if let Some(kind) = group_store::member_kind(conn, tenant_id, id)? {
                kinds.insert(id.clone(), kind);
            }
        }
    } else {
        for chunk in ids.chunks(500) {
            for id in user_store::existing_user_ids(conn, tenant_id, chunk)? {
                kinds.insert(id, "User");
            }
            for id in group_store::existing_group_ids(conn, tenant_id, chunk)? {
                kinds.insert(id, "Group");
            }
        }
    }
    let unknown: Vec<&str> = ids
        .iter()
        .filter(|id| !kinds.contains_key(*id))
        .map(String::as_str)
        .take(10)
        .collect();
    if !unknown.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "unknown member id(s) {}: members must be ids of users or groups of this tenant",
            unknown.join(", ")
        )));
    }
    Ok(unique
        .into_iter()
        .map(|r| {
            let member_type = kinds.get(&r.id).copied().unwrap_or("User").to_string();
            MemberRow {
                group_id: group_id.to_string(),
                member_id: r.id,
                member_type,
                tenant_id: tenant_id.to_string(),
                display: r.display,
            }
        })
        .collect())
}

fn strip_members(mut resource: Value) -> Value {
    if let Some(obj) = resource.as_object_mut() {
        obj.remove("members");
    }
    resource
}

fn display_name_of(resource: &Value) -> Result<String, ScimError> {
    let name = resource
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ScimError::invalid_value("displayName is required for a group"))?;
    check_indexed_len("displayName", &name)?;
    Ok(name)
}

fn external_id_of(resource: &Value) -> Result<Option<String>, ScimError> {
    let id = resource
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string);
    check_indexed_len("externalId", id.as_deref().unwrap_or_default())?;
    Ok(id)
}

fn serialize(resource: &Value) -> Result<String, ScimError> {
    serde_json::to_string(resource)
        .map_err(|e| ScimError::internal(format!("cannot serialise group: {e}")))
}

/// Render a group row with its members (None: members not requested).
pub fn render_group(
    row: &GroupRow,
    members: Option<&[MemberRow]>,
    base_url: &str,
) -> Result<Rendered, ScimError> {
    let mut stored: Map<String, Value> = serde_json::from_str(&row.resource)
        .map_err(|e| ScimError::internal(format!("stored group {} is corrupt: {e}", row.id)))?;
    if let Some(members) = members {
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                let path = if m.member_type == "Group" { "Groups" } else { "Users" };
                let mut member = json!({"value": m.member_id, "type": m.member_type, "$ref": format!("{base_url}/{path}/{}", m.member_id)});
                if let (Some(display), Some(obj)) = (&m.display, member.as_object_mut()) {
                    obj.insert("display".into(), Value::String(display.clone()));
                }
                member
            })
            .collect();
        if !list.is_empty() {
            stored.insert("members".into(), Value::Array(list));
        }
    }
    let location = format!("{base_url}/Groups/{}", row.id);
    let body = Json::Value(with_meta(
        stored,
        &Meta {
            resource_type: "Group",
            id: &row.id,
            created_millis: row.created_at,
            modified_millis: row.updated_at,
            version: row.version,
            location: location.clone(),
        },
    ));
    Ok(Rendered {
        body,
        id: row.id.clone(),
        version: row.version,
        location,
    })
}

/// Log a change of a group, made now by the caller's token, and queue its webhook message:
/// the group as it is now, with its members (`None` when it was deleted).
fn log_event(
    conn: &mut DbConn,
    caller: &Caller,
    action: &str,
    id: &str,
    detail: &str,
    after: Option<&Rendered>,
) -> Result<(), ScimError> {
    let webhooks = change_message(
        caller,
        "Group",
        action,
        id,
        None,
        after.map(|r| r.body.text()).as_deref(),
    );
    let event = NewEvent {
        webhooks: &webhooks,
        ..new_event(caller, "Group", action, id, detail)
    };
    insert_event(conn, &event)?;
    Ok(())
}

/// Whether the request wants members in the answer.
pub fn wants_members(attributes: Option<&str>, excluded: Option<&str>) -> bool {
    let names = |s: &str| {
        s.split(',')
            .map(|a| a.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    let is_members =
        |a: &String| a == "members" || a.starts_with("members.") || a.ends_with(":group:members");
    if excluded.is_some_and(|e| names(e).iter().any(is_members)) {
        return false;
    }
    match attributes {
        Some(a) => names(a).iter().any(is_members),
        None => true,
    }
}

/// POST /Groups.
pub async fn create_group(
    svc: &Service,
    caller: &Caller,
    body: Value,
) -> Result<Rendered, ScimError> {
    let schemas = Arc::clone(&svc.schemas);
    let caller2 = caller.clone();
    svc.store
        .write(move |conn| {
            let resource = schemas.validate_group(body)?;
            let display_name = display_name_of(&resource)?;
            let id = super::new_resource_id();
            let members =
                resolve_members(conn, &caller2.tenant.id, &id, &member_refs_of(&resource))?;
            let resource = strip_members(resource);
            let now = now_millis();
            let row = GroupRow {
                id,
                tenant_id: caller2.tenant.id.clone(),
                display_name_lower: display_name.to_lowercase(),
                display_name: display_name.clone(),
                external_id: external_id_of(&resource)?,
                resource: serialize(&resource)?,
                version: 1,
                created_at: now,
                updated_at: now,
                deleted_at: None,
            };
            group_store::insert_group(conn, &row, &members)
                .map_err(|e| super::group_name_taken(e, &row.display_name))?;
            let rendered = render_group(&row, Some(&members), &caller2.base_url)?;
            log_event(
                conn,
                &caller2,
                "created",
                &row.id,
                &format!("group {display_name} with {} members", members.len()),
                Some(&rendered),
            )?;
            Ok::<_, ScimError>(rendered)
        })
        .await
        .inspect(|r| {
            svc.changed();
            svc.role_jobs.groups(&caller.tenant.id, [r.id.clone()]);
        })
}

/// GET /Groups/{id}.
pub async fn get_group(
    svc: &Service,
    caller: &Caller,
    id: &str,
    with_members: bool,
) -> Result<Rendered, ScimError> {
    if !possible_id(id) {
        return Err(not_found(id));
    }
    let tenant_id = caller.tenant.id.clone();
    let id_owned = id.to_string();
    let (row, members) = svc
        .store
        .read(move |conn| {
            let row = group_store::get_group(conn, &tenant_id, &id_owned)?
                .ok_or_else(|| not_found(&id_owned))?;
            let members = if with_members {
                Some(group_store::members_of(
                    conn,
                    std::slice::from_ref(&row.id),
                )?)
            } else {
                None
            };
            Ok::<_, ScimError>((row, members))
        })
        .await?;
    render_group(&row, members.as_deref(), &caller.base_url)
}

fn apply_member_changes(
    conn: &mut DbConn,
    tenant_id: &str,
    group_id: &str,
    changes: &[MemberChange],
) -> Result<usize, ScimError> {
    let mut n = 0;
    for change in changes {
        match change {
            MemberChange::Add(refs) => {
                let rows = resolve_members(conn, tenant_id, group_id, refs)?;
                n += rows.len();
                group_store::add_members(conn, group_id, &rows)?;
            }
            MemberChange::Remove(ids) => {
                n += ids.len();
                group_store::remove_members(conn, group_id, ids)?;
            }
            MemberChange::RemoveAll => {
                n += 1;
                group_store::clear_members(conn, group_id)?;
            }
            MemberChange::ReplaceAll(refs) => {
                let rows = resolve_members(conn, tenant_id, group_id, refs)?;
                n += rows.len() + 1;
                group_store::clear_members(conn, group_id)?;
                group_store::add_members(conn, group_id, &rows)?;
            }
        }
    }
    Ok(n)
}

fn store_group_change(
    conn: &mut DbConn,
    old: &GroupRow,
    resource: &Value,
) -> Result<GroupRow, ScimError> {
    let display_name = display_name_of(resource)?;
    let mut row = old.clone();
    row.display_name_lower = display_name.to_lowercase();
    row.display_name = display_name;
    row.external_id = external_id_of(resource)?;
    row.resource = serialize(resource)?;
    row.version = old.version + 1;
    row.updated_at = now_millis();
    group_store::update_group(conn, &row, old.version)
        .map_err(|e| super::group_name_taken(e, &row.display_name))?;
    Ok(row)
}

/// PUT /Groups/{id}: replace attributes and the member list.
pub async fn replace_group(
    svc: &Service,
    caller: &Caller,
    id: &str,
    body: Value,
    if_match: Option<String>,
) -> Result<Rendered, ScimError> {
    if !possible_id(id) {
        return Err(not_found(id));
    }
    let schemas = Arc::clone(&svc.schemas);
    let caller2 = caller.clone();
    let id_owned = id.to_string();
    let before = super::scope::group_users(svc, &caller.tenant.id, id).await;
    let replaced = svc
        .store
        .write(move |conn| {
            group_store::lock_group(conn, &caller2.tenant.id, &id_owned)?;
            let old = group_store::get_group(conn, &caller2.tenant.id, &id_owned)?
                .ok_or_else(|| not_found(&id_owned))?;
            check_if_match(if_match.as_deref(), old.version)?;
            let resource = schemas.validate_group(body)?;
            let refs = member_refs_of(&resource);
            apply_member_changes(
                conn,
                &caller2.tenant.id,
                &old.id,
                &[MemberChange::ReplaceAll(refs)],
            )?;
            let row = store_group_change(conn, &old, &strip_members(resource))?;
            let members = group_store::members_of(conn, std::slice::from_ref(&row.id))?;
            let rendered = render_group(&row, Some(&members), &caller2.base_url)?;
            log_event(
                conn,
                &caller2,
                "updated",
                &row.id,
                &format!("group {} replaced", row.display_name),
                Some(&rendered),
            )?;
            Ok::<_, ScimError>(rendered)
        })
        .await?;
    svc.changed();
    // Who left the group is not known here: every member of the tenant.
    svc.role_jobs.memberships(&caller.tenant.id);
    super::scope::after_group_change(svc, caller, id, before, false).await;
    Ok(replaced)
}

/// What a PATCH of a group answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchAnswer {
    /// No body (204): the new version is enough.
    Version,
    /// The group, with or without its members.
    Group { with_members: bool },
}

/// The outcome of a group PATCH: its new version, and the group when it was asked for.
pub struct Patched {
    pub version: i64,
    pub group: Option<Rendered>,
}

/// PATCH /Groups/{id}: attribute ops on the JSON, membership ops as deltas; all or nothing.
pub async fn patch_group(
    svc: &Service,
    caller: &Caller,
    id: &str,
    body: Value,
    if_match: Option<String>,
    answer: PatchAnswer,
) -> Result<Patched, ScimError> {
    if !possible_id(id) {
        return Err(not_found(id));
    }
    let deltas = answer == PatchAnswer::Version && if_match.is_none();
    let (ops, delta) = parse_group_patch(svc, caller, body, deltas).await?;
    if let Some(delta) = delta {
        let version = patch_membership(svc, caller, id, delta.add, delta.remove).await?;
        return Ok(Patched {
            version,
            group: None,
        });
    }
    let with_members = answer == PatchAnswer::Group { with_members: true };
    let before = super::scope::group_users(svc, &caller.tenant.id, id).await;
    let schemas = Arc::clone(&svc.schemas);
    let caller2 = caller.clone();
    let id_owned = id.to_string();
    let (row, members) = svc
        .store
        .write(move |conn| {
            group_store::lock_group(conn, &caller2.tenant.id, &id_owned)?;
            let old = group_store::get_group(conn, &caller2.tenant.id, &id_owned)?
                .ok_or_else(|| not_found(&id_owned))?;
            check_if_match(if_match.as_deref(), old.version)?;
            let current: Value = serde_json::from_str(&old.resource).map_err(|e| {
                ScimError::internal(format!("stored group {} is corrupt: {e}", old.id))
            })?;
            // Already off the HTTP workers; a group's JSON holds no values that filters
            // multiply (members are applied as changes), so the budget is only a backstop.
            let (patched, changes) =
                apply_group_patch(&current, &ops, &schemas, &Work::new(PATCH_WORK))?;
            let resource = strip_members(schemas.validate_group(patched)?);
            let member_changes = apply_member_changes(conn, &caller2.tenant.id, &old.id, &changes)?;
            let changed = resource != current || member_changes > 0;
            let row = if changed {
                store_group_change(conn, &old, &resource)?
            } else {
                old
            };
            // Read once: the webhook message of a change carries them, and so may the answer.
            let members = if changed || with_members {
                Some(group_store::members_of(
                    conn,
                    std::slice::from_ref(&row.id),
                )?)
            } else {
                None
            };
            if changed {
                let rendered = render_group(&row, members.as_deref(), &caller2.base_url)?;
                log_event(
                    conn,
                    &caller2,
                    "updated",
                    &row.id,
                    &group_store::patched_detail(&row.display_name),
                    Some(&rendered),
                )?;
            }
            Ok::<_, ScimError>((row, members.filter(|_| with_members)))
        })
        .await?;
    svc.changed();
    svc.role_jobs.memberships(&caller.tenant.id);
    super::scope::after_group_change(svc, caller, id, before, false).await;
    let group = match answer {
        PatchAnswer::Version => None,
        PatchAnswer::Group { .. } => {
            Some(render_group(&row, members.as_deref(), &caller.base_url)?)
        }
    };
    Ok(Patched {
        version: row.version,
        group,
    })
}

/// The operations of a group PATCH, and (when `deltas`) the membership delta it amounts to
/// when that is all it does. Every real PATCH is parsed here; a megabyte of member filters is
/// parsed off the HTTP workers, in the tenant's share of the scan gate.
async fn parse_group_patch(
    svc: &Service,
    caller: &Caller,
    body: Value,
    deltas: bool,
) -> Result<(Vec<PatchOperation>, Option<MembershipDelta>), ScimError> {
    let parse = move |body: &Value, work: &Work, schemas: &Schemas| {
        let ops = parse_patch_request_within(body, work)?;
        let delta = match deltas {
            true => membership_only(&ops, schemas)?,
            false => None,
        };
        Ok::<_, ScimError>((ops, delta))
    };
    let here = Work::new(INLINE_WORK);
    match parse(&body, &here, &svc.schemas) {
        Err(_) if here.is_spent() => {
            let schemas = Arc::clone(&svc.schemas);
            svc.scans
                .run_work(&caller.tenant.id, move || {
                    parse(&body, &Work::unlimited(), &schemas)
                })
                .await
        }
        done => done,
    }
}

/// A PATCH that only adds and removes members (Entra's usual one): the members to add are
/// resolved on a read connection, and the write neither reads nor parses the group; it
/// adds, removes, bumps the version and logs. On SQLite that keeps the one writer's share
/// small; on PostgreSQL the group's row is locked for one statement.
async fn patch_membership(
    svc: &Service,
    caller: &Caller,
    id: &str,
    add: Vec<MemberRef>,
    remove: Vec<String>,
) -> Result<i64, ScimError> {
    let (tenant_id, group_id) = (caller.tenant.id.clone(), id.to_string());
    let (version, add, remove) = svc
        .store
        .lookup(move |conn| {
            let group = group_store::get_group(conn, &tenant_id, &group_id)?
                .ok_or_else(|| not_found(&group_id))?;
            let add = resolve_members(conn, &tenant_id, &group_id, &add)?;
            // Only what changes: Entra re-sends adds of members and removes of non-members,
            // and those must not move the version on or log an update.
            let ids: Vec<String> = add
                .iter()
                .map(|m| m.member_id.clone())
                .chain(remove.iter().cloned())
                .collect();
            let current = group_store::current_members(conn, &group_id, &ids)?;
            let add: Vec<MemberRow> = add
                .into_iter()
                .filter(|m| match current.get(&m.member_id) {
                    None => true,
                    Some(display) => m.display.is_some() && *display != m.display,
                })
                .collect();
            let remove: Vec<String> = remove
                .into_iter()
                .filter(|id| current.contains_key(id))
                .collect();
            Ok::<_, ScimError>((group.version, add, remove))
        })
        .await?;
    if add.is_empty() && remove.is_empty() {
        // Nothing to change: no new version, no log entry.
        return Ok(version);
    }
    let webhooks = membership_messages(
        caller,
        id,
        add.iter()
            .map(|m| json!({"value": m.member_id, "type": m.member_type}))
            .collect(),
        remove.iter().map(|id| json!({ "value": id })).collect(),
    );
    // The log entry's detail names the group: the store writes it.
    let log = change_log(caller, "Group", "updated", id, String::new(), webhooks);
    // Whose effective roles may move: the members added and removed (a removed id may be a
    // user's or a group's), and everyone inside the groups among them.
    let touched: Vec<String> = add
        .iter()
        .map(|m| m.member_id.clone())
        .chain(remove.iter().cloned())
        .collect();
    let change = GroupChange::Membership {
        tenant_id: caller.tenant.id.clone(),
        group_id: id.to_string(),
        add,
        remove,
    };
    let written = save_group_change(&svc.store, change, log)
        .await?
        .ok_or_else(|| not_found(id))?;
    svc.changed();
    svc.role_jobs
        .users(&caller.tenant.id, touched.iter().cloned());
    svc.role_jobs.groups(&caller.tenant.id, touched.clone());
    super::scope::after_membership_change(svc, caller, id, touched).await;
    Ok(written)
}

/// DELETE /Groups/{id}.
pub async fn delete_group(
    svc: &Service,
    caller: &Caller,
    id: &str,
    if_match: Option<String>,
) -> Result<(), ScimError> {
    if !possible_id(id) {
        return Err(not_found(id));
    }
    let caller2 = caller.clone();
    let id_owned = id.to_string();
    let before = super::scope::group_users(svc, &caller.tenant.id, id).await;
    svc.store
        .write(move |conn| {
            group_store::lock_group(conn, &caller2.tenant.id, &id_owned)?;
            let old = group_store::get_group(conn, &caller2.tenant.id, &id_owned)?
                .ok_or_else(|| not_found(&id_owned))?;
            check_if_match(if_match.as_deref(), old.version)?;
            group_store::tombstone_group(conn, &caller2.tenant.id, &id_owned, now_millis())?;
            log_event(
                conn,
                &caller2,
                "deleted",
                &id_owned,
                &format!("group {}", old.display_name),
                None,
            )?;
            Ok::<_, ScimError>(())
        })
        .await?;
    svc.changed();
    // Who left the group is not known here: every member of the tenant.
    svc.role_jobs.memberships(&caller.tenant.id);
    super::scope::after_group_change(svc, caller, id, before, true).await;
    Ok(())
}

/// The indexed attributes that narrow a group filter in the database.
const GROUP_SCAN_HINT: &str = "displayName, externalId, members or meta.lastModified";

/// GET /Groups (and POST /Groups/.search).
pub async fn list_groups(
    svc: &Service,
    caller: &Caller,
    params: ListParams,
) -> Result<Listed, ScimError> {
    list_groups_within(
        svc,
        caller,
        params,
        PageBytes::new(svc.max_page_bytes),
        FilterScope::Endpoint,
    )
    .await
}

/// [`list_groups`] onto a page that may hold resources already (`POST /.search`): groups are
/// rendered while they fit its bytes; `scope` says whether the filter may name only Group
/// attributes.
pub(crate) async fn list_groups_within(
    svc: &Service,
    caller: &Caller,
    params: ListParams,
    mut bytes: PageBytes,
    scope: FilterScope,
) -> Result<Listed, ScimError> {
    let filter = super::list_filter(&params)?;
    if let (Some(f), FilterScope::Endpoint) = (&filter, scope) {
        svc.schemas.check_filter(ResourceKind::Group, f, &[])?;
    }
    let (start, count) = page(params.start_index, params.count, svc.max_results);
    let with_members = wants_members(
        params.attributes.as_deref(),
        params.excluded_attributes.as_deref(),
    );
    let tenant_id = caller.tenant.id.clone();
    let sort_attr = params.sort_by.as_deref().map(AttrPath::parse).transpose()?;
    let descending = params.descending;
    let plan = match plan_groups(filter.as_ref()) {
        // Groups are sorted in Rust, over the rows the filter selects.
        Plan::Sql(pred) if sort_attr.is_some() => Plan::Scan(pred),
        plan => plan,
    };
    let schemas = Arc::clone(&svc.schemas);
    let base_url = caller.base_url.clone();
    let projection = (
        params.attributes.clone(),
        params.excluded_attributes.clone(),
    );
    // Projected to text, whose length the page counts.
    let project = move |mut body: Json| -> Result<String, ScimError> {
        body.project(projection.0.as_deref(), projection.1.as_deref())?;
        Ok(body.into_text())
    };
    let members_by_group = |conn: &mut DbConn,
                            rows: &[GroupRow]|
     -> Result<HashMap<String, Vec<MemberRow>>, ScimError> {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut by_group: HashMap<String, Vec<MemberRow>> = HashMap::new();
        for m in group_store::members_of(conn, &ids)? {
            by_group.entry(m.group_id.clone()).or_default().push(m);
        }
        Ok(by_group)
    };
    // Both plans end with the page's rendered, projected bodies, made on the blocking pool;
    // the scan renders (with members, which filters may name) once and keeps what it rendered.
    let (total, resources) = match plan {
        Plan::Sql(pred) => {
            svc.store
                .read(move |conn| {
                    let (total, rows) = group_store::query_groups(
                        conn,
                        &tenant_id,
                        pred.as_ref(),
                        start - 1,
                        count,
                    )?;
                    let by_group = if with_members {
                        members_by_group(conn, &rows)?
                    } else {
                        HashMap::new()
                    };
                    let mut bodies = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let own = by_group.get(&row.id).map_or(&[][..], Vec::as_slice);
                        let text = project(
                            render_group(row, with_members.then_some(own), &base_url)?.body,
                        )?;
                        if !bytes.take(text.len()) {
                            break;
                        }
                        bodies.push(Json::Text(text));
                    }
                    Ok::<_, ScimError>((total, bodies))
                })
                .await?
        }
        Plan::Scan(pred) => {
            let scan = move |conn: &mut DbConn, budget: &ScanBudget| {
                let rows = group_store::scan_groups(
                    conn,
                    &tenant_id,
                    pred.as_ref(),
                    budget.max_rows as i64 + 1,
                )?;
                budget.check_candidates(rows.len())?;
                // Rendered with members, which filters may name; dropped after if not asked for.
                let by_group = members_by_group(conn, &rows)?;
                let case_exact = |a: &AttrPath| schemas.group_case_exact(a);
                let query = InMemoryQuery {
                    filter: filter.as_ref(),
                    case_exact: &case_exact,
                    sort_by: sort_attr.as_ref(),
                    descending,
                    start_index: start,
                    count,
                };
                let candidates = rows.iter().map(|row| {
                    let own = by_group.get(&row.id).map_or(&[][..], Vec::as_slice);
                    render_group(row, Some(own), &base_url)?.body.into_value()
                });
                let (total, found) = budget.filter_sort_page(candidates, &query)?;
                let mut bodies = Vec::with_capacity(found.len());
                for mut body in found {
                    if !with_members {
                        if let Some(obj) = body.as_object_mut() {
                            obj.remove("members");
                        }
                    }
                    let text = project(Json::Value(body))?;
                    if !bytes.take(text.len()) {
                        break;
                    }
                    bodies.push(Json::Text(text));
                }
                Ok((total, bodies))
            };
            svc.scans
                .run(
                    &svc.store,
                    &caller.tenant.id,
                    "groups",
                    GROUP_SCAN_HINT,
                    scan,
                )
                .await?
        }
    };
    Ok(Listed {
        total,
        start_index: start,
        resources,
    })
}
