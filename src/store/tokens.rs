//! Bearer token records and the JWT signing keys they are signed with.

use diesel::prelude::*;

use super::schema::{signing_keys, tokens};
use super::{now_millis, DbConn, StoreError};

/// A token record; the JWT itself is never stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tokens)]
pub struct TokenRecord {
    pub jti: String,
    pub tenant_id: String,
    pub label: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// The OAuth client this access token was issued to (`None`: a Secret Token).
    pub oauth_client: Option<String>,
    /// The authorization-code grant it was issued under, if any.
    pub oauth_grant: Option<String>,
}

/// An HMAC signing key, identified by `kid` in the JWT header.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKey {
    pub kid: String,
    pub secret: String,
    pub created_at: i64,
}

/// Insert a token record.
pub fn insert_token(conn: &mut DbConn, record: &TokenRecord) -> Result<(), StoreError> {
    diesel::insert_into(tokens::table)
        .values(record)
        .execute(conn)?;
    Ok(())
}

/// A tenant's Secret Tokens (not the OAuth access tokens its clients obtain), newest first.
pub fn list_tokens(conn: &mut DbConn, tenant_id: &str) -> Result<Vec<TokenRecord>, StoreError> {
    Ok(tokens::table
        .filter(tokens::tenant_id.eq(tenant_id))
        .filter(tokens::oauth_client.is_null())
        .order(tokens::created_at.desc())
        .select(TokenRecord::as_select())
        .load(conn)?)
}

/// The token with this jti, if any.
pub fn find_token(conn: &mut DbConn, jti: &str) -> Result<Option<TokenRecord>, StoreError> {
    Ok(on_backend!(conn, |c| tokens::table
        .find(jti)
        .select(TokenRecord::as_select())
        .first(c)
        .optional())?)
}

/// Revoke a token (idempotent: the first revocation time is kept); `tenant_id` scopes it when
/// given. Returns whether the token exists.
pub fn revoke_token(
    conn: &mut DbConn,
    jti: &str,
    tenant_id: Option<&str>,
) -> Result<bool, StoreError> {
    let Some(token) = find_token(conn, jti)? else {
        return Ok(false);
    };
    if tenant_id.is_some_and(|t| t != token.tenant_id) {
        return Ok(false);
    }
    if token.revoked_at.is_none() {
        diesel::update(tokens::table.find(jti))
            .set(tokens::revoked_at.eq(Some(now_millis())))
            .execute(conn)?;
    }
    Ok(true)
}

/// Record that a token was used.
pub fn touch_token(conn: &mut DbConn, jti: &str, at: i64) -> Result<(), StoreError> {
    diesel::update(tokens::table.find(jti))
        .set(tokens::last_used_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}

/// All signing keys, newest first.
pub fn list_signing_keys(conn: &mut DbConn) -> Result<Vec<SigningKey>, StoreError> {
    Ok(signing_keys::table
        .order(signing_keys::created_at.desc())
        .select(SigningKey::as_select())
        .load(conn)?)
}

/// Store a new signing key.
pub fn insert_signing_key(conn: &mut DbConn, key: &SigningKey) -> Result<(), StoreError> {
    diesel::insert_into(signing_keys::table)
        .values(key)
        .execute(conn)?;
    Ok(())
}

/// The current time in the store's unit (re-exported for token expiry maths).
pub fn now() -> i64 {
    now_millis()
}
