//! The user lifecycle over HTTP: create, read, match, page, replace, patch, delete, and errors.

use crate::helpers::{patch, user_body, Backend, TestApp};
use serde_json::json;

/// POST answers 201 with Location, ETag and meta; GET by id returns the same resource.
async fn create_and_get_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(user_body("Alice@Contoso.com", "Alice@Contoso.com")),
        )
        .await
        .expect(201);
    let id = r.body["id"].as_str().unwrap().to_string();
    let location = format!("{}/Users/{id}", app.tenant_url("acme"));
    assert_eq!(r.location.as_deref(), Some(location.as_str()));
    assert_eq!(r.etag.as_deref(), Some("W/\"1\""));
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.body["meta"]["location"], location);
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
    assert!(r.body["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r.body["userName"], "Alice@Contoso.com");
    assert_eq!(r.body["active"], true);
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Engineering"
    );

    let g = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_eq!(g.body, r.body);
    assert_eq!(g.etag.as_deref(), Some("W/\"1\""));
    app.scim("GET", "/Users/00000000-0000-0000-0000-000000000000", None)
        .await
        .expect_error(404, None, "no user");
}

/// The filters Entra matches with find the user, case-insensitively where the schema says so.
async fn matching_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .create_user("Alice@Contoso.com", "Alice.Work@Contoso.com")
        .await;
    app.create_user("bob@contoso.com", "bob@contoso.com").await;
    let hits = [
        "userName eq \"alice@contoso.com\"",
        "userName eq \"ALICE@CONTOSO.COM\"",
        "externalId eq \"ext-Alice@Contoso.com\"",
        "emails.value eq \"alice.work@contoso.com\"",
        "emails[type eq \"work\"].value eq \"ALICE.WORK@contoso.com\"",
        "userName eq \"alice@contoso.com\" and active eq true",
        "userName eq \"nobody\" or externalId eq \"ext-Alice@Contoso.com\"",
        "userName sw \"alice\"",
        "displayName co \"alice@\"",
    ];
    for f in hits {
        let r = app.filter_users(f).await.expect(200);
        assert_eq!(r.body["totalResults"], 1, "filter {f}: {}", r.body);
        assert_eq!(r.body["Resources"][0]["id"], id.as_str(), "filter {f}");
    }
    let misses = [
        "externalId eq \"EXT-ALICE@CONTOSO.COM\"", // externalId is case-exact
        "emails[type eq \"home\"].value eq \"alice.work@contoso.com\"",
        "userName eq \"alice@contoso.com\" and active eq false",
    ];
    for f in misses {
        let r = app.filter_users(f).await.expect(200);
        assert_eq!(r.body["totalResults"], 0, "filter {f}: {}", r.body);
    }
    // A filter on an attribute without an index is evaluated in Rust.
    let r = app
        .filter_users("name.familyName eq \"family\" and userName sw \"bob\"")
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["userName"], "bob@contoso.com");
}

/// startIndex/count page through users in a stable order; attributes project.
async fn paging_and_projection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            app.create_user(&format!("u{i}@contoso.com"), &format!("u{i}@contoso.com"))
                .await,
        );
    }
    let mut seen = Vec::new();
    for start in [1, 4, 7] {
        let r = app
            .scim("GET", &format!("/Users?startIndex={start}&count=3"), None)
            .await
            .expect(200);
        assert_eq!(r.body["totalResults"], 7);
        assert_eq!(r.body["startIndex"], start);
        for u in r.body["Resources"].as_array().unwrap() {
            seen.push(u["id"].as_str().unwrap().to_string());
        }
    }
    // Pages follow the list's one order (creation time, then id), with nothing lost or repeated.
    let all = app.scim("GET", "/Users?count=100", None).await.expect(200);
    let order: Vec<String> = all.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, order);
    let (mut seen_sorted, mut ids_sorted) = (seen.clone(), ids.clone());
    seen_sorted.sort();
    ids_sorted.sort();
    assert_eq!(seen_sorted, ids_sorted);
    let r = app.scim("GET", "/Users?count=0", None).await.expect(200);
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["Resources"], json!([]));
    let r = app
        .scim(
            "GET",
            "/Users?sortBy=userName&sortOrder=descending&count=2",
            None,
        )
        .await
        .expect(200);
    assert_eq!(r.body["Resources"][0]["userName"], "u6@contoso.com");
    let r = app
        .scim("GET", "/Users?attributes=userName&count=1", None)
        .await
        .expect(200);
    let first = &r.body["Resources"][0];
    assert!(first.get("userName").is_some() && first.get("id").is_some());
    assert!(
        first.get("emails").is_none() && first.get("name").is_none(),
        "{first}"
    );
    let r = app
        .scim(
            "GET",
            &format!("/Users/{}?excludedAttributes=emails", ids[0]),
            None,
        )
        .await
        .expect(200);
    assert!(r.body.get("emails").is_none() && r.body.get("userName").is_some());
    app.scim("GET", "/Users?startIndex=abc", None)
        .await
        .expect_error(400, Some("invalidValue"), "startIndex");
}

/// PUT replaces the resource and bumps the version; meta.created stays.
async fn replace_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    let before = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    let mut body = user_body("alice@contoso.com", "alice.new@contoso.com");
    body["title"] = json!("CTO");
    let r = app
        .scim("PUT", &format!("/Users/{id}"), Some(body))
        .await
        .expect(200);
    assert_eq!(r.body["title"], "CTO");
    assert_eq!(r.etag.as_deref(), Some("W/\"2\""));
    assert_eq!(r.body["meta"]["created"], before.body["meta"]["created"]);
    // The identity mail moved: the old one no longer matches, the new one does.
    assert_eq!(
        app.filter_users("emails[type eq \"work\"].value eq \"alice@contoso.com\"")
            .await
            .body["totalResults"],
        0
    );
    assert_eq!(
        app.filter_users("emails[type eq \"work\"].value eq \"alice.new@contoso.com\"")
            .await
            .body["totalResults"],
        1
    );
    app.scim(
        "PUT",
        "/Users/missing",
        Some(user_body("x@contoso.com", "x@contoso.com")),
    )
    .await
    .expect(404);
}

/// PATCH add/replace/remove with and without path answers 200 with the resource.
async fn patch_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    let url = format!("/Users/{id}");
    let r = app
        .scim(
            "PATCH",
            &url,
            Some(patch(json!([
                {"op": "Replace", "path": "name.familyName", "value": "Smith"},
                {"op": "Add", "path": "title", "value": "Engineer"},
                {"op": "replace", "value": {"displayName": "Alice Smith", "name.givenName": "Alice"}},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"}
            ]))),
        )
        .await
        .expect(200);
    assert_eq!(r.body["name"]["familyName"], "Smith");
    assert_eq!(r.body["name"]["givenName"], "Alice");
    assert_eq!(r.body["title"], "Engineer");
    assert_eq!(r.body["displayName"], "Alice Smith");
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Sales"
    );
    assert_eq!(r.etag.as_deref(), Some("W/\"2\""));

    let r = app
        .scim(
            "PATCH",
            &url,
            Some(patch(json!([{"op": "Remove", "path": "title"}]))),
        )
        .await
        .expect(200);
    assert!(r.body.get("title").is_none());
    let r = app
        .scim("PATCH", &url, Some(patch(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "alice2@contoso.com"}]))))
        .await
        .expect(200);
    assert_eq!(r.body["emails"][0]["value"], "alice2@contoso.com");
    assert_eq!(
        app.filter_users("emails[type eq \"work\"].value eq \"alice2@contoso.com\"")
            .await
            .body["totalResults"],
        1
    );
    // Deactivation with Entra's string boolean; the user stays readable and filterable.
    let r = app
        .scim(
            "PATCH",
            &url,
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await
        .expect(200);
    assert_eq!(r.body["active"], false);
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(g.body["active"], false);
    assert_eq!(
        app.filter_users("userName eq \"alice@contoso.com\"")
            .await
            .body["totalResults"],
        1
    );
    // The stored result is what GET returns.
    assert_eq!(g.body["name"]["familyName"], "Smith");
}

/// DELETE answers 204, then the user is 404 and out of lists and uniqueness.
async fn delete_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    let r = app
        .scim("DELETE", &format!("/Users/{id}"), None)
        .await
        .expect(204);
    assert!(r.body.is_null());
    app.scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(404);
    app.scim("DELETE", &format!("/Users/{id}"), None)
        .await
        .expect(404);
    assert_eq!(
        app.scim("GET", "/Users", None).await.body["totalResults"],
        0
    );
    // The same mail can be provisioned again.
    let again = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    assert_ne!(again, id);
}

/// Bad input: the right status, scimType and a detail that says what to fix; nothing written.
async fn bad_input_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = format!("{}/Users", app.tenant_url("acme"));
    // Malformed JSON.
    let mut resp = app
        .client
        .post(&url)
        .insert_header(("Authorization", format!("Bearer {}", app.token)))
        .insert_header(("Content-Type", "application/scim+json"))
        .send_body("{\"userName\": ")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = serde_json::from_slice(&resp.body().await.unwrap()).unwrap();
    assert_eq!(body["scimType"], "invalidSyntax");
    assert!(body["detail"].as_str().unwrap().contains("not valid JSON"));

    let mut unknown_schema = user_body("a@contoso.com", "a@contoso.com");
    unknown_schema["schemas"] = json!([
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:example:nope"
    ]);
    app.scim("POST", "/Users", Some(unknown_schema))
        .await
        .expect_error(400, Some("invalidSyntax"), "urn:example:nope");

    let mut no_user_name = user_body("a@contoso.com", "a@contoso.com");
    no_user_name.as_object_mut().unwrap().remove("userName");
    app.scim("POST", "/Users", Some(no_user_name))
        .await
        .expect_error(400, Some("invalidValue"), "userName");

    let mut no_email = user_body("a@contoso.com", "a@contoso.com");
    no_email.as_object_mut().unwrap().remove("emails");
    app.scim("POST", "/Users", Some(no_email))
        .await
        .expect_error(400, Some("invalidValue"), "email");

    app.filter_users("userName eq")
        .await
        .expect_error(400, Some("invalidFilter"), "filter");
    app.filter_users("userName xx \"a\"")
        .await
        .expect_error(400, Some("invalidFilter"), "filter");

    // Duplicates: userName and identity mail, case-insensitively.
    app.create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    app.scim(
        "POST",
        "/Users",
        Some(user_body("ALICE@contoso.com", "other@contoso.com")),
    )
    .await
    .expect_error(409, Some("uniqueness"), "userName");
    app.scim(
        "POST",
        "/Users",
        Some(user_body("other@contoso.com", "Alice@Contoso.COM")),
    )
    .await
    .expect_error(409, Some("uniqueness"), "mail");

    // A PATCH whose second op fails leaves the first unapplied.
    let id = app
        .filter_users("userName eq \"alice@contoso.com\"")
        .await
        .body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "active", "value": "maybe"}
        ]))),
    )
    .await
    .expect(400);
    let g = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_eq!(g.body["displayName"], "alice@contoso.com Display");
    assert_eq!(g.etag.as_deref(), Some("W/\"1\""));

    // Nothing half-written: only alice exists.
    assert_eq!(
        app.scim("GET", "/Users", None).await.body["totalResults"],
        1
    );
}

/// Matches arriving together are answered each with its own tenant's user (on PostgreSQL a
/// worker sends the matches it read together as one statement): by work mail, by any mail,
/// none for another type, a deleted user or an unknown mail.
async fn concurrent_matches_get_their_own_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let globex = app.add_tenant("globex");
    let globex_users = format!("{}/Users", app.tenant_url("globex"));
    let mut ids = Vec::new();
    for i in 0..12 {
        let mail = format!("u{i}@contoso.com");
        let acme_id = app.create_user(&mail, &mail).await;
        let r = app
            .send(
                "POST",
                &globex_users,
                Some(&globex),
                Some(&user_body(&mail, &mail)),
            )
            .await
            .expect(201);
        ids.push((acme_id, r.body["id"].as_str().unwrap().to_string()));
    }
    let mut home = user_body("home@contoso.com", "home@contoso.com");
    home["emails"][0]["type"] = json!("home");
    let home_id = app
        .scim("POST", "/Users", Some(home))
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let gone = app
        .create_user("gone@contoso.com", "gone@contoso.com")
        .await;
    app.scim("DELETE", &format!("/Users/{gone}"), None)
        .await
        .expect(204);

    // The statement for several keys, straight from the store.
    let (acme_tenant, globex_tenant) = (app.tenant_id("acme"), app.tenant_id("globex"));
    let key = |tenant: &str, value: &str, email_type: Option<&str>| scimd::store::users::EmailKey {
        tenant_id: tenant.to_string(),
        value: value.to_string(),
        email_type: email_type.map(str::to_string),
    };
    let keys = vec![
        key(&acme_tenant, "u0@contoso.com", Some("work")),
        key(&globex_tenant, "u0@contoso.com", Some("work")),
        key(&acme_tenant, "nobody@contoso.com", None),
        key(&acme_tenant, "home@contoso.com", Some("work")),
        key(&acme_tenant, "home@contoso.com", None),
        key(&acme_tenant, "gone@contoso.com", None),
        key(&globex_tenant, "u5@contoso.com", None),
    ];
    let found = app
        .state
        .service
        .store
        .read_blocking(move |conn| scimd::store::users::users_by_emails(conn, &keys))
        .unwrap();
    let found: Vec<Vec<String>> = found
        .into_iter()
        .map(|rows| rows.unwrap().into_iter().map(|r| r.id).collect())
        .collect();
    let no_ids: Vec<String> = Vec::new();
    assert_eq!(
        found,
        vec![
            vec![ids[0].0.clone()],
            vec![ids[0].1.clone()],
            no_ids.clone(),
            no_ids.clone(),
            vec![home_id.clone()],
            no_ids,
            vec![ids[5].1.clone()]
        ]
    );
    let by_id = |tenant: &str, id: &str| scimd::store::users::UserKey {
        tenant_id: tenant.to_string(),
        id: id.to_string(),
    };
    let keys = vec![
        by_id(&acme_tenant, &ids[3].0),
        by_id(&acme_tenant, &ids[3].1),
        by_id(&globex_tenant, &ids[3].1),
        by_id(&acme_tenant, &gone),
        by_id(&acme_tenant, "00000000-0000-0000-0000-000000000000"),
    ];
    let found = app
        .state
        .service
        .store
        .read_blocking(move |conn| scimd::store::users::users_by_ids(conn, &keys))
        .unwrap();
    let found: Vec<Option<String>> = found.into_iter().map(|row| row.map(|r| r.id)).collect();
    assert_eq!(
        found,
        vec![
            Some(ids[3].0.clone()),
            None,
            Some(ids[3].1.clone()),
            None,
            None
        ]
    );

    // Over HTTP, all at once, on both tenants.
    let mut requests = Vec::new();
    for (i, (acme_id, globex_id)) in ids.iter().enumerate() {
        for (token, tenant, id) in [
            (&app.token, "acme", acme_id),
            (&globex, "globex", globex_id),
        ] {
            for filter in [
                format!("emails[type eq \"work\"].value eq \"U{i}@Contoso.com\""),
                format!("emails.value eq \"u{i}@contoso.com\""),
            ] {
                let url = format!(
                    "{}/Users?{}",
                    app.tenant_url(tenant),
                    serde_urlencoded::to_string([("filter", filter.as_str())]).unwrap()
                );
                requests.push((url, token.clone(), Some(id.clone())));
            }
        }
        let url = format!(
            "{}/Users?{}",
            app.tenant_url("acme"),
            serde_urlencoded::to_string([(
                "filter",
                format!("emails.value eq \"nobody{i}@contoso.com\"")
            )])
            .unwrap()
        );
        requests.push((url, app.token.clone(), None));
    }
    for (url, token, id) in [
        (
            "emails[type eq \"work\"].value eq \"home@contoso.com\"",
            &app.token,
            None,
        ),
        (
            "emails[type eq \"home\"].value eq \"home@contoso.com\"",
            &app.token,
            Some(home_id.clone()),
        ),
        ("emails.value eq \"gone@contoso.com\"", &app.token, None),
        ("emails.value eq \"home@contoso.com\"", &globex, None),
    ] {
        let url = format!(
            "{}/Users?{}",
            app.tenant_url(if token == &globex { "globex" } else { "acme" }),
            serde_urlencoded::to_string([("filter", url)]).unwrap()
        );
        requests.push((url, token.clone(), id));
    }
    let replies = futures_util::future::join_all(
        requests
            .iter()
            .map(|(url, token, _)| app.send("GET", url, Some(token), None)),
    )
    .await;
    for ((url, _, id), reply) in requests.iter().zip(replies) {
        let reply = reply.expect(200);
        match id {
            Some(id) => {
                assert_eq!(reply.body["totalResults"], 1, "{url}: {}", reply.body);
                assert_eq!(reply.body["Resources"][0]["id"], json!(id), "{url}");
            }
            None => assert_eq!(reply.body["totalResults"], 0, "{url}: {}", reply.body),
        }
    }

    // Reads by id, all at once: each its own user; another tenant's id or a deleted user is 404.
    let mut reads = Vec::new();
    for (acme_id, globex_id) in &ids {
        reads.push((
            app.tenant_url("acme"),
            app.token.clone(),
            acme_id.clone(),
            200,
        ));
        reads.push((
            app.tenant_url("globex"),
            globex.clone(),
            globex_id.clone(),
            200,
        ));
        reads.push((
            app.tenant_url("acme"),
            app.token.clone(),
            globex_id.clone(),
            404,
        ));
    }
    reads.push((app.tenant_url("acme"), app.token.clone(), gone.clone(), 404));
    let urls: Vec<String> = reads
        .iter()
        .map(|(base, _, id, _)| format!("{base}/Users/{id}"))
        .collect();
    let replies = futures_util::future::join_all(
        reads
            .iter()
            .zip(&urls)
            .map(|((_, token, _, _), url)| app.send("GET", url, Some(token), None)),
    )
    .await;
    for ((base, _, id, status), reply) in reads.iter().zip(replies) {
        assert_eq!(
            reply.status.as_u16(),
            *status,
            "{base}/Users/{id}: {}",
            reply.body
        );
        if *status == 200 {
            assert_eq!(reply.body["id"], json!(id));
        }
    }
}

/// A user with these emails (value, type).
fn user_with_emails(user_name: &str, emails: &[(&str, &str)]) -> serde_json::Value {
    let mut body = user_body(user_name, "unused@example.com");
    body["emails"] = emails
        .iter()
        .map(|(v, t)| json!({"value": v, "type": t}))
        .collect();
    body
}

/// The one user Entra's match by work email finds (the test fails if it finds another number).
async fn work_match(app: &TestApp, mail: &str) -> String {
    let found = app
        .filter_users(&format!("emails[type eq \"work\"].value eq \"{mail}\""))
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);
    found.body["Resources"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Entra matches on `emails[type eq "work"].value eq X`: that filter never finds two live
/// users, because a work email belongs to one user of a tenant (409 naming it).
async fn work_emails_are_unique_per_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.create_user("alice", "alice@contoso.com").await;
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(user_with_emails(
                "bob",
                &[("bob@contoso.com", "work"), ("Alice@Contoso.com", "work")],
            )),
        )
        .await;
    r.expect_error(409, Some("uniqueness"), "alice@contoso.com");
    let bob = app.create_user("bob", "bob@contoso.com").await;
    let add = patch(
        json!([{"op": "add", "path": "emails", "value": [{"value": "ALICE@contoso.com", "type": "work"}]}]),
    );
    let r = app.scim("PATCH", &format!("/Users/{bob}"), Some(add)).await;
    r.expect_error(409, Some("uniqueness"), "alice@contoso.com");
    let bob_now = app
        .scim("GET", &format!("/Users/{bob}"), None)
        .await
        .expect(200);
    assert_eq!(
        bob_now.body["emails"].as_array().map(Vec::len),
        Some(1),
        "nothing half-written"
    );
    // Another type may hold the address; it is not what Entra matches on.
    let home = patch(
        json!([{"op": "add", "path": "emails", "value": [{"value": "alice@contoso.com", "type": "home"}]}]),
    );
    app.scim("PATCH", &format!("/Users/{bob}"), Some(home))
        .await
        .expect(200);
    assert_eq!(work_match(&app, "alice@contoso.com").await, alice);
    // Another tenant may hold the same work email.
    let globex = app.add_tenant("globex");
    let url = format!("{}/Users", app.tenant_url("globex"));
    app.send(
        "POST",
        &url,
        Some(&globex),
        Some(&user_with_emails("a2", &[("alice@contoso.com", "work")])),
    )
    .await
    .expect(201);
    // Once alice is deleted, bob may take her work email.
    app.scim("DELETE", &format!("/Users/{alice}"), None)
        .await
        .expect(204);
    let add = patch(
        json!([{"op": "add", "path": "emails", "value": [{"value": "alice@contoso.com", "type": "work"}]}]),
    );
    app.scim("PATCH", &format!("/Users/{bob}"), Some(add))
        .await
        .expect(200);
    assert_eq!(work_match(&app, "alice@contoso.com").await, bob);
}

/// Mail addresses that look alike are one identity or refused: invisible and control
/// characters and stray combining marks are 400 naming the code point; NFC and IDNA give
/// one form to `bücher`, `bu\u{308}cher` and `xn--bcher-kva`.
async fn look_alike_mails_are_one_identity(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (mail, code_point) in [
        ("u\u{200B}@example.com", "U+200B"),
        ("u\u{2060}@example.com", "U+2060"),
        ("\u{FEFF}u@example.com", "U+FEFF"),
        ("u\u{00AD}@example.com", "U+00AD"),
        ("u\u{0332}@example.com", "U+0332"),
        ("u\u{0085}v@example.com", "U+0085"),
    ] {
        let r = app
            .scim(
                "POST",
                "/Users",
                Some(user_body(&format!("user-{code_point}"), mail)),
            )
            .await;
        r.expect_error(400, Some("invalidValue"), code_point);
    }
    let id = app.create_user("u", "u@bücher.example").await;
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(user_body("u2", "u@xn--bcher-kva.example")),
        )
        .await;
    r.expect_error(409, Some("uniqueness"), "mail");
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(user_body("u3", "U@BU\u{0308}CHER.example")),
        )
        .await;
    r.expect_error(409, Some("uniqueness"), "mail");
    for spelling in ["u@xn--bcher-kva.example", "U@Bücher.example"] {
        let found = app
            .filter_users(&format!("emails[type eq \"work\"].value eq \"{spelling}\""))
            .await
            .expect(200);
        assert_eq!(found.body["totalResults"], 1, "{spelling}: {}", found.body);
        assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    }
    let stored = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_eq!(
        stored.body["emails"][0]["value"], "u@bücher.example",
        "the resource keeps what was sent"
    );
}

/// A domain that only looks like another is refused, not kept as a new identity (issue 23):
/// a Cyrillic `а` in a Latin name (in Unicode or as its `xn--` spelling), a combining dot that
/// composes with the `m` of `.com`, a combining mark starting a label, and what IDNA refuses
/// are 400 `invalidValue` saying why; domains in one script are kept.
async fn look_alike_domains_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("real", "u@acme.com").await;
    app.create_user("x", "u@x.com").await;
    let cyrillic_a = "u@\u{0430}cme.com";
    let spelled = format!("u@{}", idna::domain_to_ascii("\u{0430}cme.com").unwrap());
    for (i, (mail, says)) in [
        (cyrillic_a, "mixes the Cyrillic and Latin scripts"),
        (spelled.as_str(), "mixes the Cyrillic and Latin scripts"),
        ("U@\u{0410}CME.com", "mixes the Cyrillic and Latin scripts"),
        ("u@x.com\u{0307}", "top-level domain"),
        ("u@b\u{00FC}cher.\u{0308}de", "U+0308"),
        ("u@b\u{00FC}_cher.de", "IDNA"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = app
            .scim("POST", "/Users", Some(user_body(&format!("fake{i}"), mail)))
            .await;
        r.expect_error(400, Some("invalidValue"), says);
    }
    // Nor through a PATCH of a user's emails.
    let id = app.create_user("patched", "patched@contoso.com").await;
    let r = app
        .scim(
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch(json!([{
                "op": "replace",
                "path": "emails[type eq \"work\"].value",
                "value": cyrillic_a
            }]))),
        )
        .await;
    r.expect_error(
        400,
        Some("invalidValue"),
        "mixes the Cyrillic and Latin scripts",
    );
    for (i, mail) in ["u@bücher.de", "u@例え.jp", "u@пример.рф", "u@ソニーabc.jp"]
        .into_iter()
        .enumerate()
    {
        app.create_user(&format!("idn{i}"), mail).await;
    }
    let found = app
        .filter_users("emails[type eq \"work\"].value eq \"u@xn--e1afmkfd.xn--p1ai\"")
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);
}

crate::helpers::backend_tests!(
    work_emails_are_unique_per_tenant,
    look_alike_mails_are_one_identity,
    look_alike_domains_are_refused,
    create_and_get_user,
    matching_filters,
    concurrent_matches_get_their_own_users,
    paging_and_projection,
    replace_user,
    patch_user,
    delete_user,
    bad_input_is_refused
);
