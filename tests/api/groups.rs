//! Groups as Entra syncs them: create, match by displayName without members, membership
//! PATCHes in both dialects, nested groups, replace, delete.

use std::time::Duration;

use crate::helpers::{patch, Backend, TestApp};
use serde_json::{json, Value};

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|x| x["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn group_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    let bob = app.create_user("bob@contoso.com", "bob@contoso.com").await;
    let carol = app
        .create_user("carol@contoso.com", "carol@contoso.com")
        .await;

    let r = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "externalId": "g-ext-1",
                "displayName": "Sales",
                "members": [{"value": alice}]
            })),
        )
        .await
        .expect(201);
    let gid = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(member_ids(&r.body), vec![alice.clone()]);
    assert!(r.location.is_some());

    // Entra's match: displayName filter, members excluded.
    let q = app
        .scim(
            "GET",
            "/Groups?excludedAttributes=members&filter=displayName+eq+%22sales%22",
            None,
        )
        .await
        .expect(200);
    assert_eq!(q.body["totalResults"], 1);
    assert!(
        q.body["Resources"][0].get("members").is_none(),
        "{}",
        q.body
    );
    let g = app
        .scim(
            "GET",
            &format!("/Groups/{gid}?excludedAttributes=members"),
            None,
        )
        .await
        .expect(200);
    assert!(g.body.get("members").is_none());
    assert_eq!(g.body["displayName"], "Sales");

    let url = format!("/Groups/{gid}");
    // Add several; re-adding an existing member is a success.
    app.scim(
        "PATCH",
        &url,
        Some(patch(
            json!([{"op": "Add", "path": "members", "value": [{"value": bob}, {"value": alice}]}]),
        )),
    )
    .await
    .expect(204);
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(
        member_ids(&g.body),
        sorted(vec![alice.clone(), bob.clone()])
    );

    // Older removal: Remove members with a value list removes only those.
    app.scim(
        "PATCH",
        &url,
        Some(patch(json!([
            {"op": "Add", "path": "members", "value": [{"value": carol}]},
            {"op": "Remove", "path": "members", "value": [{"value": alice}]}
        ]))),
    )
    .await
    .expect(204);
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(
        member_ids(&g.body),
        sorted(vec![bob.clone(), carol.clone()])
    );

    // Newer removal: members[value eq "id"].
    app.scim(
        "PATCH",
        &url,
        Some(patch(
            json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]),
        )),
    )
    .await
    .expect(204);
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(member_ids(&g.body), vec![carol.clone()]);

    // Rename.
    // Asking for attributes gets the group back (200) instead of 204.
    let r = app
        .scim(
            "PATCH",
            &format!("{url}?excludedAttributes=members"),
            Some(patch(
                json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}]),
            )),
        )
        .await
        .expect(200);
    assert!(r.body.get("members").is_none());
    assert_eq!(r.body["displayName"], "Sales EMEA");

    // Unknown member id: 400 naming it, and nothing applied.
    app.scim(
        "PATCH",
        &url,
        Some(patch(json!([
            {"op": "Replace", "path": "displayName", "value": "Should not stick"},
            {"op": "Add", "path": "members", "value": [{"value": "no-such-id"}]}
        ]))),
    )
    .await
    .expect_error(400, Some("invalidValue"), "no-such-id");
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(g.body["displayName"], "Sales EMEA");

    // Nested group as a member.
    let inner = app.scim("POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Inner"}))).await.expect(201);
    let inner_id = inner.body["id"].as_str().unwrap().to_string();
    app.scim(
        "PATCH",
        &url,
        Some(patch(
            json!([{"op": "add", "path": "members", "value": [{"value": inner_id}]}]),
        )),
    )
    .await
    .expect(204);
    let g = app.scim("GET", &url, None).await.expect(200);
    let types: Vec<&str> = g.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"Group") && types.contains(&"User"),
        "{types:?}"
    );

    // Deleting a user removes it from its groups.
    app.scim("DELETE", &format!("/Users/{carol}"), None)
        .await
        .expect(204);
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(member_ids(&g.body), vec![inner_id.clone()]);

    // PUT replaces the member list.
    let r = app
        .scim("PUT", &url, Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales", "members": [{"value": alice}]})))
        .await
        .expect(200);
    assert_eq!(member_ids(&r.body), vec![alice.clone()]);

    // DELETE: 204 then 404.
    app.scim("DELETE", &url, None).await.expect(204);
    app.scim("GET", &url, None).await.expect(404);
    assert_eq!(
        app.scim("GET", "/Groups", None).await.body["totalResults"],
        1
    );
}

/// `display` of each member, by id (None when the member has none).
fn displays(group: &Value) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|x| {
                    (
                        x["value"].as_str().unwrap().to_string(),
                        x["display"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn with_display(id: &str, display: Option<&str>) -> (String, Option<String>) {
    (id.to_string(), display.map(str::to_string))
}

async fn member_display_round_trips(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    let bob = app.create_user("bob@contoso.com", "bob@contoso.com").await;
    let carol = app
        .create_user("carol@contoso.com", "carol@contoso.com")
        .await;

    // POST keeps each member's display; a member without one has none.
    let r = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Sales",
                "members": [{"value": alice, "display": "Alice Martin", "type": "User"}, {"value": bob}]
            })),
        )
        .await
        .expect(201);
    let url = format!("/Groups/{}", r.body["id"].as_str().unwrap());
    // PATCH answers 204 unless the request asks for the group back.
    let with_body = format!("{url}?excludedAttributes=externalId");
    let expected = vec![
        with_display(&alice, Some("Alice Martin")),
        with_display(&bob, None),
    ];
    assert_eq!(displays(&r.body), sorted_pairs(expected.clone()));
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(displays(&g.body), sorted_pairs(expected));

    // PATCH add: a new member with its display; re-adding bob gives him one; re-adding
    // alice without a display keeps hers.
    let r = app
        .scim(
            "PATCH",
            &with_body,
            Some(patch(json!([{"op": "add", "path": "members", "value": [
                {"value": carol, "display": "Carol"},
                {"value": bob, "display": "Bob"},
                {"value": alice}
            ]}]))),
        )
        .await
        .expect(200);
    let expected = vec![
        with_display(&alice, Some("Alice Martin")),
        with_display(&bob, Some("Bob")),
        with_display(&carol, Some("Carol")),
    ];
    assert_eq!(displays(&r.body), sorted_pairs(expected.clone()));
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(displays(&g.body), sorted_pairs(expected));
    // Lists carry it too.
    let l = app.scim("GET", "/Groups", None).await.expect(200);
    assert_eq!(displays(&l.body["Resources"][0]), displays(&g.body));

    // PATCH replace (with a path and path-less): the list and its displays are the new ones.
    let r = app
        .scim("PATCH", &with_body, Some(patch(json!([{"op": "replace", "path": "members", "value": [{"value": bob, "display": "Robert"}]}]))))
        .await
        .expect(200);
    assert_eq!(displays(&r.body), vec![with_display(&bob, Some("Robert"))]);
    let r = app
        .scim("PATCH", &with_body, Some(patch(json!([{"op": "replace", "value": {"members": [{"value": carol, "display": "C."}]}}]))))
        .await
        .expect(200);
    assert_eq!(displays(&r.body), vec![with_display(&carol, Some("C."))]);

    // PUT too.
    let r = app
        .scim(
            "PUT",
            &url,
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales",
                        "members": [{"value": alice, "display": "A"}]})),
        )
        .await
        .expect(200);
    assert_eq!(displays(&r.body), vec![with_display(&alice, Some("A"))]);

    // A display that is not a string is a 400 naming it.
    app.scim(
        "PATCH",
        &url,
        Some(patch(
            json!([{"op": "add", "path": "members", "value": [{"value": bob, "display": 7}]}]),
        )),
    )
    .await
    .expect_error(400, Some("invalidValue"), "members.display");
}

fn sorted_pairs(mut v: Vec<(String, Option<String>)>) -> Vec<(String, Option<String>)> {
    v.sort();
    v
}

/// Entra's membership PATCHes (only adds and removes) are deltas that do not read the
/// group: each still answers 204 with the new version, moves the version on, is logged,
/// refuses unknown members and missing groups, and concurrent ones on one group all land.
async fn membership_patches(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut users = Vec::new();
    for i in 0..24 {
        users.push(
            app.create_user(&format!("u{i}@contoso.com"), &format!("u{i}@contoso.com"))
                .await,
        );
    }
    let r = app
        .scim("POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering"})))
        .await
        .expect(201);
    let gid = r.body["id"].as_str().unwrap().to_string();
    let url = format!("/Groups/{gid}");
    assert_eq!(r.etag.as_deref(), Some("W/\"1\""));

    let add = |id: &str| patch(json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]));
    let r = app
        .scim("PATCH", &url, Some(add(&users[0])))
        .await
        .expect(204);
    assert_eq!(r.etag.as_deref(), Some("W/\"2\""));
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(g.etag.as_deref(), Some("W/\"2\""));
    assert_eq!(member_ids(&g.body), vec![users[0].clone()]);
    assert_eq!(g.body["displayName"], "Engineering");

    // An unknown member: 400 naming it, nothing added, version unchanged.
    app.scim("PATCH", &url, Some(patch(json!([{"op": "Add", "path": "members", "value": [{"value": users[1]}, {"value": "no-such-member"}]}]))))
        .await
        .expect_error(400, Some("invalidValue"), "no-such-member");
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(member_ids(&g.body), vec![users[0].clone()]);
    assert_eq!(g.etag.as_deref(), Some("W/\"2\""));
    // A group that does not exist, or no longer does: 404.
    app.scim(
        "PATCH",
        "/Groups/7d0b9a35-0000-4000-8000-000000000000",
        Some(add(&users[1])),
    )
    .await
    .expect(404);
    // A deleted user is refused like an unknown one.
    app.scim("DELETE", &format!("/Users/{}", users[23]), None)
        .await
        .expect(204);
    app.scim("PATCH", &url, Some(add(&users[23])))
        .await
        .expect_error(400, Some("invalidValue"), &users[23]);

    // Twenty concurrent adds to the one group (Entra's provisioning runs in parallel): none lost.
    let adds: Vec<_> = users[1..21]
        .iter()
        .map(|u| app.scim("PATCH", &url, Some(add(u))))
        .collect();
    for r in futures_util::future::join_all(adds).await {
        r.expect(204);
    }
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(member_ids(&g.body), sorted(users[0..21].to_vec()));
    assert_eq!(g.etag.as_deref(), Some("W/\"22\""));

    // Removing by filter and by value list in one request.
    let r = app
        .scim("PATCH", &url, Some(patch(json!([
            {"op": "Remove", "path": format!("members[value eq \"{}\"]", users[0])},
            {"op": "Remove", "path": "members", "value": [{"value": users[1]}, {"value": users[2]}]}
        ]))))
        .await
        .expect(204);
    assert_eq!(r.etag.as_deref(), Some("W/\"23\""));
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(member_ids(&g.body), sorted(users[3..21].to_vec()));

    // Each change is in the tenant's log, naming the group.
    let out = app.cli().run(&["events", "acme"]).stdout;
    let patched = out
        .lines()
        .filter(|l| l.contains(&gid) && l.contains("group Engineering patched"))
        .count();
    assert_eq!(patched, 22, "{out}");

    app.scim("DELETE", &url, None).await.expect(204);
    app.scim("PATCH", &url, Some(add(&users[22])))
        .await
        .expect(404);
}

/// Adding users to groups while the users are being deleted, many at once: afterwards no
/// group lists a member that is gone.
async fn deleted_users_never_stay_members(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limit_tenant = 0;
        s.pool_size = 16;
    })
    .await;
    let (groups_n, per_group) = (30, 5);
    let mut plan = Vec::new();
    for g in 0..groups_n {
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("race {g}")});
        let group = app
            .scim("POST", "/Groups", Some(body))
            .await
            .expect(201)
            .body["id"]
            .as_str()
            .expect("group id")
            .to_string();
        let mut users = Vec::new();
        for u in 0..per_group {
            users.push(
                app.create_user(
                    &format!("racer{g}-{u}"),
                    &format!("racer{g}-{u}@contoso.com"),
                )
                .await,
            );
        }
        plan.push((group, users));
    }
    let mut tasks = Vec::new();
    for (i, (group, users)) in plan.iter().enumerate() {
        let members: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
        let add = patch(json!([{"op": "add", "path": "members", "value": members}]));
        let (url, token) = (app.tenant_url("acme"), app.token.clone());
        let c = app.client.clone();
        let g = group.clone();
        tasks.push(actix_web::rt::spawn(async move {
            c.patch(format!("{url}/Groups/{g}"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .insert_header(("Content-Type", "application/scim+json"))
                .send_body(add.to_string())
                .await
                .expect("patch")
                .status()
                .as_u16()
        }));
        for (k, user) in users.iter().enumerate() {
            let (url, token) = (app.tenant_url("acme"), app.token.clone());
            let c = app.client.clone();
            let user = user.clone();
            // The deletes start at varying moments inside the add's window.
            let delay = Duration::from_micros(100 * ((i + k) as u64 % 20));
            tasks.push(actix_web::rt::spawn(async move {
                actix_web::rt::time::sleep(delay).await;
                c.delete(format!("{url}/Users/{user}"))
                    .insert_header(("Authorization", format!("Bearer {token}")))
                    .send()
                    .await
                    .expect("delete")
                    .status()
                    .as_u16()
            }));
        }
    }
    let mut outcomes = std::collections::BTreeMap::new();
    for t in tasks {
        *outcomes.entry(t.await.expect("race")).or_insert(0) += 1;
    }
    eprintln!("PATCH add and DELETE user outcomes: {outcomes:?}");
    let mut stale = 0;
    for (group, users) in &plan {
        let g = app
            .scim("GET", &format!("/Groups/{group}"), None)
            .await
            .expect(200);
        stale += g.body["members"].as_array().map_or(0, Vec::len);
        for user in users {
            app.scim("GET", &format!("/Users/{user}"), None)
                .await
                .expect(404);
            let listed = app
                .filter_groups(&format!("members[value eq \"{user}\"]"))
                .await;
            assert_eq!(listed.body["totalResults"], 0, "{}", listed.body);
        }
    }
    assert_eq!(
        stale, 0,
        "groups list {stale} deleted users as members ({outcomes:?})"
    );
}

crate::helpers::backend_tests!(
    deleted_users_never_stay_members,
    group_lifecycle,
    member_display_round_trips,
    membership_patches
);
