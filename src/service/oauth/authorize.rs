//! The authorization-code grant's first half (RFC 6749 §4.1.1–4.1.2, PKCE of RFC 7636):
//! check an authorization request, and once the tenant's admin approves it on the page,
//! record the grant and send the browser back to the client with a one-use code.

use std::collections::HashMap;

use base64::Engine;

use super::super::admins::{random_secret, secret_hash};
use super::super::{new_resource_id, Service};
use crate::scim::error::ScimError;
use crate::store::now_millis;
use crate::store::oauth::{self as oauth_store, CodeRow, GrantRow, OAuthClientRow};
use crate::store::tenants::Tenant;

/// How long a code may wait for its token request, in milliseconds (RFC 6749 §4.1.2 advises
/// at most ten minutes).
pub const CODE_MILLIS: i64 = 5 * 60 * 1000;
/// Most live grants one client holds; approving another revokes its oldest.
pub const MAX_GRANTS_PER_CLIENT: usize = 10;

/// The parameters of an authorization request that the approval form carries on.
pub const PARAMETERS: [&str; 6] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
];

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: OAuthClientRow,
    pub tenant: Tenant,
    /// Where the code goes: the request's `redirect_uri`, or the client's only one.
    pub redirect_uri: String,
    pub redirect_uri_sent: bool,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
}

/// Why an authorization request is refused.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The client or its redirect URI cannot be trusted: say so on the page, never redirect
    /// (RFC 6749 §4.1.2.1).
    Show(String),
    /// Tell the client, at its redirect URI.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

impl Refusal {
    /// The address the browser goes to, for a refusal told to the client.
    pub fn location(&self) -> Option<String> {
        match self {
            Refusal::Show(_) => None,
            Refusal::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => {
                let mut params = vec![("error", (*error).to_string())];
                params.push(("error_description", description.clone()));
                if let Some(state) = state {
                    params.push(("state", state.clone()));
                }
                Some(with_query(redirect_uri, &params))
            }
        }
    }
}

/// `uri` with these parameters added to its query.
pub fn with_query(uri: &str, params: &[(&str, String)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let joiner = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{joiner}{query}")
}

/// BASE64URL(SHA256(verifier)), the S256 code challenge of RFC 7636 §4.2.
pub fn s256(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn is_pkce_text(value: &str, min: usize) -> bool {
    (min..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Check an authorization request's parameters.
pub async fn check_request(
    svc: &Service,
    params: &HashMap<String, String>,
) -> Result<AuthorizationRequest, Refusal> {
    let get = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let client_id = get("client_id").ok_or_else(|| {
        Refusal::Show("the request names no client (client_id is missing)".into())
    })?;
    if client_id.len() > 100 {
        return Err(Refusal::Show("unknown client".into()));
    }
    let lookup = client_id.clone();
    let found = svc
        .store
        .lookup(move |conn| {
            Ok::<_, ScimError>(oauth_store::find_live_client_with_tenant(conn, &lookup)?)
        })
        .await
        .map_err(|e| Refusal::Show(format!("cannot read the client now: {}", e.detail)))?;
    let Some((client, tenant)) = found else {
        return Err(Refusal::Show(
            "unknown or revoked client: check the client ID entered in the identity provider"
                .into(),
        ));
    };
    let registered: Vec<String> = serde_json::from_str(&client.redirect_uris).unwrap_or_default();
    let sent = get("redirect_uri");
    let redirect_uri = match (&sent, registered.as_slice()) {
        (Some(uri), _) if registered.contains(uri) => uri.clone(),
        (Some(uri), _) => {
            return Err(Refusal::Show(format!(
                "the redirect URI {uri:?} is not registered on this client: add it to the client's redirect URIs first"
            )))
        }
        (None, [only]) => only.clone(),
        (None, []) => {
            return Err(Refusal::Show(
                "this client has no redirect URI registered: add the identity provider's redirect URI to the client first".into(),
            ))
        }
        (None, _) => {
            return Err(Refusal::Show(
                "the client has several redirect URIs, and the request names none".into(),
            ))
        }
    };
    let state = get("state");
    let refuse = |error: &'static str, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description: description.to_string(),
        state: state.clone(),
    };
    if state.as_ref().is_some_and(|s| s.len() > 2000) {
        return Err(refuse(
            "invalid_request",
            "state is longer than 2000 characters",
        ));
    }
    match get("response_type").as_deref() {
        Some("code") => {}
        None => {
            return Err(refuse(
                "invalid_request",
                "response_type is missing: send code",
            ))
        }
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            ))
        }
    }
    let code_challenge =
        match (
            get("code_challenge"),
            get("code_challenge_method").as_deref(),
        ) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(refuse(
                    "invalid_request",
                    "code_challenge_method sent without code_challenge",
                ))
            }
            (Some(challenge), Some("S256")) if is_pkce_text(&challenge, 43) => Some(challenge),
            (Some(_), Some("S256")) => return Err(refuse(
                "invalid_request",
                "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.2)",
            )),
            (Some(_), _) => {
                return Err(refuse(
                    "invalid_request",
                    "only code_challenge_method=S256 is supported",
                ))
            }
        };
    if tenant.disabled_at.is_some() {
        return Err(refuse(
            "access_denied",
            "this tenant is disabled by its operator",
        ));
    }
    Ok(AuthorizationRequest {
        client,
        tenant,
        redirect_uri,
        redirect_uri_sent: sent.is_some(),
        state,
        code_challenge,
    })
}

/// The admin approved: record the grant and a code; returns where the browser goes (the
/// redirect URI with `code`, `state` and `iss`).
pub async fn approve(
    svc: &Service,
    request: &AuthorizationRequest,
    approved_by: &str,
    issuer: &str,
) -> Result<String, ScimError> {
    let now = now_millis();
    let code = random_secret();
    let grant = GrantRow {
        id: new_resource_id(),
        client_ref: request.client.id.clone(),
        tenant_id: request.tenant.id.clone(),
        approved_by: approved_by.chars().take(200).collect(),
        created_at: now,
        revoked_at: None,
    };
    let code_row = CodeRow {
        code_hash: secret_hash(&code),
        grant_id: grant.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        redirect_uri_sent: request.redirect_uri_sent,
        code_challenge: request.code_challenge.clone(),
        expires_at: now + CODE_MILLIS,
        used_at: None,
    };
    let tenant_id = request.tenant.id.clone();
    let jtis = svc
        .store
        .write(move |conn| {
            oauth_store::take_turn(conn, &grant.client_ref)?;
            let live = oauth_store::live_grants_of(conn, &grant.client_ref)?;
            let mut revoked = Vec::new();
            let excess = (live.len() + 1).saturating_sub(MAX_GRANTS_PER_CLIENT);
            for old in live.iter().take(excess) {
                revoked.extend(
                    oauth_store::revoke_grant(conn, &tenant_id, old, now)?.unwrap_or_default(),
                );
            }
            oauth_store::insert_grant(conn, &grant)?;
            oauth_store::insert_code(conn, &code_row)?;
            Ok::<_, ScimError>(revoked)
        })
        .await?;
    for jti in &jtis {
        svc.keys.forget(jti);
    }
    let mut params = vec![("code", code)];
    if let Some(state) = &request.state {
        params.push(("state", state.clone()));
    }
    // RFC 9207: the issuer, so that a client talking to several servers knows which answered.
    params.push(("iss", issuer.to_string()));
    Ok(with_query(&request.redirect_uri, &params))
}

/// The admin refused: where the browser goes (the redirect URI with `access_denied`).
pub fn deny(request: &AuthorizationRequest) -> String {
    Refusal::Redirect {
        redirect_uri: request.redirect_uri.clone(),
        error: "access_denied",
        description: "the tenant's admin denied the request".into(),
        state: request.state.clone(),
    }
    .location()
    .unwrap_or_default()
}
