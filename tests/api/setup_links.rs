//! Setup links (issue 17): made through `/api/v1` or on the operator's page, they open one
//! tenant's token page without a password until they expire or are revoked; only their hash
//! is stored and their secret is never logged. Also the operator page's API keys.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{fresh_database, Backend, Cli, CookieClient, Reply, ServeCommand, TestApp};

/// An API key made through the service, for one tenant or (None) operator-wide.
async fn api_key(app: &TestApp, tenant: Option<&str>) -> String {
    scimd::service::api_keys::create_api_key(&app.state.service, tenant, "test app")
        .await
        .expect("api key")
        .0
}

async fn api(app: &TestApp, method: &str, path: &str, key: &str, body: Option<Value>) -> Reply {
    let url = format!("{}/api/v1{path}", app.base);
    app.send(method, &url, Some(key), body.as_ref()).await
}

/// A SCIM request to acme with this token: its status.
async fn probe(app: &TestApp, token: &str) -> u16 {
    let url = format!("{}/Users?count=1", app.tenant_url("acme"));
    app.send("GET", &url, Some(token), None)
        .await
        .status
        .as_u16()
}

/// The path of a setup link's URL on this app (the URL is built from the public URL).
fn path_of(app: &TestApp, url: &str) -> String {
    url.strip_prefix(&app.base)
        .unwrap_or_else(|| panic!("{url} is not under {}", app.base))
        .to_string()
}

/// Make a link for acme through the API: (id, path of its URL).
async fn make_link(app: &TestApp, key: &str, body: Value) -> (String, String) {
    let made = api(app, "POST", "/tenants/acme/setup-links", key, Some(body))
        .await
        .expect(201);
    let url = made.body["url"].as_str().expect("url").to_string();
    (
        made.body["id"].as_str().expect("id").to_string(),
        path_of(app, &url),
    )
}

/// Open a link in a fresh browser: the page that moves on to acme's page, with the cookie.
async fn open(app: &TestApp, path: &str) -> CookieClient {
    let mut browser = app.cookies();
    let opened = browser.get(path).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert!(
        opened
            .body
            .contains("http-equiv=\"refresh\" content=\"0;url=/admin/t/acme\""),
        "{}",
        opened.body
    );
    assert_eq!(
        opened.text_of("continue").as_deref(),
        Some("Continue to your token page")
    );
    browser
}

fn millis_of(timestamp: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(timestamp.as_str().expect("a timestamp"))
        .expect("RFC 3339")
        .timestamp_millis()
}

const DAY: i64 = 24 * 60 * 60 * 1000;

/// Made by the API (a tenant's key manages only its tenant's links), a link opens acme's page
/// with no password: the Tenant URL, a token generated through the page's form that works on
/// SCIM, the sync history; never another tenant's page nor an operator's. Revoked, neither
/// the link nor the page it opened work any more.
async fn link_opens_one_tenant_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_tenant("globex");
    let key = api_key(&app, Some("acme")).await;
    let globex_key = api_key(&app, Some("globex")).await;

    let made = api(
        &app,
        "POST",
        "/tenants/acme/setup-links",
        &key,
        Some(json!({"days": 15, "label": "Contoso IT"})),
    )
    .await
    .expect(201);
    let url = made.body["url"].as_str().expect("url").to_string();
    assert!(url.starts_with(&format!("{}/setup/", app.base)), "{url}");
    assert_eq!(
        made.body.as_object().map(|o| o.len()),
        Some(3),
        "{}",
        made.body
    );
    let id = made.body["id"].as_str().expect("id").to_string();
    let expires = millis_of(&made.body["expiresAt"]);
    let now = chrono::Utc::now().timestamp_millis();
    assert!((expires - (now + 15 * DAY)).abs() < 60_000, "{}", made.body);
    let (_, default_path) = make_link(&app, &key, json!({})).await;
    assert_ne!(default_path, path_of(&app, &url));
    for bad in [
        json!({"days": 0}),
        json!({"days": 91}),
        json!({"days": "15"}),
    ] {
        let r = api(&app, "POST", "/tenants/acme/setup-links", &key, Some(bad)).await;
        assert_eq!(r.status.as_u16(), 400, "{}", r.body);
        assert_eq!(r.body["error"]["status"], json!(400), "{}", r.body);
    }
    // Another tenant's key neither makes, lists nor revokes acme's links.
    for (method, path, body) in [
        (
            "POST",
            "/tenants/acme/setup-links".to_string(),
            Some(json!({})),
        ),
        ("GET", "/tenants/acme/setup-links".to_string(), None),
        ("DELETE", format!("/tenants/acme/setup-links/{id}"), None),
    ] {
        let r = api(&app, method, &path, &globex_key, body).await;
        assert_eq!(r.status.as_u16(), 404, "{method} {path}: {}", r.body);
    }
    let secret = url.rsplit('/').next().expect("secret").to_string();
    let listed = api(&app, "GET", "/tenants/acme/setup-links", &key, None)
        .await
        .expect(200);
    let all = listed.body["setupLinks"].as_array().expect("setupLinks");
    assert_eq!(all.len(), 2, "{}", listed.body);
    let ours = all.iter().find(|l| l["id"] == json!(id)).expect("listed");
    assert_eq!(ours["label"], "Contoso IT");
    assert_eq!(ours["revokedAt"], Value::Null);
    assert_eq!(ours["lastUsedAt"], Value::Null);
    assert!(
        !listed.body.to_string().contains(&secret),
        "a list never shows a link's secret"
    );

    let mut b = open(&app, &path_of(&app, &url)).await;
    let cookie = b
        .set_cookie_headers
        .iter()
        .find(|c| c.starts_with("scimd_session="))
        .expect("a session cookie")
        .clone();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/admin"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(&secret),
        "the cookie is not the link's secret"
    );
    assert_eq!(
        b.get("/admin").await.location.as_deref(),
        Some("/admin/t/acme")
    );
    let page = b.get("/admin/t/acme").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.text_of("tenant-url").unwrap(), app.tenant_url("acme"));
    assert!(page.body.contains("Test Connection") && page.body.contains("Custom attributes"));
    assert!(
        page.body.contains("this setup link expires on"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("Setup links"),
        "a setup link does not hand out setup links"
    );
    let csrf = page.csrf();
    let generated = b
        .post(
            "/admin/t/acme/tokens",
            &[("csrf", &csrf), ("days", "30"), ("label", "Entra prod")],
        )
        .await;
    assert_eq!(generated.status, 200, "{}", generated.body);
    let token = generated.text_of("new-token").expect("token shown once");
    assert_eq!(probe(&app, &token).await, 200, "the token works on SCIM");
    let forged = b
        .post(
            "/admin/t/acme/tokens",
            &[("csrf", "forged"), ("days", "30"), ("label", "x")],
        )
        .await;
    assert_eq!(forged.status, 403, "forms need the session's CSRF token");
    assert_eq!(b.get("/admin/t/acme/history").await.status, 200);

    // One tenant, no operator rights.
    assert_eq!(b.get("/admin/t/globex").await.status, 404);
    assert_eq!(b.get("/admin/t/globex/history").await.status, 404);
    for (path, form) in [
        (
            "/admin/tenants",
            vec![("csrf", csrf.as_str()), ("slug", "hooli")],
        ),
        (
            "/admin/api-keys",
            vec![("csrf", csrf.as_str()), ("label", "mine")],
        ),
        (
            "/admin/t/acme/setup-links",
            vec![("csrf", csrf.as_str()), ("days", "90")],
        ),
        (
            "/admin/t/globex/tokens",
            vec![("csrf", csrf.as_str()), ("days", "30")],
        ),
    ] {
        let r = b.post(path, &form).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    assert!(
        scimd::service::tenants::find_tenant(&app.state.service, "hooli")
            .await
            .unwrap()
            .is_none()
    );
    let listed = api(&app, "GET", "/tenants/acme/setup-links", &key, None)
        .await
        .expect(200);
    let ours = listed.body["setupLinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == json!(id))
        .cloned()
        .unwrap();
    assert!(ours["lastUsedAt"].is_string(), "{ours}");

    // Revoked: the link no longer opens, and the page it opened is closed.
    api(
        &app,
        "DELETE",
        &format!("/tenants/acme/setup-links/{id}"),
        &key,
        None,
    )
    .await
    .expect(204);
    let after = b.get("/admin/t/acme").await;
    assert_eq!(after.location.as_deref(), Some("/admin"), "{}", after.body);
    let after = b
        .post(
            "/admin/t/acme/tokens",
            &[("csrf", &csrf), ("days", "30"), ("label", "late")],
        )
        .await;
    assert_eq!(after.location.as_deref(), Some("/admin"));
    let again = app.cookies().get(&path_of(&app, &url)).await;
    assert_eq!(again.status, 410);
    assert!(again.body.contains("revoked") && again.body.contains("Ask your provider"));
    let listed = api(&app, "GET", "/tenants/acme/setup-links", &key, None)
        .await
        .expect(200);
    assert!(listed.body["setupLinks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["id"] == json!(id) && l["revokedAt"].is_string()));
    let r = api(&app, "DELETE", "/tenants/acme/setup-links/nope", &key, None).await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);

    // An unknown link says so.
    let unknown = app.cookies().get("/setup/not-a-link").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("not valid") && unknown.body.contains("Ask your provider"));
    // The other link still works.
    let mut other = open(&app, &default_path).await;
    assert_eq!(other.get("/admin/t/acme").await.status, 200);
}

/// An expired link is refused, and so is the page session it started.
async fn expired_link_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = api_key(&app, None).await;
    let (id, path) = make_link(&app, &key, json!({"days": 1})).await;
    let mut b = open(&app, &path).await;
    assert_eq!(b.get("/admin/t/acme").await.status, 200);

    // Age the link: as if its day had passed.
    use scimd::store::schema::setup_links;
    let past = chrono::Utc::now().timestamp_millis() - 1_000;
    app.state
        .service
        .store
        .write_blocking(|conn| {
            diesel::update(setup_links::table.find(&id))
                .set(setup_links::expires_at.eq(past))
                .execute(conn)
                .map_err(scimd::store::StoreError::from)
        })
        .expect("age the link");

    let after = b.get("/admin/t/acme").await;
    assert_eq!(after.location.as_deref(), Some("/admin"), "{}", after.body);
    let refused = app.cookies().get(&path).await;
    assert_eq!(refused.status, 410);
    assert!(refused.body.contains("expired") && refused.body.contains("Ask your provider"));
}

/// The database holds a link's hash and a session's hash, never the secrets.
async fn only_hashes_are_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = api_key(&app, Some("acme")).await;
    let (id, path) = make_link(&app, &key, json!({"label": "hash check"})).await;
    let secret = path.rsplit('/').next().unwrap().to_string();
    let b = open(&app, &path).await;
    let session = b.cookies().get("scimd_session").expect("session").clone();
    let tenant_id = app.tenant_id("acme");
    let rows = app
        .state
        .service
        .store
        .read_blocking(|conn| scimd::store::setup_links::list_setup_links(conn, &tenant_id))
        .expect("links");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, id);
    assert_eq!(
        rows[0].secret_hash,
        scimd::service::admins::secret_hash(&secret)
    );
    assert!(!format!("{:?}", rows[0]).contains(&secret));
    let now = chrono::Utc::now().timestamp_millis();
    let hash = scimd::service::admins::secret_hash(&session);
    let found = app
        .state
        .service
        .store
        .read_blocking(|conn| scimd::store::setup_links::find_setup_session(conn, &hash, now))
        .expect("session")
        .expect("the session is stored under its hash");
    assert_eq!(found.0.tenant_id, tenant_id);
    assert!(!format!("{found:?}").contains(&session) && !format!("{found:?}").contains(&secret));
}

/// An operator's page makes, shows once and revokes API keys and setup links; a tenant admin's
/// page has neither.
async fn operator_page_manages_links_and_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_admin(None, "root", "correct horse battery");
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let mut op = app.cookies();
    assert_eq!(op.login("root", "correct horse battery").await.status, 303);
    let home = op.get("/admin").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("id=\"api-keys\""), "{}", home.body);
    let csrf = home.csrf();

    // API keys: an operator-wide one and acme's, each shown once; revoked, refused.
    let made = op
        .post(
            "/admin/api-keys",
            &[("csrf", &csrf), ("label", "billing app"), ("tenant", "")],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let operator_key = made.text_of("new-api-key").expect("key shown once");
    let tenants = api(&app, "GET", "/tenants", &operator_key, None)
        .await
        .expect(200);
    assert_eq!(tenants.body["tenants"][0]["slug"], "acme");
    let made = op
        .post(
            "/admin/api-keys",
            &[("csrf", &csrf), ("label", "acme sync"), ("tenant", "acme")],
        )
        .await;
    let acme_key = made.text_of("new-api-key").expect("key shown once");
    let home = op.get("/admin").await;
    assert!(home.text_of("new-api-key").is_none());
    assert!(!home.body.contains(&operator_key) && !home.body.contains(&acme_key));
    assert!(home.body.contains("billing app") && home.body.contains("acme sync"));
    assert!(home.body.contains("every tenant"), "{}", home.body);
    let bad = op
        .post(
            "/admin/api-keys",
            &[("csrf", &csrf), ("label", ""), ("tenant", "")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("label"));
    let forged = op
        .post(
            "/admin/api-keys",
            &[("csrf", "nope"), ("label", "x"), ("tenant", "")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let keys = scimd::service::api_keys::list_api_keys(&app.state.service)
        .await
        .unwrap();
    let acme_id = keys
        .iter()
        .find(|k| k.row.label == "acme sync")
        .map(|k| k.row.id.clone())
        .unwrap();
    let revoked = op
        .post(
            &format!("/admin/api-keys/{acme_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(revoked.body.contains("revoked"));
    let r = api(&app, "GET", "/tenants", &acme_key, None).await;
    assert_eq!(r.status.as_u16(), 401);
    api(&app, "GET", "/tenants", &operator_key, None)
        .await
        .expect(200);

    // Setup links on the tenant's page: made, shown once, opened, revoked.
    let page = op.get("/admin/t/acme").await;
    assert!(page.body.contains("id=\"setup-links\""), "{}", page.body);
    let made = op
        .post(
            "/admin/t/acme/setup-links",
            &[("csrf", &csrf), ("days", "15"), ("label", "Contoso IT")],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let url = made.text_of("new-setup-link").expect("link shown once");
    let path = path_of(&app, &url);
    assert!(path.starts_with("/setup/"), "{url}");
    let bad = op
        .post(
            "/admin/t/acme/setup-links",
            &[("csrf", &csrf), ("days", "91")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("90"), "{}", bad.body);
    let mut customer = open(&app, &path).await;
    assert_eq!(customer.get("/admin/t/acme").await.status, 200);
    let page = op.get("/admin/t/acme").await;
    assert!(page.body.contains("Contoso IT") && !page.body.contains(&url));
    let tenant = scimd::service::tenants::tenant_by_slug(&app.state.service, "acme")
        .await
        .unwrap();
    let link_id = scimd::service::setup_links::list_setup_links(&app.state.service, &tenant)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.label == "Contoso IT")
        .unwrap()
        .id;
    let revoked = op
        .post(
            &format!("/admin/t/acme/setup-links/{link_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(revoked.body.contains("Setup link revoked"));
    assert_eq!(
        customer.get("/admin/t/acme").await.location.as_deref(),
        Some("/admin")
    );
    assert_eq!(app.cookies().get(&path).await.status, 410);

    // A tenant admin sees neither, and cannot reach them.
    let mut alice = app.cookies();
    assert_eq!(
        alice.login("alice", "correct horse battery").await.status,
        303
    );
    let own = alice.get("/admin/t/acme").await;
    assert_eq!(own.status, 200);
    assert!(!own.body.contains("id=\"setup-links\"") && !own.body.contains("api-keys"));
    let csrf = own.csrf();
    for path in ["/admin/t/acme/setup-links", "/admin/api-keys"] {
        let r = alice.post(path, &[("csrf", &csrf), ("label", "x")]).await;
        assert_eq!(r.status, 404, "{path}");
    }
}

/// A link's secret is in no log line: not of the request that makes it, nor of those that
/// open it (the path holds it), nor of a refused one; nor is the session cookie it gives.
async fn secrets_are_never_logged(backend: Backend) {
    let (url, _db) = fresh_database(&backend);
    let cli = Cli::on(&url);
    cli.ok(&["tenant", "create", "acme"]);
    let key = cli
        .ok(&["apikey", "create", "--label", "log check"])
        .lines()
        .last()
        .expect("key")
        .trim()
        .to_string();
    let served = ServeCommand::new(&url)
        .flags(&["--workers", "1"])
        .log_level("debug")
        .json_logs(true)
        .start()
        .await;
    let client = awc::Client::default();
    let made = Reply::send(
        &client,
        "POST",
        &format!("{}/api/v1/tenants/acme/setup-links", served.base),
        Some(&key),
        Some(&json!({"days": 2})),
    )
    .await
    .expect(201);
    let link = made.body["url"].as_str().expect("url").to_string();
    let id = made.body["id"].as_str().expect("id").to_string();
    let secret = link.rsplit('/').next().expect("secret").to_string();
    let path = format!("/setup/{secret}");
    let mut browser = CookieClient::new(&served.base);
    assert_eq!(browser.get(&path).await.status, 200);
    let session = browser
        .cookies()
        .get("scimd_session")
        .expect("cookie")
        .clone();
    assert_eq!(browser.get("/admin/t/acme").await.status, 200);
    Reply::send(
        &client,
        "DELETE",
        &format!("{}/api/v1/tenants/acme/setup-links/{id}", served.base),
        Some(&key),
        None,
    )
    .await
    .expect(204);
    assert_eq!(CookieClient::new(&served.base).get(&path).await.status, 410);
    let forged = format!("/setup/{}x", &secret[..secret.len() - 1]);
    assert_eq!(
        CookieClient::new(&served.base).get(&forged).await.status,
        404
    );

    actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = served.log();
    drop(served);
    assert!(log.contains("setup link opened"), "{log}");
    assert!(
        log.contains("/setup/{secret}"),
        "requests are logged by their route's template:\n{log}"
    );
    for (what, s) in [
        ("the link's secret", secret.as_str()),
        ("the session cookie", session.as_str()),
        ("the API key", key.as_str()),
    ] {
        assert!(!log.contains(s), "{what} is in the server log:\n{log}");
    }
    assert!(
        !log.contains(&forged),
        "a refused link's path is in the log"
    );
}

/// A token minted through a setup link's page lasts at most 90 days (the page says so),
/// whatever expiry its form asked for, while an admin's login still gets what it asks; a disabled tenant's link opens nothing (403) and the sessions it opened neither see
/// the page nor mint tokens until the tenant is enabled again (issue 23).
async fn link_tokens_are_capped_and_disabled_tenants_refuse_links(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let operator = api_key(&app, None).await;
    let made = api(
        &app,
        "POST",
        "/tenants/acme/setup-links",
        &operator,
        Some(json!({"days": 2})),
    )
    .await
    .expect(201);
    let link_expires = millis_of(&made.body["expiresAt"]);
    let path = path_of(&app, made.body["url"].as_str().expect("url"));
    let mut b = open(&app, &path).await;
    let page = b.get("/admin/t/acme").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.text_of("token-expiry-cap")
            .is_some_and(|t| t.contains("at most 90 days")),
        "{}",
        page.body
    );
    let generated = b
        .post(
            "/admin/t/acme/tokens",
            &[("csrf", &page.csrf()), ("days", "365"), ("label", "long")],
        )
        .await;
    assert_eq!(generated.status, 200, "{}", generated.body);
    let token = generated.text_of("new-token").expect("token shown once");
    assert_eq!(probe(&app, &token).await, 200);
    assert!(
        generated.body.contains("lasts at most 90 days"),
        "the page says the token is capped: {}",
        generated.body
    );
    let listed = api(&app, "GET", "/tenants/acme/tokens", &operator, None)
        .await
        .expect(200);
    let long = listed.body["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["label"] == "long")
        .expect("the token")
        .clone();
    // 90 days, not the 365 asked for, and not the link's 2 days (Entra keeps provisioning).
    let expires = millis_of(&long["expiresAt"]);
    let in_90_days = chrono::Utc::now().timestamp_millis() + 90 * DAY;
    assert!(
        expires <= in_90_days && in_90_days - expires < 60_000 && expires > link_expires,
        "the token expires at {expires}, 90 days are {in_90_days}, the link ends at {link_expires}"
    );
    // The JWT says the same.
    let claims = token.split('.').nth(1).expect("claims");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims)
            .expect("base64"),
    )
    .expect("json");
    assert!(claims["exp"].as_i64().expect("exp") * 1000 <= in_90_days);
    // An admin who logs in still gets the expiry asked for.
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let mut alice = app.cookies();
    assert_eq!(
        alice.login("alice", "correct horse battery").await.status,
        303
    );
    let own = alice.get("/admin/t/acme").await;
    assert!(own.text_of("token-expiry-cap").is_none());
    let generated = alice
        .post(
            "/admin/t/acme/tokens",
            &[("csrf", &own.csrf()), ("days", "365"), ("label", "admin")],
        )
        .await;
    assert_eq!(generated.status, 200, "{}", generated.body);
    let listed = api(&app, "GET", "/tenants/acme/tokens", &operator, None)
        .await
        .expect(200);
    let admins = listed.body["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["label"] == "admin")
        .map(|t| millis_of(&t["expiresAt"]))
        .expect("the admin's token");
    assert!(admins - chrono::Utc::now().timestamp_millis() > 364 * DAY);

    // Disabled: the link opens nothing, its session neither sees the page nor mints tokens.
    api(&app, "POST", "/tenants/acme/disable", &operator, None)
        .await
        .expect(200);
    let csrf = page.csrf();
    let refused = b.get("/admin/t/acme").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("disabled"), "{}", refused.body);
    let refused = b
        .post(
            "/admin/t/acme/tokens",
            &[("csrf", &csrf), ("days", "1"), ("label", "while disabled")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let mut fresh = app.cookies();
    let refused = fresh.get(&path).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused
            .text_of("tenant-disabled")
            .is_some_and(|t| t.contains("disabled")),
        "{}",
        refused.body
    );
    assert!(!fresh.cookies().contains_key("scimd_session"), "no session");
    let listed = api(&app, "GET", "/tenants/acme/tokens", &operator, None)
        .await
        .expect(200);
    assert!(
        !listed.body.to_string().contains("while disabled"),
        "{}",
        listed.body
    );
    // Enabled again, the link and its session work again.
    api(&app, "POST", "/tenants/acme/enable", &operator, None)
        .await
        .expect(200);
    assert_eq!(b.get("/admin/t/acme").await.status, 200);
    open(&app, &path).await;
}

/// A browser that says it comes from `address` through the proxy at 127.0.0.1.
fn browser_from(app: &TestApp, address: &str) -> CookieClient {
    CookieClient::new(&app.base).with_header("X-Forwarded-For", address)
}

/// Guessing setup links is throttled per client address like password guessing (issue 23):
/// five unknown links, then 429 with `Retry-After` for whatever that address opens next, a
/// real link included (so a hit cannot be told from a miss); concurrent guesses are counted
/// before they are looked up; the link's holder at another address opens it at once, and
/// opening a real link again and again is never counted.
async fn link_guesses_are_throttled_per_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let operator = api_key(&app, None).await;
    let (_, real) = make_link(&app, &operator, json!({"days": 2})).await;
    let guess = |i: usize| format!("/setup/{}{i:04}", "A".repeat(39));

    let mut attacker = browser_from(&app, "203.0.113.7");
    for i in 0..5 {
        let r = attacker.get(&guess(i)).await;
        assert_eq!(r.status, 404, "guess {i}: {}", r.body);
    }
    let throttled = attacker.get(&guess(5)).await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    assert!(
        throttled.body.contains("Try again in"),
        "{}",
        throttled.body
    );
    let retry = retry_after_from(&app, &guess(6), "203.0.113.7").await;
    assert!(retry.is_some_and(|s| s >= 1), "Retry-After: {retry:?}");
    let hit = attacker.get(&real).await;
    assert_eq!(
        hit.status, 429,
        "a waiting address learns nothing, even with a real link"
    );

    // The holder elsewhere is not held up, however often it opens its link.
    for _ in 0..8 {
        open_from(&app, &real, "198.51.100.20").await;
    }

    // Concurrent guesses from a fresh address: at most five are looked up.
    let mut guesses = Vec::new();
    for i in 0..30 {
        let mut b = browser_from(&app, "192.0.2.99");
        let path = guess(100 + i);
        guesses.push(actix_web::rt::spawn(
            async move { b.get(&path).await.status },
        ));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for g in guesses {
        *statuses.entry(g.await.expect("guess")).or_insert(0) += 1;
    }
    let looked_up = statuses.get(&404).copied().unwrap_or(0);
    assert!((1..=5).contains(&looked_up), "{statuses:?}");
    assert_eq!(
        looked_up + statuses.get(&429).copied().unwrap_or(0),
        30,
        "{statuses:?}"
    );
}

/// Open a real link as if from `address`: 200 and a session.
async fn open_from(app: &TestApp, path: &str, address: &str) {
    let mut b = browser_from(app, address);
    let opened = b.get(path).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert!(b.cookies().contains_key("scimd_session"));
}

/// The `Retry-After` of a GET as if from `address` (the cookie client keeps no headers).
async fn retry_after_from(app: &TestApp, path: &str, address: &str) -> Option<u64> {
    let resp = app
        .client
        .get(format!("{}{path}", app.base))
        .insert_header(("X-Forwarded-For", address))
        .send()
        .await
        .expect("request");
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

crate::helpers::backend_tests!(
    link_opens_one_tenant_page,
    link_guesses_are_throttled_per_address,
    link_tokens_are_capped_and_disabled_tenants_refuse_links,
    expired_link_is_refused,
    only_hashes_are_stored,
    operator_page_manages_links_and_keys,
    secrets_are_never_logged
);
