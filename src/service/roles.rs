//! Role mapping: a tenant's rules (`PUT /api/v1/tenants/{slug}/role-mappings`, and its page),
//! each user's `effectiveRoles` (see [`crate::scim::role_mapping`]), and telling the host app
//! when they move.
//!
//! Reads compute `effectiveRoles` as they go (a page of users reads the tenant's mapping and
//! its group-in-group memberships once, beside the page's groups). What the host app was last
//! told is kept per user (`user_effective_roles`); after a change that can move roles — a
//! user written, members added or removed, a group deleted, the mapping replaced — the users
//! it may touch are re-evaluated off the request by this instance's worker, in chunks of
//! [`CHUNK`] users (one short read and one short write each), and each user whose roles moved
//! gets a `user.updated` with `"changed": ["effectiveRoles"]`, `effectiveRoles` and
//! `previousEffectiveRoles`. The queue is bounded: past [`MAX_PENDING`] users and groups a
//! tenant's pending work becomes one sweep of all its users, and at start every tenant with a
//! mapping is swept once (what a stopped instance left unreported is reported then).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::directory::{user_view, GroupRef};
use super::{Caller, Service};
use crate::scim::error::ScimError;
use crate::scim::normalize;
use crate::scim::role_mapping::{all_groups, nested_groups, RoleMapping};
use crate::store::events::{insert_event, NewEvent};
use crate::store::groups as group_store;
use crate::store::role_mappings::{self as store, MappingRow};
use crate::store::tenants::{find_tenant_by_id, Tenant};
use crate::store::users::UserRow;
use crate::store::{now_millis, DbConn, StoreError};

/// Users re-evaluated per transaction.
pub const CHUNK: usize = 500;
/// How long the worker gathers changes before it re-evaluates (the delay a report may have).
const GATHER: Duration = Duration::from_millis(100);
/// Users and groups a tenant may have waiting before its work becomes a sweep of all users.
pub const MAX_PENDING: usize = 10_000;

/// A tenant's mapping with what evaluating it needs: which group each group is a member of.
#[derive(Debug, Clone, Default)]
pub struct RoleContext {
    pub mapping: RoleMapping,
    /// A group's id → the live groups it is a direct member of (empty without group rules).
    parents: HashMap<String, Vec<String>>,
}

fn mapping_of(row: &MappingRow) -> Result<RoleMapping, StoreError> {
    let rules: Value = serde_json::from_str(&row.rules)
        .map_err(|e| StoreError::Corrupt(format!("stored role mapping: {e}")))?;
    RoleMapping::from_json(&json!({"rules": rules, "default": row.default_role}))
        .map_err(|e| StoreError::Corrupt(format!("stored role mapping: {}", e.detail)))
}

impl RoleContext {
    /// The tenant's mapping and, when it has group rules, its group-in-group memberships (two
    /// queries at most); `None` when the tenant has no mapping.
    pub fn load(conn: &mut DbConn, tenant_id: &str) -> Result<Option<RoleContext>, StoreError> {
        let Some(row) = store::get_mapping(conn, tenant_id)? else {
            return Ok(None);
        };
        let mapping = mapping_of(&row)?;
        let mut parents: HashMap<String, Vec<String>> = HashMap::new();
        if mapping.has_group_rules() {
            for (child, parent) in store::group_edges(conn, tenant_id)? {
                parents.entry(child).or_default().push(parent);
            }
        }
        Ok(Some(RoleContext { mapping, parents }))
    }

    /// A group's id → the groups that are its direct members.
    fn children(&self) -> HashMap<String, Vec<String>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for (child, parents) in &self.parents {
            for parent in parents {
                out.entry(parent.clone()).or_default().push(child.clone());
            }
        }
        out
    }

    /// The effective roles of a user in these direct groups with this stored resource (parsed
    /// only when a rule matches on IdP roles).
    pub fn roles_of(&self, direct_groups: &[&str], resource: &str) -> Vec<String> {
        let groups = all_groups(direct_groups, &self.parents);
        let wants_idp = self
            .mapping
            .rules
            .iter()
            .any(|r| matches!(r.matches, crate::scim::role_mapping::Match::IdpRole(_)));
        let values: Vec<String> = if wants_idp {
            serde_json::from_str::<Map<String, Value>>(resource)
                .map(|r| normalize::roles(&r).into_iter().map(|r| r.value).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        self.mapping.effective_roles(&groups, &values)
    }
}

/// The effective roles of these users (rows, with their direct groups), for a read: one query
/// for the mapping and one for the groups' memberships, whatever the number of users. Empty
/// lists when the tenant has no mapping.
pub fn effective_roles_of(
    conn: &mut DbConn,
    tenant_id: &str,
    users: &[(&UserRow, &[GroupRef])],
) -> Result<Vec<Vec<String>>, StoreError> {
    let Some(ctx) = RoleContext::load(conn, tenant_id)? else {
        return Ok(vec![Vec::new(); users.len()]);
    };
    Ok(users
        .iter()
        .map(|(row, groups)| {
            if row.deleted_at.is_some() {
                return Vec::new();
            }
            let direct: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
            ctx.roles_of(&direct, &row.resource)
        })
        .collect())
}

/// Add `effectiveRoles` to a user's view.
pub fn insert_effective_roles(view: &mut Map<String, Value>, roles: &[String]) {
    view.insert("effectiveRoles".into(), json!(roles));
}

/// The tenant's mapping as the API shows it: `{"rules", "default", "updatedAt"}`.
pub async fn get_mapping(svc: &Service, tenant: &Tenant) -> Result<Value, ScimError> {
    let tenant_id = tenant.id.clone();
    let row = svc
        .store
        .read(move |conn| store::get_mapping(conn, &tenant_id))
        .await?;
    mapping_json(row.as_ref())
}

/// The tenant's mapping (the empty one when none was set).
pub async fn mapping(svc: &Service, tenant: &Tenant) -> Result<RoleMapping, ScimError> {
    let tenant_id = tenant.id.clone();
    let row = svc
        .store
        .read(move |conn| store::get_mapping(conn, &tenant_id))
        .await?;
    Ok(row
        .as_ref()
        .map(mapping_of)
        .transpose()?
        .unwrap_or_default())
}

fn mapping_json(row: Option<&MappingRow>) -> Result<Value, ScimError> {
    let (mapping, at) = match row {
        Some(row) => (mapping_of(row)?, Some(row.updated_at)),
        None => (RoleMapping::default(), None),
    };
    let mut out = mapping.to_json();
    if let Some(obj) = out.as_object_mut() {
        obj.insert(
            "updatedAt".into(),
            at.map(crate::scim::render::timestamp).into(),
        );
    }
    Ok(out)
}

/// Replace the tenant's mapping with the one `body` gives (`{"rules", "default"}`); every group
/// rule must name a live group of the tenant. Every user is then re-evaluated off the request.
pub async fn put_mapping(svc: &Service, tenant: &Tenant, body: &Value) -> Result<Value, ScimError> {
    let mapping = RoleMapping::from_json(body)?;
    save_mapping(svc, tenant, mapping).await
}

/// Store `mapping` as the tenant's (checked as [`put_mapping`] says) and queue the sweep.
pub async fn save_mapping(
    svc: &Service,
    tenant: &Tenant,
    mapping: RoleMapping,
) -> Result<Value, ScimError> {
    let tenant_id = tenant.id.clone();
    let row = svc
        .store
        .write(move |conn| {
            let wanted: Vec<(usize, &str)> = mapping.group_ids();
            if !wanted.is_empty() {
                let ids: Vec<String> = wanted.iter().map(|(_, id)| id.to_string()).collect();
                let found: HashSet<String> = group_store::existing_group_ids(conn, &tenant_id, &ids)?
                    .into_iter()
                    .collect();
                if let Some((i, id)) = wanted.iter().find(|(_, id)| !found.contains(*id)) {
                    return Err(ScimError::invalid_value(format!(
                        "rules[{i}].group: no group with id {id} in this tenant; use the id of one of its groups (GET /api/v1/tenants/{{slug}}/groups)"
                    )));
                }
            }
            let row = MappingRow {
                tenant_id: tenant_id.clone(),
                rules: mapping.rules_json().to_string(),
                default_role: mapping.default.clone(),
                updated_at: now_millis(),
            };
            store::put_mapping(conn, &row)?;
            Ok::<_, ScimError>(row)
        })
        .await?;
    svc.role_jobs.all(&tenant.id);
    mapping_json(Some(&row))
}

/// The work waiting for a tenant.
#[derive(Debug, Default)]
struct Pending {
    /// Every live user of the tenant.
    all: bool,
    /// Every live user of the tenant, if the mapping has group rules (memberships changed in
    /// a way that does not say whose).
    all_if_group_rules: bool,
    users: HashSet<String>,
    /// Members of these groups, through nested groups too.
    groups: HashSet<String>,
}

impl Pending {
    fn bound(&mut self) {
        if self.users.len() + self.groups.len() > MAX_PENDING {
            self.all = true;
        }
        if self.all {
            self.users = HashSet::new();
            self.groups = HashSet::new();
        }
    }
}

/// The re-evaluations waiting on this instance, by tenant.
#[derive(Debug, Default)]
pub struct RoleJobs {
    pending: Mutex<HashMap<String, Pending>>,
    wake: tokio::sync::Notify,
}

impl RoleJobs {
    fn add(&self, tenant_id: &str, f: impl FnOnce(&mut Pending)) {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let job = pending.entry(tenant_id.to_string()).or_default();
            if !job.all {
                f(job);
                job.bound();
            }
        }
        self.wake.notify_one();
    }

    /// Re-evaluate these users of the tenant.
    pub fn users<I: IntoIterator<Item = String>>(&self, tenant_id: &str, ids: I) {
        self.add(tenant_id, |job| job.users.extend(ids));
    }

    /// Re-evaluate the members of these groups of the tenant (through nested groups too).
    pub fn groups<I: IntoIterator<Item = String>>(&self, tenant_id: &str, ids: I) {
        self.add(tenant_id, |job| job.groups.extend(ids));
    }

    /// Memberships of the tenant changed, whose is not known: every user, if group rules.
    pub fn memberships(&self, tenant_id: &str) {
        self.add(tenant_id, |job| job.all_if_group_rules = true);
    }

    /// Re-evaluate every user of the tenant.
    pub fn all(&self, tenant_id: &str) {
        self.add(tenant_id, |job| job.all = true);
    }

    fn take(&self) -> Option<(String, Pending)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let key = pending.keys().next().cloned()?;
        pending.remove(&key).map(|job| (key, job))
    }
}

/// A tenant's SCIM base URL by slug (for the `meta.location` of the resource a message
/// carries).
pub type TenantUrl = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Start this instance's re-evaluation worker on the current actix system.
pub fn start_worker(svc: Service, tenant_url: TenantUrl) {
    actix_web::rt::spawn(async move {
        match svc.store.read(store::tenants_with_mappings).await {
            Ok(ids) => ids.iter().for_each(|id| svc.role_jobs.all(id)),
            Err(e) => tracing::warn!(error = %e, "cannot read the tenants' role mappings"),
        }
        loop {
            // Changes come in bursts (an Entra cycle): gathering them for a moment makes one
            // read of many users out of many reads of one.
            actix_web::rt::time::sleep(GATHER).await;
            while let Some((tenant_id, job)) = svc.role_jobs.take() {
                if let Err(e) = run_job(&svc, &tenant_id, job, &tenant_url).await {
                    tracing::warn!(error = %e.detail, "cannot re-evaluate effective roles; trying again");
                    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
                    svc.role_jobs.all(&tenant_id);
                }
            }
            let _ = actix_web::rt::time::timeout(
                Duration::from_secs(60),
                svc.role_jobs.wake.notified(),
            )
            .await;
        }
    });
}

async fn run_job(
    svc: &Service,
    tenant_id: &str,
    job: Pending,
    tenant_url: &TenantUrl,
) -> Result<(), ScimError> {
    let tid = tenant_id.to_string();
    let loaded = svc
        .store
        .read(move |conn| {
            let Some(ctx) = RoleContext::load(conn, &tid)? else {
                return Ok::<_, StoreError>(None);
            };
            let Some(tenant) = find_tenant_by_id(conn, &tid)? else {
                return Ok(None);
            };
            let group_rules = ctx.mapping.has_group_rules();
            let targets = if job.all || (job.all_if_group_rules && group_rules) {
                None
            } else {
                let mut ids: BTreeSet<String> = job.users.into_iter().collect();
                if group_rules && !job.groups.is_empty() {
                    let roots: Vec<String> = job.groups.into_iter().collect();
                    let groups = nested_groups(&roots, &ctx.children());
                    ids.extend(store::user_members(conn, &tid, &groups)?);
                }
                Some(ids.into_iter().collect::<Vec<_>>())
            };
            Ok(Some((tenant, ctx, targets)))
        })
        .await?;
    let Some((tenant, ctx, targets)) = loaded else {
        return Ok(());
    };
    let caller = Caller {
        base_url: tenant_url(&tenant.slug),
        tenant,
        token_jti: None,
    };
    let ctx = Arc::new(ctx);
    match targets {
        Some(ids) => {
            for chunk in ids.chunks(CHUNK) {
                evaluate(svc, &caller, &ctx, chunk.to_vec()).await?;
                actix_web::rt::task::yield_now().await;
            }
        }
        None => {
            let started = std::time::Instant::now();
            let (mut seen, mut moved) = (0usize, 0usize);
            let mut after: Option<String> = None;
            loop {
                let tid = caller.tenant.id.clone();
                let from = after.clone();
                let ids = svc
                    .store
                    .read(move |conn| {
                        store::user_ids_after(conn, &tid, from.as_deref(), CHUNK as i64)
                    })
                    .await?;
                let Some(last) = ids.last().cloned() else {
                    break;
                };
                after = Some(last);
                seen += ids.len();
                moved += evaluate(svc, &caller, &ctx, ids).await?;
                actix_web::rt::task::yield_now().await;
            }
            tracing::info!(
                tenant = %caller.tenant.slug,
                users = seen,
                moved,
                ms = started.elapsed().as_millis() as u64,
                "effective roles of every user re-evaluated"
            );
        }
    }
    Ok(())
}

/// A user whose effective roles moved.
struct Moved {
    row: UserRow,
    groups: Vec<GroupRef>,
    roles: Vec<String>,
    /// What it was reported with: the stored text (`None`: no row) and its roles.
    previous_text: Option<String>,
    previous: Vec<String>,
}

fn roles_text(roles: &[String]) -> String {
    json!(roles).to_string()
}

/// Users whose move one write transaction records and reports: a sweep holds SQLite's one
/// writer for that many messages at a time.
const WRITE_BATCH: usize = 100;

/// Re-evaluate these users: one read, then writes of at most [`WRITE_BATCH`] users that record
/// and report each user whose roles moved (unless another worker reported it first). How many
/// moved.
async fn evaluate(
    svc: &Service,
    caller: &Caller,
    ctx: &Arc<RoleContext>,
    ids: Vec<String>,
) -> Result<usize, ScimError> {
    let (tid, ctx2) = (caller.tenant.id.clone(), Arc::clone(ctx));
    let (moved, gone) = svc
        .store
        .read(move |conn| {
            let rows = crate::store::users::live_users_among(conn, &tid, &ids)?;
            let live: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            let mut groups: HashMap<String, Vec<GroupRef>> = HashMap::new();
            for (member, id, display_name) in group_store::groups_of_members(conn, &tid, &live)? {
                groups
                    .entry(member)
                    .or_default()
                    .push(GroupRef { id, display_name });
            }
            let mut reported: HashMap<String, String> = store::reported_roles(conn, &tid, &ids)?
                .into_iter()
                .collect();
            let live_set: HashSet<&String> = live.iter().collect();
            let gone: Vec<String> = reported
                .keys()
                .filter(|id| !live_set.contains(id))
                .cloned()
                .collect();
            let mut moved = Vec::new();
            for row in rows {
                let own = groups.remove(&row.id).unwrap_or_default();
                let direct: Vec<&str> = own.iter().map(|g| g.id.as_str()).collect();
                let roles = ctx2.roles_of(&direct, &row.resource);
                let previous_text = reported.remove(&row.id);
                let previous: Vec<String> = previous_text
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or_default();
                if roles != previous {
                    moved.push(Moved {
                        row,
                        groups: own,
                        roles,
                        previous_text,
                        previous,
                    });
                }
            }
            Ok::<_, StoreError>((moved, gone))
        })
        .await?;
    if moved.is_empty() && gone.is_empty() {
        return Ok(0);
    }
    let count = moved.len();
    // The messages are made before the write, which only records and queues them.
    let mut writes = Vec::with_capacity(moved.len());
    for m in moved {
        let resource: Value = serde_json::from_str(&m.row.resource).map_err(|e| {
            ScimError::internal(format!("stored user {} is corrupt: {e}", m.row.id))
        })?;
        let mut view = user_view(&m.row, &resource, Some(&m.groups));
        insert_effective_roles(&mut view, &m.roles);
        view.insert("previousEffectiveRoles".into(), json!(m.previous));
        view.insert("changed".into(), json!(["effectiveRoles"]));
        let rendered = super::users::render_user(&m.row, &caller.base_url)?;
        let webhooks = crate::webhooks::change_message(
            caller,
            "User",
            "updated",
            &m.row.id,
            Some(view),
            Some(&rendered.body.text()),
        );
        let detail = format!(
            "effectiveRoles {} (were {})",
            roles_text(&m.roles),
            roles_text(&m.previous)
        );
        writes.push((
            m.row.id,
            m.previous_text,
            roles_text(&m.roles),
            detail,
            webhooks,
        ));
    }
    let tid = caller.tenant.id.clone();
    if !gone.is_empty() {
        let tid2 = tid.clone();
        svc.store
            .write(move |conn| store::forget_reported_roles(conn, &tid2, &gone))
            .await?;
    }
    let mut writes = writes.into_iter().peekable();
    while writes.peek().is_some() {
        let batch: Vec<_> = writes.by_ref().take(WRITE_BATCH).collect();
        let tid = tid.clone();
        svc.store
            .write(move |conn| {
                for (id, previous, roles, detail, webhooks) in &batch {
                    if store::set_reported_roles(conn, &tid, id, previous.as_deref(), roles)? {
                        insert_event(
                            conn,
                            &NewEvent {
                                tenant_id: &tid,
                                at: now_millis(),
                                action: "updated",
                                resource_type: "User",
                                resource_id: Some(id),
                                token_jti: None,
                                detail,
                                webhooks,
                            },
                        )?;
                    }
                }
                Ok::<_, ScimError>(())
            })
            .await?;
        svc.changed();
    }
    Ok(count)
}
