//! Bearer tokens: JWTs signed with HS256 keys kept in the database (so every instance on
//! one PostgreSQL accepts every other's tokens), each backed by a `tokens` row that can be
//! revoked and records its last use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::store::recent::Recent;
use crate::store::tenants::Tenant;
use crate::store::tokens::{self as token_store, SigningKey, TokenRecord};
use crate::store::{now_millis, DbConn, Store, StoreError};

/// The `aud` claim of every scimd token.
pub const AUDIENCE: &str = "scimd";
/// Expiry when none is given, in days.
pub const DEFAULT_EXPIRY_DAYS: i64 = 90;
/// The longest expiry a token may have, in days.
pub const MAX_EXPIRY_DAYS: i64 = 365;

const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;
/// `last_used_at` is written at most this often per token, so reads stay reads.
const TOUCH_INTERVAL_MILLIS: i64 = 60 * 1000;

/// The claims of a scimd token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Tenant id (not slug: slugs are names, ids never change).
    pub tenant: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub aud: String,
}

/// Why a bearer token was refused (all of them answer 401; the reason goes to the log).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("malformed or badly signed token")]
    Invalid,
    #[error("token expired")]
    Expired,
    #[error("token revoked or unknown")]
    Revoked,
    #[error("token belongs to another tenant")]
    WrongTenant,
    #[error("token signed with a key this instance has not loaded")]
    UnknownKey,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The HS256 keys, cached in memory and reloaded when a token names an unknown `kid`.
pub struct TokenKeys {
    keys: RwLock<HashMap<String, Vec<u8>>>,
    current: RwLock<Option<String>>,
    /// Per-jti time of the last `last_used_at` write.
    touched: RwLock<HashMap<String, i64>>,
    /// Tokens whose signature was already checked, by their whole text: Entra sends one
    /// token for hours, and its HMAC, base64 and JSON need not be redone per request.
    verified: RwLock<HashMap<String, Claims>>,
    /// Token records read recently, by jti, with when they were read (see `Store::recheck_interval`).
    records: Recent<TokenRecord>,
    /// When the keys were last reloaded for an unknown `kid` (ms): at most once per recheck
    /// interval, so that forged `kid`s do not cost a query each.
    reloaded_at: std::sync::atomic::AtomicI64,
    /// How many such reloads happened (for tests and metrics).
    kid_reloads: std::sync::atomic::AtomicU64,
}

/// Most verified tokens remembered (then the memory starts over).
const MAX_VERIFIED: usize = 10_000;

impl Default for TokenKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenKeys {
    /// An empty key cache; call [`TokenKeys::load`] before use.
    pub fn new() -> Self {
        TokenKeys {
            keys: RwLock::new(HashMap::new()),
            current: RwLock::new(None),
            touched: RwLock::new(HashMap::new()),
            verified: RwLock::new(HashMap::new()),
            records: Recent::new(MAX_VERIFIED),
            reloaded_at: std::sync::atomic::AtomicI64::new(0),
            kid_reloads: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Load the keys, generating the first one when the database has none.
    pub fn load(&self, conn: &mut DbConn) -> Result<(), StoreError> {
        let mut stored = token_store::list_signing_keys(conn)?;
        if stored.is_empty() {
            let mut secret = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut secret);
            let key = SigningKey {
                kid: uuid::Uuid::new_v4().simple().to_string(),
                secret: base64::engine::general_purpose::STANDARD.encode(secret),
                created_at: now_millis(),
            };
            token_store::insert_signing_key(conn, &key)?;
            // Another instance may have raced us; re-read so all agree on the newest key.
            stored = token_store::list_signing_keys(conn)?;
        }
        let mut keys = HashMap::new();
        for k in &stored {
            let secret = base64::engine::general_purpose::STANDARD
                .decode(&k.secret)
                .map_err(|e| StoreError::Corrupt(format!("signing key {}: {e}", k.kid)))?;
            keys.insert(k.kid.clone(), secret);
        }
        *write(&self.keys) = keys;
        *write(&self.current) = stored.first().map(|k| k.kid.clone());
        Ok(())
    }

    fn key(&self, kid: &str) -> Option<Vec<u8>> {
        read(&self.keys).get(kid).cloned()
    }

    /// How many times an unknown `kid` made this instance reload the keys.
    pub fn reloads(&self) -> u64 {
        self.kid_reloads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A value only a scimd of this database can compute for `nonce` (an HMAC with the
    /// current signing key): the login form's CSRF token is this value of its cookie, so a
    /// client cannot choose a matching pair.
    pub fn bind_to_server(&self, purpose: &str, nonce: &str) -> Option<String> {
        let kid = read(&self.current).clone()?;
        let secret = self.key(&kid)?;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let tag = ring::hmac::sign(&key, format!("{purpose}\0{nonce}").as_bytes());
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// Issue a token for a tenant: stores its record and returns the JWT with the record.
    pub fn issue(
        &self,
        conn: &mut DbConn,
        tenant: &Tenant,
        days: i64,
        label: &str,
    ) -> Result<(String, TokenRecord), StoreError> {
        self.issue_capped(conn, tenant, days, None, label)
    }

    /// Issue a token that expires after `days`, or at `not_after` (ms) if that is sooner: a
    /// token made through a setup link expires with the link at the latest.
    pub fn issue_capped(
        &self,
        conn: &mut DbConn,
        tenant: &Tenant,
        days: i64,
        not_after: Option<i64>,
        label: &str,
    ) -> Result<(String, TokenRecord), StoreError> {
        let now = now_millis();
        let expires_at = not_after.map_or(now + days * DAY_MILLIS, |cap| {
            cap.min(now + days * DAY_MILLIS)
        });
        self.mint(conn, tenant, label, now, expires_at, None)
    }

    /// Issue an OAuth access token of `client_ref` (and of `grant`, for the
    /// authorization-code grant), valid for `seconds`: a bearer token checked exactly as a
    /// Secret Token is, revoked with its client or grant.
    pub fn issue_access_token(
        &self,
        conn: &mut DbConn,
        tenant: &Tenant,
        seconds: i64,
        client_ref: &str,
        grant: Option<&str>,
    ) -> Result<(String, TokenRecord), StoreError> {
        let now = now_millis();
        self.mint(
            conn,
            tenant,
            "OAuth access token",
            now,
            now + seconds * 1000,
            Some((client_ref, grant)),
        )
    }

    /// Sign a token and store its record.
    fn mint(
        &self,
        conn: &mut DbConn,
        tenant: &Tenant,
        label: &str,
        now: i64,
        expires_at: i64,
        oauth: Option<(&str, Option<&str>)>,
    ) -> Result<(String, TokenRecord), StoreError> {
        if read(&self.current).is_none() {
            self.load(conn)?;
        }
        let kid = read(&self.current)
            .clone()
            .ok_or_else(|| StoreError::Corrupt("no signing key".into()))?;
        let secret = self
            .key(&kid)
            .ok_or_else(|| StoreError::Corrupt("no signing key".into()))?;
        let record = TokenRecord {
            jti: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant.id.clone(),
            label: label.to_string(),
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
            oauth_client: oauth.map(|(client, _)| client.to_string()),
            oauth_grant: oauth.and_then(|(_, grant)| grant.map(str::to_string)),
        };
        let claims = Claims {
            tenant: tenant.id.clone(),
            jti: record.jti.clone(),
            iat: now / 1000,
            exp: record.expires_at / 1000,
            aud: AUDIENCE.to_string(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid);
        let jwt = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret))
            .map_err(|e| StoreError::Corrupt(format!("cannot sign token: {e}")))?;
        token_store::insert_token(conn, &record)?;
        Ok((jwt, record))
    }

    /// Check the signature, expiry and audience of a JWT, in memory. A key id new to this
    /// instance (another instance made it) is [`TokenError::UnknownKey`]: reload, then retry.
    pub fn decode(&self, jwt: &str) -> Result<Claims, TokenError> {
        if let Some(claims) = read(&self.verified).get(jwt) {
            if claims.exp * 1000 > now_millis() {
                return Ok(claims.clone());
            }
            return Err(TokenError::Expired);
        }
        let claims = self.verify(jwt)?;
        let mut verified = write(&self.verified);
        if verified.len() >= MAX_VERIFIED {
            verified.clear();
        }
        verified.insert(jwt.to_string(), claims.clone());
        Ok(claims)
    }

    fn verify(&self, jwt: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(jwt).map_err(|_| TokenError::Invalid)?;
        // Only HS256: refuses `none`, RS/HS confusion and anything else.
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let secret = self.key(&kid).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "aud"]);
        match jsonwebtoken::decode::<Claims>(jwt, &DecodingKey::from_secret(&secret), &validation) {
            // scimd issues UUID jtis only; anything else is not ours and never reaches the database.
            Ok(data) if uuid::Uuid::parse_str(&data.claims.jti).is_err() => {
                Err(TokenError::Invalid)
            }
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                Err(TokenError::Expired)
            }
            Err(_) => Err(TokenError::Invalid),
        }
    }

    /// Whether a token's stored record lets it act for `tenant` at `now`.
    pub fn check_record(
        record: Option<&TokenRecord>,
        tenant: &Tenant,
        now: i64,
    ) -> Result<(), TokenError> {
        let record = record.ok_or(TokenError::Revoked)?;
        if record.tenant_id != tenant.id {
            return Err(TokenError::WrongTenant);
        }
        if record.revoked_at.is_some() {
            return Err(TokenError::Revoked);
        }
        if record.expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(())
    }

    /// Full check of a bearer token for a tenant: signature, expiry, and a live `tokens`
    /// row of that tenant, re-read as often as [`Store::recheck_interval`] says so that a
    /// revocation holds. Returns the token's jti.
    pub async fn authenticate(
        self: &Arc<Self>,
        store: &Store,
        jwt: &str,
        tenant: &Tenant,
    ) -> Result<String, TokenError> {
        let claims = match self.decode(jwt) {
            Err(TokenError::UnknownKey) => {
                // A key made by another instance shows up within the recheck interval.
                let now = now_millis();
                let last = self.reloaded_at.load(std::sync::atomic::Ordering::Relaxed);
                let interval =
                    i64::try_from(store.recheck_interval().as_millis()).unwrap_or(i64::MAX);
                if now - last < interval
                    || self
                        .reloaded_at
                        .compare_exchange(
                            last,
                            now,
                            std::sync::atomic::Ordering::Relaxed,
                            std::sync::atomic::Ordering::Relaxed,
                        )
                        .is_err()
                {
                    return Err(TokenError::Invalid);
                }
                self.kid_reloads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let keys = Arc::clone(self);
                store.lookup(move |conn| keys.load(conn)).await?;
                self.decode(jwt).map_err(|_| TokenError::Invalid)?
            }
            decoded => decoded?,
        };
        if claims.tenant != tenant.id {
            return Err(TokenError::WrongTenant);
        }
        let jti = claims.jti;
        let now = now_millis();
        let record = match self.records.get(&jti, store.recheck_interval()) {
            Some(record) => Some(record),
            None => {
                let jti2 = jti.clone();
                let record = store
                    .lookup(move |conn| token_store::find_token(conn, &jti2))
                    .await?;
                if let Some(r) = &record {
                    self.records.put(&jti, r.clone());
                }
                record
            }
        };
        Self::check_record(record.as_ref(), tenant, now)?;
        self.touch(store, &jti, now).await;
        Ok(jti)
    }

    /// Forget what this instance remembers of a token (it was just revoked here).
    pub fn forget(&self, jti: &str) {
        self.records.forget(jti);
    }

    /// Record the token's use, at most once a minute per token (so reads stay reads).
    async fn touch(&self, store: &Store, jti: &str, now: i64) {
        let due = read(&self.touched)
            .get(jti)
            .is_none_or(|last| now - last >= TOUCH_INTERVAL_MILLIS);
        if !due {
            return;
        }
        write(&self.touched).insert(jti.to_string(), now);
        let jti = jti.to_string();
        // Losing a last-used stamp is harmless; failing the request for it is not.
        if let Err(e) = store
            .write(move |conn| token_store::touch_token(conn, &jti, now))
            .await
        {
            tracing::warn!(error = %e, "could not record token use");
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// Validate an expiry in days (1 to 365).
pub fn check_expiry_days(days: i64) -> Result<i64, String> {
    if (1..=MAX_EXPIRY_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(format!(
            "expiry must be between 1 and {MAX_EXPIRY_DAYS} days, got {days}"
        ))
    }
}
