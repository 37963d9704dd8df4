//! Role mapping: `PUT /api/v1/tenants/{slug}/role-mappings` gives each user `effectiveRoles`
//! by group (nested groups too), by the IdP's role (Entra's AppRoleAssignmentsComplex text
//! included) or the default; bad rules are refused by name; a membership change that moves
//! someone's roles reaches the host app as a `user.updated` that says so.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::Receiver;
use crate::helpers::{patch, Backend, Received, Reply, TestApp};
use crate::webhooks::{add_endpoint, operator_key, private_receivers};

async fn api(app: &TestApp, method: &str, path: &str, key: &str, body: Option<Value>) -> Reply {
    let url = format!("{}/api/v1{path}", app.base);
    app.send(method, &url, Some(key), body.as_ref()).await
}

async fn create_group(app: &TestApp, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": members,
    });
    app.scim("POST", "/Groups", Some(body))
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn put_mapping(app: &TestApp, key: &str, mapping: Value) -> Reply {
    api(
        app,
        "PUT",
        "/tenants/acme/role-mappings",
        key,
        Some(mapping),
    )
    .await
}

/// The effective roles of each listed user, by userName.
async fn roles_by_user(app: &TestApp, key: &str) -> Vec<(String, Value)> {
    let page = api(app, "GET", "/tenants/acme/users?limit=100", key, None)
        .await
        .expect(200);
    let mut out: Vec<(String, Value)> = page.body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            (
                u["userName"].as_str().expect("userName").to_string(),
                u["effectiveRoles"].clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Group rules (direct and nested membership), an idpRole rule matched on Entra's
/// AppRoleAssignmentsComplex role (JSON inside a string, case-sensitive), and the default;
/// in a page of users and in one user's read.
async fn rules_give_effective_roles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = operator_key(&app.database_url);
    let alice = app.create_user("alice", "alice@contoso.com").await;
    let bob = app.create_user("bob", "bob@contoso.com").await;
    let carol = app.create_user("carol", "carol@contoso.com").await;
    let dave = app.create_user("dave", "dave@contoso.com").await;
    let team = create_group(&app, "Team", &[&bob]).await;
    let eng = create_group(&app, "Engineering", &[&alice, &team]).await;
    let admin = r#"{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"Admin","displayName":"Administrator"}"#;
    app.scim(
        "PATCH",
        &format!("/Users/{carol}"),
        Some(patch(
            json!([{"op": "Add", "path": "roles", "value": [{"value": admin}]}]),
        )),
    )
    .await
    .expect(200);
    // Another case of the value is another role.
    app.scim(
        "PATCH",
        &format!("/Users/{dave}"),
        Some(patch(
            json!([{"op": "Add", "path": "roles", "value": [{"value": "admin"}]}]),
        )),
    )
    .await
    .expect(200);

    // Before any mapping: nobody has a role.
    for (name, roles) in roles_by_user(&app, &key).await {
        assert_eq!(roles, json!([]), "{name}");
    }
    let empty = api(&app, "GET", "/tenants/acme/role-mappings", &key, None)
        .await
        .expect(200);
    assert_eq!(
        empty.body,
        json!({"rules": [], "default": null, "updatedAt": null})
    );

    let mapping = json!({
        "rules": [
            {"group": eng, "role": "editor"},
            {"idpRole": "Admin", "role": "admin"},
            {"group": team, "role": "reviewer"},
        ],
        "default": "member",
    });
    let saved = put_mapping(&app, &key, mapping.clone()).await.expect(200);
    assert_eq!(saved.body["rules"], mapping["rules"]);
    assert_eq!(saved.body["default"], "member");
    assert!(saved.body["updatedAt"].is_string(), "{}", saved.body);
    let read = api(&app, "GET", "/tenants/acme/role-mappings", &key, None)
        .await
        .expect(200);
    assert_eq!(read.body, saved.body);

    assert_eq!(
        roles_by_user(&app, &key).await,
        vec![
            ("alice".to_string(), json!(["editor"])),
            // Through Team, a member of Engineering.
            ("bob".to_string(), json!(["editor", "reviewer"])),
            ("carol".to_string(), json!(["admin"])),
            ("dave".to_string(), json!(["member"])),
        ]
    );
    let one = api(
        &app,
        "GET",
        &format!("/tenants/acme/users/{bob}"),
        &key,
        None,
    )
    .await
    .expect(200);
    assert_eq!(one.body["effectiveRoles"], json!(["editor", "reviewer"]));
    let by_mail = api(
        &app,
        "GET",
        "/tenants/acme/users?email=carol@contoso.com",
        &key,
        None,
    )
    .await
    .expect(200);
    assert_eq!(by_mail.body["users"][0]["effectiveRoles"], json!(["admin"]));

    // Without a default, a user no rule matches has no role.
    put_mapping(
        &app,
        &key,
        json!({"rules": [{"idpRole": "Admin", "role": "admin"}]}),
    )
    .await
    .expect(200);
    let roles = roles_by_user(&app, &key).await;
    assert_eq!(roles[0], ("alice".to_string(), json!([])));
    assert_eq!(roles[2], ("carol".to_string(), json!(["admin"])));
    let _ = alice;
}

async fn stored_mapping(app: &TestApp, key: &str) -> Value {
    api(app, "GET", "/tenants/acme/role-mappings", key, None)
        .await
        .expect(200)
        .body
}

fn refused(r: Reply, needle: &str) {
    let r = r.expect(400);
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {}", r.body);
}

/// Bad mappings are 400 naming the rule and what to fix; nothing is stored.
async fn bad_mappings_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = operator_key(&app.database_url);
    let group = create_group(&app, "Sales", &[]).await;
    let user = app.create_user("erin", "erin@contoso.com").await;
    refused(
        put_mapping(
            &app,
            &key,
            json!({"rules": [{"group": group, "role": "seller"}, {"group": "not-a-group", "role": "x"}]}),
        )
        .await,
        "rules[1].group: no group with id not-a-group",
    );
    // A user's id is no group.
    refused(
        put_mapping(&app, &key, json!({"rules": [{"group": user, "role": "x"}]})).await,
        "rules[0].group: no group with id",
    );
    let many: Vec<Value> = (0..201)
        .map(|i| json!({"idpRole": format!("r{i}"), "role": "x"}))
        .collect();
    refused(
        put_mapping(&app, &key, json!({ "rules": many })).await,
        "at most 200",
    );
    refused(
        put_mapping(&app, &key, json!({"rules": [{"idpRole": "A", "role": ""}]})).await,
        "rules[0].role",
    );
    refused(
        put_mapping(
            &app,
            &key,
            json!({"rules": [{"idpRole": "A", "role": "r".repeat(101)}]}),
        )
        .await,
        "rules[0].role is 101 characters",
    );
    refused(
        put_mapping(
            &app,
            &key,
            json!({"rules": [{"idpRole": "A", "group": group, "role": "x"}]}),
        )
        .await,
        "rules[0] has both",
    );
    refused(
        put_mapping(&app, &key, json!({"default": "line\nbreak"})).await,
        "default holds a control character",
    );
    let read = api(&app, "GET", "/tenants/acme/role-mappings", &key, None)
        .await
        .expect(200);
    assert_eq!(read.body["rules"], json!([]), "nothing stored");
    // Another tenant's key does not see this tenant.
    api(&app, "GET", "/tenants/nobody/role-mappings", &key, None)
        .await
        .expect(404);
}

/// The `user.updated` messages of user `id` that report a change of effective roles.
fn role_changes(delivered: &[Received], id: &str) -> Vec<Value> {
    delivered
        .iter()
        .map(Received::json)
        .filter(|b| b["type"] == "user.updated" && b["data"]["id"] == json!(id))
        .filter(|b| b["data"]["changed"] == json!(["effectiveRoles"]))
        .map(|b| b["data"].clone())
        .collect()
}

/// A group membership PATCH (Entra's) that moves a user's effective roles sends the host app
/// a `user.updated` with the new and the previous roles; a user it does not move gets none.
async fn membership_change_is_reported(backend: Backend) {
    let app = TestApp::spawn_with(backend, private_receivers).await;
    let key = operator_key(&app.database_url);
    let receiver = Receiver::start();
    add_endpoint(&app.client, &app.base, &key, &receiver, Some("acme")).await;
    let alice = app.create_user("alice", "alice@contoso.com").await;
    let bob = app.create_user("bob", "bob@contoso.com").await;
    let outer = create_group(&app, "Editors", &[]).await;
    let inner = create_group(&app, "Writers", &[&bob]).await;
    put_mapping(
        &app,
        &key,
        json!({"rules": [{"group": outer, "role": "editor"}], "default": "member"}),
    )
    .await
    .expect(200);
    // The mapping gives both the default: reported once each.
    let wait = Duration::from_secs(15);
    let got = receiver
        .wait_for(wait, |d| {
            !role_changes(d, &alice).is_empty() && !role_changes(d, &bob).is_empty()
        })
        .await;
    let first = role_changes(&got, &alice);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["effectiveRoles"], json!(["member"]));
    assert_eq!(first[0]["previousEffectiveRoles"], json!([]));
    assert_eq!(first[0]["email"], "alice@contoso.com");
    assert_eq!(first[0]["resource"]["id"], json!(alice));

    let add = |id: &str| patch(json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]));
    app.scim("PATCH", &format!("/Groups/{outer}"), Some(add(&alice)))
        .await
        .expect(204);
    let got = receiver
        .wait_for(wait, |d| role_changes(d, &alice).len() >= 2)
        .await;
    let changes = role_changes(&got, &alice);
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[1]["effectiveRoles"], json!(["editor"]));
    assert_eq!(changes[1]["previousEffectiveRoles"], json!(["member"]));
    assert_eq!(
        changes[1]["groups"],
        json!([{"id": outer, "displayName": "Editors"}])
    );

    // A nested group added: its members move too.
    app.scim("PATCH", &format!("/Groups/{outer}"), Some(add(&inner)))
        .await
        .expect(204);
    let got = receiver
        .wait_for(wait, |d| role_changes(d, &bob).len() >= 2)
        .await;
    let bobs = role_changes(&got, &bob);
    assert_eq!(bobs.len(), 2, "{bobs:?}");
    assert_eq!(bobs[1]["effectiveRoles"], json!(["editor"]));

    // Removed: back to the default.
    let remove = patch(json!([{"op": "Remove", "path": format!("members[value eq \"{alice}\"]")}]));
    app.scim("PATCH", &format!("/Groups/{outer}"), Some(remove))
        .await
        .expect(204);
    let got = receiver
        .wait_for(wait, |d| role_changes(d, &alice).len() >= 3)
        .await;
    let changes = role_changes(&got, &alice);
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert_eq!(changes[2]["effectiveRoles"], json!(["member"]));
    assert_eq!(changes[2]["previousEffectiveRoles"], json!(["editor"]));
    // Alice's moves did not touch Bob, nor Bob's Alice.
    assert_eq!(role_changes(&got, &bob).len(), 2);

    // A user PATCH that does not move roles reports none.
    app.scim(
        "PATCH",
        &format!("/Users/{alice}"),
        Some(patch(
            json!([{"op": "Replace", "path": "displayName", "value": "Alice"}]),
        )),
    )
    .await
    .expect(200);
    let got = receiver
        .wait_for(wait, |d| {
            d.iter()
                .map(Received::json)
                .any(|b| b["type"] == "user.updated" && b["data"]["displayName"] == "Alice")
        })
        .await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(role_changes(&receiver.delivered(), &alice).len(), 3);
    drop(got);
}

/// Entra adds an app role (AppRoleAssignmentsComplex) and takes it away, and a group is
/// deleted: each move of the user's effective roles is reported once, in order, and logged in
/// the sync history.
async fn role_and_group_deletion_moves_are_reported(backend: Backend) {
    let app = TestApp::spawn_with(backend, private_receivers).await;
    let key = operator_key(&app.database_url);
    let receiver = Receiver::start();
    add_endpoint(&app.client, &app.base, &key, &receiver, Some("acme")).await;
    let alice = app.create_user("alice", "alice@contoso.com").await;
    let group = create_group(&app, "Editors", &[&alice]).await;
    put_mapping(
        &app,
        &key,
        json!({"rules": [{"idpRole": "Admin", "role": "admin"}, {"group": group, "role": "editor"}]}),
    )
    .await
    .expect(200);
    let wait = Duration::from_secs(15);
    let moves = |n: usize| {
        let receiver = &receiver;
        let alice = alice.clone();
        async move {
            let got = receiver
                .wait_for(wait, |d| role_changes(d, &alice).len() >= n)
                .await;
            role_changes(&got, &alice)
                .iter()
                .map(|d| {
                    (
                        d["previousEffectiveRoles"].clone(),
                        d["effectiveRoles"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(moves(1).await, vec![(json!([]), json!(["editor"]))]);

    let text = r#"{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"Admin","displayName":"Administrator"}"#;
    app.scim(
        "PATCH",
        &format!("/Users/{alice}"),
        Some(patch(
            json!([{"op": "Add", "path": "roles", "value": [{"value": text}]}]),
        )),
    )
    .await
    .expect(200);
    assert_eq!(
        moves(2).await.get(1),
        Some(&(json!(["editor"]), json!(["admin", "editor"])))
    );

    app.scim("DELETE", &format!("/Groups/{group}"), None)
        .await
        .expect(204);
    assert_eq!(
        moves(3).await.get(2),
        Some(&(json!(["admin", "editor"]), json!(["admin"])))
    );

    // Entra removes the role by the same string.
    app.scim(
        "PATCH",
        &format!("/Users/{alice}"),
        Some(patch(
            json!([{"op": "Remove", "path": "roles", "value": [{"value": text}]}]),
        )),
    )
    .await
    .expect(200);
    let all = moves(4).await;
    assert_eq!(all.get(3), Some(&(json!(["admin"]), json!([]))));
    assert_eq!(all.len(), 4, "each move once: {all:?}");

    let events = api(
        &app,
        "GET",
        "/tenants/acme/events?after=0&limit=100",
        &key,
        None,
    )
    .await
    .expect(200);
    let logged = events.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| {
            e["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("effectiveRoles"))
        })
        .count();
    assert_eq!(logged, 4, "{}", events.body);
    let read = api(
        &app,
        "GET",
        &format!("/tenants/acme/users/{alice}"),
        &key,
        None,
    )
    .await
    .expect(200);
    assert_eq!(read.body["effectiveRoles"], json!([]));
}

/// The tenant's admin edits the mapping on its page: add a rule, set the default, remove the
/// rule; a rule naming no group of the tenant is shown as an error and not saved; a forged
/// CSRF token changes nothing.
async fn page_edits_the_mapping(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = operator_key(&app.database_url);
    let user = app.create_user("gail", "gail@contoso.com").await;
    app.create_admin(Some("acme"), "admin", "correct horse battery");
    let mut b = app.cookies();
    assert_eq!(b.login("admin", "correct horse battery").await.status, 303);
    let page = b.get("/admin/t/acme").await;
    assert!(page.body.contains("No rules yet."), "{}", page.body);
    let csrf = page.csrf();

    let rule = [("kind", "idpRole"), ("value", "Admin"), ("role", "admin")];
    let forged = b
        .post(
            "/admin/t/acme/role-mappings/rules",
            &[rule.as_slice(), &[("csrf", "forged")]].concat(),
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(stored_mapping(&app, &key).await["rules"], json!([]));

    let added = b
        .post(
            "/admin/t/acme/role-mappings/rules",
            &[rule.as_slice(), &[("csrf", csrf.as_str())]].concat(),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added.body.contains("Rule added."), "{}", added.body);
    let set = b
        .post(
            "/admin/t/acme/role-mappings/default",
            &[("role", "member"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let now = stored_mapping(&app, &key).await;
    assert_eq!(now["rules"], json!([{"idpRole": "Admin", "role": "admin"}]));
    assert_eq!(now["default"], "member");
    let read = api(
        &app,
        "GET",
        &format!("/tenants/acme/users/{user}"),
        &key,
        None,
    )
    .await
    .expect(200);
    assert_eq!(read.body["effectiveRoles"], json!(["member"]));

    let bad = b
        .post(
            "/admin/t/acme/role-mappings/rules",
            &[
                ("kind", "group"),
                ("value", "no-such-group"),
                ("role", "x"),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("no group with id no-such-group"),
        "{}",
        bad.body
    );
    let removed = b
        .post(
            "/admin/t/acme/role-mappings/rules/remove",
            &[rule.as_slice(), &[("csrf", csrf.as_str())]].concat(),
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let now = stored_mapping(&app, &key).await;
    assert_eq!(now["rules"], json!([]));
    assert_eq!(now["default"], "member");
}

crate::helpers::backend_tests!(
    rules_give_effective_roles,
    page_edits_the_mapping,
    bad_mappings_are_refused,
    membership_change_is_reported,
    role_and_group_deletion_moves_are_reported
);
