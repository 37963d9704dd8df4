//! Setup links: what a SaaS sends its customer's Entra admin ("a link valid for 15 days").
//! Opening one starts a page session bound to the link's tenant, with no password; the
//! session ends when the link expires or is revoked. A link's secret is high-entropy (256
//! random bits), shown once and stored only as its SHA-256, like an API key.

use std::net::IpAddr;

use super::admins::{random_secret, same_secret, secret_hash, SESSION_MILLIS};
use super::{new_resource_id, Service};
use crate::auth::throttle::{setup_link_key, wait_seconds};
use crate::scim::error::ScimError;
use crate::store::now_millis;
use crate::store::setup_links as link_store;
pub use crate::store::setup_links::{SetupLinkRow, SetupSessionRow};
use crate::store::tenants::{find_tenant_by_id, Tenant};
use crate::store::throttle::{forgive_key_attempt, reserve_key_attempt};

/// Days a link lasts when the request does not say.
pub const DEFAULT_LINK_DAYS: i64 = 15;

/// Longest a link may last, in days: it opens a tenant's page without a password, so it
/// should not outlive the set-up it is sent for.
pub const MAX_LINK_DAYS: i64 = 90;

/// Longest label accepted.
const MAX_LABEL: usize = 200;

/// What a setup session's cookie secret starts with, so that a page request can tell which
/// kind of session to look up (a forged prefix only sends the lookup to the other table,
/// where the hash will not be found).
pub const SESSION_PREFIX: &str = "setup_";

const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// Check a link's expiry in days.
pub fn check_link_days(days: i64) -> Result<i64, ScimError> {
    if (1..=MAX_LINK_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(ScimError::invalid_value(format!(
            "days must be between 1 and {MAX_LINK_DAYS}, got {days}"
        )))
    }
}

/// Make a link for a tenant, valid for `days`: returns its secret (shown once, here) and its
/// record.
pub async fn create_setup_link(
    svc: &Service,
    tenant: &Tenant,
    days: i64,
    label: &str,
) -> Result<(String, SetupLinkRow), ScimError> {
    let days = check_link_days(days)?;
    let label = label.trim().to_string();
    if label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
        return Err(ScimError::invalid_value(format!(
            "the label must be at most {MAX_LABEL} printable characters"
        )));
    }
    let secret = random_secret();
    let now = now_millis();
    let row = SetupLinkRow {
        id: new_resource_id(),
        tenant_id: tenant.id.clone(),
        label,
        secret_hash: secret_hash(&secret),
        created_at: now,
        expires_at: now + days * DAY_MILLIS,
        revoked_at: None,
        last_used_at: None,
    };
    let stored = row.clone();
    svc.store
        .write(move |conn| Ok::<_, ScimError>(link_store::insert_setup_link(conn, &stored)?))
        .await?;
    Ok((secret, row))
}

/// A tenant's links, newest first.
pub async fn list_setup_links(
    svc: &Service,
    tenant: &Tenant,
) -> Result<Vec<SetupLinkRow>, ScimError> {
    let tenant_id = tenant.id.clone();
    svc.store
        .read(move |conn| Ok::<_, ScimError>(link_store::list_setup_links(conn, &tenant_id)?))
        .await
}

/// Revoke a tenant's link: it stops opening, and the sessions it started end at their next
/// request. 404 when the tenant has no such link.
pub async fn revoke_setup_link(svc: &Service, tenant: &Tenant, id: &str) -> Result<(), ScimError> {
    let (tenant_id, link_id) = (tenant.id.clone(), id.to_string());
    let found = svc
        .store
        .write(move |conn| {
            Ok::<_, ScimError>(link_store::revoke_setup_link(
                conn,
                &tenant_id,
                &link_id,
                now_millis(),
            )?)
        })
        .await?;
    if !found {
        return Err(ScimError::not_found(format!("no setup link {id}")));
    }
    Ok(())
}

/// What opening a link gave.
#[derive(Debug, Clone)]
pub enum Opened {
    /// A session for the link's tenant: the cookie secret, and the link.
    Session { secret: String, link: SetupLinkRow },
    /// No link has this secret.
    Unknown,
    /// The link has expired.
    Expired,
    /// The link was revoked.
    Revoked,
    /// Too many unknown links were opened from this client address: retry after this many
    /// seconds (nothing was looked up).
    Wait(u64),
    /// The link's tenant is disabled by its operator: the link opens nothing until the tenant
    /// is enabled again (its sessions are refused meanwhile, see [`may_use_page`]).
    TenantDisabled,
}

/// Whether a setup link's session may use its tenant's page: not while the tenant is
/// disabled. A disabled tenant's admins, who log in with a password, still see its page (it
/// says the tenant is disabled); a link is a bearer secret sent by mail, and while its
/// operator has switched the tenant off, it opens nothing and mints nothing.
pub fn may_use_page(tenant: &Tenant) -> bool {
    tenant.disabled_at.is_none()
}

/// Open a link by its secret from a client address: when it is live, record its use and
/// start a page session bound to its tenant that ends with the link (or after a session's
/// usual 8 hours, if sooner).
///
/// Guesses are throttled per address as password guesses are (`auth::throttle`, the address's
/// key alone): the attempt is counted before the secret is looked up, and forgiven when the
/// secret is a real link's, so an address that opened too many unknown links waits (doubling
/// up to 15 minutes) whatever it tries next, and concurrent guesses cannot slip past one
/// check. An attacker makes only its own address wait: a link's holder elsewhere is not held
/// up, nor is the holder by opening its own link again.
pub async fn open_setup_link(
    svc: &Service,
    secret: &str,
    address: IpAddr,
) -> Result<Opened, ScimError> {
    let key = setup_link_key(address);
    let known = svc.known_waits.wait_key(&key, now_millis());
    if known > 0 {
        return Ok(Opened::Wait(wait_seconds(known)));
    }
    let reserve = key.clone();
    let wait = svc
        .store
        .write(move |conn| Ok::<_, ScimError>(reserve_key_attempt(conn, &reserve, now_millis())?))
        .await?;
    if wait > 0 {
        svc.known_waits.remember_key(&key, wait, now_millis());
        tracing::info!(%address, "setup link attempts throttled");
        return Ok(Opened::Wait(wait_seconds(wait)));
    }
    let opened = open_live_link(svc, secret, &key).await?;
    if matches!(opened, Opened::Unknown) {
        tracing::info!(%address, "unknown setup link opened");
    }
    Ok(opened)
}

/// The rest of [`open_setup_link`], once the attempt is counted: a real link's secret (live or
/// not) forgives it.
async fn open_live_link(svc: &Service, secret: &str, key: &str) -> Result<Opened, ScimError> {
    let hash = secret_hash(secret);
    let wanted = hash.clone();
    let found = svc
        .store
        .read(move |conn| {
            let Some(link) = link_store::find_setup_link_by_hash(conn, &hash)? else {
                return Ok::<_, ScimError>(None);
            };
            let tenant = find_tenant_by_id(conn, &link.tenant_id)?;
            Ok(Some((link, tenant)))
        })
        .await?;
    // The hash found the row; comparing it again in constant time keeps the check
    // independent of how the index compared.
    let Some((link, tenant)) = found.filter(|(l, _)| same_secret(&l.secret_hash, &wanted)) else {
        return Ok(Opened::Unknown);
    };
    let now = now_millis();
    let refused = if link.revoked_at.is_some() {
        Some(Opened::Revoked)
    } else if link.expires_at <= now {
        Some(Opened::Expired)
    } else {
        match tenant {
            None => Some(Opened::Unknown),
            Some(t) if !may_use_page(&t) => Some(Opened::TenantDisabled),
            Some(_) => None,
        }
    };
    if let Some(refused) = refused {
        // Not a guess: whoever holds it was sent it.
        let key = key.to_string();
        svc.store
            .write(move |conn| Ok::<_, ScimError>(forgive_key_attempt(conn, &key, now)?))
            .await?;
        return Ok(refused);
    }
    let session_secret = format!("{SESSION_PREFIX}{}", random_secret());
    let row = SetupSessionRow {
        id_hash: secret_hash(&session_secret),
        link_id: link.id.clone(),
        tenant_id: link.tenant_id.clone(),
        csrf_token: random_secret(),
        created_at: now,
        expires_at: (now + SESSION_MILLIS).min(link.expires_at),
    };
    let (tenant_id, link_id, key) = (link.tenant_id.clone(), link.id.clone(), key.to_string());
    svc.store
        .write(move |conn| {
            forgive_key_attempt(conn, &key, now)?;
            link_store::delete_expired_setup_sessions(conn, now)?;
            link_store::insert_setup_session(conn, &row)?;
            link_store::touch_setup_link(conn, &tenant_id, &link_id, now)?;
            Ok::<_, ScimError>(())
        })
        .await?;
    Ok(Opened::Session {
        secret: session_secret,
        link,
    })
}

/// The live session of a cookie secret and its link: `None` once the session, or its link,
/// has expired or the link was revoked.
pub async fn setup_session_of(
    svc: &Service,
    secret: &str,
) -> Result<Option<(SetupSessionRow, SetupLinkRow)>, ScimError> {
    let id_hash = secret_hash(secret);
    svc.store
        .read(move |conn| {
            Ok::<_, ScimError>(link_store::find_setup_session(
                conn,
                &id_hash,
                now_millis(),
            )?)
        })
        .await
}

/// End the session of a cookie secret.
pub async fn close_setup_session(svc: &Service, secret: &str) -> Result<(), ScimError> {
    let id_hash = secret_hash(secret);
    svc.store
        .write(move |conn| Ok::<_, ScimError>(link_store::delete_setup_session(conn, &id_hash)?))
        .await
}
