//! What every route of the token page checks before it does anything (issue 24): a page
//! without a live session goes to the login form, a form whose CSRF token is missing or
//! forged is 403 whatever it would have done, an operator's page is 404 for anyone else; and
//! the deprecated password feed refuses credentials in the shape it always had.

use crate::helpers::{Backend, CookieClient, Page, TestApp};

/// Every form of the page, as (path, fields besides `csrf`). The ids need not exist: the
/// checks come before any lookup.
const FORMS: &[(&str, &[(&str, &str)])] = &[
    ("/admin/logout", &[]),
    ("/admin/tenants", &[("slug", "evil"), ("name", "Evil")]),
    ("/admin/api-keys", &[("label", "evil")]),
    ("/admin/api-keys/nope/revoke", &[]),
    ("/admin/webhooks/nope/enable", &[]),
    ("/admin/webhooks/nope/deliveries/1/replay", &[]),
    ("/admin/t/acme/tokens", &[("days", "30"), ("label", "evil")]),
    ("/admin/t/acme/tokens/nope/revoke", &[]),
    (
        "/admin/t/acme/fields",
        &[("name", "evil"), ("field_type", "string")],
    ),
    ("/admin/t/acme/setup-links", &[("days", "2")]),
    ("/admin/t/acme/setup-links/nope/revoke", &[]),
    ("/admin/t/acme/identity-provider", &[("provider", "okta")]),
    ("/admin/t/acme/oauth-clients", &[("label", "evil")]),
    ("/admin/t/acme/oauth-clients/nope/secrets", &[]),
    ("/admin/t/acme/oauth-clients/nope/secrets/nope/revoke", &[]),
    ("/admin/t/acme/oauth-clients/nope/revoke", &[]),
    ("/admin/t/acme/oauth-grants/nope/revoke", &[]),
    (
        "/admin/t/acme/role-mappings/rules",
        &[("kind", "idpRole"), ("value", "Evil"), ("role", "evil")],
    ),
    (
        "/admin/t/acme/role-mappings/rules/remove",
        &[("kind", "idpRole"), ("value", "Evil"), ("role", "evil")],
    ),
    ("/admin/t/acme/role-mappings/default", &[("role", "evil")]),
    (
        "/admin/t/acme/exclusions",
        &[("users", "evil@acme.com"), ("groups", "")],
    ),
];

/// The operator-only forms, with a valid shape.
const OPERATOR_FORMS: &[(&str, &[(&str, &str)])] = &[
    ("/admin/tenants", &[("slug", "evil")]),
    ("/admin/api-keys", &[("label", "evil")]),
    ("/admin/api-keys/nope/revoke", &[]),
    ("/admin/webhooks/nope/enable", &[]),
    ("/admin/webhooks/nope/deliveries/1/replay", &[]),
    ("/admin/t/acme/setup-links", &[("days", "2")]),
    ("/admin/t/acme/setup-links/nope/revoke", &[]),
];

async fn post(
    b: &mut CookieClient,
    path: &str,
    csrf: Option<&str>,
    fields: &[(&str, &str)],
) -> Page {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    if let Some(csrf) = csrf {
        form.push(("csrf", csrf));
    }
    b.post(path, &form).await
}

/// What no refused form may have made: (tokens, fields and setup links of acme, API keys,
/// whether tenant "evil" exists, acme's identity provider, acme's OAuth clients).
async fn made_things(app: &TestApp) -> (usize, usize, usize, usize, bool, Option<String>, usize) {
    use scimd::service::{api_keys, setup_links, tenants};
    let service = &app.state.service;
    let acme = tenants::find_tenant(service, "acme")
        .await
        .expect("find")
        .expect("acme");
    let overview = tenants::tenant_overview(service, &acme)
        .await
        .expect("overview");
    (
        overview.tokens.len(),
        overview.fields.len(),
        setup_links::list_setup_links(service, &acme)
            .await
            .expect("links")
            .len(),
        api_keys::list_api_keys(service).await.expect("keys").len(),
        tenants::find_tenant(service, "evil")
            .await
            .expect("find")
            .is_some(),
        acme.identity_provider.clone(),
        scimd::service::oauth::list_clients(service, &acme)
            .await
            .expect("oauth clients")
            .len(),
    )
}

/// A forged, empty or missing CSRF token is 403 "Form expired" on every form, even the
/// operator's (who may use them all) and before any id is looked up; nothing is made, and
/// the session lives on (the forged logout did not end it).
async fn forged_csrf_is_refused_on_every_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin(None, "root", "correct horse battery");
    let mut b = app.cookies();
    assert_eq!(b.login("root", "correct horse battery").await.status, 303);
    let real = b.get("/admin/t/acme").await.csrf();
    let before = made_things(&app).await;
    for (path, fields) in FORMS {
        for csrf in [Some("forged"), Some(""), None] {
            let page = post(&mut b, path, csrf, fields).await;
            assert_eq!(
                page.status, 403,
                "POST {path} with csrf {csrf:?}: {}",
                page.body
            );
            assert!(
                page.body.contains("Form expired"),
                "POST {path}: {}",
                page.body
            );
        }
        // Another session's token is no better than a forged one.
        let mut other = app.cookies();
        assert_eq!(
            other.login("root", "correct horse battery").await.status,
            303
        );
        let theirs = other.get("/admin/t/acme").await.csrf();
        assert_ne!(theirs, real);
        let page = post(&mut b, path, Some(&theirs), fields).await;
        assert_eq!(page.status, 403, "POST {path} with another session's token");
    }
    assert_eq!(
        made_things(&app).await,
        before,
        "a refused form made something"
    );
    assert_eq!(
        b.get("/admin/t/acme").await.status,
        200,
        "the session still lives"
    );
}

/// Without a live session (no cookie, or one the server does not know) every page and every
/// form answers 303 to the login form, whatever its CSRF token; the logout form too (it
/// only clears the cookie).
async fn without_a_session_every_page_goes_to_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for stale in [false, true] {
        let mut b = app.cookies();
        if stale {
            b = b.with_header("Cookie", "scimd_session=not-a-session");
        }
        for path in ["/admin/t/acme", "/admin/t/acme/history", "/admin/t/nope"] {
            let page = b.get(path).await;
            assert_eq!(page.status, 303, "GET {path} (stale cookie: {stale})");
            assert_eq!(page.location.as_deref(), Some("/admin"), "GET {path}");
        }
        for (path, fields) in FORMS {
            for csrf in [Some("forged"), None] {
                let page = post(&mut b, path, csrf, fields).await;
                assert_eq!(page.status, 303, "POST {path} (stale cookie: {stale})");
                assert_eq!(page.location.as_deref(), Some("/admin"), "POST {path}");
            }
        }
        // The login form, not an error page.
        let home = b.get("/admin").await;
        assert_eq!(home.status, 200);
        assert!(home.body.contains("name=\"password\""), "{}", home.body);
    }
}

/// A tenant's admin and a setup link's session get 404 (the page of a form that is not
/// there) on every operator form, even with their own valid CSRF token, and on another
/// tenant's pages; nothing is made.
async fn operator_forms_are_404_for_everyone_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_tenant("globex");
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let mut admin = app.cookies();
    assert_eq!(
        admin.login("alice", "correct horse battery").await.status,
        303
    );

    let acme = scimd::service::tenants::find_tenant(&app.state.service, "acme")
        .await
        .expect("find")
        .expect("acme");
    let (secret, _) =
        scimd::service::setup_links::create_setup_link(&app.state.service, &acme, 2, "test")
            .await
            .expect("setup link");
    let mut linked = app.cookies();
    assert_eq!(linked.get(&format!("/setup/{secret}")).await.status, 200);

    let before = made_things(&app).await;
    for (who, b) in [("tenant admin", &mut admin), ("setup link", &mut linked)] {
        let own = b.get("/admin/t/acme").await;
        assert_eq!(own.status, 200, "{who}: {}", own.body);
        let csrf = own.csrf();
        for (path, fields) in OPERATOR_FORMS {
            let page = post(b, path, Some(&csrf), fields).await;
            assert_eq!(page.status, 404, "{who}: POST {path}: {}", page.body);
            assert!(page.body.contains("Not found"), "{who}: POST {path}");
        }
        for path in ["/admin/t/globex", "/admin/t/globex/history"] {
            assert_eq!(b.get(path).await.status, 404, "{who}: GET {path}");
        }
        let page = post(b, "/admin/t/globex/tokens", Some(&csrf), &[("days", "30")]).await;
        assert_eq!(page.status, 404, "{who}: a token for another tenant");
    }
    assert_eq!(
        made_things(&app).await,
        before,
        "a refused form made something"
    );
}

/// The deprecated password feed: without credentials or with wrong ones, 401 asking for HTTP
/// Basic with its `{"error": "…"}` body; another tenant's feed is a SCIM 404, a bad `after`
/// a SCIM 400.
async fn the_password_feed_refuses_as_it_always_did(backend: Backend) {
    use base64::Engine;
    let app = TestApp::spawn(backend).await;
    app.add_tenant("globex");
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let basic = |user: &str, pass: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    };
    let feed = |path: &str, auth: Option<String>| {
        let mut req = app.client.get(format!("{}{path}", app.base));
        if let Some(auth) = auth {
            req = req.insert_header(("Authorization", auth));
        }
        async move {
            let mut resp = req.send().await.expect("request");
            let body = resp.body().await.expect("body");
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            (
                resp.status().as_u16(),
                header("www-authenticate"),
                header("content-type"),
                serde_json::from_slice::<serde_json::Value>(&body).expect("JSON"),
            )
        }
    };
    for auth in [None, Some(basic("alice", "wrong")), Some("Bearer x".into())] {
        let (status, challenge, kind, body) = feed("/api/tenants/acme/events", auth).await;
        assert_eq!(status, 401);
        assert_eq!(challenge, "Basic realm=\"scimd admin\"");
        assert_eq!(kind, "application/json");
        assert_eq!(
            body,
            serde_json::json!({"error": "admin credentials required (HTTP Basic)"})
        );
    }
    let right = basic("alice", "correct horse battery");
    let (status, _, kind, body) = feed("/api/tenants/globex/events", Some(right.clone())).await;
    assert_eq!(
        (status, kind.as_str()),
        (404, "application/scim+json"),
        "{body}"
    );
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let (status, _, kind, body) = feed("/api/tenants/acme/events?after=x", Some(right)).await;
    assert_eq!(
        (status, kind.as_str()),
        (400, "application/scim+json"),
        "{body}"
    );
}

crate::helpers::backend_tests!(
    forged_csrf_is_refused_on_every_form,
    without_a_session_every_page_goes_to_login,
    operator_forms_are_404_for_everyone_else,
    the_password_feed_refuses_as_it_always_did
);
