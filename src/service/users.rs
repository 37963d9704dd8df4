//! User use cases: provision, read, list/match, replace, patch, deactivate, delete.

use crate::scim::error::StatusCode;
use std::sync::Arc;

use serde_json::Value;

use super::directory::user_view;
use super::paging::{chunks, fill_page, PageBytes};
use super::query::{plan_users, Plan};
use super::scan::{InMemoryQuery, ScanBudget, INLINE_WORK};
use super::Service;
use super::{
    change_log, check_if_match, check_indexed_len, page, possible_id, Caller, FilterScope,
    ListParams, Listed, Rendered,
};
use crate::scim::error::ScimError;
use crate::scim::patch::{apply_user_patch, parse_patch_request_within, PATCH_WORK};
use crate::scim::path::AttrPath;
use crate::scim::render::{resource_text, Json, Meta};
use crate::scim::schema::{CustomField, ResourceKind};
use crate::scim::work::Work;
use crate::store::coalesce::{UserById, UsersByEmail};
use crate::store::events::append_event;
use crate::store::users::{
    self as user_store, save_user_change, EmailKey, EmailRow, SizedRow, StrOp, UserChange, UserKey,
    UserPredicate, UserRow, UserSort,
};
use crate::store::{now_millis, DbConn, StoreError};
use crate::webhooks::change_message;

/// The columns derived from a user resource: what SQL indexes and uniqueness work on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIndex {
    pub user_name: String,
    pub external_id: Option<String>,
    /// Lower-case: the work email, else the primary, else the first.
    pub identity_mail: String,
    pub display_name: Option<String>,
    pub active: bool,
    /// (value lower-cased, type lower-cased, primary)
    pub emails: Vec<(String, Option<String>, bool)>,
}

/// Derive the index columns of a validated user; a user without a usable email is refused
/// because mail is how scimd and Entra match identities.
pub fn index_user(resource: &Value) -> Result<UserIndex, ScimError> {
    let index = index_columns(resource)?;
    check_identity_mail(&index.identity_mail)?;
    Ok(index)
}

/// A user created or replaced without `active` is active for scimd (its index column, what
/// `active eq true` matches, what the host app counts): its resource says so (RFC 7643 §2.2
/// lets the service provider assign a default), so that filters and readers agree: OneLogin's
/// documented templates send no `active`, and Okta reads `active` of every user it imports.
/// A PATCH that removes `active` removes it (RFC 7644 §3.5.2.2: the client asked for it).
fn assign_active(mut resource: Value) -> Value {
    if let Some(obj) = resource.as_object_mut() {
        obj.entry("active").or_insert(Value::Bool(true));
    }
    resource
}

/// The identity mail must be an email address.
fn check_identity_mail(identity: &str) -> Result<(), ScimError> {
    if !validator::ValidateEmail::validate_email(&identity) {
        return Err(ScimError::invalid_value(format!(
            "\"{identity}\" is not a valid email address; the user's mail must be one"
        )));
    }
    Ok(())
}

/// The index columns, without checking that the identity mail is an address (for a stored
/// user, or a change that keeps its mail: checked when it was stored).
fn index_columns(resource: &Value) -> Result<UserIndex, ScimError> {
    let user_name = resource
        .get("userName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ScimError::invalid_value("userName is required and must be a non-empty string")
        })?
        .to_string();
    let mut emails = Vec::new();
    if let Some(list) = resource.get("emails").and_then(Value::as_array) {
        for e in list {
            let Some(value) = e.get("value").and_then(Value::as_str).map(str::trim) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            let kind = e.get("type").and_then(Value::as_str).map(str::to_lowercase);
            let primary = e.get("primary").and_then(Value::as_bool).unwrap_or(false);
            // The index holds the normalised form (an IDNA domain can be longer than sent).
            let value = crate::scim::mail::index_form("emails.value", value)?;
            check_indexed_len("an emails value", &value)?;
            // The same address twice with the same type is one index entry.
            if !emails.iter().any(|(v, t, _)| *v == value && *t == kind) {
                emails.push((value, kind, primary));
            }
        }
    }
    let identity = emails
        .iter()
        .find(|(_, t, _)| t.as_deref() == Some("work"))
        .or_else(|| emails.iter().find(|(_, _, p)| *p))
        .or_else(|| emails.first())
        .map(|(v, _, _)| v.clone())
        .ok_or_else(|| {
            ScimError::invalid_value(
                "the user has no email: scimd identifies users by mail, so give at least one \
                 emails value (Entra: map mail to emails[type eq \"work\"].value)",
            )
        })?;
    check_indexed_len("userName", &user_name)?;
    let external_id = resource
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string);
    check_indexed_len("externalId", external_id.as_deref().unwrap_or_default())?;
    let display_name = resource
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::to_string);
    check_indexed_len("displayName", display_name.as_deref().unwrap_or_default())?;
    Ok(UserIndex {
        user_name,
        external_id,
        identity_mail: identity,
        display_name,
        active: resource
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        emails,
    })
}

/// The email index rows of a user.
pub fn email_rows(user_id: &str, tenant_id: &str, index: &UserIndex) -> Vec<EmailRow> {
    index
        .emails
        .iter()
        .enumerate()
        .map(|(i, (value, kind, primary))| EmailRow {
            user_id: user_id.to_string(),
            position: i32::try_from(i).unwrap_or(i32::MAX),
            tenant_id: tenant_id.to_string(),
            value_lower: value.clone(),
            email_type: kind.clone(),
            is_primary: *primary,
        })
        .collect()
}

/// The work emails among a user's index rows (what a work-email conflict names).
fn work_emails(rows: &[EmailRow]) -> Vec<String> {
    rows.iter()
        .filter(|r| r.email_type.as_deref() == Some("work"))
        .map(|r| r.value_lower.clone())
        .collect()
}

fn serialize(resource: &Value) -> Result<String, ScimError> {
    serde_json::to_string(resource)
        .map_err(|e| ScimError::internal(format!("cannot serialise resource: {e}")))
}

/// Render a stored user row as a SCIM resource.
pub fn render_user(row: &UserRow, base_url: &str) -> Result<Rendered, ScimError> {
    let location = format!("{base_url}/Users/{}", row.id);
    let meta = Meta {
        resource_type: "User",
        id: &row.id,
        created_millis: row.created_at,
        modified_millis: row.updated_at,
        version: row.version,
        location,
    };
    let body = resource_text(&row.resource, &meta).ok_or_else(|| {
        ScimError::internal(format!(
            "stored user {} is corrupt: not a JSON object",
            row.id
        ))
    })?;
    Ok(Rendered {
        body: Json::Text(body),
        id: row.id.clone(),
        version: row.version,
        location: meta.location,
    })
}

/// The action a write is logged as.
fn action_for(before_active: Option<bool>, after_active: bool) -> &'static str {
    match (before_active, after_active) {
        (None, _) => "created",
        (Some(true), false) => "deactivated",
        (Some(false), true) => "reactivated",
        _ => "updated",
    }
}

/// Record a refused write in the provisioning log (best effort: the refusal is the answer).
pub async fn record_rejection(
    svc: &Service,
    caller: &Caller,
    resource_type: &'static str,
    id: Option<String>,
    err: &ScimError,
) {
    if !err.status.is_client_error() || err.status == StatusCode::UNAUTHORIZED {
        return;
    }
    let tenant_id = caller.tenant.id.clone();
    let jti = caller.token_jti.clone();
    let detail = format!("{}: {}", err.status.as_u16(), err.detail);
    let result: Result<(), ScimError> = svc
        .store
        .write(move |conn| {
            append_event(
                conn,
                &tenant_id,
                "rejected",
                resource_type,
                id.as_deref(),
                jti.as_deref(),
                &detail,
            )?;
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e.detail, "could not log a rejected write");
    }
}

/// A new user row (version 1) for a validated resource.
pub fn new_row(
    id: String,
    tenant_id: &str,
    resource: &Value,
    index: &UserIndex,
    now: i64,
) -> Result<UserRow, ScimError> {
    Ok(UserRow {
        id,
        tenant_id: tenant_id.to_string(),
        user_name_lower: index.user_name.to_lowercase(),
        user_name: index.user_name.clone(),
        external_id: index.external_id.clone(),
        identity_mail: index.identity_mail.clone(),
        display_name_lower: index.display_name.as_ref().map(|d| d.to_lowercase()),
        active: index.active,
        resource: serialize(resource)?,
        version: 1,
        created_at: now,
        updated_at: now,
        deactivated_at: if index.active { None } else { Some(now) },
        deleted_at: None,
        in_scope: true,
    })
}

/// The tenant's custom fields (remembered for a second, else a short read; the validation
/// that needs them runs outside the write transaction).
async fn custom_fields(svc: &Service, tenant_id: &str) -> Result<Arc<Vec<CustomField>>, ScimError> {
    svc.custom_fields.get(&svc.store, tenant_id).await
}

/// POST /Users. Validation, indexing and serialising happen here, on the request's thread;
/// the write transaction (one writer on SQLite) only inserts the prepared rows.
pub async fn create_user(
    svc: &Service,
    caller: &Caller,
    body: Value,
) -> Result<Rendered, ScimError> {
    let custom = custom_fields(svc, &caller.tenant.id).await?;
    let resource = assign_active(svc.schemas.validate_user(body, &custom)?);
    let index = index_user(&resource)?;
    let mut row = new_row(
        super::new_resource_id(),
        &caller.tenant.id,
        &resource,
        &index,
        now_millis(),
    )?;
    super::scope::for_new_user(svc, &mut row, &resource).await?;
    let emails = email_rows(&row.id, &row.tenant_id, &index);
    let work = work_emails(&emails);
    let detail = format!("userName {} mail {}", index.user_name, index.identity_mail);
    let rendered = render_user(&row, &caller.base_url)?;
    let webhooks = change_message(
        caller,
        "User",
        "created",
        &row.id,
        Some(user_view(&row, &resource, None)),
        Some(&rendered.body.text()),
    );
    let log = change_log(caller, "User", "created", &row.id, detail, webhooks);
    save_user_change(&svc.store, UserChange::Insert { row, emails }, log)
        .await
        .map_err(|e| super::work_email_taken(e, &work))?;
    svc.changed();
    svc.role_jobs
        .users(&caller.tenant.id, [rendered.id.clone()]);
    Ok(rendered)
}

/// GET /Users/{id}.
pub async fn get_user(svc: &Service, caller: &Caller, id: &str) -> Result<Rendered, ScimError> {
    let row = current_user(svc, caller, id).await?;
    render_user(&row, &caller.base_url)
}

/// The live user with this id, or a 404.
async fn current_user(svc: &Service, caller: &Caller, id: &str) -> Result<UserRow, ScimError> {
    if !possible_id(id) {
        return Err(not_found(id));
    }
    let tenant_id = caller.tenant.id.clone();
    let id_owned = id.to_string();
    svc.store
        .coalesced::<UserById>(UserKey {
            tenant_id,
            id: id_owned,
        })
        .await?
        .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("no user with id {id} in this tenant"))
}

/// A change of a stored user, computed before the write: the new row, its email index rows
/// when the emails changed, and its log entry.
struct Change {
    /// The row as read; the write happens only if it is still at this version.
    old: UserRow,
    row: UserRow,
    emails: Option<Vec<EmailRow>>,
    action: &'static str,
    detail: String,
}

/// The change that stores `resource` over `old` (whose parsed resource is `old_resource`).
fn change_of(old: &UserRow, old_resource: &Value, resource: &Value) -> Result<Change, ScimError> {
    let index = index_columns(resource)?;
    if index.identity_mail != old.identity_mail {
        check_identity_mail(&index.identity_mail)?;
    }
    let now = now_millis();
    let mut row = new_row(old.id.clone(), &old.tenant_id, resource, &index, now)?;
    row.created_at = old.created_at;
    row.version = old.version + 1;
    row.deactivated_at = match (old.active, index.active) {
        (true, false) => Some(now),
        (false, false) => old.deactivated_at,
        _ => None,
    };
    // Most updates leave the emails alone: then their index rows stay as they are.
    let old_emails = index_columns(old_resource).ok().map(|i| i.emails);
    let emails = (old_emails.as_ref() != Some(&index.emails))
        .then(|| email_rows(&row.id, &row.tenant_id, &index));
    Ok(Change {
        old: old.clone(),
        emails,
        action: action_for(Some(old.active), index.active),
        detail: format!("userName {} mail {}", index.user_name, index.identity_mail),
        row,
    })
}

/// How often a read-modify-write is redone when other writers keep winning the race.
const MAX_EDIT_ATTEMPTS: usize = 100;

fn version_moved() -> ScimError {
    ScimError::status(
        StatusCode::PRECONDITION_FAILED,
        "the resource changed since the version named in If-Match; GET it and retry",
    )
}

/// Compute the new form of `current` with `edit`: here within [`INLINE_WORK`] (when
/// `inline`: not known to need more), else on the scan gate's threads, in the tenant's share
/// of them, within [`PATCH_WORK`].
async fn run_edit<E>(
    svc: &Service,
    tenant_id: &str,
    edit: &Arc<E>,
    inline: bool,
    current: &Value,
    custom: &Arc<Vec<CustomField>>,
) -> Result<Value, ScimError>
where
    E: Fn(&Value, &[CustomField], &Work) -> Result<Value, ScimError> + Send + Sync + 'static,
{
    if inline {
        let work = Work::new(INLINE_WORK);
        match edit(current, custom, &work) {
            // Too costly for a worker: done again below.
            Err(_) if work.is_spent() => {}
            done => return done,
        }
    }
    let (edit, current, custom) = (Arc::clone(edit), current.clone(), Arc::clone(custom));
    svc.scans
        .run_work(tenant_id, move || {
            edit(&current, &custom, &Work::new(PATCH_WORK))
        })
        .await
}

/// Read the user, compute its new resource with `edit`, and write it if nobody wrote the
/// user in between. When somebody did (another request, another instance), read again and
/// redo the edit, unless the client pinned a version (If-Match: 412). The write itself is
/// one UPDATE guarded by the version, plus the log entry: all or nothing, and the work of
/// patching and validating stays out of the transaction (and off SQLite's one writer).
/// `edit` counts its work against the [`Work`] it is given ([`run_edit`]; `inline`: it may
/// run on the HTTP worker first).
/// Returns the user as it now is, rendered (the same text its webhook message carries).
async fn edit_user<E>(
    svc: &Service,
    caller: &Caller,
    id: &str,
    if_match: Option<&str>,
    inline: bool,
    edit: E,
) -> Result<Rendered, ScimError>
where
    E: Fn(&Value, &[CustomField], &Work) -> Result<Value, ScimError> + Send + Sync + 'static,
{
    let custom = custom_fields(svc, &caller.tenant.id).await?;
    let edit = Arc::new(edit);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let old = current_user(svc, caller, id).await?;
        check_if_match(if_match, old.version)?;
        let current: Value = serde_json::from_str(&old.resource)
            .map_err(|e| ScimError::internal(format!("stored user {} is corrupt: {e}", old.id)))?;
        let resource = run_edit(svc, &caller.tenant.id, &edit, inline, &current, &custom).await?;
        if resource == current {
            // Nothing changed (Entra re-sends values): no new version, no log entry.
            return render_user(&old, &caller.base_url);
        }
        let mut change = change_of(&old, &current, &resource)?;
        super::scope::for_edit(svc, &mut change.row, &resource).await?;
        let work = work_emails(change.emails.as_deref().unwrap_or_default());
        let after = render_user(&change.row, &caller.base_url)?;
        let webhooks = change_message(
            caller,
            "User",
            change.action,
            &change.row.id,
            Some(user_view(&change.row, &resource, None)),
            Some(&after.body.text()),
        );
        let mut log = change_log(
            caller,
            "User",
            change.action,
            &change.row.id,
            change.detail,
            webhooks,
        );
        if change.row.in_scope != change.old.in_scope {
            log.more.push(super::scope::transition_log(
                caller,
                &change.row,
                &resource,
                &after.body.text(),
                "by a change of its attributes or mail",
            ));
        }
        let write = UserChange::Update {
            old: change.old,
            row: change.row,
            emails: change.emails,
        };
        let written = save_user_change(&svc.store, write, log).await;
        match written {
            // The user as written, rendered once: for the webhooks and for the answer.
            Ok(_) => {
                svc.changed();
                svc.role_jobs.users(&caller.tenant.id, [after.id.clone()]);
                return Ok(after);
            }
            // Lost the race: the version moved on (or the user was deleted) since it was read.
            Err(StoreError::Conflict) => {
                if if_match.is_some() {
                    return Err(version_moved());
                }
                if attempts >= MAX_EDIT_ATTEMPTS {
                    return Err(ScimError::from(StoreError::Conflict));
                }
            }
            Err(e) => return Err(super::work_email_taken(e, &work)),
        }
    }
}

/// PUT /Users/{id}: replace the whole resource.
pub async fn replace_user(
    svc: &Service,
    caller: &Caller,
    id: &str,
    body: Value,
    if_match: Option<String>,
) -> Result<Rendered, ScimError> {
    let schemas = Arc::clone(&svc.schemas);
    // A PUT's work is linear in its body: it needs no budget.
    edit_user(
        svc,
        caller,
        id,
        if_match.as_deref(),
        true,
        move |current, custom, _| {
            schemas
                .validate_user_edit(current, body.clone(), custom)
                .map(assign_active)
        },
    )
    .await
}

/// PATCH /Users/{id}: all operations or none, within a budget of work (past it, 400
/// `tooMany` with nothing changed).
pub async fn patch_user(
    svc: &Service,
    caller: &Caller,
    id: &str,
    body: Value,
    if_match: Option<String>,
) -> Result<Rendered, ScimError> {
    // Every real PATCH is parsed here; a megabyte of value filters is parsed off the workers,
    // with the rest of its work (after the user is read: its 404 comes first).
    let here = Work::new(INLINE_WORK);
    let ops = match parse_patch_request_within(&body, &here) {
        Ok(ops) => Some(ops),
        Err(_) if here.is_spent() => None,
        Err(e) => return Err(e),
    };
    let inline = ops.is_some();
    let schemas = Arc::clone(&svc.schemas);
    edit_user(
        svc,
        caller,
        id,
        if_match.as_deref(),
        inline,
        move |current, custom, work| {
            let parsed;
            let ops = match &ops {
                Some(ops) => ops,
                None => {
                    parsed = parse_patch_request_within(&body, work)?;
                    &parsed
                }
            };
            let patched = apply_user_patch(current, ops, &schemas, custom, work)?;
            schemas.validate_user_edit(current, patched, custom)
        },
    )
    .await
}

/// DELETE /Users/{id}: leave a tombstone.
pub async fn delete_user(
    svc: &Service,
    caller: &Caller,
    id: &str,
    if_match: Option<String>,
) -> Result<(), ScimError> {
    let old = current_user(svc, caller, id).await?;
    check_if_match(if_match.as_deref(), old.version)?;
    // With If-Match the tombstone needs the version that was checked; without, any live one.
    let pinned = if_match.is_some().then_some(old.version);
    let (id_owned, user_name) = (old.id, old.user_name);
    let webhooks = change_message(caller, "User", "deleted", &id_owned, None, None);
    let log = change_log(
        caller,
        "User",
        "deleted",
        &id_owned,
        format!("userName {user_name}"),
        webhooks,
    );
    let tombstone = UserChange::Tombstone {
        tenant_id: caller.tenant.id.clone(),
        id: id_owned,
        version: pinned,
    };
    let deleted = save_user_change(&svc.store, tombstone, log).await?;
    match (deleted, pinned) {
        (true, _) => {
            svc.changed();
            // Forgets what the user was reported with.
            svc.role_jobs.users(&caller.tenant.id, [id.to_string()]);
            Ok(())
        }
        (false, Some(_)) => Err(version_moved()),
        (false, None) => Err(not_found(id)),
    }
}

fn sql_sort(attr: &AttrPath) -> Option<UserSort> {
    if attr
        .urn
        .as_deref()
        .is_some_and(|u| !u.eq_ignore_ascii_case(crate::scim::schema::USER_SCHEMA))
    {
        return None;
    }
    let name = attr.name.to_ascii_lowercase();
    let sub = attr.sub.as_deref().map(str::to_ascii_lowercase);
    Some(match (name.as_str(), sub.as_deref()) {
        ("username", None) => UserSort::UserName,
        ("displayname", None) => UserSort::DisplayName,
        ("externalid", None) => UserSort::ExternalId,
        ("id", None) => UserSort::Id,
        ("meta", Some("created")) => UserSort::Created,
        ("meta", Some("lastmodified")) => UserSort::LastModified,
        _ => return None,
    })
}

/// The indexed attributes that narrow a user filter in the database.
const USER_SCAN_HINT: &str =
    "userName, externalId, emails, displayName, active or meta.lastModified";

/// A user rendered for a list: projected, as JSON text (its length is what the page holds).
fn render_listed(
    row: &UserRow,
    base_url: &str,
    projection: &(Option<String>, Option<String>),
) -> Result<String, ScimError> {
    let mut body = render_user(row, base_url)?.body;
    body.project(projection.0.as_deref(), projection.1.as_deref())?;
    Ok(body.into_text())
}

/// The rows of a chunk of a scan, each with its position among the scan's candidates (`at`
/// is the chunk's first): rows deleted since the sizes were read are missing.
fn positioned(
    rows: Vec<UserRow>,
    chunk: &[SizedRow],
    at: usize,
) -> impl Iterator<Item = (usize, UserRow)> {
    let position: std::collections::HashMap<String, usize> = chunk
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), at + i))
        .collect();
    rows.into_iter()
        .filter_map(move |row| Some((*position.get(&row.id)?, row)))
}

/// Render the rows of a page (a handful, found by key or mail) while they fit its bytes.
fn render_users(
    rows: &[UserRow],
    base_url: &str,
    projection: &(Option<String>, Option<String>),
    page: &mut PageBytes,
) -> Result<Vec<Json>, ScimError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let text = render_listed(row, base_url, projection)?;
        if !page.take(text.len()) {
            break;
        }
        out.push(Json::Text(text));
    }
    Ok(out)
}

/// GET /Users (and POST /Users/.search): filter, sort, page, project.
pub async fn list_users(
    svc: &Service,
    caller: &Caller,
    params: ListParams,
) -> Result<Listed, ScimError> {
    list_users_within(
        svc,
        caller,
        params,
        PageBytes::new(svc.max_page_bytes),
        FilterScope::Endpoint,
    )
    .await
}

/// [`list_users`] onto a page that may hold resources already (`POST /.search`); `scope` says
/// whether the filter may name only User attributes.
pub(crate) async fn list_users_within(
    svc: &Service,
    caller: &Caller,
    params: ListParams,
    mut bytes: PageBytes,
    scope: FilterScope,
) -> Result<Listed, ScimError> {
    let filter = super::list_filter(&params)?;
    if let (Some(f), FilterScope::Endpoint) = (&filter, scope) {
        // The tenant's custom fields are read only for a filter the core and enterprise
        // schemas do not account for.
        if svc
            .schemas
            .check_filter(ResourceKind::User, f, &[])
            .is_err()
        {
            let custom = custom_fields(svc, &caller.tenant.id).await?;
            svc.schemas.check_filter(ResourceKind::User, f, &custom)?;
        }
    }
    let sort_attr = params.sort_by.as_deref().map(AttrPath::parse).transpose()?;
    let max = svc.max_results;
    let (start, count) = page(params.start_index, params.count, max);
    let plan = plan_users(filter.as_ref());
    let tenant_id = caller.tenant.id.clone();
    let sql_sorted = match &sort_attr {
        None => Some(None),
        Some(a) => sql_sort(a).map(|s| Some((s, !params.descending))),
    };
    let schemas = Arc::clone(&svc.schemas);
    let projection = (
        params.attributes.clone(),
        params.excluded_attributes.clone(),
    );
    // Both plans end with the page's rendered, projected bodies (the scan already rendered
    // them to filter), as many as fit the page's bytes; anything past a point lookup runs on
    // the blocking pool.
    let (total, bodies): (i64, Vec<Json>) = match (plan, sql_sorted) {
        (Plan::Sql(pred), Some(sort)) => {
            // Entra's match by mail, coalesced with other matches on PostgreSQL.
            let matched = match (&pred, sort) {
                (
                    Some(UserPredicate::Email {
                        email_type,
                        op: StrOp::Eq,
                        value,
                    }),
                    None,
                ) => {
                    let key = EmailKey {
                        tenant_id: tenant_id.clone(),
                        value: value.clone(),
                        email_type: email_type.clone(),
                    };
                    svc.store.coalesced::<UsersByEmail>(key).await?
                }
                _ => None,
            };
            let point = pred.as_ref().is_some_and(UserPredicate::is_point);
            let base_url = caller.base_url.clone();
            let projection = projection.clone();
            match matched {
                Some(rows) => {
                    let (total, rows) = user_store::page_in_memory(rows, start - 1, count);
                    (
                        total,
                        render_users(&rows, &base_url, &projection, &mut bytes)?,
                    )
                }
                None if point => {
                    let (total, rows) = svc
                        .store
                        .lookup(move |conn| {
                            Ok::<_, ScimError>(user_store::query_users(
                                conn,
                                &tenant_id,
                                pred.as_ref(),
                                sort,
                                start - 1,
                                count,
                            )?)
                        })
                        .await?;
                    (
                        total,
                        render_users(&rows, &base_url, &projection, &mut bytes)?,
                    )
                }
                // A page of up to max_results users is read and rendered on the blocking
                // pool, a chunk at a time, until its bytes are reached.
                None => {
                    svc.store
                        .read(move |conn| {
                            let (total, sized) = user_store::query_user_sizes(
                                conn,
                                &tenant_id,
                                pred.as_ref(),
                                sort,
                                start - 1,
                                count,
                            )?;
                            let projected = projection.0.is_some() || projection.1.is_some();
                            let texts = fill_page(
                                &sized,
                                &mut bytes,
                                !projected,
                                |ids| Ok(user_store::live_users_in_order(conn, &tenant_id, ids)?),
                                |row| render_listed(row, &base_url, &projection),
                            )?;
                            Ok::<_, ScimError>((total, texts.into_iter().map(Json::Text).collect()))
                        })
                        .await?
                }
            }
        }
        (Plan::Sql(pred) | Plan::Scan(pred), _) => {
            let base_url = caller.base_url.clone();
            let descending = params.descending;
            let scan = move |conn: &mut DbConn, budget: &ScanBudget| {
                let sized = user_store::scan_user_sizes(
                    conn,
                    &tenant_id,
                    pred.as_ref(),
                    budget.max_rows as i64 + 1,
                )?;
                budget.check_candidates(sized.len())?;
                let case_exact = |a: &AttrPath| schemas.user_case_exact(a);
                let query = InMemoryQuery {
                    filter: filter.as_ref(),
                    case_exact: &case_exact,
                    sort_by: sort_attr.as_ref(),
                    descending,
                    start_index: start,
                    count,
                };
                // The candidates a chunk at a time, each rendered to be tested; a match is
                // kept as its position (and sort key), never as its body.
                let mut offset = 0;
                let candidates = chunks(&sized).flat_map(|chunk| {
                    let at = offset;
                    offset += chunk.len();
                    let ids: Vec<String> = chunk.iter().map(|r| r.id.clone()).collect();
                    match user_store::live_users_in_order(conn, &tenant_id, &ids) {
                        Ok(rows) => positioned(rows, chunk, at)
                            .map(|(i, row)| {
                                Ok((i, render_user(&row, &base_url)?.body.into_value()?))
                            })
                            .collect::<Vec<_>>(),
                        Err(e) => vec![Err(ScimError::from(e))],
                    }
                });
                let (total, found) = budget.filter_sort_keep(candidates, &query, |i, _body| i)?;
                // The page's rows, read again: as many as fit its bytes.
                let page: Vec<SizedRow> = found
                    .iter()
                    .filter_map(|&i| sized.get(i).cloned())
                    .collect();
                let projected = projection.0.is_some() || projection.1.is_some();
                let texts = fill_page(
                    &page,
                    &mut bytes,
                    !projected,
                    |ids| Ok(user_store::live_users_in_order(conn, &tenant_id, ids)?),
                    |row| render_listed(row, &base_url, &projection),
                )?;
                Ok((total, texts.into_iter().map(Json::Text).collect()))
            };
            svc.scans
                .run(&svc.store, &caller.tenant.id, "users", USER_SCAN_HINT, scan)
                .await?
        }
    };
    Ok(Listed {
        total,
        start_index: start,
        resources: bodies,
    })
}

/// Write `n` users made by `make(i)` straight to a tenant, in transactions of 5,000, with no
/// log entries: for loading a large tenant in benchmarks and tests (not a SCIM path).
pub async fn import_users(
    svc: &Service,
    tenant: &crate::store::tenants::Tenant,
    n: usize,
    make: impl Fn(usize) -> Value,
) -> Result<(), ScimError> {
    let now = now_millis();
    let mut done = 0;
    while done < n {
        let end = (done + 5_000).min(n);
        let mut batch = Vec::with_capacity(end - done);
        for i in done..end {
            let resource = make(i);
            let index = index_user(&resource)?;
            let row = new_row(super::new_resource_id(), &tenant.id, &resource, &index, now)?;
            let emails = email_rows(&row.id, &tenant.id, &index);
            batch.push((row, emails));
        }
        svc.store
            .write(move |conn| {
                for (row, emails) in &batch {
                    user_store::insert_user(conn, row, emails)?;
                }
                Ok::<_, ScimError>(())
            })
            .await?;
        done = end;
    }
    Ok(())
}
