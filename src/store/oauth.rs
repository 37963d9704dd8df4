//! OAuth 2.0 clients of a tenant, their secrets, the grants a tenant admin approved, and the
//! one-use codes, refresh tokens and client-assertion ids of the token endpoint. Secrets,
//! codes and refresh tokens are stored as their SHA-256 only. Every query that a tenant's
//! action reaches names the tenant.

use diesel::prelude::*;

use super::schema::{
    oauth_assertions, oauth_client_secrets, oauth_clients, oauth_codes, oauth_grants,
    oauth_refresh_tokens, tokens,
};
use super::{DbConn, StoreError};

/// A client's record.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_clients)]
pub struct OAuthClientRow {
    pub id: String,
    pub tenant_id: String,
    /// The public `client_id` the identity provider sends.
    pub client_id: String,
    pub label: String,
    /// JSON array of redirect URIs (authorization-code grant).
    pub redirect_uris: String,
    /// JSON Web Key Set of the keys that sign its client assertions.
    pub jwks: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// One secret of a client (its SHA-256).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_client_secrets)]
pub struct ClientSecretRow {
    pub id: String,
    pub client_ref: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// An authorization-code grant a tenant admin approved.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_grants)]
pub struct GrantRow {
    pub id: String,
    pub client_ref: String,
    pub tenant_id: String,
    pub approved_by: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// An authorization code (its SHA-256) and what the token request must match.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_codes)]
pub struct CodeRow {
    pub code_hash: String,
    pub grant_id: String,
    pub redirect_uri: String,
    /// Whether the authorization request named the redirect URI (then the token request must).
    pub redirect_uri_sent: bool,
    /// The PKCE S256 challenge, when the client sent one.
    pub code_challenge: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A refresh token (its SHA-256).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_refresh_tokens)]
pub struct RefreshRow {
    pub token_hash: String,
    pub grant_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Make the token, secret and grant writes of one client (or, for `of = tenant id`, the
/// client creations of one tenant) take turns across instances, so that their limits hold
/// and concurrent token requests do not lock each other's rows in opposite orders.
pub fn take_turn(conn: &mut DbConn, of: &str) -> Result<(), StoreError> {
    super::prepared::take_turn(conn, &format!("scimd oauth {of}"))
}

/// Insert a client with its first secret.
pub fn insert_client(
    conn: &mut DbConn,
    client: &OAuthClientRow,
    secret: &ClientSecretRow,
) -> Result<(), StoreError> {
    diesel::insert_into(oauth_clients::table)
        .values(client)
        .execute(conn)?;
    insert_secret(conn, secret)
}

/// How many live (not revoked) clients a tenant has.
pub fn count_live_clients(conn: &mut DbConn, tenant_id: &str) -> Result<i64, StoreError> {
    Ok(oauth_clients::table
        .filter(oauth_clients::tenant_id.eq(tenant_id))
        .filter(oauth_clients::revoked_at.is_null())
        .count()
        .get_result(conn)?)
}

/// A tenant's clients, newest first (revoked ones included).
pub fn list_clients(conn: &mut DbConn, tenant_id: &str) -> Result<Vec<OAuthClientRow>, StoreError> {
    Ok(oauth_clients::table
        .filter(oauth_clients::tenant_id.eq(tenant_id))
        .order(oauth_clients::created_at.desc())
        .select(OAuthClientRow::as_select())
        .load(conn)?)
}

/// A tenant's client by its scimd id.
pub fn find_client(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
) -> Result<Option<OAuthClientRow>, StoreError> {
    Ok(oauth_clients::table
        .filter(oauth_clients::tenant_id.eq(tenant_id))
        .filter(oauth_clients::id.eq(id))
        .select(OAuthClientRow::as_select())
        .first(conn)
        .optional()?)
}

/// The client a token request names by its public `client_id` (any tenant: the client id
/// is what tells the tenant).
pub fn find_client_by_client_id(
    conn: &mut DbConn,
    client_id: &str,
) -> Result<Option<OAuthClientRow>, StoreError> {
    Ok(oauth_clients::table
        .filter(oauth_clients::client_id.eq(client_id))
        .select(OAuthClientRow::as_select())
        .first(conn)
        .optional()?)
}

/// The live (not revoked) client a request names by its public `client_id`, with its tenant:
/// what the token endpoint and the authorization endpoint both start from.
pub fn find_live_client_with_tenant(
    conn: &mut DbConn,
    client_id: &str,
) -> Result<Option<(OAuthClientRow, super::tenants::Tenant)>, StoreError> {
    let Some(client) =
        find_client_by_client_id(conn, client_id)?.filter(|c| c.revoked_at.is_none())
    else {
        return Ok(None);
    };
    let tenant = super::tenants::find_tenant_by_id(conn, &client.tenant_id)?;
    Ok(tenant.map(|t| (client, t)))
}

/// Change a client's label, redirect URIs or keys.
pub fn update_client(conn: &mut DbConn, client: &OAuthClientRow) -> Result<(), StoreError> {
    diesel::update(
        oauth_clients::table
            .filter(oauth_clients::tenant_id.eq(&client.tenant_id))
            .filter(oauth_clients::id.eq(&client.id)),
    )
    .set((
        oauth_clients::label.eq(&client.label),
        oauth_clients::redirect_uris.eq(&client.redirect_uris),
        oauth_clients::jwks.eq(&client.jwks),
    ))
    .execute(conn)?;
    Ok(())
}

/// Insert a secret.
pub fn insert_secret(conn: &mut DbConn, secret: &ClientSecretRow) -> Result<(), StoreError> {
    diesel::insert_into(oauth_client_secrets::table)
        .values(secret)
        .execute(conn)?;
    Ok(())
}

/// The secrets of these clients that are not revoked, oldest first.
pub fn live_secrets(
    conn: &mut DbConn,
    client_refs: &[String],
) -> Result<Vec<ClientSecretRow>, StoreError> {
    Ok(oauth_client_secrets::table
        .filter(oauth_client_secrets::client_ref.eq_any(client_refs))
        .filter(oauth_client_secrets::revoked_at.is_null())
        .order(oauth_client_secrets::created_at.asc())
        .select(ClientSecretRow::as_select())
        .load(conn)?)
}

/// Revoke one secret of a client. Returns whether the client has such a live secret.
pub fn revoke_secret(
    conn: &mut DbConn,
    client_ref: &str,
    secret_id: &str,
    at: i64,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        oauth_client_secrets::table
            .filter(oauth_client_secrets::client_ref.eq(client_ref))
            .filter(oauth_client_secrets::id.eq(secret_id))
            .filter(oauth_client_secrets::revoked_at.is_null()),
    )
    .set(oauth_client_secrets::revoked_at.eq(Some(at)))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Revoke a tenant's client, its secrets, its grants and every token it obtained. Returns the
/// revoked tokens' jtis, or `None` when the tenant has no such client.
pub fn revoke_client(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
    at: i64,
) -> Result<Option<Vec<String>>, StoreError> {
    let Some(client) = find_client(conn, tenant_id, id)? else {
        return Ok(None);
    };
    diesel::update(
        oauth_clients::table
            .filter(oauth_clients::id.eq(&client.id))
            .filter(oauth_clients::revoked_at.is_null()),
    )
    .set(oauth_clients::revoked_at.eq(Some(at)))
    .execute(conn)?;
    diesel::update(
        oauth_client_secrets::table
            .filter(oauth_client_secrets::client_ref.eq(&client.id))
            .filter(oauth_client_secrets::revoked_at.is_null()),
    )
    .set(oauth_client_secrets::revoked_at.eq(Some(at)))
    .execute(conn)?;
    diesel::update(
        oauth_grants::table
            .filter(oauth_grants::client_ref.eq(&client.id))
            .filter(oauth_grants::revoked_at.is_null()),
    )
    .set(oauth_grants::revoked_at.eq(Some(at)))
    .execute(conn)?;
    let live = tokens::table
        .filter(tokens::tenant_id.eq(tenant_id))
        .filter(tokens::oauth_client.eq(&client.id))
        .filter(tokens::revoked_at.is_null());
    let jtis = live.select(tokens::jti).load::<String>(conn)?;
    diesel::update(live)
        .set(tokens::revoked_at.eq(Some(at)))
        .execute(conn)?;
    Ok(Some(jtis))
}

/// Make room for one more access token of a client: forget its tokens expired for a day,
/// and revoke its oldest live ones beyond `keep_live - 1`, so that what a client can make
/// scimd hold stays bounded. Returns the jtis revoked.
pub fn make_room_for_token(
    conn: &mut DbConn,
    client_ref: &str,
    keep_live: i64,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;
    diesel::delete(
        tokens::table
            .filter(tokens::oauth_client.eq(client_ref))
            .filter(tokens::expires_at.lt(now - DAY_MILLIS)),
    )
    .execute(conn)?;
    let live: Vec<String> = tokens::table
        .filter(tokens::oauth_client.eq(client_ref))
        .filter(tokens::expires_at.gt(now))
        .filter(tokens::revoked_at.is_null())
        .order(tokens::created_at.desc())
        .offset(keep_live.saturating_sub(1).max(0))
        .select(tokens::jti)
        .load(conn)?;
    if !live.is_empty() {
        diesel::update(tokens::table.filter(tokens::jti.eq_any(&live)))
            .set(tokens::revoked_at.eq(Some(now)))
            .execute(conn)?;
    }
    Ok(live)
}

/// Insert a grant.
pub fn insert_grant(conn: &mut DbConn, grant: &GrantRow) -> Result<(), StoreError> {
    diesel::insert_into(oauth_grants::table)
        .values(grant)
        .execute(conn)?;
    Ok(())
}

/// A tenant's grants, newest first (revoked ones included).
pub fn list_grants(conn: &mut DbConn, tenant_id: &str) -> Result<Vec<GrantRow>, StoreError> {
    Ok(oauth_grants::table
        .filter(oauth_grants::tenant_id.eq(tenant_id))
        .order(oauth_grants::created_at.desc())
        .select(GrantRow::as_select())
        .load(conn)?)
}

/// A grant by id.
pub fn find_grant(conn: &mut DbConn, id: &str) -> Result<Option<GrantRow>, StoreError> {
    Ok(oauth_grants::table
        .filter(oauth_grants::id.eq(id))
        .select(GrantRow::as_select())
        .first(conn)
        .optional()?)
}

/// The live grants of a client, oldest first.
pub fn live_grants_of(conn: &mut DbConn, client_ref: &str) -> Result<Vec<String>, StoreError> {
    Ok(oauth_grants::table
        .filter(oauth_grants::client_ref.eq(client_ref))
        .filter(oauth_grants::revoked_at.is_null())
        .order(oauth_grants::created_at.asc())
        .select(oauth_grants::id)
        .load(conn)?)
}

/// Revoke a tenant's grant and every token issued under it (its refresh tokens stay, so that
/// a refresh says the grant was revoked; every refresh checks the grant). Returns the revoked access tokens' jtis, or `None`
/// when the tenant has no such grant.
pub fn revoke_grant(
    conn: &mut DbConn,
    tenant_id: &str,
    id: &str,
    at: i64,
) -> Result<Option<Vec<String>>, StoreError> {
    let found = oauth_grants::table
        .filter(oauth_grants::tenant_id.eq(tenant_id))
        .filter(oauth_grants::id.eq(id))
        .select(oauth_grants::id)
        .first::<String>(conn)
        .optional()?;
    if found.is_none() {
        return Ok(None);
    }
    diesel::update(
        oauth_grants::table
            .filter(oauth_grants::id.eq(id))
            .filter(oauth_grants::revoked_at.is_null()),
    )
    .set(oauth_grants::revoked_at.eq(Some(at)))
    .execute(conn)?;
    diesel::delete(oauth_codes::table.filter(oauth_codes::grant_id.eq(id))).execute(conn)?;
    let live = tokens::table
        .filter(tokens::tenant_id.eq(tenant_id))
        .filter(tokens::oauth_grant.eq(id))
        .filter(tokens::revoked_at.is_null());
    let jtis = live.select(tokens::jti).load::<String>(conn)?;
    diesel::update(live)
        .set(tokens::revoked_at.eq(Some(at)))
        .execute(conn)?;
    Ok(Some(jtis))
}

/// Insert an authorization code.
pub fn insert_code(conn: &mut DbConn, code: &CodeRow) -> Result<(), StoreError> {
    diesel::insert_into(oauth_codes::table)
        .values(code)
        .execute(conn)?;
    Ok(())
}

/// Take a code for a token request: returns it and whether this request is the first to
/// take it (when not, the code is being replayed). The first taker is decided by one
/// conditional update, so two concurrent requests cannot both redeem it.
pub fn take_code(
    conn: &mut DbConn,
    code_hash: &str,
    at: i64,
) -> Result<Option<(CodeRow, bool)>, StoreError> {
    let first = diesel::update(
        oauth_codes::table
            .filter(oauth_codes::code_hash.eq(code_hash))
            .filter(oauth_codes::used_at.is_null()),
    )
    .set(oauth_codes::used_at.eq(Some(at)))
    .execute(conn)?
        > 0;
    Ok(oauth_codes::table
        .filter(oauth_codes::code_hash.eq(code_hash))
        .select(CodeRow::as_select())
        .first(conn)
        .optional()?
        .map(|code| (code, first)))
}

/// Insert a refresh token, forgetting the grant's refresh tokens that expired or were used
/// before `forget_used_before` (a replay older than that is no longer recognised as one:
/// it is an unknown token then, refused all the same).
pub fn insert_refresh(
    conn: &mut DbConn,
    refresh: &RefreshRow,
    forget_used_before: i64,
) -> Result<(), StoreError> {
    diesel::delete(
        oauth_refresh_tokens::table
            .filter(oauth_refresh_tokens::grant_id.eq(&refresh.grant_id))
            .filter(
                oauth_refresh_tokens::used_at
                    .lt(forget_used_before)
                    .or(oauth_refresh_tokens::expires_at.lt(refresh.created_at)),
            ),
    )
    .execute(conn)?;
    diesel::insert_into(oauth_refresh_tokens::table)
        .values(refresh)
        .execute(conn)?;
    Ok(())
}

/// Take a refresh token: returns it and whether this request is the first to take it (when
/// not, it is being replayed), decided as for codes.
pub fn take_refresh(
    conn: &mut DbConn,
    token_hash: &str,
    at: i64,
) -> Result<Option<(RefreshRow, bool)>, StoreError> {
    let first = diesel::update(
        oauth_refresh_tokens::table
            .filter(oauth_refresh_tokens::token_hash.eq(token_hash))
            .filter(oauth_refresh_tokens::used_at.is_null()),
    )
    .set(oauth_refresh_tokens::used_at.eq(Some(at)))
    .execute(conn)?
        > 0;
    Ok(oauth_refresh_tokens::table
        .filter(oauth_refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshRow::as_select())
        .first(conn)
        .optional()?
        .map(|refresh| (refresh, first)))
}

/// Record a client assertion's `jti` until it expires. Returns false when the client already
/// used it (a replay). Expired ids of the client are forgotten first.
pub fn record_assertion(
    conn: &mut DbConn,
    client_ref: &str,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    diesel::delete(
        oauth_assertions::table
            .filter(oauth_assertions::client_ref.eq(client_ref))
            .filter(oauth_assertions::expires_at.lt(now)),
    )
    .execute(conn)?;
    // One statement decides, so two concurrent requests with one assertion cannot both pass.
    let inserted = on_backend!(conn, |c| diesel::insert_into(oauth_assertions::table)
        .values((
            oauth_assertions::client_ref.eq(client_ref),
            oauth_assertions::jti.eq(jti),
            oauth_assertions::expires_at.eq(expires_at),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted > 0)
}
