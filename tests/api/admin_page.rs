//! The token page over HTTP: login, token generation (and that the token then passes Test
//! Connection), revoke (then 401), custom fields, history, CSRF, cross-tenant denial,
//! operators, throttling and logout.

use crate::helpers::{fresh_database, Backend, Cli, CookieClient, ServeCommand, TestApp};

async fn probe(app: &TestApp, token: &str) -> u16 {
    let url = format!(
        "{}/Users?filter=userName+eq+%22{}%22",
        app.tenant_url("acme"),
        uuid::Uuid::new_v4()
    );
    app.send("GET", &url, Some(token), None)
        .await
        .status
        .as_u16()
}

async fn login_generate_use_and_revoke(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let mut b = app.cookies();

    let wrong = b.login("alice", "not the password").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong username or password"));
    let ok = b.login("alice", "correct horse battery").await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let session_cookie = b
        .set_cookie_headers
        .iter()
        .find(|c| c.starts_with("scimd_session="))
        .unwrap()
        .clone();
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Strict"),
        "{session_cookie}"
    );
    assert!(
        !session_cookie.contains("Secure"),
        "http public URL: no Secure flag"
    );
    let home = b.get("/admin").await;
    assert_eq!(home.location.as_deref(), Some("/admin/t/acme"));

    let page = b.get("/admin/t/acme").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.text_of("tenant-url").unwrap(), app.tenant_url("acme"));
    assert!(page.body.contains("Test Connection") && page.body.contains("Automatic"));

    let csrf = page.csrf();
    let generated = b
        .post(
            "/admin/t/acme/tokens",
            &[("csrf", &csrf), ("days", "30"), ("label", "Entra prod")],
        )
        .await;
    assert_eq!(generated.status, 200);
    let token = generated.text_of("new-token").expect("token shown once");
    assert_eq!(
        probe(&app, &token).await,
        200,
        "generated token passes Test Connection"
    );
    // Shown once: a reload does not show it again.
    let again = b.get("/admin/t/acme").await;
    assert!(again.text_of("new-token").is_none());
    assert!(!again.body.contains(&token));
    assert!(again.body.contains("Entra prod"));

    // Invalid expiry is refused with a message, no token made.
    let bad = b
        .post(
            "/admin/t/acme/tokens",
            &[("csrf", &csrf), ("days", "400"), ("label", "x")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("between 1 and 365"));

    // Revoke the generated token from the list: the next request gets 401.
    let jti = app
        .state
        .service
        .store
        .read_blocking(|conn| {
            let t = scimd::store::tenants::find_tenant_by_slug(conn, "acme")?.expect("tenant");
            scimd::store::tokens::list_tokens(conn, &t.id)
        })
        .unwrap()
        .into_iter()
        .find(|t| t.label == "Entra prod")
        .unwrap()
        .jti;
    let revoked = b
        .post(
            &format!("/admin/t/acme/tokens/{jti}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, 200);
    assert!(revoked.body.contains("revoked"));
    assert_eq!(probe(&app, &token).await, 401);
    assert_eq!(
        probe(&app, &app.token).await,
        200,
        "other tokens keep working"
    );

    // Logout ends the session.
    let out = b.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    let after = b.get("/admin/t/acme").await;
    assert_eq!(after.location.as_deref(), Some("/admin"));
}

async fn csrf_and_cross_tenant_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_tenant("globex");
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let mut b = app.cookies();
    assert_eq!(b.login("alice", "correct horse battery").await.status, 303);
    let count_tokens = || {
        app.state
            .service
            .store
            .read_blocking(|conn| {
                let t = scimd::store::tenants::find_tenant_by_slug(conn, "acme")?.expect("tenant");
                scimd::store::tokens::list_tokens(conn, &t.id)
            })
            .unwrap()
            .len()
    };
    let before = count_tokens();
    let forged = b
        .post(
            "/admin/t/acme/tokens",
            &[("csrf", "forged"), ("days", "30")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let missing = b.post("/admin/t/acme/tokens", &[("days", "30")]).await;
    assert_eq!(missing.status, 403);
    assert_eq!(
        count_tokens(),
        before,
        "no token made without a valid CSRF token"
    );

    // Login itself needs the form's token.
    let mut other = app.cookies();
    let r = other
        .post(
            "/admin/login",
            &[
                ("csrf", "x"),
                ("username", "alice"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);

    // Tenant B's pages are 404 for tenant A's admin.
    let csrf = b.get("/admin/t/acme").await.csrf();
    assert_eq!(b.get("/admin/t/globex").await.status, 404);
    assert_eq!(b.get("/admin/t/globex/history").await.status, 404);
    assert_eq!(
        b.post("/admin/t/globex/tokens", &[("csrf", &csrf), ("days", "30")])
            .await
            .status,
        404
    );
    assert_eq!(
        b.post("/admin/tenants", &[("csrf", &csrf), ("slug", "evil")])
            .await
            .status,
        404
    );
    // Not logged in: back to the login form.
    let mut anon = app.cookies();
    assert_eq!(
        anon.get("/admin/t/acme").await.location.as_deref(),
        Some("/admin")
    );
}

async fn fields_history_and_counts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let mut b = app.cookies();
    b.login("alice", "correct horse battery").await;
    let csrf = b.get("/admin/t/acme").await.csrf();
    let added = b
        .post(
            "/admin/t/acme/fields",
            &[
                ("csrf", &csrf),
                ("name", "postalCode"),
                ("field_type", "string"),
            ],
        )
        .await;
    assert_eq!(added.status, 200);
    assert!(added.body.contains(
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:postalCode"
    ));
    let dup = b
        .post(
            "/admin/t/acme/fields",
            &[
                ("csrf", &csrf),
                ("name", "postalcode"),
                ("field_type", "string"),
            ],
        )
        .await;
    assert_eq!(dup.status, 400);
    assert!(dup.body.contains("already defined"));
    let schemas = app
        .scim(
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User",
            None,
        )
        .await
        .expect(200);
    assert_eq!(schemas.body["attributes"][0]["name"], "postalCode");

    let id = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    app.create_user("bob@contoso.com", "bob@contoso.com").await;
    app.scim(
        "POST",
        "/Users",
        Some(crate::helpers::user_body(
            "bob@contoso.com",
            "bob@contoso.com",
        )),
    )
    .await
    .expect(409);
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(crate::helpers::patch(
            serde_json::json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )),
    )
    .await
    .expect(200);
    let page = b.get("/admin/t/acme").await;
    assert_eq!(
        page.text_of("counts").unwrap(),
        "1 active users · 1 deactivated users · 0 groups"
    );

    let history = b.get("/admin/t/acme/history").await;
    assert_eq!(history.status, 200);
    let table = &history.body[history.body.find("id=\"events\"").unwrap()..];
    let deactivated = table.find(">deactivated<").unwrap();
    let created = table.find(">created<").unwrap();
    assert!(deactivated < created, "newest first");
    let rejected = b.get("/admin/t/acme/history?action=rejected").await;
    assert!(
        rejected.body.contains("409") && rejected.body.contains("already has this"),
        "reason shown"
    );
    let table = &rejected.body[rejected.body.find("id=\"events\"").unwrap()..];
    assert!(!table.contains(">created<"));
}

async fn operator_sees_all_tenants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_tenant("globex");
    app.create_admin(None, "root", "operator password 1");
    let mut b = app.cookies();
    assert_eq!(b.login("root", "operator password 1").await.status, 303);
    let home = b.get("/admin").await;
    assert!(home.body.contains("/admin/t/acme") && home.body.contains("/admin/t/globex"));
    let csrf = home.csrf();
    let created = b
        .post(
            "/admin/tenants",
            &[("csrf", &csrf), ("slug", "initech"), ("name", "Initech")],
        )
        .await;
    assert_eq!(created.location.as_deref(), Some("/admin/t/initech"));
    assert_eq!(b.get("/admin/t/initech").await.status, 200);
    assert_eq!(b.get("/admin/t/globex").await.status, 200);
    let bad = b
        .post("/admin/tenants", &[("csrf", &csrf), ("slug", "Bad Slug")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("invalid tenant slug"));
}

async fn repeated_failed_logins_are_slowed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let mut b = app.cookies();
    for _ in 0..5 {
        assert_eq!(b.login("alice", "guess").await.status, 401);
    }
    let blocked = b.login("alice", "correct horse battery").await;
    assert_eq!(blocked.status, 429, "even the right password waits");
    assert!(blocked.body.contains("Too many failed attempts"));
}

/// What an admin does on the page (a token, an API key, a setup link) is logged naming the
/// admin by the fingerprint the login's line gives, never by the username as typed (issue 23).
async fn page_actions_log_the_admin_by_fingerprint(backend: Backend) {
    let (url, _db) = fresh_database(&backend);
    let cli = Cli::on(&url);
    cli.ok(&["tenant", "create", "acme"]);
    let username = format!("olga-{}", uuid::Uuid::new_v4().simple());
    let password = "correct horse battery";
    cli.run_ok(
        &[
            "admin",
            "create",
            "--operator",
            &username,
            "--password-stdin",
        ],
        Some(&format!("{password}\n")),
    );
    let served = ServeCommand::new(&url)
        .flags(&["--workers", "1"])
        .log_level("info")
        .json_logs(true)
        .start()
        .await;
    let mut browser = CookieClient::new(&served.base);
    assert_eq!(browser.login(&username, password).await.status, 303);
    let page = browser.get("/admin/t/acme").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();
    let made = browser
        .post(
            "/admin/t/acme/tokens",
            &[("csrf", &csrf), ("days", "30"), ("label", "entra")],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let made = browser
        .post("/admin/api-keys", &[("csrf", &csrf), ("label", "billing")])
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let made = browser
        .post(
            "/admin/t/acme/setup-links",
            &[("csrf", &csrf), ("days", "2")],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);

    actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = served.log();
    drop(served);
    let fingerprint = scimd::auth::throttle::username_fingerprint(&username);
    for action in [
        "admin logged in",
        "token generated on the page",
        "API key made on the page",
        "setup link made on the page",
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(action))
            .unwrap_or_else(|| panic!("no {action:?} line:\n{log}"));
        assert!(line.contains(&fingerprint), "{action}: {line}");
    }
    assert!(
        !log.to_lowercase().contains(&username),
        "the admin's username is in the server log:\n{log}"
    );
}

crate::helpers::backend_tests!(
    login_generate_use_and_revoke,
    page_actions_log_the_admin_by_fingerprint,
    csrf_and_cross_tenant_are_refused,
    fields_history_and_counts,
    operator_sees_all_tenants,
    repeated_failed_logins_are_slowed
);
