//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): the
//! client signs a short JWT with its private key; scimd checks it against the public keys
//! registered on the client (a JSON Web Key Set). Pure: no I/O; the caller records the
//! assertion's `jti` so that it is accepted once.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The `client_assertion_type` of a JWT client assertion.
pub const JWT_BEARER_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Signature algorithms accepted for assertions (asymmetric only: a registered public key
/// must never double as an HMAC secret).
pub const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Longest lifetime an assertion may claim, in seconds: its `jti` is remembered that long.
pub const MAX_LIFETIME_SECS: i64 = 600;

/// Most keys a client may register.
pub const MAX_KEYS: usize = 5;

/// What a valid assertion tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub jti: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    jti: Option<String>,
    exp: i64,
    iat: Option<i64>,
}

/// The issuer (`iss`, also `sub`) a client's assertion must name: its `client_id`.
pub fn issuer_of(assertion: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        payload.trim_end_matches('='),
    )
    .ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok()?.iss
}

/// Parse and check a key set to register on a client: a JSON Web Key Set whose every key is a
/// public RSA or EC key usable for one of [`ALGORITHMS`]. The error says what to fix.
pub fn check_key_set(jwks: &serde_json::Value) -> Result<JwkSet, String> {
    let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| {
        format!("jwks must be a JSON Web Key Set ({{\"keys\": [...]}}, RFC 7517): {e}")
    })?;
    if set.keys.is_empty() || set.keys.len() > MAX_KEYS {
        return Err(format!("jwks must hold 1 to {MAX_KEYS} keys"));
    }
    for key in &set.keys {
        if let Some(private) = private_member(jwks, key) {
            return Err(format!(
                "jwks holds a private key (member \"{private}\"): register only the public key"
            ));
        }
        DecodingKey::from_jwk(key).map_err(|e| {
            format!("jwks holds a key scimd cannot verify with (RSA or EC public keys only): {e}")
        })?;
    }
    Ok(set)
}

/// The name of a private-key member present on `key` in the raw set, if any.
fn private_member(raw: &serde_json::Value, key: &Jwk) -> Option<&'static str> {
    let keys = raw.get("keys")?.as_array()?;
    let kid = key.common.key_id.as_deref();
    keys.iter()
        .filter(|k| k.get("kid").and_then(|v| v.as_str()) == kid)
        .find_map(|k| {
            ["d", "p", "q", "dp", "dq", "qi"]
                .into_iter()
                .find(|m| k.get(m).is_some())
        })
}

/// Check a client assertion: signed by one of `keys` with an accepted algorithm, `iss` and
/// `sub` equal to `client_id`, `aud` naming one of `audiences` (the token endpoint or the
/// issuer), not expired, a `jti`, and a lifetime of at most [`MAX_LIFETIME_SECS`]. The error
/// is the reason, for the log and the client.
pub fn verify(
    assertion: &str,
    keys: &JwkSet,
    client_id: &str,
    audiences: &[&str],
    now_secs: i64,
) -> Result<Assertion, String> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| "client_assertion is not a JWT".to_string())?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(format!(
            "client_assertion is signed with {:?}; use RS256, RS384, RS512, PS256, ES256 or ES384",
            header.alg
        ));
    }
    let candidates: Vec<&Jwk> = match &header.kid {
        Some(kid) => keys
            .keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid.as_str()))
            .collect(),
        None => keys.keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Err("client_assertion names a key (kid) not registered on the client".into());
    }
    let mut validation = Validation::new(header.alg);
    validation.set_audience(audiences);
    validation.set_issuer(&[client_id]);
    validation.sub = Some(client_id.to_string());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = 30;
    let mut last = String::from("client_assertion's signature does not verify");
    for key in candidates {
        let Ok(decoding) = DecodingKey::from_jwk(key) else {
            continue;
        };
        match jsonwebtoken::decode::<AssertionClaims>(assertion, &decoding, &validation) {
            Ok(data) => return accept(data.claims, now_secs),
            Err(e) => {
                use jsonwebtoken::errors::ErrorKind;
                last = match e.kind() {
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => last,
                    ErrorKind::ExpiredSignature => "client_assertion has expired".into(),
                    ErrorKind::InvalidAudience => format!(
                        "client_assertion's aud must be the token endpoint ({})",
                        audiences.first().copied().unwrap_or_default()
                    ),
                    ErrorKind::InvalidIssuer | ErrorKind::InvalidSubject => {
                        "client_assertion's iss and sub must both be the client_id".into()
                    }
                    ErrorKind::MissingRequiredClaim(claim) => {
                        format!("client_assertion lacks the {claim} claim")
                    }
                    _ => format!("client_assertion is not valid: {e}"),
                };
            }
        }
    }
    Err(last)
}

fn accept(claims: AssertionClaims, now_secs: i64) -> Result<Assertion, String> {
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 200)
        .ok_or("client_assertion needs a jti (1 to 200 characters), used once")?;
    let start = claims.iat.unwrap_or(now_secs).min(now_secs);
    if claims.exp - start > MAX_LIFETIME_SECS {
        return Err(format!(
            "client_assertion lives too long: exp may be at most {MAX_LIFETIME_SECS} s after iat"
        ));
    }
    Ok(Assertion {
        jti,
        exp: claims.exp,
    })
}
