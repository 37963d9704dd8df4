//! Admins of the token page: verifying credentials and what each admin may see.

use std::sync::OnceLock;

use crate::auth::password::{hash_password, verify_password};
use crate::store::admins::{find_admin, AdminRow};
use crate::store::tenants::Tenant;
use crate::store::{DbConn, StoreError};

/// A hash to verify against when the username is unknown, so that the response time does
/// not reveal which usernames exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("scimd-dummy-password").unwrap_or_default())
}

/// Check a username and password (blocking: argon2 is deliberately slow).
pub fn verify_admin(conn: &mut DbConn, username: &str, password: &str) -> Result<Option<AdminRow>, StoreError> {
    match find_admin(conn, username)? {
        Some(admin) if verify_password(password, &admin.password_hash) => Ok(Some(admin)),
        Some(_) => Ok(None),
        None => {
            verify_password(password, dummy_hash());
            Ok(None)
        }
    }
}

/// Whether an admin may manage a tenant: its own tenant, or any tenant for an operator.
pub fn may_manage(admin: &AdminRow, tenant: &Tenant) -> bool {
    admin.is_operator || admin.tenant_id.as_deref() == Some(tenant.id.as_str())
}
