//! Scope rules and exclusions ("sleep") of a tenant, and each user's `inScope`.
//!
//! Rules and exclusions are put by the host app (`/api/v1/tenants/{slug}/scope`,
//! `…/exclusions`) or, for exclusions, by the tenant's admin on the page. Each user row
//! carries `in_scope`, kept current three ways:
//! - a SCIM create or edit of a user computes it with the change and writes it in the same
//!   transaction, with a `entered_scope` / `left_scope` event when it moved;
//! - a group change that can move members (the group, or a group above it, is named by the
//!   rules or the exclusions) re-evaluates the users it adds or removes, after the change;
//! - a change of the rules or exclusions re-evaluates every user of the tenant in the
//!   background, [`CHUNK`] users per transaction, so SCIM traffic goes on meanwhile; the
//!   settings say `evaluating` until it finished.
//!
//! A user leaving scope is never deleted: only its flag (and `updated_at`) change.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{change_log, Caller, Service};
use crate::scim::error::ScimError;
use crate::scim::scope::{Exclusions, ScopeRules};
use crate::store::events::ChangeLog;
use crate::store::recent::Recent;
use crate::store::scope as scope_store;
use crate::store::tenants::Tenant;
use crate::store::users::UserRow;
use crate::store::{now_millis, StoreError};

/// Users re-evaluated per transaction.
pub const CHUNK: i64 = 1000;

/// A tenant's scope as the writes apply it.
#[derive(Debug, Clone, Default)]
pub struct ScopeConfig {
    pub rules: ScopeRules,
    pub exclusions: Exclusions,
    pub generation: i64,
    pub evaluated_generation: i64,
}

impl ScopeConfig {
    fn of(row: Option<scope_store::ScopeSettings>) -> ScopeConfig {
        match row {
            None => ScopeConfig::default(),
            Some(r) => ScopeConfig {
                rules: ScopeRules::stored(&r.rules),
                exclusions: Exclusions::stored(&r.exclusions),
                generation: r.generation,
                evaluated_generation: r.evaluated_generation,
            },
        }
    }

    /// Whether a user's groups can move it in or out of scope.
    pub fn uses_groups(&self) -> bool {
        !self.rules.groups.is_empty() || !self.exclusions.groups.is_empty()
    }

    /// Whether everyone is in scope.
    pub fn is_open(&self) -> bool {
        self.rules.is_empty() && self.exclusions.is_empty()
    }

    /// Whether the user `id` is in scope; `groups` are its groups through nested groups.
    pub fn in_scope(
        &self,
        id: &str,
        mail: &str,
        resource: &Value,
        groups: &HashSet<String>,
    ) -> bool {
        !self.exclusions.sleeps(id, groups) && self.rules.matches(mail, resource, groups)
    }

    /// Whether the re-evaluation of every user under the current settings is under way.
    pub fn evaluating(&self) -> bool {
        self.evaluated_generation < self.generation
    }

    /// The groups the rules and exclusions name.
    fn named_groups(&self) -> HashSet<&str> {
        self.rules
            .groups
            .iter()
            .chain(&self.exclusions.groups)
            .map(String::as_str)
            .collect()
    }
}

/// Tenants' scope settings as last read, and the re-evaluations this instance runs.
pub struct ScopeCache {
    by_tenant: Recent<Arc<ScopeConfig>>,
    /// Tenant id → whether its settings changed since its running re-evaluation began.
    running: Mutex<HashMap<String, bool>>,
}

impl Default for ScopeCache {
    fn default() -> Self {
        ScopeCache {
            by_tenant: Recent::new(100_000),
            running: Mutex::new(HashMap::new()),
        }
    }
}

/// The tenant's scope (remembered for a second, as custom fields are).
pub async fn config(svc: &Service, tenant_id: &str) -> Result<Arc<ScopeConfig>, ScimError> {
    if let Some(c) = svc
        .scopes
        .by_tenant
        .get(tenant_id, svc.store.recheck_interval())
    {
        return Ok(c);
    }
    let wanted = tenant_id.to_string();
    let row = svc
        .store
        .lookup(move |conn| scope_store::settings(conn, &wanted))
        .await?;
    let config = Arc::new(ScopeConfig::of(row));
    svc.scopes.by_tenant.put(tenant_id, Arc::clone(&config));
    Ok(config)
}

/// Set a new user's `in_scope` (it belongs to no group yet, and no exclusion names it).
pub async fn for_new_user(
    svc: &Service,
    row: &mut UserRow,
    resource: &Value,
) -> Result<(), ScimError> {
    let config = config(svc, &row.tenant_id).await?;
    if !config.is_open() {
        row.in_scope = config.in_scope(&row.id, &row.identity_mail, resource, &HashSet::new());
    }
    Ok(())
}

/// Set an edited user's `in_scope` by its new resource and mail (and its groups, when the
/// scope names groups).
pub async fn for_edit(svc: &Service, row: &mut UserRow, resource: &Value) -> Result<(), ScimError> {
    let config = config(svc, &row.tenant_id).await?;
    if config.is_open() {
        row.in_scope = true;
        return Ok(());
    }
    let groups = if config.uses_groups() {
        let (tenant_id, id) = (row.tenant_id.clone(), row.id.clone());
        svc.store
            .lookup(move |conn| scope_store::ancestors(conn, &tenant_id, &[id]))
            .await?
            .into_values()
            .next()
            .unwrap_or_default()
    } else {
        HashSet::new()
    };
    row.in_scope = config.in_scope(&row.id, &row.identity_mail, resource, &groups);
    Ok(())
}

/// The log entry of `row` entering or leaving scope (by its `in_scope`), with its webhook
/// message (`user.entered_scope` / `user.left_scope`): the user's view and resource as
/// rendered, `rendered` (JSON text).
pub fn transition_log(
    caller: &Caller,
    row: &UserRow,
    resource: &Value,
    rendered: &str,
    why: &str,
) -> ChangeLog {
    let action = if row.in_scope {
        "entered_scope"
    } else {
        "left_scope"
    };
    let view = super::directory::user_view(row, resource, None);
    let webhooks = crate::webhooks::change_message(
        caller,
        "User",
        action,
        &row.id,
        Some(view),
        Some(rendered),
    );
    let detail = format!("userName {} {why}", row.user_name);
    change_log(caller, "User", action, &row.id, detail, webhooks)
}

/// Re-evaluate the given live users of the tenant (ids of others are skipped), [`CHUNK`] a
/// transaction; each that moves is written with its event. Returns how many moved.
async fn reevaluate(
    svc: &Service,
    caller: &Caller,
    config: &ScopeConfig,
    rows: Vec<UserRow>,
    why: &str,
) -> Result<usize, ScimError> {
    let tenant_id = caller.tenant.id.clone();
    let groups = if config.uses_groups() {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let tenant = tenant_id.clone();
        svc.store
            .read(move |conn| scope_store::ancestors(conn, &tenant, &ids))
            .await?
    } else {
        HashMap::new()
    };
    let none = HashSet::new();
    let mut moves = Vec::new();
    // The time the moved users' rows and views get.
    let at = now_millis();
    for mut row in rows {
        let resource: Value = match serde_json::from_str(&row.resource) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(user = %row.id, error = %e, "stored user is corrupt; scope left as it is");
                continue;
            }
        };
        let wanted = config.in_scope(
            &row.id,
            &row.identity_mail,
            &resource,
            groups.get(&row.id).unwrap_or(&none),
        );
        if wanted == row.in_scope {
            continue;
        }
        row.in_scope = wanted;
        row.updated_at = at;
        let rendered = super::users::render_user(&row, &caller.base_url)?;
        let log = transition_log(caller, &row, &resource, &rendered.body.text(), why);
        let step = scope_store::ScopeMove {
            id: row.id,
            version: row.version,
            in_scope: wanted,
        };
        moves.push((step, log));
    }
    if moves.is_empty() {
        return Ok(0);
    }
    let moved = svc
        .store
        .write(move |conn| {
            let steps: Vec<scope_store::ScopeMove> = moves.iter().map(|(m, _)| m.clone()).collect();
            // A user written by a SCIM request meanwhile is left out: that write set its scope.
            let moved: HashSet<String> = scope_store::apply_moves(conn, &tenant_id, &steps, at)?
                .into_iter()
                .collect();
            let logs: Vec<&ChangeLog> = moves
                .iter()
                .filter(|(m, _)| moved.contains(&m.id))
                .map(|(_, log)| log)
                .collect();
            scope_store::insert_logs(conn, &tenant_id, &logs)?;
            Ok::<_, StoreError>(logs.len())
        })
        .await?;
    if moved > 0 {
        svc.changed();
    }
    Ok(moved)
}

/// After a change of group `group_id`'s members: re-evaluate the users it added or removed
/// (`members`: users, and groups whose users are taken, through nested groups), when the
/// scope names the group or a group above it. Errors are logged: the change is done, and the
/// next re-evaluation of the tenant puts the users right.
pub async fn after_membership_change(
    svc: &Service,
    caller: &Caller,
    group_id: &str,
    members: Vec<String>,
) {
    if let Err(e) = membership_change(svc, caller, group_id, members, true).await {
        tracing::warn!(error = %e.detail, "could not re-evaluate the scope of a group's members");
    }
}

/// After a replace, general PATCH or deletion of group `group_id`: re-evaluate the users it
/// held before (`before`, from [`group_users`]) and holds now, when the scope names the group
/// or a group above it. A deleted group (`deleted`) is out of the groups above it already, so
/// its users are re-evaluated whatever the scope names.
pub async fn after_group_change(
    svc: &Service,
    caller: &Caller,
    group_id: &str,
    before: Vec<String>,
    deleted: bool,
) {
    if before.is_empty()
        && !config(svc, &caller.tenant.id)
            .await
            .is_ok_and(|c| c.uses_groups())
    {
        return;
    }
    let mut members = before;
    members.push(group_id.to_string());
    if let Err(e) = membership_change(svc, caller, group_id, members, !deleted).await {
        tracing::warn!(error = %e.detail, "could not re-evaluate the scope of a group's members");
    }
}

async fn membership_change(
    svc: &Service,
    caller: &Caller,
    group_id: &str,
    members: Vec<String>,
    check_above: bool,
) -> Result<(), ScimError> {
    let config = config(svc, &caller.tenant.id).await?;
    if !config.uses_groups() || members.is_empty() {
        return Ok(());
    }
    let named: HashSet<String> = config
        .named_groups()
        .into_iter()
        .map(str::to_string)
        .collect();
    let (tenant_id, group) = (caller.tenant.id.clone(), group_id.to_string());
    let rows = svc
        .store
        .read(move |conn| {
            if check_above {
                let mut above =
                    scope_store::ancestors(conn, &tenant_id, std::slice::from_ref(&group))?
                        .remove(&group)
                        .unwrap_or_default();
                above.insert(group);
                if above.is_disjoint(&named) {
                    return Ok::<_, StoreError>(Vec::new());
                }
            }
            let mut users = scope_store::descendant_users(conn, &tenant_id, &members)?;
            users.extend(members);
            let ids: Vec<String> = users.into_iter().collect();
            crate::store::users::live_users_among(conn, &tenant_id, &ids)
        })
        .await?;
    for chunk in rows.chunks(usize::try_from(CHUNK).unwrap_or(1000)) {
        reevaluate(svc, caller, &config, chunk.to_vec(), "group membership").await?;
    }
    Ok(())
}

/// The users a group holds now, through nested groups (to re-evaluate them after a change
/// that may drop them all: a replace or a deletion of the group).
pub async fn group_users(svc: &Service, tenant_id: &str, group_id: &str) -> Vec<String> {
    let (tenant_id, group) = (tenant_id.to_string(), group_id.to_string());
    match config(svc, &tenant_id).await {
        Ok(c) if c.uses_groups() => {}
        _ => return Vec::new(),
    }
    svc.store
        .read(move |conn| scope_store::descendant_users(conn, &tenant_id, &[group]))
        .await
        .map(|s| s.into_iter().collect())
        .unwrap_or_default()
}

/// What the API and the page show of a tenant's scope.
#[derive(Debug, Clone)]
pub struct ScopeState {
    pub config: ScopeConfig,
    pub in_scope: i64,
    pub out_of_scope: i64,
    pub slept: i64,
}

/// The tenant's scope settings and counts, read now.
pub async fn state(svc: &Service, tenant: &Tenant) -> Result<ScopeState, ScimError> {
    let tenant_id = tenant.id.clone();
    let (row, (in_scope, out_of_scope), slept) = svc
        .store
        .read(move |conn| {
            let row = scope_store::settings(conn, &tenant_id)?;
            let counts = scope_store::scope_counts(conn, &tenant_id)?;
            let ex = row
                .as_ref()
                .map(|r| Exclusions::stored(&r.exclusions))
                .unwrap_or_default();
            let mut slept = scope_store::descendant_users(conn, &tenant_id, &ex.groups)?;
            slept.extend(ex.users);
            let ids: Vec<String> = slept.into_iter().collect();
            let slept = crate::store::users::live_users_among(conn, &tenant_id, &ids)?.len();
            Ok::<_, StoreError>((row, counts, slept))
        })
        .await?;
    Ok(ScopeState {
        config: ScopeConfig::of(row),
        in_scope,
        out_of_scope,
        slept: i64::try_from(slept).unwrap_or(i64::MAX),
    })
}

/// Ids among `wanted` that are not live resources of the tenant, by `existing`.
fn unknown(wanted: &[String], existing: &[String]) -> Vec<String> {
    let known: HashSet<&String> = existing.iter().collect();
    wanted
        .iter()
        .filter(|w| !known.contains(w))
        .cloned()
        .collect()
}

fn unknown_error(what: &str, ids: &[String]) -> ScimError {
    let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
    ScimError::invalid_value(format!(
        "{what}: {} {} not {} of this tenant ({}{}); use ids from /api/v1/tenants/{{slug}}/{}",
        ids.len(),
        if ids.len() == 1 { "id is" } else { "ids are" },
        if what == "users" { "users" } else { "groups" },
        shown.join(", "),
        if ids.len() > shown.len() { ", …" } else { "" },
        what
    ))
}

/// Which ids of `users` and `groups` the tenant has no live user or group for.
async fn check_ids(
    svc: &Service,
    tenant: &Tenant,
    users: Vec<String>,
    groups: Vec<String>,
) -> Result<(), ScimError> {
    let tenant_id = tenant.id.clone();
    let (bad_users, bad_groups) = svc
        .store
        .read(move |conn| {
            let mut found_users = Vec::new();
            for chunk in users.chunks(500) {
                found_users.extend(crate::store::users::existing_user_ids(
                    conn, &tenant_id, chunk,
                )?);
            }
            let mut found_groups = Vec::new();
            for chunk in groups.chunks(500) {
                found_groups.extend(crate::store::groups::existing_group_ids(
                    conn, &tenant_id, chunk,
                )?);
            }
            Ok::<_, StoreError>((
                unknown(&users, &found_users),
                unknown(&groups, &found_groups),
            ))
        })
        .await?;
    if !bad_users.is_empty() {
        return Err(unknown_error("users", &bad_users));
    }
    if !bad_groups.is_empty() {
        return Err(unknown_error("groups", &bad_groups));
    }
    Ok(())
}

/// `PUT …/scope`: replace the tenant's rules (checked: shapes, sizes, attribute names, the
/// groups are the tenant's) and start re-evaluating every user. `caller` (no token) carries
/// the tenant's SCIM base URL for the webhook messages of users that move.
pub async fn put_rules(
    svc: &Service,
    caller: &Caller,
    body: &Value,
) -> Result<ScopeState, ScimError> {
    let fields = svc.custom_fields.get(&svc.store, &caller.tenant.id).await?;
    let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
    let rules = ScopeRules::parse(body, &names)?;
    check_ids(svc, &caller.tenant, Vec::new(), rules.groups.clone()).await?;
    save(svc, caller, Some(rules.to_json().to_string()), None).await
}

/// `PUT …/exclusions`: replace the tenant's exclusions (ids checked) and start re-evaluating
/// every user.
pub async fn put_exclusions(
    svc: &Service,
    caller: &Caller,
    exclusions: Exclusions,
) -> Result<ScopeState, ScimError> {
    check_ids(
        svc,
        &caller.tenant,
        exclusions.users.clone(),
        exclusions.groups.clone(),
    )
    .await?;
    save(svc, caller, None, Some(exclusions.to_json().to_string())).await
}

async fn save(
    svc: &Service,
    caller: &Caller,
    rules: Option<String>,
    exclusions: Option<String>,
) -> Result<ScopeState, ScimError> {
    let tenant_id = caller.tenant.id.clone();
    let detail = match (&rules, &exclusions) {
        (Some(r), _) => format!("scope rules {r}"),
        (_, Some(_)) => "exclusions changed".to_string(),
        _ => String::new(),
    };
    svc.store
        .write(move |conn| {
            let saved = scope_store::save_settings(
                conn,
                &tenant_id,
                rules.as_deref(),
                exclusions.as_deref(),
                now_millis(),
            )?;
            crate::store::events::append_event(
                conn,
                &tenant_id,
                "scope_changed",
                "Tenant",
                None,
                None,
                &detail,
            )?;
            Ok::<_, StoreError>(saved)
        })
        .await?;
    svc.scopes.by_tenant.forget(&caller.tenant.id);
    spawn_evaluation(svc, caller);
    state(svc, &caller.tenant).await
}

/// Re-evaluate every user of the tenant in the background unless this instance does already
/// (then it starts over when it finishes: the settings changed meanwhile).
pub fn spawn_evaluation(svc: &Service, caller: &Caller) {
    {
        let mut running = svc.scopes.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(again) = running.get_mut(&caller.tenant.id) {
            *again = true;
            return;
        }
        running.insert(caller.tenant.id.clone(), true);
    }
    let (svc, caller) = (svc.clone(), caller.clone());
    tokio::spawn(async move {
        loop {
            {
                let mut running = svc.scopes.running.lock().unwrap_or_else(|p| p.into_inner());
                match running.get_mut(&caller.tenant.id) {
                    Some(again) if *again => *again = false,
                    _ => {
                        running.remove(&caller.tenant.id);
                        return;
                    }
                }
            }
            let started = std::time::Instant::now();
            match evaluate_all(&svc, &caller).await {
                Ok(Some(moved)) => tracing::info!(
                    tenant = %caller.tenant.slug,
                    moved,
                    ms = started.elapsed().as_millis() as u64,
                    "scope re-evaluated"
                ),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(tenant = %caller.tenant.slug, error = %e.detail, "scope re-evaluation failed");
                    // Tried again at the next change or GET of the settings.
                    svc.scopes
                        .running
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&caller.tenant.id);
                    return;
                }
            }
        }
    });
}

/// One pass over every live user of the tenant under its current settings, [`CHUNK`] users
/// a transaction; the settings are marked evaluated at the end unless they changed meanwhile
/// (then the pass stops early: None). How many users moved.
pub async fn evaluate_all(svc: &Service, caller: &Caller) -> Result<Option<usize>, ScimError> {
    let tenant_id = caller.tenant.id.clone();
    let read_settings = |svc: &Service| {
        let tenant_id = tenant_id.clone();
        let store = svc.store.clone();
        async move {
            store
                .read(move |conn| scope_store::settings(conn, &tenant_id))
                .await
                .map(ScopeConfig::of)
        }
    };
    let config = read_settings(svc).await?;
    if !config.evaluating() {
        return Ok(Some(0));
    }
    let generation = config.generation;
    let mut after: Option<(i64, String)> = None;
    let mut moved = 0;
    loop {
        let (tenant, from) = (tenant_id.clone(), after.clone());
        let rows = svc
            .store
            .read(move |conn| scope_store::users_after(conn, &tenant, from.as_ref(), CHUNK))
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some((last.created_at, last.id.clone()));
        let full = i64::try_from(rows.len()).unwrap_or(0) == CHUNK;
        moved += reevaluate(svc, caller, &config, rows, "by the scope settings").await?;
        if !full {
            break;
        }
        if read_settings(svc).await?.generation != generation {
            return Ok(None);
        }
    }
    let tenant = tenant_id.clone();
    svc.store
        .write(move |conn| scope_store::mark_evaluated(conn, &tenant, generation))
        .await?;
    svc.scopes.by_tenant.forget(&tenant_id);
    Ok(Some(moved))
}

/// Start the re-evaluation of a tenant whose last one did not finish (an instance stopped
/// during it), if none runs here.
pub fn resume_if_unfinished(svc: &Service, caller: &Caller, state: &ScopeState) {
    if state.config.evaluating() {
        let idle = !svc
            .scopes
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&caller.tenant.id);
        if idle {
            spawn_evaluation(svc, caller);
        }
    }
}

/// The exclusions as the page shows them: users by identity mail, groups by display name
/// (an id whose user or group is gone is shown as it is).
pub async fn page_exclusions(
    svc: &Service,
    tenant: &Tenant,
    exclusions: &Exclusions,
) -> Result<(Vec<String>, Vec<String>), ScimError> {
    let (tenant_id, ex) = (tenant.id.clone(), exclusions.clone());
    Ok(svc
        .store
        .read(move |conn| {
            let mails: HashMap<String, String> =
                crate::store::users::live_users_among(conn, &tenant_id, &ex.users)?
                    .into_iter()
                    .map(|r| (r.id, r.identity_mail))
                    .collect();
            let names: HashMap<String, String> =
                scope_store::group_names(conn, &tenant_id, &ex.groups)?
                    .into_iter()
                    .collect();
            let shown = |ids: &[String], by: &HashMap<String, String>| -> Vec<String> {
                ids.iter()
                    .map(|id| by.get(id).cloned().unwrap_or_else(|| id.clone()))
                    .collect()
            };
            Ok::<_, StoreError>((shown(&ex.users, &mails), shown(&ex.groups, &names)))
        })
        .await?)
}

/// Exclusions from the page's form: one user a line (identity mail or id), one group a line
/// (display name or id); a line that names nothing of the tenant is a 400 naming it.
pub async fn exclusions_from_page(
    svc: &Service,
    tenant: &Tenant,
    users: &str,
    groups: &str,
) -> Result<Exclusions, ScimError> {
    let lines = |text: &str| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if !out.iter().any(|o| o == l) {
                out.push(l.to_string());
            }
        }
        out
    };
    let (users, groups) = (lines(users), lines(groups));
    if users.len() > crate::scim::scope::MAX_EXCLUDED_USERS
        || groups.len() > crate::scim::scope::MAX_EXCLUDED_GROUPS
    {
        return Err(ScimError::invalid_value(format!(
            "at most {} users and {} groups can sleep",
            crate::scim::scope::MAX_EXCLUDED_USERS,
            crate::scim::scope::MAX_EXCLUDED_GROUPS
        )));
    }
    let tenant_id = tenant.id.clone();
    svc.store
        .read(move |conn| {
            let mut ex = Exclusions::default();
            for u in &users {
                let found = if u.contains('@') {
                    let mail = crate::scim::mail::index_form("email", u)?;
                    crate::store::users::find_user_by_identity_mail(conn, &tenant_id, &mail)?
                        .map(|r| r.id)
                } else {
                    crate::store::users::live_users_among(
                        conn,
                        &tenant_id,
                        std::slice::from_ref(u),
                    )?
                    .pop()
                    .map(|r| r.id)
                };
                let id = found.ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "no user {u:?} in this tenant; give a user's mail or id, one a line"
                    ))
                })?;
                if !ex.users.contains(&id) {
                    ex.users.push(id);
                }
            }
            for g in &groups {
                let by_id = crate::store::groups::existing_group_ids(
                    conn,
                    &tenant_id,
                    std::slice::from_ref(g),
                )?
                .pop();
                let id = match by_id {
                    Some(id) => Some(id),
                    None => scope_store::group_by_name(conn, &tenant_id, g)?,
                }
                .ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "no group {g:?} in this tenant; give a group's name or id, one a line"
                    ))
                })?;
                if !ex.groups.contains(&id) {
                    ex.groups.push(id);
                }
            }
            Ok::<_, ScimError>(ex)
        })
        .await
}
