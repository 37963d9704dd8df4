//! The token endpoint's work (RFC 6749 §3.2, §4.1.3, §4.4, §6): authenticate the client
//! (`client_secret_basic`, `client_secret_post` or `private_key_jwt`), then grant an access
//! token for client credentials, an authorization code or a refresh token. Codes and refresh
//! tokens are used once; a second use is taken as theft and revokes the grant.

use std::sync::Arc;

use subtle::ConstantTimeEq;

use super::super::admins::{random_secret, secret_hash};
use super::super::Service;
use crate::auth::client_assertion;
use crate::scim::error::ScimError;
use crate::store::now_millis;
use crate::store::oauth::{self as oauth_store, OAuthClientRow, RefreshRow};
use crate::store::tenants::Tenant;

/// Most live access tokens one client holds; obtaining another revokes its oldest.
pub const MAX_LIVE_TOKENS_PER_CLIENT: i64 = 50;
/// How long a refresh token stays good, in days (each refresh issues a new one).
pub const REFRESH_DAYS: i64 = 90;
const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// An RFC 6749 §5.2 error: its `error` code and a description that says what to fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidClient(String),
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// Not an OAuth refusal: a throttle, a store failure (keeps its own status).
    #[error(transparent)]
    Server(#[from] ScimError),
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        OAuthError::Server(ScimError::from(e))
    }
}

impl From<diesel::result::Error> for OAuthError {
    fn from(e: diesel::result::Error) -> Self {
        OAuthError::Server(ScimError::from(e))
    }
}

impl OAuthError {
    /// The `error` code of RFC 6749 §5.2.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::Server(_) => "server_error",
        }
    }
}

/// How the client authenticated itself in the request.
#[derive(Debug, Clone)]
pub enum ClientCredentials {
    /// `client_secret_basic` or `client_secret_post`.
    Secret { client_id: String, secret: String },
    /// `private_key_jwt`: the assertion, and the `client_id` the form named, if it did.
    Assertion {
        assertion: String,
        client_id: Option<String>,
    },
}

/// A client that proved who it is, with its tenant.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub client: OAuthClientRow,
    pub tenant: Tenant,
}

/// A granted token response (RFC 6749 §5.1).
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
}

/// The grant a token request asks for.
#[derive(Debug, Clone)]
pub enum Grant {
    ClientCredentials,
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken(String),
}

fn unknown_client() -> OAuthError {
    OAuthError::InvalidClient("unknown client, wrong secret, or revoked client".into())
}

/// Authenticate a client. Every refusal is `invalid_client` with the same description for an
/// unknown client or a wrong secret (a stranger learns nothing); `audiences` are the values a
/// client assertion's `aud` may take (the token endpoint, the issuer).
pub async fn authenticate_client(
    svc: &Service,
    credentials: ClientCredentials,
    audiences: Vec<String>,
) -> Result<AuthenticatedClient, OAuthError> {
    let client_id = match &credentials {
        ClientCredentials::Secret { client_id, .. } => client_id.clone(),
        ClientCredentials::Assertion {
            assertion,
            client_id,
        } => {
            let issuer = client_assertion::issuer_of(assertion).ok_or_else(|| {
                OAuthError::InvalidClient("client_assertion is not a JWT with an iss claim".into())
            })?;
            if client_id.as_ref().is_some_and(|id| *id != issuer) {
                return Err(OAuthError::InvalidClient(
                    "client_id differs from the client_assertion's iss".into(),
                ));
            }
            issuer
        }
    };
    if client_id.is_empty() || client_id.len() > 100 {
        return Err(unknown_client());
    }
    let lookup = client_id.clone();
    let (client, secrets, tenant) = svc
        .store
        .lookup(move |conn| {
            let Some((client, tenant)) = oauth_store::find_live_client_with_tenant(conn, &lookup)?
            else {
                return Ok::<_, OAuthError>(None);
            };
            let secrets = oauth_store::live_secrets(conn, std::slice::from_ref(&client.id))?;
            Ok(Some((client, secrets, tenant)))
        })
        .await?
        .ok_or_else(unknown_client)?;
    match credentials {
        ClientCredentials::Secret { secret, .. } => {
            let offered = secret_hash(&secret);
            // Every live secret is compared, in constant time, whichever matches.
            let matched = secrets.iter().fold(false, |found, s| {
                found | bool::from(s.secret_hash.as_bytes().ct_eq(offered.as_bytes()))
            });
            if !matched {
                return Err(unknown_client());
            }
        }
        ClientCredentials::Assertion { assertion, .. } => {
            let jwks = client.jwks.as_deref().ok_or_else(|| {
                OAuthError::InvalidClient(
                    "this client has no registered keys (jwks): authenticate with its secret, or register its public keys".into(),
                )
            })?;
            let keys: jsonwebtoken::jwk::JwkSet = serde_json::from_str(jwks)
                .map_err(|e| ScimError::internal(format!("stored jwks unreadable: {e}")))?;
            let now = now_millis();
            let audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
            let checked = client_assertion::verify(
                &assertion,
                &keys,
                &client.client_id,
                &audiences,
                now / 1000,
            )
            .map_err(OAuthError::InvalidClient)?;
            let (client_ref, jti) = (client.id.clone(), checked.jti);
            let first = svc
                .store
                .write(move |conn| {
                    oauth_store::record_assertion(conn, &client_ref, &jti, checked.exp * 1000, now)
                })
                .await?;
            if !first {
                return Err(OAuthError::InvalidClient(
                    "this client_assertion was already used: sign a new one with a new jti".into(),
                ));
            }
        }
    }
    if tenant.disabled_at.is_some() {
        return Err(OAuthError::UnauthorizedClient(
            "this client's tenant is disabled by its operator; tokens are issued again once it is enabled".into(),
        ));
    }
    Ok(AuthenticatedClient { client, tenant })
}

/// What a grant's transaction ended with: tokens, or a replay whose grant it revoked.
enum Outcome {
    Granted(TokenResponse),
    Replayed(Vec<String>),
}

/// Grant tokens to an authenticated client; access tokens live `seconds`.
pub async fn grant(
    svc: &Service,
    who: &AuthenticatedClient,
    grant: Grant,
    seconds: i64,
) -> Result<TokenResponse, OAuthError> {
    let keys = Arc::clone(&svc.keys);
    let (client, tenant) = (who.client.clone(), who.tenant.clone());
    let outcome = svc
        .store
        .write(move |conn| {
            oauth_store::take_turn(conn, &client.id)?;
            let now = now_millis();
            let grant_id = match grant {
                Grant::ClientCredentials => None,
                Grant::AuthorizationCode {
                    code,
                    redirect_uri,
                    code_verifier,
                } => {
                    let Some((row, first)) =
                        oauth_store::take_code(conn, &secret_hash(&code), now)?
                    else {
                        return Err(OAuthError::InvalidGrant(
                            "unknown authorization code".into(),
                        ));
                    };
                    let grant = live_grant_of(conn, &row.grant_id, &client)?;
                    if !first {
                        // RFC 6749 §4.1.2: a code used twice revokes what it granted.
                        let jtis = oauth_store::revoke_grant(conn, &tenant.id, &grant, now)?
                            .unwrap_or_default();
                        return Ok(Outcome::Replayed(jtis));
                    }
                    if row.expires_at <= now {
                        return Err(OAuthError::InvalidGrant(
                            "the authorization code has expired: start the authorization again"
                                .into(),
                        ));
                    }
                    match (&redirect_uri, row.redirect_uri_sent) {
                        (Some(sent), _) if *sent != row.redirect_uri => {
                            return Err(OAuthError::InvalidGrant(
                                "redirect_uri differs from the authorization request's".into(),
                            ))
                        }
                        (None, true) => {
                            return Err(OAuthError::InvalidRequest(
                                "redirect_uri is required: the authorization request named one"
                                    .into(),
                            ))
                        }
                        _ => {}
                    }
                    check_pkce(row.code_challenge.as_deref(), code_verifier.as_deref())?;
                    Some(grant)
                }
                Grant::RefreshToken(token) => {
                    let Some((row, first)) =
                        oauth_store::take_refresh(conn, &secret_hash(&token), now)?
                    else {
                        return Err(OAuthError::InvalidGrant("unknown refresh token".into()));
                    };
                    let grant = live_grant_of(conn, &row.grant_id, &client)?;
                    if !first {
                        // A rotated refresh token used again: someone holds a copy.
                        let jtis = oauth_store::revoke_grant(conn, &tenant.id, &grant, now)?
                            .unwrap_or_default();
                        return Ok(Outcome::Replayed(jtis));
                    }
                    if row.expires_at <= now {
                        return Err(OAuthError::InvalidGrant(
                            "the refresh token has expired: authorize the client again".into(),
                        ));
                    }
                    Some(grant)
                }
            };
            for jti in
                oauth_store::make_room_for_token(conn, &client.id, MAX_LIVE_TOKENS_PER_CLIENT, now)?
            {
                keys.forget(&jti);
            }
            let (access_token, _) =
                keys.issue_access_token(conn, &tenant, seconds, &client.id, grant_id.as_deref())?;
            let refresh_token = match grant_id {
                Some(grant_id) => {
                    let token = random_secret();
                    let row = RefreshRow {
                        token_hash: secret_hash(&token),
                        grant_id,
                        created_at: now,
                        expires_at: now + REFRESH_DAYS * DAY_MILLIS,
                        used_at: None,
                    };
                    oauth_store::insert_refresh(conn, &row, now - DAY_MILLIS)?;
                    Some(token)
                }
                None => None,
            };
            Ok(Outcome::Granted(TokenResponse {
                access_token,
                expires_in: seconds,
                refresh_token,
            }))
        })
        .await?;
    match outcome {
        Outcome::Granted(response) => Ok(response),
        Outcome::Replayed(jtis) => {
            for jti in &jtis {
                svc.keys.forget(jti);
            }
            Err(OAuthError::InvalidGrant(
                "this code or refresh token was already used; the grant is revoked: authorize the client again".into(),
            ))
        }
    }
}

/// The live grant `id` of `client`, or `invalid_grant`.
fn live_grant_of(
    conn: &mut crate::store::DbConn,
    id: &str,
    client: &OAuthClientRow,
) -> Result<String, OAuthError> {
    oauth_store::find_grant(conn, id)?
        .filter(|g| g.client_ref == client.id && g.revoked_at.is_none())
        .map(|g| g.id)
        .ok_or_else(|| {
            OAuthError::InvalidGrant(
                "this code or refresh token was not issued to this client, or its grant was revoked".into(),
            )
        })
}

/// RFC 7636 §4.6: the verifier's S256 must be the challenge; a verifier without a challenge
/// (or the reverse) is refused.
fn check_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(OAuthError::InvalidGrant(
            "code_verifier is required: the authorization request sent a code_challenge".into(),
        )),
        (None, Some(_)) => Err(OAuthError::InvalidGrant(
            "code_verifier sent, but the authorization request had no code_challenge".into(),
        )),
        (Some(challenge), Some(verifier)) => {
            let computed = super::authorize::s256(verifier);
            if bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                Ok(())
            } else {
                Err(OAuthError::InvalidGrant(
                    "code_verifier does not match the code_challenge".into(),
                ))
            }
        }
    }
}
