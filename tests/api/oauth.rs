//! OAuth 2.0 (issue 25): per-tenant clients made through `/api/v1`, the CLI and the page; the
//! token endpoint's client credentials grant with `client_secret_basic`, `client_secret_post`
//! and `private_key_jwt`; RFC 8414 metadata; access tokens that work where a Secret Token
//! works, for their tenant only, and die with their client on every instance; the
//! authorization-code grant with PKCE and rotating refresh tokens, approved on the page.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{backend_tests, Backend, CookieClient, Reply, TestApp};

/// An API key of the operator, made through the service.
async fn operator_key(app: &TestApp) -> String {
    scimd::service::api_keys::create_api_key(&app.state.service, None, "host app")
        .await
        .expect("api key")
        .0
}

async fn api(app: &TestApp, method: &str, path: &str, key: &str, body: Option<Value>) -> Reply {
    let url = format!("{}/api/v1{path}", app.base);
    app.send(method, &url, Some(key), body.as_ref()).await
}

/// A client of acme made through the API: its JSON (with `clientSecret`).
async fn make_client(app: &TestApp, key: &str, body: Value) -> Value {
    api(app, "POST", "/tenants/acme/oauth-clients", key, Some(body))
        .await
        .expect(201)
        .body
}

/// POST a form to the token endpoint at `base`, with an optional Basic header.
async fn token_request(base: &str, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> Reply {
    let client = awc::Client::default();
    let mut req = client
        .post(format!("{base}/oauth/token"))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"));
    if let Some((id, secret)) = basic {
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        req = req.insert_header(("Authorization", format!("Basic {pair}")));
    }
    let mut resp = req
        .send_body(serde_urlencoded::to_string(form).expect("form"))
        .await
        .expect("token request");
    // RFC 6749 §5.1, §5.2: no answer of the token endpoint may be cached.
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let bytes = resp.body().await.expect("body");
    Reply::of(resp.status().as_u16(), resp.headers(), &bytes)
}

/// An access token by the client credentials grant with HTTP Basic.
async fn client_token(base: &str, client_id: &str, secret: &str) -> String {
    let r = token_request(
        base,
        Some((client_id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .expect(200);
    r.body["access_token"].as_str().expect("token").to_string()
}

/// The status of a SCIM GET on `slug` at `base` with this bearer token.
async fn scim_status(app: &TestApp, base: &str, slug: &str, token: &str) -> u16 {
    let url = format!("{base}/scim/v2/tenants/{slug}/Users?count=1");
    app.send("GET", &url, Some(token), None)
        .await
        .status
        .as_u16()
}

/// An `/api/v1` error with this status whose message mentions `needle`.
fn expect_api_error(r: Reply, status: u16, needle: &str) {
    let r = r.expect(status);
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
}

fn assert_oauth_error(r: &Reply, status: u16, error: &str, needle: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.body["error"], error, "{}", r.body);
    let description = r.body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(needle),
        "{description:?} should mention {needle:?}"
    );
}

/// The whole client-credentials path as Entra's "OAuth2 Client Credentials Grant" uses it.
async fn client_credentials_grant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let globex_token = app.add_tenant("globex");
    let key = operator_key(&app).await;
    let made = make_client(&app, &key, json!({"label": "Entra production"})).await;
    let (client_id, secret) = (
        made["clientId"].as_str().expect("clientId"),
        made["clientSecret"].as_str().expect("clientSecret"),
    );
    assert_eq!(made["tokenEndpoint"], format!("{}/oauth/token", app.base));
    assert!(made["id"].is_string(), "{made}");
    // Listed without the secret.
    let list = api(&app, "GET", "/tenants/acme/oauth-clients", &key, None)
        .await
        .expect(200);
    assert_eq!(list.body["oauthClients"][0]["clientId"], client_id);
    assert!(
        !list.body.to_string().contains(secret),
        "secret never shown again"
    );
    // A tenant key of globex learns nothing of acme's clients.
    let globex_key =
        scimd::service::api_keys::create_api_key(&app.state.service, Some("globex"), "g")
            .await
            .expect("key")
            .0;
    api(
        &app,
        "GET",
        "/tenants/acme/oauth-clients",
        &globex_key,
        None,
    )
    .await
    .expect(404);

    // RFC 8414 metadata.
    let meta = app
        .send(
            "GET",
            &format!("{}/.well-known/oauth-authorization-server", app.base),
            None,
            None,
        )
        .await
        .expect(200);
    assert_eq!(meta.body["issuer"], app.base);
    assert_eq!(
        meta.body["token_endpoint"],
        format!("{}/oauth/token", app.base)
    );
    for grant in ["client_credentials", "authorization_code", "refresh_token"] {
        assert!(
            meta.body["grant_types_supported"]
                .as_array()
                .expect("grants")
                .contains(&json!(grant)),
            "{grant}"
        );
    }
    for method in [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ] {
        assert!(
            meta.body["token_endpoint_auth_methods_supported"]
                .as_array()
                .expect("methods")
                .contains(&json!(method)),
            "{method}"
        );
    }

    // client_secret_basic.
    let r = token_request(
        &app.base,
        Some((client_id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .expect(200);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3600);
    let access = r.body["access_token"].as_str().expect("token").to_string();
    // It works where a Secret Token works, for its tenant only.
    assert_eq!(scim_status(&app, &app.base, "acme", &access).await, 200);
    let created = app
        .send(
            "POST",
            &format!("{}/Users", app.tenant_url("acme")),
            Some(&access),
            Some(&crate::helpers::user_body(
                "oauth.user",
                "oauth.user@acme.example",
            )),
        )
        .await
        .expect(201);
    assert!(created.body["id"].is_string());
    assert_eq!(scim_status(&app, &app.base, "globex", &access).await, 401);
    assert_eq!(
        scim_status(&app, &app.base, "globex", &globex_token).await,
        200
    );
    // Access tokens are not listed among the Secret Tokens.
    let tokens = api(&app, "GET", "/tenants/acme/tokens", &key, None)
        .await
        .expect(200);
    assert_eq!(
        tokens.body["tokens"].as_array().map(Vec::len),
        Some(1),
        "{}",
        tokens.body
    );

    // client_secret_post.
    let r = token_request(
        &app.base,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ],
    )
    .await
    .expect(200);
    let posted = r.body["access_token"].as_str().expect("token");
    assert_eq!(scim_status(&app, &app.base, "acme", posted).await, 200);

    // RFC 6749 §5.2 errors.
    let wrong = token_request(
        &app.base,
        Some((client_id, "scimd_cs_wrong")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&wrong, 401, "invalid_client", "wrong secret");
    assert!(wrong.www_authenticate.is_some());
    let unknown = token_request(
        &app.base,
        Some(("scimd-nobody", secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&unknown, 401, "invalid_client", "unknown client");
    assert_oauth_error(
        &token_request(
            &app.base,
            Some((client_id, secret)),
            &[("grant_type", "password")],
        )
        .await,
        400,
        "unsupported_grant_type",
        "password",
    );
    assert_oauth_error(
        &token_request(&app.base, Some((client_id, secret)), &[]).await,
        400,
        "invalid_request",
        "grant_type is required",
    );
    assert_oauth_error(
        &token_request(
            &app.base,
            Some((client_id, secret)),
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", secret),
            ],
        )
        .await,
        400,
        "invalid_request",
        "one client authentication method",
    );
    assert_oauth_error(
        &token_request(&app.base, None, &[("grant_type", "client_credentials")]).await,
        401,
        "invalid_client",
        "no client authentication",
    );
    // A JSON body is not the form RFC 6749 asks for.
    let json_body = app
        .send(
            "POST",
            &format!("{}/oauth/token", app.base),
            None,
            Some(&json!({"grant_type": "client_credentials"})),
        )
        .await;
    assert_oauth_error(&json_body, 400, "invalid_request", "x-www-form-urlencoded");

    // ServiceProviderConfig names both schemes.
    let spc = app
        .scim("GET", "/ServiceProviderConfig", None)
        .await
        .expect(200);
    let types: Vec<&str> = spc.body["authenticationSchemes"]
        .as_array()
        .expect("schemes")
        .iter()
        .filter_map(|s| s["type"].as_str())
        .collect();
    assert_eq!(types, ["oauthbearertoken", "oauth2"]);
}

/// A second secret for rotation; removing the old one leaves its tokens; revoking the client
/// ends every token it obtained, at once here and within a second on another instance.
async fn rotation_and_revocation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sibling = app.spawn_sibling(|_| {}).await;
    let key = operator_key(&app).await;
    let made = make_client(&app, &key, json!({"label": "Okta"})).await;
    let (id, client_id) = (
        made["id"].as_str().expect("id").to_string(),
        made["clientId"].as_str().expect("clientId").to_string(),
    );
    let first = made["clientSecret"].as_str().expect("secret").to_string();
    let first_secret_id = made["secrets"][0]["id"]
        .as_str()
        .expect("secret id")
        .to_string();
    let second = api(
        &app,
        "POST",
        &format!("/tenants/acme/oauth-clients/{id}/secrets"),
        &key,
        None,
    )
    .await
    .expect(201);
    let second_secret = second.body["clientSecret"]
        .as_str()
        .expect("secret")
        .to_string();
    // Both work during the rotation; a third is refused.
    let old_token = client_token(&app.base, &client_id, &first).await;
    client_token(&app.base, &client_id, &second_secret).await;
    let third = api(
        &app,
        "POST",
        &format!("/tenants/acme/oauth-clients/{id}/secrets"),
        &key,
        None,
    )
    .await;
    expect_api_error(third, 409, "at most 2");
    // The old secret removed: refused; its token lives on until it expires.
    api(
        &app,
        "DELETE",
        &format!("/tenants/acme/oauth-clients/{id}/secrets/{first_secret_id}"),
        &key,
        None,
    )
    .await
    .expect(204);
    let refused = token_request(
        &app.base,
        Some((&client_id, &first)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&refused, 401, "invalid_client", "wrong secret");
    assert_eq!(scim_status(&app, &app.base, "acme", &old_token).await, 200);
    let token = client_token(&app.base, &client_id, &second_secret).await;
    // Both instances accept it (and have read its record).
    assert_eq!(scim_status(&app, &sibling, "acme", &token).await, 200);
    assert_eq!(scim_status(&app, &sibling, "acme", &old_token).await, 200);

    // Revoking the client: every token it obtained stops, here at once.
    api(
        &app,
        "DELETE",
        &format!("/tenants/acme/oauth-clients/{id}"),
        &key,
        None,
    )
    .await
    .expect(204);
    assert_eq!(scim_status(&app, &app.base, "acme", &token).await, 401);
    assert_eq!(scim_status(&app, &app.base, "acme", &old_token).await, 401);
    let started = Instant::now();
    loop {
        let (a, b) = (
            scim_status(&app, &sibling, "acme", &token).await,
            scim_status(&app, &sibling, "acme", &old_token).await,
        );
        if a == 401 && b == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "the sibling still accepts the revoked client's tokens: {a} {b}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "sibling refused the revoked client's tokens after {:?}",
        started.elapsed()
    );
    let after = token_request(
        &sibling,
        Some((&client_id, &second_secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&after, 401, "invalid_client", "revoked");
    let shown = api(
        &app,
        "GET",
        &format!("/tenants/acme/oauth-clients/{id}"),
        &key,
        None,
    )
    .await
    .expect(200);
    assert_eq!(shown.body["revoked"], true);
    // The Secret Token of the tenant is untouched.
    assert_eq!(scim_status(&app, &app.base, "acme", &app.token).await, 200);
}

/// An ES256 key pair: (PKCS#8 DER of the private key, the public JWK).
fn es256_key(kid: &str) -> (Vec<u8>, Value) {
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("pair");
    let public = pair.public_key().as_ref();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
        "x": b64(&public[1..33]), "y": b64(&public[33..65]),
    });
    (pkcs8.as_ref().to_vec(), jwk)
}

fn assertion(der: &[u8], kid: &str, claims: Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(der),
    )
    .expect("sign")
}

/// `private_key_jwt` (RFC 7523) as the IPSIE SCIM profile asks: a key registered on the client,
/// an assertion accepted once, with the token endpoint as its audience.
async fn private_key_jwt(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = operator_key(&app).await;
    let (der, jwk) = es256_key("k1");
    // A private key is refused at registration.
    let mut private = jwk.clone();
    private["d"] = json!("c2VjcmV0");
    let refused = api(
        &app,
        "POST",
        "/tenants/acme/oauth-clients",
        &key,
        Some(json!({"label": "IPSIE", "jwks": {"keys": [private]}})),
    )
    .await;
    expect_api_error(refused, 400, "private key");
    let made = make_client(
        &app,
        &key,
        json!({"label": "IPSIE", "jwks": {"keys": [jwk]}}),
    )
    .await;
    let client_id = made["clientId"].as_str().expect("clientId");
    let now = chrono::Utc::now().timestamp();
    let audience = format!("{}/oauth/token", app.base);
    let claims = |jti: &str, aud: &str, exp: i64| json!({"iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "iat": now, "exp": exp});
    let signed = assertion(&der, "k1", claims("a-1", &audience, now + 60));
    let form = |a: &str| {
        vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            (
                "client_assertion_type".to_string(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion".to_string(), a.to_string()),
        ]
    };
    let send = |a: String| {
        let base = app.base.clone();
        async move {
            let f = form(&a);
            let pairs: Vec<(&str, &str)> =
                f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            token_request(&base, None, &pairs).await
        }
    };
    let r = send(signed.clone()).await.expect(200);
    let access = r.body["access_token"].as_str().expect("token");
    assert_eq!(scim_status(&app, &app.base, "acme", access).await, 200);
    // Once only.
    assert_oauth_error(&send(signed).await, 401, "invalid_client", "already used");
    // The wrong audience, an expired one, another key.
    assert_oauth_error(
        &send(assertion(
            &der,
            "k1",
            claims("a-2", "https://elsewhere.example/token", now + 60),
        ))
        .await,
        401,
        "invalid_client",
        "aud",
    );
    assert_oauth_error(
        &send(assertion(&der, "k1", claims("a-3", &audience, now - 120))).await,
        401,
        "invalid_client",
        "expired",
    );
    let (other_der, _) = es256_key("k1");
    assert_oauth_error(
        &send(assertion(
            &other_der,
            "k1",
            claims("a-4", &audience, now + 60),
        ))
        .await,
        401,
        "invalid_client",
        "signature",
    );
    assert_oauth_error(
        &send(assertion(&der, "k1", claims("a-5", &audience, now + 3600))).await,
        401,
        "invalid_client",
        "too long",
    );
}

/// `scimd oauth-client create` prints a client whose secret gets a token.
async fn cli_makes_a_client(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let out = app
        .cli()
        .ok(&["oauth-client", "create", "acme", "--label", "Entra"]);
    let secret = out.lines().last().expect("secret line").trim().to_string();
    let client_id = out
        .lines()
        .find_map(|l| l.strip_prefix("Client id:"))
        .expect("client id line")
        .trim()
        .to_string();
    assert!(out.contains("/oauth/token"), "{out}");
    let token = client_token(&app.base, &client_id, &secret).await;
    assert_eq!(scim_status(&app, &app.base, "acme", &token).await, 200);
    let listed = app.cli().ok(&["oauth-client", "list", "acme"]);
    assert!(listed.contains(&client_id), "{listed}");
}

backend_tests!(
    client_credentials_grant,
    rotation_and_revocation,
    private_key_jwt,
    cli_makes_a_client
);

/// The query parameters of a redirect's `Location`.
fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    serde_urlencoded::from_str(query).expect("query")
}

const CALLBACK: &str = "https://okta.example/admin/app/cpc/scimd/oauth/callback";

/// Walk a logged-in browser through an authorization request and press `decision`: the
/// `Location` the browser is sent to.
async fn decide(browser: &mut CookieClient, query: &str, decision: &str) -> String {
    let door = browser.get(&format!("/oauth/authorize?{query}")).await;
    assert_eq!(door.status, 200, "{}", door.body);
    let next = format!("/admin/authorize?{query}");
    assert!(
        door.body.contains(&next.replace('&', "&amp;")),
        "the door sends the browser on to {next}: {}",
        door.body
    );
    let page = browser.get(&next).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Okta production"), "{}", page.body);
    let mut form: Vec<(String, String)> = serde_urlencoded::from_str(query).expect("query");
    form.push(("csrf".into(), page.csrf()));
    form.push(("decision".into(), decision.into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let answer = browser.post("/admin/authorize", &pairs).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    answer.location.expect("location")
}

/// Okta's "OAuth 2" mode: the authorization-code grant with PKCE, approved by the tenant's
/// admin on the page; refresh tokens rotate, a replayed one revokes the grant; revoking the
/// approval on the page ends its tokens.
async fn authorization_code_grant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_tenant("globex");
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    app.create_admin(Some("globex"), "gina", "correct horse battery");
    let key = operator_key(&app).await;
    let made = make_client(
        &app,
        &key,
        json!({"label": "Okta production", "redirectUris": [CALLBACK]}),
    )
    .await;
    let client_id = made["clientId"].as_str().expect("clientId").to_string();
    let secret = made["clientSecret"].as_str().expect("secret").to_string();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
    let query = |state: &str| {
        serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", CALLBACK),
            ("state", state),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .expect("query")
    };
    let exchange = |code: String, verifier: &'static str| {
        let (base, client_id, secret) = (app.base.clone(), client_id.clone(), secret.clone());
        async move {
            token_request(
                &base,
                Some((&client_id, &secret)),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", CALLBACK),
                    ("code_verifier", verifier),
                ],
            )
            .await
        }
    };
    let refresh = |token: String| {
        let (base, client_id, secret) = (app.base.clone(), client_id.clone(), secret.clone());
        async move {
            token_request(
                &base,
                Some((&client_id, &secret)),
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
            )
            .await
        }
    };

    // Not logged in: the login form, which comes back to the request.
    let mut browser = app.cookies();
    let login = browser
        .get(&format!("/admin/authorize?{}", query("s0")))
        .await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("name=\"next\""), "{}", login.body);
    let csrf = login.csrf();
    let next = format!("/admin/authorize?{}", query("s0"));
    let logged = browser
        .post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "correct horse battery"),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(logged.status, 303, "{}", logged.body);
    assert_eq!(logged.location.as_deref(), Some(next.as_str()));
    // A login never sends the browser to another site.
    let mut other = app.cookies();
    let csrf = other.get("/admin").await.csrf();
    let elsewhere = other
        .post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "correct horse battery"),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(elsewhere.location.as_deref(), Some("/admin"));

    // Approve: back to the client with a code, the state and the issuer.
    let location = decide(&mut browser, &query("s1"), "approve").await;
    assert!(location.starts_with(CALLBACK), "{location}");
    let params = query_of(&location);
    assert_eq!(params["state"], "s1");
    assert_eq!(params["iss"], app.base);
    let granted = exchange(params["code"].clone(), verifier).await.expect(200);
    let access = granted.body["access_token"]
        .as_str()
        .expect("access")
        .to_string();
    let first_refresh = granted.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    assert_eq!(scim_status(&app, &app.base, "acme", &access).await, 200);
    assert_eq!(scim_status(&app, &app.base, "globex", &access).await, 401);
    // The refresh token rotates.
    let rotated = refresh(first_refresh.clone()).await.expect(200);
    let second_access = rotated.body["access_token"]
        .as_str()
        .expect("access")
        .to_string();
    let second_refresh = rotated.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(
        scim_status(&app, &app.base, "acme", &second_access).await,
        200
    );
    // The old one used again: someone holds a copy; the grant is revoked with its tokens.
    assert_oauth_error(
        &refresh(first_refresh).await,
        400,
        "invalid_grant",
        "already used",
    );
    assert_eq!(
        scim_status(&app, &app.base, "acme", &second_access).await,
        401
    );
    assert_eq!(scim_status(&app, &app.base, "acme", &access).await, 401);
    assert_oauth_error(
        &refresh(second_refresh).await,
        400,
        "invalid_grant",
        "revoked",
    );

    // PKCE: the wrong verifier gets nothing.
    let location = decide(&mut browser, &query("s2"), "approve").await;
    let wrong = exchange(
        query_of(&location)["code"].clone(),
        "not-the-verifier-not-the-verifier-not-the-verifier",
    )
    .await;
    assert_oauth_error(&wrong, 400, "invalid_grant", "code_verifier");

    // Deny: back to the client with access_denied.
    let location = decide(&mut browser, &query("s3"), "deny").await;
    let params = query_of(&location);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "s3");

    // Revoking the approval on the tenant's page ends its tokens.
    let location = decide(&mut browser, &query("s4"), "approve").await;
    let granted = exchange(query_of(&location)["code"].clone(), verifier)
        .await
        .expect(200);
    let access = granted.body["access_token"]
        .as_str()
        .expect("access")
        .to_string();
    let refresh_token = granted.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    assert_eq!(scim_status(&app, &app.base, "acme", &access).await, 200);
    let page = browser.get("/admin/t/acme").await;
    assert!(page.body.contains("approved by alice"), "{}", page.body);
    let grant_id = page
        .body
        .split("/oauth-grants/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a live grant")
        .to_string();
    let revoked = browser
        .post(
            &format!("/admin/t/acme/oauth-grants/{grant_id}/revoke"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(scim_status(&app, &app.base, "acme", &access).await, 401);
    assert_oauth_error(
        &refresh(refresh_token).await,
        400,
        "invalid_grant",
        "revoked",
    );

    // A redirect URI the client did not register: a page, never a redirect.
    let bad = browser
        .get(&format!(
            "/admin/authorize?response_type=code&client_id={client_id}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&state=x"
        ))
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.location.is_none());
    assert!(bad.body.contains("not registered"), "{}", bad.body);
    // An admin of another tenant cannot approve acme's client.
    let mut gina = app.cookies();
    gina.login("gina", "correct horse battery").await;
    let theirs = gina.get(&format!("/admin/authorize?{}", query("s5"))).await;
    assert_eq!(theirs.status, 403, "{}", theirs.body);
}

/// The page makes a client and shows its secret once; a second secret; revoke.
async fn clients_on_the_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let mut browser = app.cookies();
    browser.login("alice", "correct horse battery").await;
    let page = browser.get("/admin/t/acme").await;
    assert!(page.body.contains("id=\"oauth-clients\""), "{}", page.body);
    let made = browser
        .post(
            "/admin/t/acme/oauth-clients",
            &[
                ("csrf", &page.csrf()),
                ("label", "Entra OAuth"),
                ("redirect_uri", ""),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let client_id = made.text_of("new-client-id").expect("client id shown");
    let secret = made.text_of("new-client-secret").expect("secret shown");
    let token = client_token(&app.base, &client_id, &secret).await;
    assert_eq!(scim_status(&app, &app.base, "acme", &token).await, 200);
    // Shown once.
    let again = browser.get("/admin/t/acme").await;
    assert!(!again.body.contains(&secret));
    assert!(again.body.contains(&client_id));
    let id = again
        .body
        .split("/oauth-clients/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("client row")
        .to_string();
    let second = browser
        .post(
            &format!("/admin/t/acme/oauth-clients/{id}/secrets"),
            &[("csrf", &again.csrf())],
        )
        .await;
    let second_secret = second.text_of("new-client-secret").expect("second secret");
    client_token(&app.base, &client_id, &second_secret).await;
    let revoked = browser
        .post(
            &format!("/admin/t/acme/oauth-clients/{id}/revoke"),
            &[("csrf", &second.csrf())],
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(scim_status(&app, &app.base, "acme", &token).await, 401);
    // A forged CSRF token makes nothing.
    let forged = browser
        .post(
            "/admin/t/acme/oauth-clients",
            &[("csrf", "forged"), ("label", "x")],
        )
        .await;
    assert_eq!(forged.status, 403);
}

backend_tests!(authorization_code_grant, clients_on_the_page);

/// What one tenant's OAuth client can make scimd hold or do is bounded, and another tenant is
/// unaffected: wrong secrets are throttled per address (valid requests from the same address
/// are not), a client's token requests count in its tenant's budget, and a client holds at
/// most 50 live access tokens (asking more revokes its oldest).
async fn one_tenants_client_does_its_worst(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limit_address = 20;
        s.rate_limit_tenant = 40;
    })
    .await;
    let globex_token = app.add_tenant("globex");
    let key = operator_key(&app).await;
    let acme = make_client(&app, &key, json!({"label": "acme"})).await;
    let globex = api(
        &app,
        "POST",
        "/tenants/globex/oauth-clients",
        &key,
        Some(json!({"label": "globex"})),
    )
    .await
    .expect(201)
    .body;
    let (acme_id, acme_secret) = (
        acme["clientId"].as_str().expect("id").to_string(),
        acme["clientSecret"].as_str().expect("secret").to_string(),
    );
    let (globex_id, globex_secret) = (
        globex["clientId"].as_str().expect("id").to_string(),
        globex["clientSecret"].as_str().expect("secret").to_string(),
    );
    // A flood of wrong secrets: 429 once the address failed too often.
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..100 {
        let r = token_request(
            &app.base,
            Some((&acme_id, "scimd_cs_guess")),
            &[("grant_type", "client_credentials")],
        )
        .await;
        *statuses.entry(r.status.as_u16()).or_insert(0) += 1;
        if r.status.as_u16() == 429 {
            assert!(r.retry_after.is_some(), "{}", r.body);
        }
    }
    assert!(statuses.get(&429).copied().unwrap_or(0) > 50, "{statuses:?}");
    // acme's own client asks for tokens as fast as it can: its tenant's budget runs out.
    let mut acme_statuses = std::collections::BTreeMap::new();
    let mut last = None;
    for _ in 0..120 {
        let r = token_request(
            &app.base,
            Some((&acme_id, &acme_secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
        *acme_statuses.entry(r.status.as_u16()).or_insert(0) += 1;
        if r.status.as_u16() == 200 {
            last = r.body["access_token"].as_str().map(str::to_string);
        }
    }
    eprintln!("wrong secrets: {statuses:?}; acme's token requests: {acme_statuses:?}");
    assert!(acme_statuses.get(&429).copied().unwrap_or(0) > 0, "{acme_statuses:?}");
    // Meanwhile globex gets its token and provisions.
    let globex_access = client_token(&app.base, &globex_id, &globex_secret).await;
    assert_eq!(scim_status(&app, &app.base, "globex", &globex_access).await, 200);
    assert_eq!(scim_status(&app, &app.base, "globex", &globex_token).await, 200);
    let last = last.expect("some acme token");
    // acme's client holds at most 50 live access tokens; the newest works.
    let acme_ref = acme["id"].as_str().expect("ref").to_string();
    let live: i64 = app
        .state
        .service
        .store
        .read_blocking(move |conn| {
            use diesel::prelude::*;
            use scimd::store::schema::tokens;
            tokens::table
                .filter(tokens::oauth_client.eq(&acme_ref))
                .filter(tokens::revoked_at.is_null())
                .count()
                .get_result::<i64>(conn)
                .map_err(scimd::store::StoreError::from)
        })
        .expect("count");
    let issued = acme_statuses.get(&200).copied().unwrap_or(0);
    assert_eq!(live, issued.min(50) as i64, "{acme_statuses:?}");
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(scim_status(&app, &app.base, "acme", &last).await, 200);
}

backend_tests!(one_tenants_client_does_its_worst);
