//! The host app's normalized users and groups: what `/api/v1` and the webhooks' `data` say of
//! a user Entra (or Okta) provisioned — mail, name, job, manager, roles, groups, custom
//! attributes — beside the SCIM resource as stored; the `?email=` lookup; and Entra's app
//! roles, which the SCIM side keeps exactly as Entra sent them while the host app reads them
//! parsed.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{patch, Backend, Receiver, Reply, TestApp};
use crate::webhooks::{add_endpoint, operator_key, private_receivers};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

/// An operator key made by the CLI.
fn key_of(app: &TestApp) -> String {
    operator_key(&app.database_url)
}

async fn api(app: &TestApp, method: &str, path: &str, key: &str, body: Option<Value>) -> Reply {
    let url = format!("{}/api/v1{path}", app.base);
    app.send(method, &url, Some(key), body.as_ref()).await
}

/// The host app's view of user `id` of tenant acme.
async fn host_user(app: &TestApp, key: &str, id: &str) -> Value {
    api(app, "GET", &format!("/tenants/acme/users/{id}"), key, None)
        .await
        .expect(200)
        .body
}

/// `GET …/users?{query}`: the users listed.
async fn host_users(app: &TestApp, key: &str, query: &str) -> Vec<Value> {
    let r = api(
        app,
        "GET",
        &format!("/tenants/acme/users?{query}"),
        key,
        None,
    )
    .await
    .expect(200);
    assert_eq!(r.body["nextCursor"], Value::Null, "{}", r.body);
    r.body["users"].as_array().expect("users").clone()
}

/// A user exactly as Entra's provisioning service POSTs it with the enterprise extension and a
/// custom attribute mapped (Microsoft's "customize application attributes" shapes).
fn entra_user(user_name: &str, mail: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": format!("{user_name}-object-id"),
        "userName": user_name,
        "active": true,
        "displayName": "Alice Smith",
        "title": "Engineer",
        "name": {"familyName": "Smith", "givenName": "Alice"},
        "emails": [{"primary": true, "type": "work", "value": mail}],
        "meta": {"resourceType": "User"},
        "roles": [],
        ENTERPRISE: {"department": "Research", "employeeNumber": "701984"}
    })
}

/// [`entra_user`] with the custom attribute `costCenter` (defined first with
/// [`define_cost_center`]).
fn with_cost_center(mut user: Value) -> Value {
    user[CUSTOM] = json!({"costCenter": "4130"});
    user
}

/// Define the tenant's custom field `costCenter`, a string.
async fn define_cost_center(app: &TestApp, key: &str) {
    api(
        app,
        "POST",
        "/tenants/acme/fields",
        key,
        Some(json!({"name": "costCenter", "type": "string"})),
    )
    .await
    .expect(201);
}

async fn post_user(app: &TestApp, body: Value) -> String {
    app.scim("POST", "/Users", Some(body))
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// A user Entra provisioned (POST with the enterprise extension and a custom field, then its
/// manager in a later PATCH as a bare id) reads as the host app expects, beside the resource
/// as stored; `?email=` finds it whatever the case; a group PATCH that adds it shows in its
/// `groups`, in one user's read and in a page of them; a group counts its members.
async fn entra_user_reads_normalized(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = key_of(&app);
    define_cost_center(&app, &key).await;
    let boss = app
        .create_user("boss@contoso.com", "boss@contoso.com")
        .await;
    let id = post_user(
        &app,
        with_cost_center(entra_user("alice@contoso.com", "Alice@Contoso.com")),
    )
    .await;
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(json!([
            {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": boss}
        ]))),
    )
    .await
    .expect(200);

    let u = host_user(&app, &key, &id).await;
    assert_eq!(u["id"], json!(id));
    assert_eq!(u["userName"], "alice@contoso.com");
    assert_eq!(u["externalId"], "alice@contoso.com-object-id");
    assert_eq!(u["email"], "alice@contoso.com", "the identity mail: {u}");
    assert_eq!(
        u["emails"],
        json!([{"value": "Alice@Contoso.com", "type": "work", "primary": true}])
    );
    assert_eq!(
        u["name"],
        json!({"givenName": "Alice", "familyName": "Smith", "formatted": "Alice Smith"})
    );
    assert_eq!(u["displayName"], "Alice Smith");
    assert_eq!(u["state"], "active");
    assert_eq!(u["title"], "Engineer");
    assert_eq!(u["department"], "Research");
    assert_eq!(u["employeeNumber"], "701984");
    assert_eq!(u["manager"], json!(boss));
    assert_eq!(u["roles"], json!([]));
    assert_eq!(u["groups"], json!([]));
    assert_eq!(u["customAttributes"], json!({"costCenter": "4130"}));
    // The resource is the SCIM resource as Entra reads it back.
    let scim = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_eq!(u["resource"], scim.body);
    assert_eq!(
        u["resource"]["name"],
        json!({"familyName": "Smith", "givenName": "Alice"})
    );

    // ?email= finds the user by its identity mail, in any case; others find nobody.
    for asked in [
        "alice@contoso.com",
        "ALICE@contoso.COM",
        "%20Alice@Contoso.com%20",
    ] {
        let found = host_users(&app, &key, &format!("email={asked}")).await;
        assert_eq!(found.len(), 1, "{asked}: {found:?}");
        assert_eq!(found[0]["id"], json!(id));
        assert_eq!(found[0]["manager"], json!(boss));
    }
    assert!(host_users(&app, &key, "email=nobody@contoso.com")
        .await
        .is_empty());
    let both = api(
        &app,
        "GET",
        "/tenants/acme/users?email=alice@contoso.com&includeDeleted=true",
        &key,
        None,
    )
    .await;
    assert_eq!(both.status.as_u16(), 400, "{}", both.body);
    assert!(
        both.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("includeDeleted"),
        "{}",
        both.body
    );

    // Entra adds Alice to two groups (POST then PATCH, as its cycle does).
    let mut groups = Vec::new();
    for name in ["Pilots", "Engineering"] {
        let g = app
            .scim(
                "POST",
                "/Groups",
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                            "externalId": format!("{name}-object-id"), "displayName": name}),
                ),
            )
            .await
            .expect(201)
            .body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let added = app
            .scim(
                "PATCH",
                &format!("/Groups/{g}"),
                Some(patch(json!([
                    {"op": "Add", "path": "members", "value": [{"value": id}, {"value": boss}]}
                ]))),
            )
            .await;
        assert!(
            [200, 204].contains(&added.status.as_u16()),
            "{}",
            added.body
        );
        groups.push(g);
    }
    let expected = json!([
        {"id": groups[1], "displayName": "Engineering"},
        {"id": groups[0], "displayName": "Pilots"}
    ]);
    assert_eq!(host_user(&app, &key, &id).await["groups"], expected);
    let page = host_users(&app, &key, "limit=10").await;
    assert_eq!(page.len(), 2);
    for u in &page {
        assert_eq!(u["groups"], expected, "{}", u["userName"]);
    }
    let found = host_users(&app, &key, "email=alice@contoso.com").await;
    assert_eq!(found[0]["groups"], expected);

    // A group reads with its member count (and its members as their own list).
    let g = api(
        &app,
        "GET",
        &format!("/tenants/acme/groups/{}", groups[0]),
        &key,
        None,
    )
    .await
    .expect(200)
    .body;
    assert_eq!(g["displayName"], "Pilots");
    assert_eq!(g["externalId"], "Pilots-object-id");
    assert_eq!(g["memberCount"], 2);
    assert_eq!(g["resource"]["displayName"], "Pilots");
    let listed = api(&app, "GET", "/tenants/acme/groups", &key, None)
        .await
        .expect(200);
    let counts: Vec<&Value> = listed.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["memberCount"])
        .collect();
    assert_eq!(counts, [&json!(2), &json!(2)]);

    // Deactivated: out of ?email= unless asked for, and it says so.
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )),
    )
    .await
    .expect(200);
    assert!(host_users(&app, &key, "email=alice@contoso.com")
        .await
        .is_empty());
    let found = host_users(
        &app,
        &key,
        "email=alice@contoso.com&includeDeactivated=true",
    )
    .await;
    assert_eq!(found[0]["state"], "deactivated");
    assert_eq!(found[0]["active"], false);
    // Deleted: a tombstone says so and has no groups left.
    app.scim("DELETE", &format!("/Users/{id}"), None)
        .await
        .expect(204);
    let gone = host_user(&app, &key, &id).await;
    assert_eq!(gone["state"], "deleted");
    assert_eq!(gone["groups"], json!([]));
    assert!(host_users(
        &app,
        &key,
        "email=alice@contoso.com&includeDeactivated=true"
    )
    .await
    .is_empty());
}

/// The version of user `id` as SCIM answers it, and its roles.
async fn scim_roles(app: &TestApp, id: &str) -> (Value, Value) {
    let r = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    (r.body["meta"]["version"].clone(), r.body["roles"].clone())
}

/// The events of tenant acme so far.
async fn event_count(app: &TestApp, key: &str) -> usize {
    let r = api(
        app,
        "GET",
        "/tenants/acme/events?after=0&limit=1000",
        key,
        None,
    )
    .await
    .expect(200);
    r.body["events"].as_array().expect("events").len()
}

/// Entra's AppRoleAssignmentsComplex: it adds a role as JSON text inside a string; the host
/// app reads `{id, value, display}`, SCIM answers exactly the string Entra sent, Entra's next
/// cycle (its filter, then the same PATCH again) changes nothing, and its `Remove` of the same
/// string takes the role away on both sides.
async fn entra_complex_role_round_trip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = key_of(&app);
    let id = post_user(&app, entra_user("bob@contoso.com", "bob@contoso.com")).await;
    let text = r#"{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"Admin","displayName":"Administrator"}"#;
    let add = patch(json!([{"op": "Add", "path": "roles", "value": [{"value": text}]}]));
    app.scim("PATCH", &format!("/Users/{id}"), Some(add.clone()))
        .await
        .expect(200);
    let (version, roles) = scim_roles(&app, &id).await;
    assert_eq!(roles, json!([{"value": text}]), "kept as Entra sent it");
    assert_eq!(
        host_user(&app, &key, &id).await["roles"],
        json!([{"id": "06b07648-ecfe-589f-9d2f-6325724a46ee", "value": "Admin", "display": "Administrator"}])
    );

    // The next cycle: Entra matches the user and finds nothing to change, or sends the
    // same PATCH again; either way nothing changes.
    let events = event_count(&app, &key).await;
    let matched = app
        .filter_users("emails[type eq \"work\"].value eq \"bob@contoso.com\"")
        .await
        .expect(200);
    assert_eq!(
        matched.body["Resources"][0]["roles"],
        json!([{"value": text}])
    );
    let again = app
        .scim("PATCH", &format!("/Users/{id}"), Some(add))
        .await
        .expect(200);
    assert_eq!(again.body["meta"]["version"], version);
    assert_eq!(
        scim_roles(&app, &id).await,
        (version, json!([{"value": text}]))
    );
    assert_eq!(event_count(&app, &key).await, events, "no change logged");

    // A second role, then Entra takes the first away with the same string.
    let user_text =
        r#"{"id":"06b07648-ecfe-599f-9d2f-6325724a46ee","value":"User","displayName":"User"}"#;
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(
            json!([{"op": "Add", "path": "roles", "value": [{"value": user_text}]}]),
        )),
    )
    .await
    .expect(200);
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(
            json!([{"op": "Remove", "path": "roles", "value": [{"value": text}]}]),
        )),
    )
    .await
    .expect(200);
    assert_eq!(scim_roles(&app, &id).await.1, json!([{"value": user_text}]));
    assert_eq!(
        host_user(&app, &key, &id).await["roles"],
        json!([{"id": "06b07648-ecfe-599f-9d2f-6325724a46ee", "value": "User", "display": "User"}])
    );
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(
            json!([{"op": "Remove", "path": "roles", "value": [{"value": user_text}]}]),
        )),
    )
    .await
    .expect(200);
    assert_eq!(scim_roles(&app, &id).await.1, Value::Null, "no roles left");
    assert_eq!(host_user(&app, &key, &id).await["roles"], json!([]));

    // Malformed JSON text is a plain role for the host app, and stored as sent.
    let broken = r#"{"id":"x","value":"Admin""#;
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(
            json!([{"op": "Add", "path": "roles", "value": [{"value": broken}]}]),
        )),
    )
    .await
    .expect(200);
    assert_eq!(scim_roles(&app, &id).await.1, json!([{"value": broken}]));
    assert_eq!(
        host_user(&app, &key, &id).await["roles"],
        json!([{"value": broken, "display": null}])
    );

    // Microsoft's POST example for this mapping labels roles with displayName.
    let mut carol = entra_user("carol@contoso.com", "carol@contoso.com");
    carol["roles"] = json!([
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "displayName": "Admin", "value": "Admin"},
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "displayName": "User", "value": "User"}
    ]);
    let carol = post_user(&app, carol).await;
    assert_eq!(
        host_user(&app, &key, &carol).await["roles"],
        json!([{"value": "Admin", "display": "Admin"}, {"value": "User", "display": "User"}])
    );
}

/// Entra's SingleAppRoleAssignment: the POST's primary role and the PATCH path
/// `roles[primary eq "True"].value`; the host app reads `{value, display}`, a cycle that
/// sends the same value again changes nothing, and Entra's removal empties the roles.
async fn entra_single_role_round_trip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = key_of(&app);
    let mut posted = entra_user("dan@contoso.com", "dan@contoso.com");
    posted["roles"] =
        json!([{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Reader"}]);
    let id = post_user(&app, posted).await;
    assert_eq!(
        scim_roles(&app, &id).await.1,
        json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Reader"}])
    );
    assert_eq!(
        host_user(&app, &key, &id).await["roles"],
        json!([{"value": "Reader", "display": null}])
    );

    // The role changes: Entra replaces the primary role's value.
    let replace = patch(json!([
        {"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "Admin"}
    ]));
    app.scim("PATCH", &format!("/Users/{id}"), Some(replace.clone()))
        .await
        .expect(200);
    let (version, roles) = scim_roles(&app, &id).await;
    assert_eq!(
        roles,
        json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}])
    );
    assert_eq!(
        host_user(&app, &key, &id).await["roles"],
        json!([{"value": "Admin", "display": null}])
    );
    // Again: nothing changes.
    let events = event_count(&app, &key).await;
    let again = app
        .scim("PATCH", &format!("/Users/{id}"), Some(replace))
        .await
        .expect(200);
    assert_eq!(again.body["meta"]["version"], version);
    assert_eq!(event_count(&app, &key).await, events);
    // Removed by the same string, then added back on a user with no role through the path.
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(
            json!([{"op": "Remove", "path": "roles", "value": [{"value": "Admin"}]}]),
        )),
    )
    .await
    .expect(200);
    assert_eq!(scim_roles(&app, &id).await.1, Value::Null);
    assert_eq!(host_user(&app, &key, &id).await["roles"], json!([]));
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(json!([
            {"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "Admin"},
            {"op": "Add", "path": "roles[primary eq \"True\"].display", "value": "Administrator"}
        ]))),
    )
    .await
    .expect(200);
    assert_eq!(
        scim_roles(&app, &id).await.1,
        json!([{"primary": true, "value": "Admin", "display": "Administrator"}])
    );
    assert_eq!(
        host_user(&app, &key, &id).await["roles"],
        json!([{"value": "Admin", "display": "Administrator"}])
    );
    // Removed through the path: the role without its value goes.
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(json!([
            {"op": "Remove", "path": "roles[primary eq \"True\"].value"}
        ]))),
    )
    .await
    .expect(200);
    assert_eq!(host_user(&app, &key, &id).await["roles"], json!([]));
}

/// Okta's roles and entitlements become roles too; a user without a name reads with nulls.
async fn okta_roles_and_entitlements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = key_of(&app);
    let id = post_user(
        &app,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "erin@okta.example",
            "emails": [{"value": "erin@okta.example", "primary": true}],
            "roles": [{"value": "role-17", "display": "Billing admin"}],
            "entitlements": [{"value": "lic-pro", "display": "Pro licence", "type": "License"}]
        }),
    )
    .await;
    let u = host_user(&app, &key, &id).await;
    assert_eq!(
        u["roles"],
        json!([
            {"value": "role-17", "display": "Billing admin"},
            {"value": "lic-pro", "display": "Pro licence"}
        ])
    );
    assert_eq!(
        u["name"],
        json!({"givenName": null, "familyName": null, "formatted": null})
    );
    assert_eq!(
        u["emails"],
        json!([{"value": "erin@okta.example", "type": null, "primary": true}])
    );
    assert_eq!(u["email"], "erin@okta.example");
    for absent in [
        "displayName",
        "title",
        "department",
        "employeeNumber",
        "manager",
    ] {
        assert_eq!(u[absent], Value::Null, "{absent}");
    }
    assert_eq!(u["customAttributes"], json!({}));
}

/// The webhook `data` of a user's changes carries the normalized fields beside the resource.
async fn webhook_data_is_normalized(backend: Backend) {
    let app = TestApp::spawn_with(backend, private_receivers).await;
    let key = key_of(&app);
    define_cost_center(&app, &key).await;
    let receiver = Receiver::start();
    add_endpoint(&app.client, &app.base, &key, &receiver, Some("acme")).await;
    let id = post_user(
        &app,
        with_cost_center(entra_user("fay@contoso.com", "Fay@Contoso.com")),
    )
    .await;
    let text = r#"{"id":"r-1","value":"Admin","displayName":"Administrator"}"#;
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(
            json!([{"op": "Add", "path": "roles", "value": [{"value": text}]}]),
        )),
    )
    .await
    .expect(200);
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )),
    )
    .await
    .expect(200);
    app.scim("DELETE", &format!("/Users/{id}"), None)
        .await
        .expect(204);
    let delivered = receiver
        .wait_for(Duration::from_secs(10), |d| d.len() >= 4)
        .await;
    let data: Vec<(String, Value)> = delivered
        .iter()
        .map(|r| r.json())
        .map(|b| (b["type"].as_str().unwrap().to_string(), b["data"].clone()))
        .collect();
    let types: Vec<&str> = data.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "user.created",
            "user.updated",
            "user.deactivated",
            "user.deleted"
        ]
    );
    let created = &data[0].1;
    assert_eq!(created["tenant"], "acme");
    assert_eq!(created["resourceType"], "User");
    assert_eq!(created["id"], json!(id));
    assert_eq!(created["email"], "fay@contoso.com");
    assert_eq!(created["state"], "active");
    assert_eq!(created["name"]["formatted"], "Alice Smith");
    assert_eq!(created["department"], "Research");
    assert_eq!(created["employeeNumber"], "701984");
    assert_eq!(created["customAttributes"], json!({"costCenter": "4130"}));
    assert_eq!(created["roles"], json!([]));
    assert_eq!(created["resource"]["id"], json!(id));
    assert!(
        created.get("groups").is_none(),
        "memberships are group events: {created}"
    );
    assert_eq!(
        data[1].1["roles"],
        json!([{"id": "r-1", "value": "Admin", "display": "Administrator"}])
    );
    assert_eq!(data[1].1["resource"]["roles"], json!([{"value": text}]));
    assert_eq!(data[2].1["state"], "deactivated");
    assert_eq!(data[3].1["state"], "deleted");
    assert_eq!(data[3].1["resource"], Value::Null);
}

crate::helpers::backend_tests!(
    entra_user_reads_normalized,
    entra_complex_role_round_trip,
    entra_single_role_round_trip,
    okta_roles_and_entitlements,
    webhook_data_is_normalized
);
