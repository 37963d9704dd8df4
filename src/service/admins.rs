//! Admins of the token page: credentials, sessions, and what each admin may see.

use std::net::IpAddr;

use base64::Engine;
use rand::RngCore;

use crate::app::AppState;
use crate::auth::throttle::{username_fingerprint, wait_for, wait_seconds, ThrottleKeys};
use crate::scim::error::ScimError;
use crate::store::admins::{find_admin, AdminRow};
use crate::store::sessions::{self as session_store, SessionRow};
use crate::store::tenants::Tenant;
use crate::store::throttle::{counters, forgive, reserve_attempt};
use crate::store::{now_millis, DbConn, StoreError};

/// How long a page session lasts (ms).
pub const SESSION_MILLIS: i64 = 8 * 60 * 60 * 1000;

/// What a password check found.
#[derive(Debug, Clone)]
pub enum PasswordCheck {
    /// The password is right: this admin.
    Admin(AdminRow),
    /// Wrong username or password (counted against both).
    Wrong,
    /// Too many failures: retry after this many seconds (nothing was checked).
    Wait(u64),
}

/// Check an admin's username and password from a client address, throttled (see
/// `auth::throttle`): the attempt is reserved in the database first, argon2 runs on the
/// password pool outside any store call, and a success forgives the failures. Logs name the
/// username only by its fingerprint.
pub async fn check_password(
    state: &AppState,
    username: &str,
    password: &str,
    address: IpAddr,
) -> Result<PasswordCheck, ScimError> {
    let keys = ThrottleKeys::new(username, address);
    let fingerprint = username_fingerprint(username);
    // What this instance already knows, then a read: a client that must wait costs no write
    // (and, while its address's wait runs, no query at all).
    let known = state.known_waits.wait(&keys, now_millis());
    if known > 0 {
        return Ok(PasswordCheck::Wait(wait_seconds(known)));
    }
    let probe = keys.clone();
    let (user, addr) = state
        .store
        .read(move |conn| Ok::<_, ScimError>(counters(conn, &probe)?))
        .await?;
    let now = now_millis();
    let wait = wait_for(user, addr, now);
    let throttled = |wait: i64| {
        tracing::info!(username_fingerprint = %fingerprint, %address, "admin login throttled");
        Ok(PasswordCheck::Wait(wait_seconds(wait)))
    };
    if wait > 0 {
        if addr.wait(now) > 0 {
            state.known_waits.remember(&keys, addr.wait(now), now);
        }
        return throttled(wait);
    }
    let reserve = keys.clone();
    let wait = state
        .store
        .write(move |conn| Ok::<_, ScimError>(reserve_attempt(conn, &reserve, now_millis())?))
        .await?;
    if wait > 0 {
        return throttled(wait);
    }
    let name = username.to_string();
    let admin = state
        .store
        .read(move |conn| Ok::<_, ScimError>(find_admin(conn, &name)?))
        .await?;
    let hash = admin.as_ref().map(|a| a.password_hash.clone());
    let ok = state
        .passwords
        .verify(password.to_string(), hash)
        .await
        .map_err(|_| {
            ScimError::retry_later(
                503,
                1,
                "too many password checks are under way; retry after 1 s",
            )
        })?;
    match admin {
        Some(admin) if ok => {
            state
                .store
                .write(move |conn| Ok::<_, ScimError>(forgive(conn, &keys)?))
                .await?;
            Ok(PasswordCheck::Admin(admin))
        }
        _ => {
            tracing::info!(username_fingerprint = %fingerprint, %address, "failed admin login");
            Ok(PasswordCheck::Wrong)
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
