//! Forged and confused credentials: each token attack a 401 with `WWW-Authenticate:
//! Bearer`, measured against a correctly forged token (real key, real jti) that passes, so
//! that each refusal is for the one thing changed; forged key ids that cannot make the
//! server re-read its keys; a login CSRF pair the client chose; and `nosniff` on every answer.

use std::time::Instant;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::assert_healthy;
use crate::helpers::{raw, raw_head, Backend, Reply, TestApp};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The real signing key (kid, secret), and the ids of tenants `acme` and `globex` with the jti
/// of one live token each.
struct Forge {
    kid: String,
    secret: Vec<u8>,
    acme: (String, String),
    globex: (String, String),
}

impl Forge {
    fn claims(&self, tenant: &(String, String)) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"tenant": tenant.0, "jti": tenant.1, "iat": now, "exp": now + 3600, "aud": "scimd"})
    }

    fn sign(&self, alg: Algorithm, kid: Option<&str>, claims: &Value, secret: &[u8]) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_string);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("sign")
    }

    /// `claims` signed as the server signs: HS256, the real kid, the real key.
    fn genuine(&self, claims: &Value) -> String {
        self.sign(Algorithm::HS256, Some(&self.kid), claims, &self.secret)
    }

    /// Any header, signed with HMAC-SHA256 under the real key.
    fn hs256_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.secret);
        let sig = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

fn forge(app: &TestApp, globex_token: &str) -> Forge {
    let jti_of = |jwt: &str| -> String {
        let payload = jwt.split('.').nth(1).expect("payload");
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        claims["jti"].as_str().unwrap().to_string()
    };
    app.state
        .service
        .store
        .read_blocking(|conn| {
            let key = scimd::store::tokens::list_signing_keys(conn)?.remove(0);
            let secret = base64::engine::general_purpose::STANDARD
                .decode(&key.secret)
                .expect("key");
            let acme = scimd::store::tenants::find_tenant_by_slug(conn, "acme")?.expect("acme");
            let globex =
                scimd::store::tenants::find_tenant_by_slug(conn, "globex")?.expect("globex");
            Ok::<_, scimd::store::StoreError>(Forge {
                kid: key.kid,
                secret,
                acme: (acme.id, jti_of(&app.token)),
                globex: (globex.id, jti_of(globex_token)),
            })
        })
        .expect("keys")
}

/// What the token tests start from: the app with tenants `acme` and `globex`, the forger,
/// globex's token, acme's claims, and the control — acme's claims signed with the real key,
/// which must pass.
struct Forged {
    app: TestApp,
    f: Forge,
    globex_token: String,
    acme: Value,
    good: String,
}

async fn forged(backend: Backend) -> Forged {
    let app = TestApp::spawn(backend).await;
    let globex_token = app.add_tenant("globex");
    let f = forge(&app, &globex_token);
    let acme = f.claims(&f.acme);
    // Control: real key, real claims.
    let good = f.genuine(&acme);
    auth_status(&app, &good).await.expect(200);
    Forged {
        app,
        f,
        globex_token,
        acme,
        good,
    }
}

/// Acme's claims with `change` applied.
fn acme_with(acme: &Value, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut claims = acme.clone();
    change(claims.as_object_mut().unwrap());
    claims
}

async fn auth_status(app: &TestApp, token: &str) -> Reply {
    let url = format!(
        "{}/Users?filter=userName+eq+%22x%22",
        app.tenant_url("acme")
    );
    app.send("GET", &url, Some(token), None).await
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let r = auth_status(app, token).await;
    assert_eq!(r.status.as_u16(), 401, "{what}: {}", r.body);
    let r = r.expect_error(401, None, "bearer token");
    assert_eq!(
        r.www_authenticate.as_deref(),
        Some("Bearer realm=\"scimd\""),
        "{what}"
    );
}

/// Any algorithm but HS256 as the server writes it: `alg: none` (with or without a kid or a
/// signature), RS256 over an HMAC, `hs256`, HS384, HS512 — 401.
async fn algorithm_other_than_hs256_is_401(backend: Backend) {
    let Forged {
        app, f, acme, good, ..
    } = forged(backend).await;
    let payload = b64(acme.to_string().as_bytes());
    let none = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    assert_refused(&app, &none, "alg none").await;
    let none_kid = format!(
        "{}.{payload}.",
        b64(json!({"alg": "none", "typ": "JWT", "kid": f.kid})
            .to_string()
            .as_bytes())
    );
    assert_refused(&app, &none_kid, "alg none with kid").await;
    let none_sig = format!(
        "{}.{payload}.{}",
        b64(br#"{"alg":"none"}"#),
        good.split('.').nth(2).unwrap()
    );
    assert_refused(&app, &none_sig, "alg none with a signature").await;
    let rs_hs = f.hs256_with_header(&json!({"alg": "RS256", "typ": "JWT", "kid": f.kid}), &acme);
    assert_refused(&app, &rs_hs, "RS256 header, HMAC signature").await;
    let lower = f.hs256_with_header(&json!({"alg": "hs256", "typ": "JWT", "kid": f.kid}), &acme);
    assert_refused(&app, &lower, "alg hs256 in lower case").await;
    assert_refused(
        &app,
        &f.sign(Algorithm::HS512, Some(&f.kid), &acme, &f.secret),
        "HS512",
    )
    .await;
    assert_refused(
        &app,
        &f.sign(Algorithm::HS384, Some(&f.kid), &acme, &f.secret),
        "HS384",
    )
    .await;
    assert_healthy(&app).await;
}

/// A kid that is unknown, missing, hostile or not a string: 401.
async fn unknown_or_missing_kid_is_401(backend: Backend) {
    let Forged { app, f, acme, .. } = forged(backend).await;
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some("no-such-kid"), &acme, &f.secret),
        "unknown kid",
    )
    .await;
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, None, &acme, &f.secret),
        "no kid",
    )
    .await;
    let odd_kid = f.hs256_with_header(
        &json!({"alg": "HS256", "kid": "x\u{0}'; DROP TABLE tokens; --"}),
        &acme,
    );
    assert_refused(&app, &odd_kid, "hostile kid").await;
    let kid_number = f.hs256_with_header(&json!({"alg": "HS256", "kid": 7}), &acme);
    assert_refused(&app, &kid_number, "kid not a string").await;
    assert_healthy(&app).await;
}

/// An audience that is another service's, a list without scimd, or none: 401.
async fn wrong_or_missing_audience_is_401(backend: Backend) {
    let Forged { app, f, acme, .. } = forged(backend).await;
    let claims = acme_with(&acme, |c| {
        c.insert("aud".into(), json!("another-service"));
    });
    assert_refused(&app, &f.genuine(&claims), "aud changed").await;
    let claims = acme_with(&acme, |c| {
        c.insert("aud".into(), json!(["another-service"]));
    });
    assert_refused(&app, &f.genuine(&claims), "aud list without scimd").await;
    let claims = acme_with(&acme, |c| {
        c.remove("aud");
    });
    assert_refused(&app, &f.genuine(&claims), "no aud").await;
    assert_healthy(&app).await;
}

/// An expiry that is missing, not a time, or past: 401.
async fn missing_bad_or_past_expiry_is_401(backend: Backend) {
    let Forged { app, f, acme, .. } = forged(backend).await;
    let claims = acme_with(&acme, |c| {
        c.remove("exp");
    });
    assert_refused(&app, &f.genuine(&claims), "no exp").await;
    for exp in [json!("never"), json!(null), json!(1e300), json!(-1)] {
        let claims = acme_with(&acme, |c| {
            c.insert("exp".into(), exp.clone());
        });
        assert_refused(&app, &f.genuine(&claims), &format!("exp {exp}")).await;
    }
    let claims = acme_with(&acme, |c| {
        c.insert("exp".into(), json!(chrono::Utc::now().timestamp() - 5));
    });
    assert_refused(&app, &f.genuine(&claims), "expired exp").await;
    assert_healthy(&app).await;
}

/// A jti of no live token (unknown, or with a NUL), or no tenant claim: 401.
async fn unknown_jti_or_missing_tenant_is_401(backend: Backend) {
    let Forged { app, f, acme, .. } = forged(backend).await;
    let claims = acme_with(&acme, |c| {
        c.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    });
    assert_refused(&app, &f.genuine(&claims), "unknown jti").await;
    let claims = acme_with(&acme, |c| {
        c.insert("jti".into(), json!("x\u{0}y"));
    });
    assert_refused(&app, &f.genuine(&claims), "jti with NUL").await;
    let claims = acme_with(&acme, |c| {
        c.remove("tenant");
    });
    assert_refused(&app, &f.genuine(&claims), "no tenant").await;
    assert_healthy(&app).await;
}

/// Signed with another key, or an empty one: 401.
async fn other_signing_key_is_401(backend: Backend) {
    let Forged { app, f, acme, .. } = forged(backend).await;
    let other_key = [7u8; 32];
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &acme, &other_key),
        "another key",
    )
    .await;
    assert_refused(
        &app,
        &f.sign(Algorithm::HS256, Some(&f.kid), &acme, b""),
        "empty key",
    )
    .await;
    assert_healthy(&app).await;
}

/// Another tenant: its genuine token, a forged one with its id, and a mix of both: 401.
async fn another_tenants_token_is_401(backend: Backend) {
    let Forged {
        app,
        f,
        globex_token,
        acme,
        ..
    } = forged(backend).await;
    assert_refused(&app, &globex_token, "globex's own token on acme").await;
    let globex = f.claims(&f.globex);
    assert_refused(&app, &f.genuine(&globex), "globex claims").await;
    let mut mixed = acme.clone();
    mixed["jti"] = json!(f.globex.1);
    assert_refused(&app, &f.genuine(&mixed), "acme tenant, globex jti").await;
    let mut mixed = globex.clone();
    mixed["jti"] = json!(f.acme.1);
    assert_refused(&app, &f.genuine(&mixed), "globex tenant, acme jti").await;
    assert_healthy(&app).await;
}

/// Shapes that are not JWTs at all: 401.
async fn token_that_is_not_a_jwt_is_401(backend: Backend) {
    let Forged { app, good, .. } = forged(backend).await;
    for junk in [
        "a.b.c",
        "..",
        "....",
        "eyJ.eyJ.eyJ",
        &"a".repeat(8000),
        &format!("{good}.extra"),
        &good.replace('.', ""),
    ] {
        assert_refused(&app, junk, "junk").await;
    }
    assert_healthy(&app).await;
}

/// Extremely long Authorization headers, and other headers as long: never a 5xx (the HTTP
/// layer may refuse them first), and the genuine token still works afterwards.
async fn long_authorization_header_is_never_5xx(backend: Backend) {
    let Forged { app, good, .. } = forged(backend).await;
    for len in [16 * 1024, 100 * 1024] {
        let long = format!("{good}{}", "A".repeat(len));
        let r = auth_status(&app, &long).await;
        assert!(
            matches!(r.status.as_u16(), 400 | 401 | 413 | 431),
            "{len}-byte token: {} {}",
            r.status,
            r.body
        );
        let long_h = raw_head(
            &app,
            "GET",
            b"/Users",
            &format!("X-Padding: {}\r\n", "p".repeat(len)),
        );
        let r = raw(&app, long_h, Vec::new()).await;
        assert!(r.status.as_u16() < 500, "{len}-byte header: {}", r.status);
    }
    auth_status(&app, &app.token).await.expect(200);
    assert_healthy(&app).await;
}

/// An unknown `kid` re-reads the signing keys at most once a second, not per request.
async fn forged_kids_do_not_reload_keys(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.rate_limit_address = 0).await;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("forged-kid".into());
    let claims =
        json!({"tenant": "x", "jti": "y", "iat": 0, "exp": 4_000_000_000i64, "aud": "scimd"});
    let forged =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(b"guess")).expect("jwt");
    let started = Instant::now();
    for _ in 0..200 {
        let r = app
            .send(
                "GET",
                &format!("{}/Users", app.tenant_url("acme")),
                Some(&forged),
                None,
            )
            .await;
        assert_eq!(r.status.as_u16(), 401);
    }
    let loads = app.state.service.keys.reloads();
    eprintln!(
        "200 forged-kid requests in {:?}: {loads} key reloads",
        started.elapsed()
    );
    assert!(loads <= 1 + started.elapsed().as_secs(), "{loads} reloads");
    app.scim("GET", "/Users", None).await.expect(200);
}

/// A client-chosen CSRF pair for the login form is refused.
async fn client_chosen_login_csrf_is_403(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let form = "csrf=chosen&username=alice&password=whatever";
    let resp = app
        .client
        .post(format!("{}/admin/login", app.base))
        .insert_header(("Cookie", "scimd_login_csrf=chosen"))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body(form)
        .await
        .expect("login");
    assert_eq!(resp.status().as_u16(), 403);
}

/// Every answer says `X-Content-Type-Options: nosniff`: health, pages and SCIM.
async fn every_answer_says_nosniff(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/healthz", "/admin", "/scim/v2/tenants/acme/Users"] {
        let resp = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("request");
        assert_eq!(
            resp.headers()
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff"),
            "{path}"
        );
    }
}

crate::helpers::backend_tests!(
    algorithm_other_than_hs256_is_401,
    unknown_or_missing_kid_is_401,
    wrong_or_missing_audience_is_401,
    missing_bad_or_past_expiry_is_401,
    unknown_jti_or_missing_tenant_is_401,
    other_signing_key_is_401,
    another_tenants_token_is_401,
    token_that_is_not_a_jwt_is_401,
    long_authorization_header_is_never_5xx,
    forged_kids_do_not_reload_keys,
    client_chosen_login_csrf_is_403,
    every_answer_says_nosniff,
);
