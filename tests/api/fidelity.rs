//! The rest of Entra fidelity: ETags and If-Match, .search, sorting, custom field types,
//! purge of tombstones, and the provisioning log as an admin change feed.

use crate::helpers::{patch, user_body, Backend, TestApp};
use serde_json::{json, Value};

const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

/// A command on the app's database: (ok, stdout, stderr).
fn cli(app: &TestApp, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    app.cli().run_with_stdin(args, stdin).into_parts()
}

/// If-Match is honoured (412 on a stale version) but never required.
async fn etags_and_if_match(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    let url = format!("{}/Users/{id}", app.tenant_url("acme"));
    let body = patch(json!([{"op": "replace", "path": "title", "value": "A"}]));
    let send = |if_match: &'static str, body: Value| {
        let req = app
            .client
            .patch(url.clone())
            .insert_header(("Authorization", format!("Bearer {}", app.token)))
            .insert_header(("Content-Type", "application/scim+json"))
            .insert_header(("If-Match", if_match));
        async move {
            req.send_body(body.to_string())
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(send("W/\"1\"", body.clone()).await, 200);
    // Version is now 2: a client holding version 1 loses.
    assert_eq!(
        send(
            "W/\"1\"",
            patch(json!([{"op": "replace", "path": "title", "value": "B"}]))
        )
        .await,
        412
    );
    assert_eq!(
        send(
            "*",
            patch(json!([{"op": "replace", "path": "title", "value": "C"}]))
        )
        .await,
        200
    );
    let g = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_eq!(g.body["title"], "C");
    assert_eq!(g.etag.as_deref(), Some("W/\"3\""));
    // Re-sending what is already stored makes no new version (Entra re-sends every cycle).
    let r = app
        .scim(
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "path": "title", "value": "C"}]),
            )),
        )
        .await
        .expect(200);
    assert_eq!(r.etag.as_deref(), Some("W/\"3\""));
}

/// POST /Users/.search and the root /.search; sortBy/sortOrder on indexed and other attributes.
async fn search_and_sort(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (name, title) in [("carol", "b"), ("alice", "c"), ("bob", "a")] {
        let mut body = user_body(
            &format!("{name}@contoso.com"),
            &format!("{name}@contoso.com"),
        );
        body["title"] = json!(title);
        app.scim("POST", "/Users", Some(body)).await.expect(201);
    }
    app.scim("POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "alpha"}))).await.expect(201);
    let names = |r: &Value| -> Vec<String> {
        r["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": "userName ew \"@contoso.com\"", "sortBy": "userName", "attributes": ["userName"], "count": 2});
    let r = app
        .scim("POST", "/Users/.search", Some(search))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(names(&r.body), vec!["alice@contoso.com", "bob@contoso.com"]);
    assert!(r.body["Resources"][0].get("emails").is_none());
    let r = app
        .scim("GET", "/Users?sortBy=title&sortOrder=descending", None)
        .await
        .expect(200);
    assert_eq!(
        names(&r.body),
        vec!["alice@contoso.com", "carol@contoso.com", "bob@contoso.com"]
    );
    let r = app
        .scim("GET", "/Users?filter=title+pr&sortBy=title", None)
        .await
        .expect(200);
    assert_eq!(
        names(&r.body),
        vec!["bob@contoso.com", "carol@contoso.com", "alice@contoso.com"]
    );
    // Root search spans users and groups.
    let r = app
        .scim(
            "POST",
            "/.search",
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 4);
    let r = app
        .scim(
            "POST",
            "/.search",
            Some(json!({"startIndex": 4, "count": 5})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["Resources"][0]["displayName"], "alpha");
    app.scim("GET", "/Users?sortOrder=sideways", None)
        .await
        .expect_error(400, Some("invalidValue"), "sortOrder");
}

/// Custom fields are typed and validated per tenant; another tenant does not see them.
async fn custom_field_types(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert!(
        cli(
            &app,
            &["field", "add", "acme", "badgeNumber", "--type", "integer"],
            None
        )
        .0
    );
    assert!(
        cli(
            &app,
            &[
                "field",
                "add",
                "acme",
                "skills",
                "--type",
                "string",
                "--multi-valued"
            ],
            None
        )
        .0
    );
    let (ok, _, err) = cli(&app, &["field", "add", "acme", "bad name"], None);
    assert!(!ok && err.contains("invalid field name"), "{err}");
    let (ok, _, err) = cli(
        &app,
        &["field", "add", "acme", "x", "--type", "color"],
        None,
    );
    assert!(!ok && err.contains("unknown field type"), "{err}");
    let (ok, _, err) = cli(&app, &["field", "add", "acme", "BadgeNumber"], None);
    assert!(!ok && err.contains("already defined"), "{err}");
    let (_, out, _) = cli(&app, &["field", "list", "acme"], None);
    assert!(out.contains(&format!("{CUSTOM}:badgeNumber")), "{out}");

    let mut body = user_body("alice@contoso.com", "alice@contoso.com");
    body[CUSTOM] = json!({"badgeNumber": 42, "skills": ["rust", "scim"]});
    let r = app
        .scim("POST", "/Users", Some(body.clone()))
        .await
        .expect(201);
    assert_eq!(r.body[CUSTOM]["badgeNumber"], 42);
    assert_eq!(r.body[CUSTOM]["skills"], json!(["rust", "scim"]));
    let id = r.body["id"].as_str().unwrap().to_string();
    app.scim("PATCH", &format!("/Users/{id}"), Some(patch(json!([{"op": "replace", "path": format!("{CUSTOM}:badgeNumber"), "value": "not a number"}]))))
        .await
        .expect_error(400, Some("invalidValue"), "badgeNumber");
    let types = app
        .scim("GET", "/ResourceTypes/User", None)
        .await
        .expect(200);
    assert!(
        types.body["schemaExtensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["schema"] == CUSTOM),
        "{}",
        types.body
    );

    // Tenant globex has no such field.
    let other = app.add_tenant("globex");
    let url = format!("{}/Users", app.tenant_url("globex"));
    let r = app
        .send("POST", &url, Some(&other), Some(&body))
        .await
        .expect(400);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("scimd field add"),
        "{}",
        r.body
    );
}

/// A field added by the CLI (another process) while scimd serves the tenant is accepted
/// within a second (a running scimd trusts the fields it read for a second).
async fn field_added_while_serving(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A write first, so the server has read the tenant's (empty) list of fields.
    app.create_user("first@contoso.com", "first@contoso.com")
        .await;
    assert!(
        cli(
            &app,
            &["field", "add", "acme", "badgeNumber", "--type", "integer"],
            None
        )
        .0
    );
    let added = std::time::Instant::now();
    let mut body = user_body("alice@contoso.com", "alice@contoso.com");
    body[CUSTOM] = json!({"badgeNumber": 7});
    let accepted = loop {
        let r = app.scim("POST", "/Users", Some(body.clone())).await;
        if r.status == 201 || added.elapsed() > std::time::Duration::from_secs(3) {
            break r;
        }
        assert_eq!(r.status, 400, "{}", r.body);
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let accepted = accepted.expect(201);
    assert_eq!(accepted.body[CUSTOM]["badgeNumber"], 7);
    assert!(
        added.elapsed() < std::time::Duration::from_millis(2500),
        "took {:?}",
        added.elapsed()
    );
}

/// `scimd purge` removes old tombstones and keeps live and recent ones.
async fn purge_tombstones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let gone = app
        .create_user("gone@contoso.com", "gone@contoso.com")
        .await;
    let kept = app
        .create_user("kept@contoso.com", "kept@contoso.com")
        .await;
    app.scim("DELETE", &format!("/Users/{gone}"), None)
        .await
        .expect(204);
    let (ok, out, err) = cli(&app, &["purge", "--older-than", "30d"], None);
    assert!(ok && out.contains("purged 0 users"), "{out}{err}");
    let (ok, out, err) = cli(&app, &["purge", "--older-than", "0s"], None);
    assert!(ok && out.contains("purged 1 users"), "{out}{err}");
    app.scim("GET", &format!("/Users/{kept}"), None)
        .await
        .expect(200);
    let (ok, _, err) = cli(&app, &["purge", "--older-than", "soon"], None);
    assert!(!ok && err.contains("invalid age"), "{err}");
}

/// The provisioning log: every accepted or rejected write, readable by the tenant's admin
/// as a change feed (`after=ID`), and by nobody else.
async fn events_change_feed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_tenant("globex");
    assert!(
        cli(
            &app,
            &["admin", "create", "acme", "alice", "--password-stdin"],
            Some("correct horse battery\n")
        )
        .0
    );
    assert!(
        cli(
            &app,
            &["admin", "create", "globex", "gary", "--password-stdin"],
            Some("another long password\n")
        )
        .0
    );
    let (ok, _, err) = cli(
        &app,
        &["admin", "create", "acme", "shorty", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!ok && err.contains("at least 12"), "{err}");

    let id = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    app.scim(
        "POST",
        "/Users",
        Some(user_body("alice@contoso.com", "alice@contoso.com")),
    )
    .await
    .expect(409);
    // A body that does not parse is refused before any use case runs, and logged all the same.
    let r = app
        .client
        .patch(format!("{}/Users/{id}", app.tenant_url("acme")))
        .insert_header(("Authorization", format!("Bearer {}", app.token)))
        .insert_header(("Content-Type", "application/scim+json"))
        .send_body("{not json")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )),
    )
    .await
    .expect(200);

    let feed = |user: &str, pass: &str, after: i64| {
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let req = app
            .client
            .get(format!(
                "{}/api/tenants/acme/events?after={after}",
                app.base
            ))
            .insert_header(("Authorization", format!("Basic {auth}")));
        async move {
            let mut resp = req.send().await.unwrap();
            let body: Value =
                serde_json::from_slice(&resp.body().await.unwrap()).unwrap_or(Value::Null);
            (resp.status().as_u16(), body)
        }
    };
    let (status, body) = feed("alice", "correct horse battery", 0).await;
    assert_eq!(status, 200, "{body}");
    let actions: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["created", "rejected", "rejected", "deactivated"]
    );
    let rejected = &body["events"][1];
    assert!(
        rejected["detail"].as_str().unwrap().contains("409"),
        "{rejected}"
    );
    let unparsed = body["events"][2]["detail"].as_str().unwrap();
    assert!(
        unparsed.starts_with("400") && unparsed.contains("not valid JSON"),
        "{unparsed}"
    );
    assert_eq!(body["events"][2]["resourceId"], json!(id), "{body}");
    assert!(rejected["tokenId"].is_string());
    // The feed resumes after the last id seen.
    let next = body["next"].as_i64().unwrap();
    let (_, later) = feed("alice", "correct horse battery", next).await;
    assert_eq!(later["events"], json!([]));
    let first = body["events"][0]["id"].as_i64().unwrap();
    let (_, tail) = feed("alice", "correct horse battery", first).await;
    assert_eq!(tail["events"].as_array().unwrap().len(), 3);
    // Wrong password: 401; another tenant's admin: 404.
    assert_eq!(feed("alice", "wrong password!!", 0).await.0, 401);
    assert_eq!(feed("nobody", "correct horse battery", 0).await.0, 401);
    assert_eq!(feed("gary", "another long password", 0).await.0, 404);
    // The CLI prints the same log.
    let (_, out, _) = cli(&app, &["events", "acme"], None);
    assert_eq!(out.lines().count(), 4, "{out}");
}

fn group(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})
}

/// Entra matches groups on displayName: a second group of the same name (any case), by POST,
/// PUT or PATCH, is 409 naming it; concurrent creates on two instances give one 201.
async fn group_names_are_unique(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app
        .scim("POST", "/Groups", Some(group("Sales")))
        .await
        .expect(201);
    let first_id = first.body["id"].as_str().expect("id").to_string();
    app.scim("POST", "/Groups", Some(group("SALES")))
        .await
        .expect_error(409, Some("uniqueness"), "\"sales\"");
    let other = app
        .scim("POST", "/Groups", Some(group("Marketing")))
        .await
        .expect(201);
    let other_id = other.body["id"].as_str().expect("id").to_string();
    app.scim("PUT", &format!("/Groups/{other_id}"), Some(group("sales")))
        .await
        .expect_error(409, Some("uniqueness"), "displayName");
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "Sales"}]));
    app.scim("PATCH", &format!("/Groups/{other_id}"), Some(rename))
        .await
        .expect_error(409, Some("uniqueness"), "displayName");
    let g = app
        .scim("GET", &format!("/Groups/{other_id}"), None)
        .await
        .expect(200);
    assert_eq!(g.body["displayName"], "Marketing");
    // Another tenant may use the name; a deleted group frees it.
    let globex = app.add_tenant("globex");
    app.send(
        "POST",
        &format!("{}/Groups", app.tenant_url("globex")),
        Some(&globex),
        Some(&group("Sales")),
    )
    .await
    .expect(201);
    app.scim("DELETE", &format!("/Groups/{first_id}"), None)
        .await
        .expect(204);
    app.scim("POST", "/Groups", Some(group("sales")))
        .await
        .expect(201);
    // Concurrent creates of one name on two instances: one 201.
    let sibling = app.spawn_sibling(|_| {}).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let base = if i % 2 == 0 {
            app.base.clone()
        } else {
            sibling.clone()
        };
        let (client, token) = (app.client.clone(), app.token.clone());
        tasks.push(actix_web::rt::spawn(async move {
            client
                .post(format!("{base}/scim/v2/tenants/acme/Groups"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .insert_header(("Content-Type", "application/scim+json"))
                .send_body(group("Race").to_string())
                .await
                .expect("post")
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        11,
        "{statuses:?}"
    );
}

/// What Microsoft's SCIM validator (its Postman collection) sends: endpoint names in any case
/// and with a trailing slash, unquoted filter values, attribute names in any case, value
/// filters in `attributes`, extra members in a PatchOp, and Entra's sync queries.
async fn microsoft_validator_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = user_body("OliviaEmployee@contoso.com", "olivia@example.com");
    body["name"]["familyName"] = json!("Employee");
    body["emails"] = json!([{"value": "olivia@example.com", "type": "work", "primary": true}, {"value": "olivia@home.example.org", "type": "home"}]);
    let id = app
        .scim("POST", "/users/", Some(body))
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .expect("id")
        .to_string();
    for path in [format!("/Users/{id}/"), format!("/users/{id}")] {
        app.scim("GET", &path, None).await.expect(200);
    }
    app.scim("GET", "/schemas", None).await.expect(200);
    app.scim("GET", "/ServiceProviderConfig/", None)
        .await
        .expect(200);
    app.scim("GET", "/resourcetypes", None).await.expect(200);
    let g = app
        .scim("POST", "/groups", Some(group("Validators")))
        .await
        .expect(201);
    let gid = g.body["id"].as_str().expect("id").to_string();
    let q = |f: &str| serde_urlencoded::to_string([("filter", f)]).expect("encode");
    let found = app
        .scim(
            "GET",
            &format!("/groups?{}", q("DisplayName eq Validators")),
            None,
        )
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);
    for filter in [
        "userName sw O",
        "name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)",
        "meta.Created gt 2015-10-10T14:38:21.8617979-07:00",
        "ActiVe eq True",
        "meta.lastmodified gt 2015-10-10T14:38:21Z",
        "USERNAME eq \"oliviaemployee@contoso.com\"",
    ] {
        let r = app.scim("GET", &format!("/Users?{}", q(filter)), None).await.expect(200);
        assert_eq!(r.body["totalResults"], 1, "{filter}: {}", r.body);
    }
    app.scim("GET", &format!("/Users?{}", q("userName eq")), None)
        .await
        .expect_error(400, Some("invalidFilter"), "position 11");
    app.scim("GET", &format!("/Users?{}", q("userName eq 1.2.3")), None)
        .await
        .expect_error(400, Some("invalidFilter"), "position 12");
    // attributes with a value filter: only the matching values.
    let a =
        serde_urlencoded::to_string([("attributes", "emails[type eq \"work\"]")]).expect("encode");
    let r = app
        .scim("GET", &format!("/Users/{id}?{a}"), None)
        .await
        .expect(200);
    assert_eq!(
        r.body["emails"],
        json!([{"value": "olivia@example.com", "type": "work", "primary": true}]),
        "{}",
        r.body
    );
    assert!(r.body.get("userName").is_none(), "{}", r.body);
    // A PatchOp with extra members is applied.
    let mut op = patch(json!([{"op": "replace", "path": "displayName", "value": "Olivia"}]));
    op["id"] = json!(id);
    let r = app
        .scim("PATCH", &format!("/Users/{id}"), Some(op))
        .await
        .expect(200);
    assert_eq!(r.body["displayName"], "Olivia");
    let mut op = patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
    op["id"] = json!(gid);
    app.scim("PATCH", &format!("/Groups/{gid}"), Some(op)).await;
    let members = app
        .scim("GET", &format!("/Groups/{gid}"), None)
        .await
        .expect(200);
    assert_eq!(members.body["members"][0]["value"], id.as_str());
    // Entra's sync queries: a delta by lastModified with paging, and on-demand by id.
    let since = "2015-10-10T14:38:21Z";
    let delta = format!(
        "active eq true and (meta.lastModified ge \"{since}\" or meta.created ge \"{since}\")"
    );
    let r = app
        .scim(
            "GET",
            &format!("/Users?{}&startIndex=1&count=1", q(&delta)),
            None,
        )
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    assert!(
        scimd::service::query::plan_users(Some(
            &scimd::scim::filter::parse(&delta).expect("parse")
        ))
        .is_sql(),
        "the delta query runs on indexes"
    );
    let r = app
        .scim(
            "GET",
            &format!("/Users?{}", q(&format!("id eq \"{id}\""))),
            None,
        )
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
}

crate::helpers::backend_tests!(
    group_names_are_unique,
    microsoft_validator_requests,
    etags_and_if_match,
    search_and_sort,
    custom_field_types,
    field_added_while_serving,
    purge_tombstones,
    events_change_feed
);
