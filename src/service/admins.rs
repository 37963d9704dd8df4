//! Admins of the token page: credentials, sessions, and what each admin may see.

use std::sync::OnceLock;

use base64::Engine;
use rand::RngCore;

use crate::auth::password::{hash_password, verify_password};
use crate::store::admins::{find_admin, AdminRow};
use crate::store::sessions::{self as session_store, SessionRow};
use crate::store::tenants::Tenant;
use crate::store::{now_millis, DbConn, StoreError};

/// How long a page session lasts (ms).
pub const SESSION_MILLIS: i64 = 8 * 60 * 60 * 1000;

/// A hash to verify against when the username is unknown, so that the response time does
/// not reveal which usernames exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("scimd-dummy-password").unwrap_or_default())
}

/// Check a username and password (blocking: argon2 is deliberately slow).
pub fn verify_admin(
    conn: &mut DbConn,
    username: &str,
    password: &str,
) -> Result<Option<AdminRow>, StoreError> {
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

/// A random URL-safe secret of 32 bytes.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a session secret, as stored.
pub fn session_hash(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Open a session for an admin: returns the cookie secret and the session row.
pub fn open_session(
    conn: &mut DbConn,
    admin: &AdminRow,
) -> Result<(String, SessionRow), StoreError> {
    let secret = random_secret();
    let now = now_millis();
    let row = SessionRow {
        id_hash: session_hash(&secret),
        admin_id: admin.id.clone(),
        csrf_token: random_secret(),
        created_at: now,
        expires_at: now + SESSION_MILLIS,
    };
    session_store::delete_expired_sessions(conn, now)?;
    session_store::insert_session(conn, &row)?;
    Ok((secret, row))
}

/// The live session of a cookie secret.
pub fn session_of(
    conn: &mut DbConn,
    secret: &str,
) -> Result<Option<(SessionRow, AdminRow)>, StoreError> {
    session_store::find_session(conn, &session_hash(secret), now_millis())
}

/// End the session of a cookie secret.
pub fn close_session(conn: &mut DbConn, secret: &str) -> Result<(), StoreError> {
    session_store::delete_session(conn, &session_hash(secret))
}

/// Constant-time comparison of two secrets (CSRF tokens).
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
