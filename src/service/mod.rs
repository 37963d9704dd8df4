//! Use cases: what a SCIM request or a CLI command does, between the HTTP layer and the store.

pub mod admins;
pub mod api_keys;
pub mod connection;
mod context;
pub mod directory;
pub mod groups;
pub mod oauth;
pub mod paging;
pub mod providers;
pub mod query;
pub mod roles;
pub mod scan;
pub mod scope;
pub mod setup_links;
pub mod tenants;
pub mod users;

/// Milliseconds since the Unix epoch (the unit of every stored time).
pub use crate::store::now_millis;
pub use context::Service;

use crate::scim::error::ScimError;
use crate::scim::error::StatusCode;
use crate::store::events::{ChangeLog, NewEvent};
use crate::store::tenants::Tenant;
use crate::store::{StoreError, UniqueIndex};

/// A new user's or group's id: a UUID that starts with its creation time (version 7), so
/// that rows created together sit together in every index keyed by id (the users' and
/// groups' primary keys, a user's emails, a group's members). Random (version 4) ids put
/// each new row on a different index page: every create dirtied pages of its own, each
/// written to the WAL at commit.
pub fn new_resource_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Who is calling: the tenant of the URL and the token that proved it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    /// The jti of the bearer token, recorded in the provisioning log.
    pub token_jti: Option<String>,
    /// The tenant's SCIM base URL, for `meta.location`.
    pub base_url: String,
}

/// Page and shape of a list request (RFC 7644 §3.4.2).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    /// 1-based.
    pub start_index: i64,
    pub count: i64,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

/// Where a list's filter comes from, which decides the attributes it may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilterScope {
    /// `/Users` or `/Groups`: only attributes of that resource type (the interop profile's
    /// rule: any other is 400 `invalidFilter`).
    Endpoint,
    /// `POST /.search` at the tenant root, over Users and Groups: a filter naming a User
    /// attribute is no error for Groups (it matches none of them).
    Root,
}

/// A list request's filter, parsed, once its projection is known to be valid (both are
/// checked before any query runs).
pub(crate) fn list_filter(
    params: &ListParams,
) -> Result<Option<crate::scim::filter::Filter>, ScimError> {
    crate::scim::resource::check_projection(
        params.attributes.as_deref(),
        params.excluded_attributes.as_deref(),
    )?;
    params
        .filter
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(crate::scim::filter::parse)
        .transpose()
}

/// A rendered resource with what the HTTP layer puts in headers.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: crate::scim::render::Json,
    pub id: String,
    pub version: i64,
    pub location: String,
}

/// A log entry of a change the caller made to a resource, timed now.
pub(crate) fn new_event<'a>(
    caller: &'a Caller,
    resource_type: &'a str,
    action: &'a str,
    id: &'a str,
    detail: &'a str,
) -> NewEvent<'a> {
    NewEvent {
        tenant_id: &caller.tenant.id,
        at: crate::store::now_millis(),
        action,
        resource_type,
        resource_id: Some(id),
        token_jti: caller.token_jti.as_deref(),
        detail,
        webhooks: &[],
    }
}

/// The log entry of a change the caller makes to a resource, with its webhook messages, for
/// the store's `save_…_change` (timed when it is written).
pub(crate) fn change_log(
    caller: &Caller,
    resource_type: &'static str,
    action: &'static str,
    id: &str,
    detail: String,
    webhooks: Vec<crate::store::webhooks::OutboxMessage>,
) -> ChangeLog {
    ChangeLog {
        tenant_id: caller.tenant.id.clone(),
        resource_type,
        action,
        resource_id: id.to_string(),
        token_jti: caller.token_jti.clone(),
        detail,
        webhooks,
        more: Vec::new(),
    }
}

/// One page of a list, before it is written out as a ListResponse.
#[derive(Debug, Clone)]
pub struct Listed {
    pub total: i64,
    pub start_index: i64,
    pub resources: Vec<crate::scim::render::Json>,
}

impl Listed {
    /// The ListResponse JSON text.
    pub fn into_text(self) -> String {
        crate::scim::render::list_response_text(self.total, self.start_index, self.resources)
    }
}

/// Most rows a filter evaluated in Rust may scan; past it the client must narrow the filter.
pub const MAX_SCAN: usize = 200_000;

/// Seconds a write refused for want of storage asks the client to wait: a disk does not
/// empty itself in a second, and Entra backs off on its own too.
const STORAGE_RETRY_SECONDS: u64 = 30;

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unique(index) => unique_violation(&index),
            StoreError::Conflict => ScimError::status(
                StatusCode::CONFLICT,
                "the resource was modified concurrently; retry the request",
            ),
            StoreError::Unavailable(reason) => {
                tracing::error!(%reason, "database unavailable");
                ScimError::status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable; retry later",
                )
            }
            StoreError::Storage(reason) => {
                tracing::error!(%reason, "the database cannot store writes");
                ScimError::retry_later(
                    StatusCode::SERVICE_UNAVAILABLE,
                    STORAGE_RETRY_SECONDS,
                    format!(
                        "the database cannot store this write now (its disk is full or \
                         read-only); nothing was written; retry after {STORAGE_RETRY_SECONDS} s"
                    ),
                )
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                ScimError::internal("internal error; the request was not applied")
            }
        }
    }
}

impl From<diesel::result::Error> for ScimError {
    fn from(e: diesel::result::Error) -> Self {
        ScimError::from(StoreError::from(e))
    }
}

const WORK_EMAIL_RULE: &str =
    "a work email belongs to one user, since Entra matches users on emails[type eq \"work\"].value";
const GROUP_NAME_RULE: &str =
    "(compared case-insensitively); Entra matches groups on displayName, so it must be unique";

/// A storage error of a user write as a SCIM error; a work-email conflict names the user's
/// work emails (the index cannot say which one is taken).
pub(crate) fn work_email_taken(e: StoreError, work_emails: &[String]) -> ScimError {
    if !matches!(e, StoreError::Unique(UniqueIndex::WorkEmail)) {
        return ScimError::from(e);
    }
    let names = work_emails
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    ScimError::uniqueness(format!(
        "another user of this tenant already has the work email {names}; {WORK_EMAIL_RULE}"
    ))
}

/// A storage error of a group write as a SCIM error; a displayName conflict names it.
pub(crate) fn group_name_taken(e: StoreError, display_name: &str) -> ScimError {
    if !matches!(e, StoreError::Unique(UniqueIndex::GroupName)) {
        return ScimError::from(e);
    }
    ScimError::uniqueness(format!(
        "a group of this tenant already has the displayName {display_name:?} {GROUP_NAME_RULE}"
    ))
}

/// A unique index refused a write: say which attribute is taken.
fn unique_violation(index: &UniqueIndex) -> ScimError {
    ScimError::uniqueness(match index {
        UniqueIndex::WorkEmail => format!(
            "another user of this tenant already has one of this user's work emails; {WORK_EMAIL_RULE}"
        ),
        UniqueIndex::GroupName => {
            format!("a group of this tenant already has this displayName {GROUP_NAME_RULE}")
        }
        UniqueIndex::IdentityMail => "a user of this tenant already has this mail (the work \
            email, else the primary, else the first); mail identifies a user and must be unique"
            .to_string(),
        UniqueIndex::UserName => "a user of this tenant already has this userName".to_string(),
        UniqueIndex::TenantSlug => "a tenant with this slug already exists".to_string(),
        UniqueIndex::CustomFieldName => "a field with this name is already defined".to_string(),
        UniqueIndex::AdminUsername => "an admin with this username already exists".to_string(),
        UniqueIndex::Other(name) => format!("a unique value is already taken ({name})"),
    })
}

/// Longest value, in bytes, of an attribute kept in an indexed column (userName, externalId,
/// displayName, emails): PostgreSQL cannot index text much past 2,700 bytes, and no real
/// identifier comes near this.
pub const MAX_INDEXED_BYTES: usize = 1024;

/// Refuse an indexed attribute value longer than [`MAX_INDEXED_BYTES`].
pub fn check_indexed_len(attribute: &str, value: &str) -> Result<(), ScimError> {
    if value.len() > MAX_INDEXED_BYTES {
        return Err(ScimError::invalid_value(format!(
            "{attribute} is {} bytes long; at most {MAX_INDEXED_BYTES} bytes are accepted",
            value.len()
        )));
    }
    Ok(())
}

/// Whether an id from a URL path could name a resource at all: ids never hold NUL (which
/// PostgreSQL text cannot store either), so such an id is a 404 without a database query.
pub fn possible_id(id: &str) -> bool {
    !id.contains('\0')
}

/// Clamp paging parameters to what RFC 7644 §3.4.2.4 allows and our maximum page size.
pub fn page(start_index: i64, count: i64, max: i64) -> (i64, i64) {
    (start_index.max(1), count.clamp(0, max))
}

/// Honour `If-Match` (never required): 412 when it names no current version.
pub fn check_if_match(if_match: Option<&str>, version: i64) -> Result<(), ScimError> {
    if let Some(versions) = if_match.and_then(crate::scim::render::if_match_versions) {
        if !versions.contains(&version) {
            return Err(ScimError::status(
                StatusCode::PRECONDITION_FAILED,
                format!("If-Match does not match the current version W/\"{version}\"; GET the resource and retry"),
            ));
        }
    }
    Ok(())
}

/// `POST /.search` at the tenant root (RFC 7644 §3.4.3): Users then Groups, paged as one list,
/// within one page's bytes. Groups join a page only once its users are all there: a page that
/// its users filled ends with them, and the next one resumes among the users.
pub async fn search_all(
    svc: &Service,
    caller: &Caller,
    params: ListParams,
) -> Result<Listed, ScimError> {
    let (start, count) = page(params.start_index, params.count, svc.max_results);
    let user_list = users::list_users_within(
        svc,
        caller,
        ListParams {
            start_index: start,
            count,
            ..params.clone()
        },
        paging::PageBytes::new(svc.max_page_bytes),
        FilterScope::Root,
    )
    .await?;
    let mut found = user_list.resources;
    let taken = i64::try_from(found.len()).unwrap_or(i64::MAX);
    // The users this page would hold were it bounded by its count alone.
    let users_due = count.min((user_list.total - (start - 1)).max(0));
    // The groups continue the page the users began, bytes included.
    let mut bytes = paging::PageBytes::new(svc.max_page_bytes);
    for r in &found {
        bytes.take(r.text().len());
    }
    let group_list = groups::list_groups_within(
        svc,
        caller,
        ListParams {
            start_index: (start - user_list.total).max(1),
            // Cut short by its bytes: only the groups' total is needed.
            count: if taken < users_due { 0 } else { count - taken },
            ..params
        },
        bytes,
        FilterScope::Root,
    )
    .await?;
    found.extend(group_list.resources);
    Ok(Listed {
        total: user_list.total + group_list.total,
        start_index: start,
        resources: found,
    })
}
