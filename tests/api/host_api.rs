//! The host app's management API (`/api/v1`) and its keys: made by the CLI, shown once and
//! stored as a hash, operator-wide or one tenant's, revocable; every error in one JSON shape.

use serde_json::{json, Value};

use crate::helpers::{Backend, Reply, TestApp};

/// The key `scimd apikey create` printed (alone on its last line).
fn make_key(app: &TestApp, args: &[&str]) -> String {
    let mut all = vec!["apikey", "create"];
    all.extend_from_slice(args);
    let out = app.cli().ok(&all);
    out.lines().last().expect("a key line").trim().to_string()
}

async fn api(
    app: &TestApp,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let url = format!("{}/api/v1{path}", app.base);
    app.send(method, &url, key, body.as_ref()).await
}

/// An error of the management API: this status, a `type` and a message naming `needle`.
fn assert_api_error(r: &Reply, status: u16, needle: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.body["error"]["status"], json!(status), "{}", r.body);
    assert!(r.body["error"]["type"].is_string(), "{}", r.body);
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
    assert_eq!(r.body.as_object().map(|o| o.len()), Some(1), "{}", r.body);
}

fn slugs(r: &Reply) -> Vec<String> {
    let mut all: Vec<String> = r.body["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .map(|t| t["slug"].as_str().expect("slug").to_string())
        .collect();
    all.sort();
    all
}

/// An operator key manages every tenant and makes tenants; a tenant's key sees only its own
/// (another is 404, making one is 403); a stranger gets 401; errors have one shape.
async fn keys_scope_what_they_manage(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_tenant("globex");
    let operator = make_key(&app, &["--label", "billing app"]);
    let acme = make_key(&app, &["--tenant", "acme", "--label", "acme app"]);
    assert!(
        operator.starts_with("scimd_") && operator.len() >= 48,
        "{operator}"
    );
    assert_ne!(operator, acme);

    let all = api(&app, "GET", "/tenants", Some(&operator), None)
        .await
        .expect(200);
    assert_eq!(slugs(&all), ["acme", "globex"]);
    let own = api(&app, "GET", "/tenants", Some(&acme), None)
        .await
        .expect(200);
    assert_eq!(slugs(&own), ["acme"]);
    let one = api(&app, "GET", "/tenants/acme", Some(&acme), None)
        .await
        .expect(200);
    assert_eq!(one.body["tenantUrl"], json!(app.tenant_url("acme")));
    let hidden = api(&app, "GET", "/tenants/globex", Some(&acme), None).await;
    assert_api_error(&hidden, 404, "globex");

    let made = api(
        &app,
        "POST",
        "/tenants",
        Some(&operator),
        Some(json!({"slug": "initech", "name": "Initech"})),
    )
    .await
    .expect(201);
    assert_eq!(made.body["tenantUrl"], json!(app.tenant_url("initech")));
    let again = api(
        &app,
        "POST",
        "/tenants",
        Some(&operator),
        Some(json!({"slug": "initech"})),
    )
    .await;
    assert_api_error(&again, 409, "initech");
    let refused = api(
        &app,
        "POST",
        "/tenants",
        Some(&acme),
        Some(json!({"slug": "hooli"})),
    )
    .await;
    assert_api_error(&refused, 403, "operator");
    let bad = api(
        &app,
        "POST",
        "/tenants",
        Some(&operator),
        Some(json!({"slug": "Not A Slug"})),
    )
    .await;
    assert_api_error(&bad, 400, "slug");
    let missing = api(
        &app,
        "POST",
        "/tenants",
        Some(&operator),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_api_error(&missing, 400, "slug is required");
    let nowhere = api(&app, "GET", "/nope", Some(&operator), None).await;
    assert_api_error(&nowhere, 404, "no such API endpoint");

    for key in [None, Some("scimd_not-a-key"), Some(app.token.as_str())] {
        let r = api(&app, "GET", "/tenants", key, None).await;
        assert_api_error(&r, 401, "API key");
        assert_eq!(
            r.www_authenticate.as_deref(),
            Some("Bearer realm=\"scimd\"")
        );
    }
    // Without a key the endpoint's existence is not told either.
    assert_api_error(&api(&app, "GET", "/nope", None, None).await, 401, "API key");

    // Revoked by the CLI: refused on the next request.
    let listed = app.cli().ok(&["apikey", "list"]);
    let line = listed
        .lines()
        .find(|l| l.contains("acme app"))
        .expect("acme key listed");
    assert!(
        !line.contains("last used -"),
        "used keys show their last use: {line}"
    );
    let id = line.split('\t').next().expect("id");
    app.cli().ok(&["apikey", "revoke", id]);
    assert_api_error(
        &api(&app, "GET", "/tenants", Some(&acme), None).await,
        401,
        "API key",
    );
    assert!(app.cli().ok(&["apikey", "list"]).contains("revoked"));
    let (ok, _, err) = app
        .cli()
        .run(&["apikey", "revoke", "no-such-key"])
        .into_parts();
    assert!(!ok && err.contains("no API key"), "{err}");
    let (ok, _, err) = app
        .cli()
        .run(&["apikey", "create", "--label", ""])
        .into_parts();
    assert!(!ok && err.contains("label"), "{err}");
}

/// Only a key's hash is stored: the database holds no key.
async fn keys_are_stored_hashed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = make_key(&app, &["--label", "billing app"]);
    let rows = app
        .state
        .service
        .store
        .read_blocking(scimd::store::api_keys::list_api_keys)
        .expect("keys");
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].key_hash.contains(&key) && !key.contains(&rows[0].key_hash));
    assert_eq!(rows[0].key_hash, scimd::service::admins::secret_hash(&key));
}

/// The host app provisions Entra's side through the API: a tenant's token is issued (it works
/// on SCIM), listed without its secret, revoked (refused within a second); the provisioning
/// log is a feed with the key, and the password feed says it is deprecated.
async fn tokens_and_events_through_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = make_key(&app, &["--tenant", "acme", "--label", "acme app"]);
    let issued = api(
        &app,
        "POST",
        "/tenants/acme/tokens",
        Some(&key),
        Some(json!({"days": 30, "label": "entra"})),
    )
    .await
    .expect(201);
    let token = issued.body["token"].as_str().expect("token").to_string();
    let id = issued.body["id"].as_str().expect("id").to_string();
    app.send(
        "GET",
        &format!("{}/Users", app.tenant_url("acme")),
        Some(&token),
        None,
    )
    .await
    .expect(200);
    let listed = api(&app, "GET", "/tenants/acme/tokens", Some(&key), None)
        .await
        .expect(200);
    let tokens = listed.body["tokens"].as_array().expect("tokens");
    assert!(tokens
        .iter()
        .any(|t| t["id"] == json!(id) && t["label"] == "entra"));
    assert!(
        !listed.body.to_string().contains(&token),
        "a list never shows a token"
    );
    let bad = api(
        &app,
        "POST",
        "/tenants/acme/tokens",
        Some(&key),
        Some(json!({"days": 9999})),
    )
    .await;
    assert_api_error(&bad, 400, "365");

    api(
        &app,
        "DELETE",
        &format!("/tenants/acme/tokens/{id}"),
        Some(&key),
        None,
    )
    .await
    .expect(204);
    let users = format!("{}/Users", app.tenant_url("acme"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let r = app.send("GET", &users, Some(&token), None).await;
        if r.status.as_u16() == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a revoked token still works after 3 s"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_api_error(
        &api(
            &app,
            "DELETE",
            "/tenants/acme/tokens/nope",
            Some(&key),
            None,
        )
        .await,
        404,
        "nope",
    );

    let user = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    let feed = api(
        &app,
        "GET",
        "/tenants/acme/events?after=0",
        Some(&key),
        None,
    )
    .await
    .expect(200);
    let events = feed.body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{}", feed.body);
    assert_eq!(events[0]["action"], "created");
    assert_eq!(events[0]["resourceId"], json!(user));
    let next = feed.body["next"].as_i64().expect("next");
    let later = api(
        &app,
        "GET",
        &format!("/tenants/acme/events?after={next}"),
        Some(&key),
        None,
    )
    .await
    .expect(200);
    assert_eq!(later.body["events"], json!([]));
    assert_api_error(
        &api(
            &app,
            "GET",
            "/tenants/acme/events?after=x",
            Some(&key),
            None,
        )
        .await,
        400,
        "after",
    );

    // The password feed still works, and says what replaces it.
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("alice:correct horse battery");
    let resp = app
        .client
        .get(format!("{}/api/tenants/acme/events", app.base))
        .insert_header(("Authorization", format!("Basic {basic}")))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers().contains_key("deprecation"));
    let link = resp
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        link.contains("/api/v1/tenants/acme/events") && link.contains("successor-version"),
        "{link}"
    );
}

/// Custom fields through the API: defined, listed with the attribute to map, and accepted on
/// SCIM writes at once by this instance; a bad name or type is 400, a second one 409.
async fn custom_fields_through_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = make_key(&app, &["--tenant", "acme", "--label", "acme app"]);
    let made = api(
        &app,
        "POST",
        "/tenants/acme/fields",
        Some(&key),
        Some(json!({"name": "costCenter", "type": "integer"})),
    )
    .await
    .expect(201);
    let attribute =
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:costCenter";
    assert_eq!(made.body["attribute"], json!(attribute));
    let listed = api(&app, "GET", "/tenants/acme/fields", Some(&key), None)
        .await
        .expect(200);
    assert_eq!(
        listed.body["fields"][0]["type"], "integer",
        "{}",
        listed.body
    );
    let again = api(
        &app,
        "POST",
        "/tenants/acme/fields",
        Some(&key),
        Some(json!({"name": "costCenter"})),
    )
    .await;
    assert_api_error(&again, 409, "already");
    for bad in [
        json!({"name": "9lives"}),
        json!({"name": "x", "type": "money"}),
        json!({"name": "x", "multiValued": "yes"}),
    ] {
        let r = api(&app, "POST", "/tenants/acme/fields", Some(&key), Some(bad)).await;
        assert_api_error(&r, 400, "");
    }
    // The field is part of the tenant's schema: a user carrying it is stored and read back.
    let mut user = crate::helpers::user_body("cc@contoso.com", "cc@contoso.com");
    user["schemas"].as_array_mut().unwrap().push(json!(
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
    ));
    user["urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"] =
        json!({"costCenter": 42});
    let created = app.scim("POST", "/Users", Some(user)).await.expect(201);
    assert_eq!(
        created.body["urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"]
            ["costCenter"],
        json!(42),
        "{}",
        created.body
    );
}

const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

/// A SCIM request to tenant `acme` on the instance at `base`.
async fn scim_on(
    app: &TestApp,
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let url = format!("{base}/scim/v2/tenants/acme{path}");
    app.send(method, &url, Some(&app.token), body.as_ref())
        .await
}

/// Poll `GET /Users` on `base` until it answers `status`; how long that took.
async fn until_scim_status(app: &TestApp, base: &str, status: u16) -> std::time::Duration {
    let start = std::time::Instant::now();
    loop {
        let r = scim_on(app, base, "GET", "/Users", None).await;
        if r.status.as_u16() == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "still {} after 5 s, waiting for {status}: {}",
            r.status,
            r.body
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// An operator disables a tenant: its SCIM endpoint answers 403 (a SCIM error saying so) on
/// this instance at once and on another within about a second; enabled again, it serves the
/// data it had. A tenant's own key may not do it (403), nor see another tenant (404); the CLI
/// does the same.
async fn operator_disables_a_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_tenant("globex");
    let operator = make_key(&app, &["--label", "billing app"]);
    let acme = make_key(&app, &["--tenant", "acme", "--label", "acme app"]);
    let sibling = app.spawn_sibling(|_| {}).await;
    let user = app
        .create_user("dora@contoso.com", "dora@contoso.com")
        .await;
    // The sibling has read the tenant (and remembers it) before it is disabled.
    scim_on(&app, &sibling, "GET", "/Users", None)
        .await
        .expect(200);

    let refused = api(&app, "POST", "/tenants/acme/disable", Some(&acme), None).await;
    assert_api_error(&refused, 403, "operator");
    let hidden = api(&app, "POST", "/tenants/globex/disable", Some(&acme), None).await;
    assert_api_error(&hidden, 404, "globex");
    let fresh = api(&app, "GET", "/tenants/acme", Some(&acme), None)
        .await
        .expect(200);
    assert_eq!(fresh.body["disabled"], json!(false), "{}", fresh.body);
    assert_eq!(fresh.body["disabledAt"], Value::Null);

    let disabled = api(&app, "POST", "/tenants/acme/disable", Some(&operator), None)
        .await
        .expect(200);
    assert_eq!(disabled.body["disabled"], json!(true), "{}", disabled.body);
    let at = disabled.body["disabledAt"]
        .as_str()
        .expect("disabledAt")
        .to_string();
    // Disabling again keeps the first time.
    let again = api(&app, "POST", "/tenants/acme/disable", Some(&operator), None)
        .await
        .expect(200);
    assert_eq!(again.body["disabledAt"], json!(at));
    app.scim("GET", &format!("/Users/{user}"), None)
        .await
        .expect_error(403, None, "disabled by its operator");
    app.scim(
        "POST",
        "/Users",
        Some(crate::helpers::user_body(
            "eve@contoso.com",
            "eve@contoso.com",
        )),
    )
    .await
    .expect_error(403, None, "disabled");
    let waited = until_scim_status(&app, &sibling, 403).await;
    assert!(
        waited < std::time::Duration::from_millis(2500),
        "the sibling took {waited:?}"
    );
    // A stranger still gets the 401 first; other tenants are untouched.
    let anonymous = app
        .send(
            "GET",
            &format!("{}/Users", app.tenant_url("acme")),
            None,
            None,
        )
        .await;
    assert_eq!(anonymous.status.as_u16(), 401);
    let listed = api(&app, "GET", "/tenants", Some(&operator), None)
        .await
        .expect(200);
    let globex = listed.body["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .find(|t| t["slug"] == "globex")
        .expect("globex")
        .clone();
    assert_eq!(globex["disabled"], json!(false));
    // The tenant's own page says so.
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let mut page = app.cookies();
    assert_eq!(
        page.login("alice", "correct horse battery").await.status,
        303
    );
    let shown = page.get("/admin/t/acme").await;
    assert!(
        shown
            .text_of("tenant-disabled")
            .is_some_and(|t| t.contains("disabled by its operator")),
        "{}",
        shown.body
    );

    let refused = api(&app, "POST", "/tenants/acme/enable", Some(&acme), None).await;
    assert_api_error(&refused, 403, "operator");
    let enabled = api(&app, "POST", "/tenants/acme/enable", Some(&operator), None)
        .await
        .expect(200);
    assert_eq!(enabled.body["disabled"], json!(false), "{}", enabled.body);
    let kept = app
        .scim("GET", &format!("/Users/{user}"), None)
        .await
        .expect(200);
    assert_eq!(kept.body["userName"], "dora@contoso.com");
    until_scim_status(&app, &sibling, 200).await;
    assert!(page
        .get("/admin/t/acme")
        .await
        .text_of("tenant-disabled")
        .is_none());

    // The CLI is another process: this instance notices within a second.
    app.cli().ok(&["tenant", "disable", "acme"]);
    assert!(app.cli().ok(&["tenant", "list"]).contains("disabled"));
    let waited = until_scim_status(&app, &app.base, 403).await;
    assert!(
        waited < std::time::Duration::from_millis(2500),
        "took {waited:?}"
    );
    app.cli().ok(&["tenant", "enable", "acme"]);
    until_scim_status(&app, &app.base, 200).await;
    let (ok, _, err) = app.cli().run(&["tenant", "disable", "nope"]).into_parts();
    assert!(!ok && err.contains("nope"), "{err}");
}

/// A removed custom field leaves /Schemas and new writes refuse it as an unknown attribute,
/// while the values stored before stay readable and the users carrying them can still be
/// patched (Entra's deactivation among them).
async fn removed_field_keeps_stored_values(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = make_key(&app, &["--tenant", "acme", "--label", "acme app"]);
    api(
        &app,
        "POST",
        "/tenants/acme/fields",
        Some(&key),
        Some(json!({"name": "badgeColor"})),
    )
    .await
    .expect(201);
    let mut body = crate::helpers::user_body("cc@contoso.com", "cc@contoso.com");
    body["schemas"].as_array_mut().unwrap().push(json!(CUSTOM));
    body[CUSTOM] = json!({"badgeColor": "K-42"});
    let created = app
        .scim("POST", "/Users", Some(body.clone()))
        .await
        .expect(201);
    let id = created.body["id"].as_str().expect("id").to_string();

    api(
        &app,
        "DELETE",
        "/tenants/acme/fields/badgeColor",
        Some(&key),
        None,
    )
    .await
    .expect(204);
    assert_api_error(
        &api(
            &app,
            "DELETE",
            "/tenants/acme/fields/badgeColor",
            Some(&key),
            None,
        )
        .await,
        404,
        "badgeColor",
    );
    let listed = api(&app, "GET", "/tenants/acme/fields", Some(&key), None)
        .await
        .expect(200);
    assert_eq!(listed.body["fields"], json!([]));
    let schemas = app.scim("GET", "/Schemas", None).await.expect(200);
    assert!(
        !schemas.body.to_string().contains("badgeColor"),
        "{}",
        schemas.body
    );

    // New writes refuse it, by the unknown-attribute rule.
    let mut other = crate::helpers::user_body("dd@contoso.com", "dd@contoso.com");
    other["schemas"].as_array_mut().unwrap().push(json!(CUSTOM));
    other[CUSTOM] = json!({"badgeColor": "K-7"});
    app.scim("POST", "/Users", Some(other)).await.expect_error(
        400,
        Some("invalidSyntax"),
        "badgeColor",
    );
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(crate::helpers::patch(json!([
            {"op": "replace", "path": format!("{CUSTOM}:badgeColor"), "value": "K-9"}
        ]))),
    )
    .await
    .expect_error(400, Some("invalidSyntax"), "badgeColor");

    // What was stored stays, through reads and through other changes of the user.
    let read = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_eq!(read.body[CUSTOM]["badgeColor"], "K-42", "{}", read.body);
    let patched = app
        .scim(
            "PATCH",
            &format!("/Users/{id}"),
            Some(crate::helpers::patch(json!([
                {"op": "replace", "path": "active", "value": "False"}
            ]))),
        )
        .await
        .expect(200);
    assert_eq!(patched.body["active"], json!(false));
    assert_eq!(
        patched.body[CUSTOM]["badgeColor"], "K-42",
        "{}",
        patched.body
    );
    // A PUT that echoes the stored value is accepted and keeps it.
    let mut echoed = read.body.clone();
    echoed["displayName"] = json!("Renamed");
    let put = app
        .scim("PUT", &format!("/Users/{id}"), Some(echoed))
        .await
        .expect(200);
    assert_eq!(put.body[CUSTOM]["badgeColor"], "K-42", "{}", put.body);
    let through_api = api(
        &app,
        "GET",
        &format!("/tenants/acme/users/{id}"),
        Some(&key),
        None,
    )
    .await
    .expect(200);
    assert_eq!(
        through_api.body["resource"][CUSTOM]["badgeColor"], "K-42",
        "{}",
        through_api.body
    );
}

/// A custom field removed and defined again with another type (string → integer, string →
/// boolean) leaves stored values that no longer fit: they stay as stored, and writes that
/// leave them alone (Entra's deactivation, a PUT resending them) succeed; a write that sets a
/// new value that does not fit is 400 naming the field and its type.
async fn field_defined_again_with_another_type(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = make_key(&app, &["--tenant", "acme", "--label", "acme app"]);
    let define = |name: &'static str, kind: &'static str| {
        let (app, key) = (&app, &key);
        async move {
            api(
                app,
                "POST",
                "/tenants/acme/fields",
                Some(key),
                Some(json!({"name": name, "type": kind})),
            )
            .await
            .expect(201);
        }
    };
    define("badgeColor", "string").await;
    define("vip", "string").await;
    let mut body = crate::helpers::user_body("ee@contoso.com", "ee@contoso.com");
    body["schemas"].as_array_mut().unwrap().push(json!(CUSTOM));
    body[CUSTOM] = json!({"badgeColor": "K-42", "vip": "sometimes"});
    let created = app.scim("POST", "/Users", Some(body)).await.expect(201);
    let id = created.body["id"].as_str().expect("id").to_string();
    for name in ["badgeColor", "vip"] {
        let path = format!("/tenants/acme/fields/{name}");
        api(&app, "DELETE", &path, Some(&key), None)
            .await
            .expect(204);
    }
    define("badgeColor", "integer").await;
    define("vip", "boolean").await;

    // Entra deactivates the user: the PATCH touches `active` only.
    let user = format!("/Users/{id}");
    let deactivate = crate::helpers::patch(json!([
        {"op": "replace", "path": "active", "value": "False"}
    ]));
    let patched = app.scim("PATCH", &user, Some(deactivate)).await.expect(200);
    assert_eq!(patched.body["active"], json!(false));
    let stored = json!({"badgeColor": "K-42", "vip": "sometimes"});
    assert_eq!(patched.body[CUSTOM], stored, "{}", patched.body);
    let read = app.scim("GET", &user, None).await.expect(200);
    assert_eq!(read.body["active"], json!(false));
    assert_eq!(read.body[CUSTOM], stored, "{}", read.body);

    // A PUT resending the values unchanged is accepted and keeps them.
    let mut resent = read.body.clone();
    resent["displayName"] = json!("Resent");
    let put = app.scim("PUT", &user, Some(resent)).await.expect(200);
    assert_eq!(put.body["displayName"], "Resent");
    assert_eq!(put.body[CUSTOM], stored, "{}", put.body);

    // A new value is checked against the field as defined now.
    let set = |path: &str, value: Value| {
        crate::helpers::patch(json!([
            {"op": "replace", "path": format!("{CUSTOM}:{path}"), "value": value}
        ]))
    };
    let refused = app
        .scim("PATCH", &user, Some(set("badgeColor", json!("K-9"))))
        .await
        .expect_error(400, Some("invalidValue"), "badgeColor");
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("must be an integer"), "{detail}");
    app.scim("PATCH", &user, Some(set("vip", json!("often"))))
        .await
        .expect_error(400, Some("invalidValue"), "must be a boolean");
    let mut put_bad = put.body.clone();
    put_bad[CUSTOM]["vip"] = json!("rarely");
    app.scim("PUT", &user, Some(put_bad))
        .await
        .expect_error(400, Some("invalidValue"), "vip");
    // A value that fits replaces the old one.
    let fixed = app
        .scim("PATCH", &user, Some(set("badgeColor", json!(7))))
        .await
        .expect(200);
    assert_eq!(
        fixed.body[CUSTOM],
        json!({"badgeColor": 7, "vip": "sometimes"}),
        "{}",
        fixed.body
    );
}

fn ids_of(r: &Reply, list: &str) -> Vec<String> {
    r.body[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} in {}", r.body))
        .iter()
        .map(|u| u["id"].as_str().expect("id").to_string())
        .collect()
}

/// Every page of a list, following nextCursor: each page's entries, in order.
async fn walk(app: &TestApp, key: &str, path: &str, list: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}cursor={c}"),
            None => path.to_string(),
        };
        let page = api(app, "GET", &url, Some(key), None).await.expect(200);
        all.extend(page.body[list].as_array().expect("list").iter().cloned());
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => {
                assert_eq!(page.body["nextCursor"], Value::Null, "{}", page.body);
                return all;
            }
        }
    }
    panic!("more than 100 pages");
}

/// Users of ~900 KB: a page asking for 1,000 stops at the page's bytes (4 MiB by default)
/// with at least one user. SCIM answers fewer results with `itemsPerPage` saying how many,
/// and walking by `startIndex + itemsPerPage` (GET /Users, filtered and sorted in memory too,
/// and POST /.search with a group after the users) returns each resource once; the host API answers a shorter page with a
/// `nextCursor` that walks them all once too.
async fn large_users_are_paged_by_bytes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = make_key(&app, &["--tenant", "acme", "--label", "acme app"]);
    const USERS: usize = 10;
    let mut made = Vec::new();
    for i in 0..USERS {
        let mail = format!("big{i}@contoso.com");
        let mut body = crate::helpers::user_body(&mail, &mail);
        body["title"] = json!(format!("{i}").repeat(900_000));
        let r = app.scim("POST", "/Users", Some(body)).await.expect(201);
        made.push(r.body["id"].as_str().expect("id").to_string());
    }
    let group = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Big"})),
        )
        .await
        .expect(201);
    let group_id = group.body["id"].as_str().expect("id").to_string();
    let max_page = app.state.settings.max_page_bytes;

    // GET /Users?count=1000, then on from startIndex + itemsPerPage.
    let walk_scim = |first: &'static str| {
        let app = &app;
        async move {
            let (mut seen, mut start, mut pages) = (Vec::new(), 1, 0);
            loop {
                let (method, path, body) = if first == "users" {
                    ("GET", format!("/Users?count=1000&startIndex={start}"), None)
                } else if first == "scan" {
                    // title has no index: filtered and sorted in memory.
                    let query = "filter=title%20pr&sortBy=title&sortOrder=descending";
                    let path = format!("/Users?count=1000&startIndex={start}&{query}");
                    ("GET", path, None)
                } else {
                    let search = json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "startIndex": start, "count": 1000
                    });
                    ("POST", "/.search".to_string(), Some(search))
                };
                let page = app.scim(method, &path, body).await.expect(200);
                let text_len = page.body.to_string().len();
                let items = page.body["Resources"]
                    .as_array()
                    .expect("Resources")
                    .clone();
                let per_page = page.body["itemsPerPage"].as_u64().expect("itemsPerPage");
                assert_eq!(
                    per_page as usize,
                    items.len(),
                    "itemsPerPage counts Resources"
                );
                assert_eq!(page.body["startIndex"], json!(start));
                let total = page.body["totalResults"].as_u64().expect("totalResults");
                assert!(!items.is_empty(), "a page holds at least one resource");
                assert!(
                    items.len() < USERS,
                    "a page of 1,000 large users stops at its bytes: {} users",
                    items.len()
                );
                assert!(
                    text_len <= max_page + 64 * 1024,
                    "page of {text_len} bytes, more than {max_page}"
                );
                seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_string()));
                start += items.len();
                pages += 1;
                if start as u64 > total {
                    return (seen, pages, total);
                }
            }
        }
    };
    let (seen, pages, total) = walk_scim("users").await;
    assert_eq!(total, USERS as u64);
    assert_eq!(seen, made, "each user once, in order");
    assert!(pages >= 3, "{pages} pages");
    let (seen, _, total) = walk_scim("scan").await;
    assert_eq!(total, USERS as u64);
    let descending: Vec<String> = made.iter().rev().cloned().collect();
    assert_eq!(seen, descending, "each user once, by title descending");
    let (seen, _, total) = walk_scim("search").await;
    assert_eq!(total, USERS as u64 + 1);
    let mut expected = made.clone();
    expected.push(group_id);
    assert_eq!(seen, expected, "each user once, then the group");

    // A projection keeps pages bounded by the rendered bytes: small users fit by the hundred.
    let light = app
        .scim("GET", "/Users?count=1000&attributes=userName", None)
        .await
        .expect(200);
    assert_eq!(
        light.body["itemsPerPage"],
        json!(USERS),
        "{}",
        light.body["itemsPerPage"]
    );

    // The host API: limit=1000 gives shorter pages, each with the cursor of the next.
    let mut cursor: Option<String> = None;
    let mut listed = Vec::new();
    for _ in 0..USERS + 1 {
        let path = match &cursor {
            Some(c) => format!("/tenants/acme/users?limit=1000&cursor={c}"),
            None => "/tenants/acme/users?limit=1000".to_string(),
        };
        let page = api(&app, "GET", &path, Some(&key), None).await.expect(200);
        let users = page.body["users"].as_array().expect("users");
        assert!(
            !users.is_empty() && users.len() < USERS,
            "{} users",
            users.len()
        );
        assert!(page.body.to_string().len() <= max_page + 64 * 1024);
        listed.extend(users.iter().map(|u| u["id"].as_str().unwrap().to_string()));
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(listed, made, "each user once, in (updatedAt, id) order");
}

/// The host app reads users: cursor pages return each user once; updatedSince returns what
/// changed since; deactivated and deleted users only when asked for, saying so; bad
/// parameters are 400 saying what to fix; another tenant's key sees nothing.
async fn host_reads_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = make_key(&app, &["--tenant", "acme", "--label", "acme app"]);
    let globex = {
        app.add_tenant("globex");
        make_key(&app, &["--tenant", "globex", "--label", "globex app"])
    };
    let mut made = Vec::new();
    for i in 0..7 {
        let mail = format!("u{i}@contoso.com");
        made.push(app.create_user(&mail, &mail).await);
    }
    let all = walk(&app, &key, "/tenants/acme/users?limit=3", "users").await;
    let mut seen: Vec<String> = all
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen.len(), 7, "each user once: {seen:?}");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7);
    let first = &all[0];
    assert_eq!(first["active"], json!(true));
    assert_eq!(first["deleted"], json!(false));
    assert_eq!(first["resource"]["id"], first["id"]);
    assert!(first["resource"]["userName"].is_string(), "{first}");
    let last_seen = all.last().unwrap()["updatedAt"]
        .as_str()
        .unwrap()
        .to_string();

    // A change after the walk: asking again from the last updatedAt seen finds it.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    let changed = &made[2];
    app.scim(
        "PATCH",
        &format!("/Users/{changed}"),
        Some(crate::helpers::patch(json!([
            {"op": "replace", "path": "displayName", "value": "Changed"}
        ]))),
    )
    .await
    .expect(200);
    let since = api(
        &app,
        "GET",
        &format!("/tenants/acme/users?updatedSince={last_seen}"),
        Some(&key),
        None,
    )
    .await
    .expect(200);
    let again = ids_of(&since, "users");
    assert!(again.contains(changed), "{}", since.body);
    for u in since.body["users"].as_array().unwrap() {
        assert!(
            u["id"] == json!(changed) || u["updatedAt"] == json!(last_seen),
            "only later changes (and the last one seen): {u}"
        );
    }
    let later = chrono::DateTime::parse_from_rfc3339(&last_seen).unwrap()
        + chrono::Duration::milliseconds(1);
    let later = later.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let only = api(
        &app,
        "GET",
        &format!("/tenants/acme/users?updatedSince={later}"),
        Some(&key),
        None,
    )
    .await
    .expect(200);
    assert_eq!(ids_of(&only, "users"), std::slice::from_ref(changed));

    // Deactivated and deleted users, only when asked for.
    let (inactive, gone) = (&made[0], &made[1]);
    app.scim(
        "PATCH",
        &format!("/Users/{inactive}"),
        Some(crate::helpers::patch(json!([
            {"op": "replace", "path": "active", "value": "False"}
        ]))),
    )
    .await
    .expect(200);
    app.scim("DELETE", &format!("/Users/{gone}"), None)
        .await
        .expect(204);
    let list = |q: &'static str| {
        let (app, key) = (&app, &key);
        async move {
            let r = api(
                app,
                "GET",
                &format!("/tenants/acme/users?{q}"),
                Some(key),
                None,
            )
            .await
            .expect(200);
            ids_of(&r, "users")
        }
    };
    let live = list("").await;
    assert_eq!(live.len(), 5);
    assert!(!live.contains(inactive) && !live.contains(gone));
    let with_inactive = list("includeDeactivated=true").await;
    assert_eq!(with_inactive.len(), 6);
    assert!(with_inactive.contains(inactive) && !with_inactive.contains(gone));
    let with_deleted = list("includeDeleted=true&includeDeactivated=false").await;
    assert_eq!(with_deleted.len(), 6);
    assert!(!with_deleted.contains(inactive) && with_deleted.contains(gone));
    assert_eq!(
        list("includeDeleted=true&includeDeactivated=true")
            .await
            .len(),
        7
    );
    // The deletion is a change too: a walk from before it sees the tombstone.
    let deleted_since = api(
        &app,
        "GET",
        &format!("/tenants/acme/users?updatedSince={later}&includeDeleted=true"),
        Some(&key),
        None,
    )
    .await
    .expect(200);
    assert!(
        ids_of(&deleted_since, "users").contains(gone),
        "{}",
        deleted_since.body
    );

    let tomb = api(
        &app,
        "GET",
        &format!("/tenants/acme/users/{gone}"),
        Some(&key),
        None,
    )
    .await
    .expect(200);
    assert_eq!(tomb.body["deleted"], json!(true), "{}", tomb.body);
    assert!(tomb.body["deletedAt"].is_string());
    let off = api(
        &app,
        "GET",
        &format!("/tenants/acme/users/{inactive}"),
        Some(&key),
        None,
    )
    .await
    .expect(200);
    assert_eq!(off.body["active"], json!(false));
    assert!(off.body["deactivatedAt"].is_string(), "{}", off.body);
    assert_api_error(
        &api(&app, "GET", "/tenants/acme/users/nope", Some(&key), None).await,
        404,
        "nope",
    );
    // Another tenant's key: 404, as if there were no tenant.
    assert_api_error(
        &api(&app, "GET", "/tenants/acme/users", Some(&globex), None).await,
        404,
        "acme",
    );
    assert_api_error(
        &api(
            &app,
            "GET",
            &format!("/tenants/acme/users/{changed}"),
            Some(&globex),
            None,
        )
        .await,
        404,
        "acme",
    );
    let empty = api(&app, "GET", "/tenants/globex/users", Some(&globex), None)
        .await
        .expect(200);
    assert_eq!(empty.body, json!({"users": [], "nextCursor": null}));

    let groups_cursor = {
        app.scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g1"})),
        )
        .await
        .expect(201);
        app.scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g2"})),
        )
        .await
        .expect(201);
        let r = api(
            &app,
            "GET",
            "/tenants/acme/groups?limit=1",
            Some(&key),
            None,
        )
        .await
        .expect(200);
        r.body["nextCursor"].as_str().expect("a cursor").to_string()
    };
    for (query, needle) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        (&*format!("cursor={groups_cursor}"), "cursor"),
        ("updatedSince=yesterday", "updatedSince"),
        ("includeDeleted=yes", "includeDeleted"),
        ("includeDeactivated=1", "includeDeactivated"),
    ] {
        let r = api(
            &app,
            "GET",
            &format!("/tenants/acme/users?{query}"),
            Some(&key),
            None,
        )
        .await;
        assert_api_error(&r, 400, needle);
    }
}

/// The host app reads groups: pages by cursor, a group by id (a deleted one says so), and a
/// group's members page by page.
async fn host_reads_groups(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = make_key(&app, &["--tenant", "acme", "--label", "acme app"]);
    let mut users = Vec::new();
    for i in 0..3 {
        let mail = format!("m{i}@contoso.com");
        users.push(app.create_user(&mail, &mail).await);
    }
    let members: Vec<Value> = users
        .iter()
        .map(|u| json!({"value": u, "display": "someone"}))
        .collect();
    let team = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Team", "members": members})),
        )
        .await
        .expect(201);
    let team = team.body["id"].as_str().unwrap().to_string();
    let mut groups = vec![team.clone()];
    for name in ["Empty", "Doomed"] {
        let g = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})),
            )
            .await
            .expect(201);
        groups.push(g.body["id"].as_str().unwrap().to_string());
    }
    let all = walk(&app, &key, "/tenants/acme/groups?limit=2", "groups").await;
    let mut seen: Vec<String> = all
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    let mut expected = groups.clone();
    expected.sort();
    assert_eq!(seen, expected);
    assert!(all.iter().all(|g| g["resource"].get("members").is_none()));

    let one = api(
        &app,
        "GET",
        &format!("/tenants/acme/groups/{team}"),
        Some(&key),
        None,
    )
    .await
    .expect(200);
    assert_eq!(one.body["displayName"], "Team", "{}", one.body);
    assert_eq!(one.body["deleted"], json!(false));
    let listed = walk(
        &app,
        &key,
        &format!("/tenants/acme/groups/{team}/members?limit=2"),
        "members",
    )
    .await;
    let mut member_ids: Vec<String> = listed
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    member_ids.sort();
    let mut want = users.clone();
    want.sort();
    assert_eq!(member_ids, want);
    assert!(
        listed
            .iter()
            .all(|m| m["type"] == "User" && m["display"] == "someone"),
        "{listed:?}"
    );

    let doomed = &groups[2];
    app.scim("DELETE", &format!("/Groups/{doomed}"), None)
        .await
        .expect(204);
    let live = api(&app, "GET", "/tenants/acme/groups", Some(&key), None)
        .await
        .expect(200);
    assert!(!ids_of(&live, "groups").contains(doomed));
    let with_deleted = api(
        &app,
        "GET",
        "/tenants/acme/groups?includeDeleted=true",
        Some(&key),
        None,
    )
    .await
    .expect(200);
    assert!(ids_of(&with_deleted, "groups").contains(doomed));
    let tomb = api(
        &app,
        "GET",
        &format!("/tenants/acme/groups/{doomed}"),
        Some(&key),
        None,
    )
    .await
    .expect(200);
    assert_eq!(tomb.body["deleted"], json!(true), "{}", tomb.body);
    assert_api_error(
        &api(
            &app,
            "GET",
            "/tenants/acme/groups/nope/members",
            Some(&key),
            None,
        )
        .await,
        404,
        "nope",
    );
    assert_api_error(
        &api(
            &app,
            "GET",
            &format!("/tenants/acme/groups/{team}/members?cursor=zz"),
            Some(&key),
            None,
        )
        .await,
        400,
        "cursor",
    );
    // A user is not a group.
    assert_api_error(
        &api(
            &app,
            "GET",
            &format!("/tenants/acme/groups/{}", users[0]),
            Some(&key),
            None,
        )
        .await,
        404,
        "group",
    );
}

crate::helpers::backend_tests!(
    host_reads_groups,
    host_reads_users,
    operator_disables_a_tenant,
    removed_field_keeps_stored_values,
    field_defined_again_with_another_type,
    large_users_are_paged_by_bytes,
    custom_fields_through_the_api,
    keys_scope_what_they_manage,
    keys_are_stored_hashed,
    tokens_and_events_through_the_api
);
