//! Users: the stored SCIM resource plus the columns that index it (userName, identity mail,
//! externalId, emails), and the SQL form of the filters Entra matches with.
//!
//! `filter` turns a [`UserPredicate`] into SQL; `write` holds the writes, and
//! [`save_user_change`], which chooses how a change is written on each backend; `read` the
//! reads: by key, by mail, pages, scans, walks and counts.

mod filter;
mod read;
mod write;

use diesel::prelude::*;

use super::schema::{user_emails, users};
use super::DbConn;

pub use filter::{NumOp, StrOp, UserPredicate};
pub(crate) use read::resource_bytes;
pub use read::{
    count_users, existing_user_ids, find_user_any, find_user_by_identity_mail, get_user,
    live_users_among, live_users_in_order, page_in_memory, query_user_sizes, query_users,
    scan_user_sizes, users_by_emails, users_by_ids, walk_user_sizes, walk_users, EmailKey,
    SizedRow, UserKey, UserSort, Walk,
};
pub use write::{insert_user, purge_user_tombstones, save_user_change, UserChange};

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
    /// Whether the tenant's scope rules and exclusions let the host app see the user
    /// (`service::scope`).
    pub in_scope: bool,
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
