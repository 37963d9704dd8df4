//! Admins of the token page: credentials, sessions, and what each admin may see.

use crate::scim::error::StatusCode;
use std::net::IpAddr;

use base64::Engine;
use rand::RngCore;

use super::Service;
use crate::auth::throttle::{username_fingerprint, wait_for, wait_seconds, ThrottleKeys};
use crate::scim::error::ScimError;
pub use crate::store::admins::AdminRow;
use crate::store::admins::{self as admin_store, find_admin};
use crate::store::now_millis;
use crate::store::sessions as session_store;
pub use crate::store::sessions::SessionRow;
use crate::store::tenants::Tenant;
use crate::store::throttle::{counters, forgive, reserve_attempt};

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
    svc: &Service,
    username: &str,
    password: &str,
    address: IpAddr,
) -> Result<PasswordCheck, ScimError> {
    let keys = ThrottleKeys::new(username, address);
    let fingerprint = username_fingerprint(username);
    // What this instance already knows, then a read: a client that must wait costs no write
    // (and, while its address's wait runs, no query at all).
    let known = svc.known_waits.wait(&keys, now_millis());
    if known > 0 {
        return Ok(PasswordCheck::Wait(wait_seconds(known)));
    }
    let probe = keys.clone();
    let (user, addr) = svc
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
            svc.known_waits.remember(&keys, addr.wait(now), now);
        }
        return throttled(wait);
    }
    let reserve = keys.clone();
    let wait = svc
        .store
        .write(move |conn| Ok::<_, ScimError>(reserve_attempt(conn, &reserve, now_millis())?))
        .await?;
    if wait > 0 {
        return throttled(wait);
    }
    let name = username.to_string();
    let admin = svc
        .store
        .read(move |conn| Ok::<_, ScimError>(find_admin(conn, &name)?))
        .await?;
    let hash = admin.as_ref().map(|a| a.password_hash.clone());
    let ok = svc
        .passwords
        .verify(password.to_string(), hash)
        .await
        .map_err(|_| {
            ScimError::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                1,
                "too many password checks are under way; retry after 1 s",
            )
        })?;
    match admin {
        Some(admin) if ok => {
            svc.store
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

/// SHA-256 of a high-entropy secret (a session, an API key), as stored: a database that leaks
/// gives no usable secret.
pub fn secret_hash(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Open a session for an admin: returns the cookie secret.
pub async fn open_session(svc: &Service, admin: &AdminRow) -> Result<String, ScimError> {
    let secret = random_secret();
    let now = now_millis();
    let row = SessionRow {
        id_hash: secret_hash(&secret),
        admin_id: admin.id.clone(),
        csrf_token: random_secret(),
        created_at: now,
        expires_at: now + SESSION_MILLIS,
    };
    svc.store
        .write(move |conn| {
            session_store::delete_expired_sessions(conn, now)?;
            session_store::insert_session(conn, &row)?;
            Ok::<_, ScimError>(())
        })
        .await?;
    Ok(secret)
}

/// The live session of a cookie secret, and its admin.
pub async fn session_of(
    svc: &Service,
    secret: &str,
) -> Result<Option<(SessionRow, AdminRow)>, ScimError> {
    let id_hash = secret_hash(secret);
    svc.store
        .read(move |conn| {
            Ok::<_, ScimError>(session_store::find_session(conn, &id_hash, now_millis())?)
        })
        .await
}

/// End the session of a cookie secret.
pub async fn close_session(svc: &Service, secret: &str) -> Result<(), ScimError> {
    let id_hash = secret_hash(secret);
    svc.store
        .write(move |conn| Ok::<_, ScimError>(session_store::delete_session(conn, &id_hash)?))
        .await
}

/// Least characters of an admin's password.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Create an admin of one tenant (by slug), or an operator (no tenant), with a password
/// hashed by argon2id.
pub async fn create_admin(
    svc: &Service,
    tenant_slug: Option<&str>,
    username: &str,
    password: &str,
    operator: bool,
) -> Result<(), ScimError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ScimError::invalid_value(format!(
            "the password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let tenant_id = match tenant_slug {
        Some(slug) => Some(super::tenants::tenant_by_slug(svc, slug).await?.id),
        None => None,
    };
    let hash = crate::auth::password::hash_password(password).map_err(ScimError::internal)?;
    let username = username.to_string();
    svc.store
        .write(move |conn| {
            admin_store::create_admin(conn, tenant_id.as_deref(), &username, &hash, operator)?;
            Ok::<_, ScimError>(())
        })
        .await
}

/// Constant-time comparison of two secrets (CSRF tokens).
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
