//! Bearer-token authentication and tenant isolation.

use crate::helpers::{user_body, Backend, TestApp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use scimd::store::tokens::{self as token_store, TokenRecord};

async fn assert_401(app: &TestApp, token: Option<&str>) {
    let url = format!(
        "{}/Users?filter=userName+eq+%22x%22",
        app.tenant_url("acme")
    );
    let r = app
        .send("GET", &url, token, None)
        .await
        .expect_error(401, None, "bearer token");
    assert_eq!(
        r.www_authenticate.as_deref(),
        Some("Bearer realm=\"scimd\"")
    );
}

/// Missing, malformed, tampered and `alg: none` tokens get 401 with WWW-Authenticate.
async fn bad_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_401(&app, None).await;
    assert_401(&app, Some("not-a-jwt")).await;
    // Flip a character of the signature.
    let mut tampered = app.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_401(&app, Some(&tampered)).await;
    // Same claims, no signature.
    let parts: Vec<&str> = app.token.split('.').collect();
    let none_header = base64_url(r#"{"alg":"none","typ":"JWT"}"#);
    assert_401(&app, Some(&format!("{none_header}.{}.", parts[1]))).await;
    // A Basic scheme is not a bearer token.
    let url = format!("{}/Users", app.tenant_url("acme"));
    let r = app
        .client
        .get(&url)
        .insert_header(("Authorization", format!("Basic {}", app.token)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

fn base64_url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// A token past its expiry gets 401, even though its signature is good.
async fn expired_token_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = chrono::Utc::now().timestamp_millis();
    let (jwt, jti) = app
        .state
        .service
        .store
        .write_blocking(|conn| {
            let tenant = scimd::store::tenants::find_tenant_by_slug(conn, "acme")?.unwrap();
            let key = token_store::list_signing_keys(conn)?.remove(0);
            let jti = uuid::Uuid::new_v4().to_string();
            token_store::insert_token(
                conn,
                &TokenRecord {
                    jti: jti.clone(),
                    tenant_id: tenant.id.clone(),
                    label: "old".into(),
                    created_at: now - 10_000_000,
                    expires_at: now - 60_000,
                    revoked_at: None,
                    last_used_at: None,
                    oauth_client: None,
                    oauth_grant: None,
                },
            )?;
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(key.kid.clone());
            use base64::Engine;
            let secret = base64::engine::general_purpose::STANDARD
                .decode(&key.secret)
                .unwrap();
            let claims = scimd::auth::tokens::Claims {
                tenant: tenant.id,
                jti: jti.clone(),
                iat: (now - 10_000_000) / 1000,
                exp: (now - 60_000) / 1000,
                aud: "scimd".into(),
            };
            let jwt =
                jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
            Ok::<_, scimd::store::StoreError>((jwt, jti))
        })
        .unwrap();
    assert!(!jti.is_empty());
    assert_401(&app, Some(&jwt)).await;
}

/// A revoked token is refused on the very next request; other tokens keep working.
async fn revoked_token_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let second = app
        .state
        .service
        .store
        .write_blocking(|conn| {
            let tenant = scimd::store::tenants::find_tenant_by_slug(conn, "acme")?.expect("tenant");
            app.state.service.keys.issue(conn, &tenant, 30, "rotation")
        })
        .unwrap();
    app.filter_users("userName eq \"x\"").await.expect(200);
    let first_jti = app
        .state
        .service
        .store
        .read_blocking(|conn| {
            let tenant = scimd::store::tenants::find_tenant_by_slug(conn, "acme")?.expect("tenant");
            scimd::store::tokens::list_tokens(conn, &tenant.id)
        })
        .unwrap()
        .into_iter()
        .find(|t| t.label == "test")
        .unwrap()
        .jti;
    app.state
        .service
        .store
        .write_blocking(|conn| scimd::store::tokens::revoke_token(conn, &first_jti, None))
        .unwrap();
    // Revoked in the database behind this instance's back (as the CLI or another instance
    // does): refused within a second (records are re-read once a second).
    let refused_by = std::time::Instant::now() + app.state.service.store.recheck_interval();
    loop {
        let url = format!(
            "{}/Users?filter=userName+eq+%22x%22",
            app.tenant_url("acme")
        );
        let r = app.send("GET", &url, Some(&app.token), None).await;
        if r.status.as_u16() == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < refused_by,
            "a revoked token still works: {}",
            r.status
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_401(&app, Some(&app.token)).await;
    let url = format!(
        "{}/Users?filter=userName+eq+%22x%22",
        app.tenant_url("acme")
    );
    app.send("GET", &url, Some(&second.0), None)
        .await
        .expect(200);
    // last_used_at was recorded for the token that was used.
    let used = app
        .state
        .service
        .store
        .read_blocking(|conn| token_store::find_token(conn, &second.1.jti))
        .unwrap()
        .unwrap();
    assert!(used.last_used_at.is_some());
}

/// A token of tenant B neither reads nor writes tenant A; each tenant sees only its users,
/// and the same userName and mail may exist in both.
async fn tenants_are_isolated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.add_tenant("globex");
    let id = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;

    // B's token on A's URL: 401 for read and write.
    let a_users = format!("{}/Users", app.tenant_url("acme"));
    app.send("GET", &format!("{a_users}/{id}"), Some(&other), None)
        .await
        .expect(401);
    app.send(
        "POST",
        &a_users,
        Some(&other),
        Some(&user_body("bob@contoso.com", "bob@contoso.com")),
    )
    .await
    .expect(401);
    // A's user is invisible through B's URL.
    let b_users = format!("{}/Users", app.tenant_url("globex"));
    app.send("GET", &format!("{b_users}/{id}"), Some(&other), None)
        .await
        .expect(404);
    let list = app
        .send("GET", &b_users, Some(&other), None)
        .await
        .expect(200);
    assert_eq!(list.body["totalResults"], 0);
    // The same identity may be provisioned into B.
    let r = app
        .send(
            "POST",
            &b_users,
            Some(&other),
            Some(&user_body("alice@contoso.com", "alice@contoso.com")),
        )
        .await
        .expect(201);
    assert_ne!(r.body["id"], id.as_str());
    // B cannot delete A's user.
    app.send("DELETE", &format!("{b_users}/{id}"), Some(&other), None)
        .await
        .expect(404);
    app.scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    // Unknown tenant: 401, not a hint that it does not exist.
    let url = format!("{}/Users", app.tenant_url("nope"));
    app.send("GET", &url, Some(&app.token), None)
        .await
        .expect(401);
}

/// Without a valid token every request is a 401, whatever else is wrong with it: a bad
/// projection, a body that is not JSON, an unsupported media type, a method or an endpoint
/// that does not exist. The stranger learns nothing else, and nothing is logged for the tenant.
async fn authentication_comes_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let base = app.tenant_url("acme");
    let cases = [
        ("POST", format!("{base}/Users?attributes=%22"), "text/plain"),
        (
            "PATCH",
            format!("{base}/Users/nope?excludedAttributes=a[b"),
            "application/scim+json",
        ),
        (
            "PUT",
            format!("{base}/Groups/nope"),
            "application/scim+json",
        ),
        ("POST", format!("{base}/.search"), "application/scim+json"),
        ("DELETE", format!("{base}/Users"), "application/scim+json"),
        ("GET", format!("{base}/Nope"), "application/scim+json"),
    ];
    for (method, url, content_type) in cases {
        for token in [None, Some("not-a-jwt")] {
            let mut req = app
                .client
                .request(
                    awc::http::Method::from_bytes(method.as_bytes()).unwrap(),
                    &url,
                )
                .insert_header(("Content-Type", content_type));
            if let Some(token) = token {
                req = req.insert_header(("Authorization", format!("Bearer {token}")));
            }
            let mut r = req.send_body("{not json").await.unwrap();
            let body = r.body().await.unwrap();
            assert_eq!(
                r.status().as_u16(),
                401,
                "{method} {url}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    // With the token, the same requests meet their own faults.
    app.scim("GET", "/Nope", None)
        .await
        .expect_error(404, None, "no such endpoint");
    let r = app
        .client
        .post(format!("{base}/Users?attributes=%22"))
        .insert_header(("Authorization", format!("Bearer {}", app.token)))
        .insert_header(("Content-Type", "application/scim+json"))
        .send_body("{not json")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

crate::helpers::backend_tests!(
    authentication_comes_first,
    bad_tokens_are_refused,
    expired_token_is_refused,
    revoked_token_is_refused,
    tenants_are_isolated
);
