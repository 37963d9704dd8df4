//! Okta, replayed as Okta documents its requests.
//!
//! Sources of every request shape below:
//! - Okta, "Okta SCIM 2.0 SPEC Test", the Runscope/BlazeMeter suite Okta gives SCIM app
//!   builders (<https://developer.okta.com/standards/SCIM/SCIMFiles/Okta-SCIM-20-SPEC-Test.json>,
//!   linked from "Test your SCIM API",
//!   <https://developer.okta.com/docs/guides/scim-provisioning-integration-prepare/main/#test-your-scim-api>):
//!   its steps in order, each with the assertions it makes ([`okta_spec_test`]).
//! - Okta, "Okta and SCIM Version 2.0" / "SCIM 2.0 Protocol Reference"
//!   (<https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/>, formerly
//!   /docs/reference/scim/scim-20/): the user requests (match by `userName eq` with
//!   `startIndex=1&count=100`, the create body with `password` and `groups: []`, GET by id,
//!   the PUT body with `id`, `meta`, `middleName` and `emails[].display`, the deactivation
//!   PATCH `{"op":"replace","value":{"active":false}}`, imports paged by `startIndex` and
//!   `count=100`) and Group Push (POST with `members: []`, the name PATCH whose value object
//!   carries the group's `id`, the membership PATCH removing by `members[value eq "…"]` and
//!   adding, the `replace` of all `members`, the PUT of custom (AIW) apps, DELETE). It
//!   states that Okta never DELETEs users and that custom (AIW) apps send every user change,
//!   deactivation included, as a PUT.
//! - Okta, "Test your Okta SCIM integration" (the CRUD suite, Okta-SCIM-20-CRUD-Test.json,
//!   <https://developer.okta.com/docs/guides/scim-provisioning-integration-test/main/>):
//!   create, update `firstName`, deactivate, reactivate, unassign (deactivated again).
//!
//! Where the docs are vague: the reference lists "Activating a user" and "Syncing the user
//! password" among the PATCHes but shows only the deactivation body; the activation and the
//! password sync below are that same value-object form with `active: true` and `password`.

use serde_json::{json, Value};

use super::{
    get_with, id_of, list, log_actions, member_ids, sorted, with_authorization, GROUP, PATCH_OP,
    USER,
};
use crate::helpers::{Backend, TestApp};

/// The create body of the protocol reference ("Create the User"), for one user.
fn okta_user(user_name: &str, external_id: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

/// Okta's PATCH: one `replace` whose value object holds the attributes.
fn replace_value(value: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": value}]})
}

/// The SPEC test's "Create Okta user with realistic values" body.
fn spec_user(user_name: &str, email: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": format!("{given} {family}"),
        "active": true
    })
}

/// What every SPEC step that reads a user asserts of it.
fn assert_spec_user(u: &Value) {
    assert!(u["id"].as_str().is_some_and(|s| !s.is_empty()), "{u}");
    assert!(
        u["name"]["familyName"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{u}"
    );
    assert!(
        u["name"]["givenName"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{u}"
    );
    assert!(u["userName"].as_str().is_some_and(|s| !s.is_empty()), "{u}");
    assert_eq!(u["active"], true, "{u}");
    assert!(
        u["emails"][0]["value"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{u}"
    );
}

/// The Okta SCIM 2.0 SPEC Test, step by step, with the assertions each step makes.
async fn okta_spec_test(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The suite reads an existing user in its first steps: the app must hold one.
    let seeded = app
        .scim(
            "POST",
            "/Users",
            Some(okta_user(
                "seed.user@okta.local",
                "00useed0000000000001",
                "Seed",
                "User",
            )),
        )
        .await
        .expect(201);
    let seeded_id = id_of(&seeded);

    // "Required Test: Test Users endpoint".
    let r = app
        .scim("GET", "/Users?count=1&startIndex=1", None)
        .await
        .expect(200);
    let first = list(&r, 1, 1);
    assert_spec_user(&first[0]);

    // "Required Test: Get Users/{{id}}".
    let id = first[0]["id"].as_str().unwrap();
    let r = app
        .scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_spec_user(&r.body);
    assert_eq!(r.body["id"], id);
    assert_eq!(id, seeded_id);

    // "Required Test: Test invalid User by username".
    let r = get_with(
        &app,
        "/Users",
        &[("filter", "userName eq \"k4x9q2@atko.example\"")],
    )
    .await
    .expect(200);
    assert!(list(&r, 0, 1).is_empty());

    // "Required Test: Test invalid User by ID": 404 with a SCIM error and a detail.
    let r = app
        .scim("GET", "/Users/010101001010101", None)
        .await
        .expect_error(404, None, "");
    assert!(!r.body["detail"].as_str().unwrap().is_empty(), "{}", r.body);

    // "Required Test: Make sure random user doesn't exist".
    let user_name = "riley.rivera@atko.example";
    let r = get_with(
        &app,
        "/Users",
        &[("filter", &format!("userName eq \"{user_name}\""))],
    )
    .await
    .expect(200);
    assert!(list(&r, 0, 1).is_empty());

    // "Required Test: Create Okta user with realistic values".
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(spec_user(
                user_name,
                "riley.rivera.work@atko.example",
                "Riley",
                "Rivera",
            )),
        )
        .await
        .expect(201);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["name"]["familyName"], "Rivera");
    assert_eq!(r.body["name"]["givenName"], "Riley");
    assert!(
        r.body["schemas"].as_array().unwrap().contains(&json!(USER)),
        "{}",
        r.body
    );
    assert_eq!(r.body["userName"], user_name);
    let id_user_one = id_of(&r);
    assert!(r
        .location
        .as_deref()
        .is_some_and(|l| l.ends_with(&id_user_one)));

    // "Required Test: Verify that user was created".
    let r = app
        .scim("GET", &format!("/Users/{id_user_one}"), None)
        .await
        .expect(200);
    assert_eq!(r.body["userName"], user_name);
    assert_eq!(r.body["name"]["familyName"], "Rivera");
    assert_eq!(r.body["name"]["givenName"], "Riley");

    // "Required Test: Expect failure when recreating user with same values" (the suite's
    // second body takes the userName as the email).
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(spec_user(user_name, user_name, "Riley", "Rivera")),
        )
        .await
        .expect_error(409, Some("uniqueness"), "");
    assert!(!r.body["detail"].as_str().unwrap().is_empty());

    // "Required Test: Username Case Sensitivity Check": the suite asks for a 200; userName
    // is not caseExact (RFC 7643 §4.1.1), so the user is found.
    let r = get_with(
        &app,
        "/Users",
        &[(
            "filter",
            &format!("userName eq \"{}\"", user_name.to_uppercase()),
        )],
    )
    .await
    .expect(200);
    assert_eq!(list(&r, 1, 1)[0]["id"], id_user_one.as_str());

    // "Optional Test: Verify Groups endpoint".
    let r = app.scim("GET", "/Groups", None).await.expect(200);
    assert!(list(&r, 0, 1).is_empty());

    // "Required Test: Check status 401": a SCIM error with status and detail, whether the
    // credential is a wrong bearer token or no bearer token at all.
    let filter = format!(
        "/Users?filter=userName%20eq%20%22{}%22",
        user_name.to_uppercase()
    );
    for authorization in [Some("Bearer non-token"), Some("non-token"), None] {
        let r = with_authorization(&app, &filter, authorization)
            .await
            .expect_error(401, None, "");
        assert!(!r.body["detail"].as_str().unwrap().is_empty(), "{}", r.body);
    }

    // "Required Test: Check status 404".
    app.scim("GET", "/Users/00919288221112222", None)
        .await
        .expect_error(404, None, "");
}

/// An OIN integration's user lifecycle: match, create, read, import, update (PUT), deactivate,
/// reactivate, password sync (PATCH); then a custom (AIW) app's PUT-only lifecycle.
async fn okta_user_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    // Import (also what Okta reads when it checks the connection): an empty first page.
    let r = app
        .scim("GET", "/Users?startIndex=1&count=100", None)
        .await
        .expect(200);
    assert!(list(&r, 0, 1).is_empty());

    // "Determine if the User already exists": the documented request, byte for byte.
    let match_query =
        "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100";
    let r = app.scim("GET", match_query, None).await.expect(200);
    assert!(list(&r, 0, 1).is_empty());

    // "Create the User", with the password Okta sends and the empty groups.
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(okta_user(
                "test.user@okta.local",
                "00ujl29u0le5T6Aj10h7",
                "Test",
                "User",
            )),
        )
        .await
        .expect(201);
    let id = id_of(&r);
    assert_eq!(r.body["userName"], "test.user@okta.local");
    assert_eq!(
        r.body["name"],
        json!({"givenName": "Test", "familyName": "User"})
    );
    assert_eq!(
        r.body["emails"],
        json!([{"primary": true, "value": "test.user@okta.local", "type": "work"}])
    );
    assert_eq!(r.body["displayName"], "Test User");
    assert_eq!(r.body["locale"], "en-US");
    assert_eq!(r.body["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert!(
        r.body.get("password").is_none(),
        "never returned: {}",
        r.body
    );
    assert!(r.location.as_deref().is_some_and(|l| l.ends_with(&id)));
    // Okta resends a create it did not see answered: 409 with an error body stops it.
    app.scim(
        "POST",
        "/Users",
        Some(okta_user(
            "test.user@okta.local",
            "00ujl29u0le5T6Aj10h7",
            "Test",
            "User",
        )),
    )
    .await
    .expect_error(409, Some("uniqueness"), "");

    // The same request now matches the user.
    let r = app.scim("GET", match_query, None).await.expect(200);
    assert_eq!(list(&r, 1, 1)[0]["id"], id.as_str());

    // A second assignment, with the reference's body without externalId.
    let mut body = okta_user("second.user@okta.local", "", "Second", "User");
    body.as_object_mut().unwrap().remove("externalId");
    let r = app.scim("POST", "/Users", Some(body)).await.expect(201);
    let second = id_of(&r);
    assert_eq!(r.body["userName"], "second.user@okta.local");
    assert!(r.body.get("externalId").is_none(), "{}", r.body);

    // Import page by page: the same order whatever the page size.
    let r = app
        .scim("GET", "/Users?startIndex=1&count=100", None)
        .await
        .expect(200);
    let all: Vec<Value> = list(&r, 2, 1).iter().map(|u| u["id"].clone()).collect();
    let mut paged = Vec::new();
    for start in ["1", "2"] {
        let r = get_with(&app, "/Users", &[("startIndex", start), ("count", "1")])
            .await
            .expect(200);
        let page = list(&r, 2, start.parse().unwrap());
        assert_eq!(page.len(), 1);
        paged.push(page[0]["id"].clone());
    }
    assert_eq!(all, paged);

    // "Retrieve a specific User".
    let url = format!("/Users/{id}");
    let r = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["active"], true);

    // "Update the User": Okta PUTs the object back with its changes, id and meta included.
    let r = app
        .scim(
            "PUT",
            &url,
            Some(json!({
                "schemas": [USER],
                "id": id,
                "userName": "test.user@okta.local",
                "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
                "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work",
                            "display": "test.user@okta.local"}],
                "active": true,
                "groups": [],
                "meta": {"resourceType": "User"}
            })),
        )
        .await
        .expect(200);
    assert_eq!(
        r.body["name"],
        json!({"givenName": "Another", "middleName": "Excited", "familyName": "User"})
    );
    assert_eq!(r.body["emails"][0]["display"], "test.user@okta.local");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["id"], id.as_str());

    // Deactivation: the documented PATCH; 200 with the user, nothing else changed.
    let r = app
        .scim("PATCH", &url, Some(replace_value(json!({"active": false}))))
        .await
        .expect(200);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["userName"], "test.user@okta.local");
    assert_eq!(r.body["name"]["middleName"], "Excited");
    assert_eq!(r.body["emails"][0]["value"], "test.user@okta.local");
    let r = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(r.body["active"], false);
    // A later assignment matches the deactivated user rather than creating another.
    let r = app.scim("GET", match_query, None).await.expect(200);
    let found = list(&r, 1, 1);
    assert_eq!(
        (found[0]["id"].as_str(), &found[0]["active"]),
        (Some(id.as_str()), &json!(false))
    );

    // Reactivation (the CRUD suite's "Reactivates the user in Okta").
    let r = app
        .scim("PATCH", &url, Some(replace_value(json!({"active": true}))))
        .await
        .expect(200);
    assert_eq!(r.body["active"], true);

    // Password sync: accepted, never stored in or returned with the resource.
    let r = app
        .scim(
            "PATCH",
            &url,
            Some(replace_value(json!({"password": "t1meMa$heen"}))),
        )
        .await
        .expect(200);
    assert!(r.body.get("password").is_none(), "{}", r.body);
    assert_eq!(r.body["active"], true);

    // Unassigned in Okta: deactivated again (Okta never DELETEs users).
    let r = app
        .scim("PATCH", &url, Some(replace_value(json!({"active": false}))))
        .await
        .expect(200);
    assert_eq!(r.body["active"], false);
    let r = app
        .scim("GET", "/Users?startIndex=1&count=100", None)
        .await
        .expect(200);
    let users = list(&r, 2, 1);
    let stored = users.iter().find(|u| u["id"] == id.as_str()).unwrap();
    assert_eq!(stored["active"], false);

    // A custom (AIW) app sends every change as a PUT of the whole user, deactivation too.
    let url = format!("/Users/{second}");
    let mut user = app.scim("GET", &url, None).await.expect(200).body;
    user["active"] = json!(false);
    let r = app.scim("PUT", &url, Some(user.clone())).await.expect(200);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["userName"], "second.user@okta.local");
    user["active"] = json!(true);
    user["name"]["givenName"] = json!("Secondupdate");
    let r = app.scim("PUT", &url, Some(user)).await.expect(200);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["name"]["givenName"], "Secondupdate");

    // The provisioning log tells the story.
    let actions = log_actions(&app);
    for action in ["created", "updated", "deactivated", "reactivated"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} missing: {actions:?}"
        );
    }
    assert!(
        !actions.iter().any(|a| a == "deleted"),
        "Okta deletes no user: {actions:?}"
    );
}

/// Group Push: create, read, rename, membership by add/remove and by replace, the AIW PUT,
/// unlink with delete.
async fn okta_group_push(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let u1 = id_of(
        &app.scim(
            "POST",
            "/Users",
            Some(okta_user(
                "test.user@okta.local",
                "00ujl29u0le5T6Aj10h7",
                "Test",
                "User",
            )),
        )
        .await
        .expect(201),
    );
    let u2 = id_of(
        &app.scim(
            "POST",
            "/Users",
            Some(okta_user(
                "other.user@okta.local",
                "00ujl29u0le5T6Aj10h8",
                "Other",
                "User",
            )),
        )
        .await
        .expect(201),
    );

    // "Create Groups".
    let r = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []})),
        )
        .await
        .expect(201);
    let gid = id_of(&r);
    assert_eq!(r.body["schemas"], json!([GROUP]));
    assert_eq!(r.body["displayName"], "Test SCIMv2");
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    assert!(member_ids(&r.body).is_empty());
    let url = format!("/Groups/{gid}");

    // "Retrieve specific Groups" and "Retrieve Groups".
    let r = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(
        (r.body["id"].as_str(), &r.body["displayName"]),
        (Some(gid.as_str()), &json!("Test SCIMv2"))
    );
    let r = app
        .scim("GET", "/Groups?startIndex=1&count=100", None)
        .await
        .expect(200);
    assert_eq!(list(&r, 1, 1)[0]["id"], gid.as_str());

    // "Update a specific Group name": the value object carries the group's own id. Okta
    // accepts 204 as well as 200 for a PATCH; scimd answers a group PATCH with 204.
    let name_patch = |name: &str| replace_value(json!({"id": gid, "displayName": name}));
    let r = app
        .scim("PATCH", &url, Some(name_patch("Test SCIMv2")))
        .await
        .expect(204);
    assert!(r.etag.is_some());
    app.scim("PATCH", &url, Some(name_patch("Test SCIMv20")))
        .await
        .expect(204);
    let r = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(r.body["displayName"], "Test SCIMv20");

    // "Update specific Group membership": remove one (not a member yet) and add another,
    // followed, as Okta does, by the name PATCH.
    let r = app
        .scim(
            "PATCH",
            &url,
            Some(json!({
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "remove", "path": format!("members[value eq \"{u2}\"]")},
                    {"op": "add", "path": "members",
                     "value": [{"value": u1, "display": "test.user@okta.local"}]}
                ]
            })),
        )
        .await;
    r.expect(204);
    app.scim("PATCH", &url, Some(name_patch("Test SCIMv20")))
        .await
        .expect(204);
    let r = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(member_ids(&r.body), vec![u1.clone()]);
    assert_eq!(r.body["displayName"], "Test SCIMv20");

    // A full push of the membership with `replace`.
    app.scim(
        "PATCH",
        &url,
        Some(json!({
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "members", "value": [
                {"value": u1, "display": "test.user@okta.local"},
                {"value": u2, "display": "other.user@okta.local"}
            ]}]
        })),
    )
    .await
    .expect(204);
    let r = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(member_ids(&r.body), sorted(&[&u1, &u2]));

    // A member leaves.
    app.scim(
        "PATCH",
        &url,
        Some(json!({
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}]
        })),
    )
    .await
    .expect(204);
    let r = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(member_ids(&r.body), vec![u2.clone()]);

    // A custom (AIW) app PUTs the group: name and members replaced, answered with the group.
    let r = app
        .scim(
            "PUT",
            &url,
            Some(json!({
                "schemas": [GROUP],
                "displayName": "Test SCIMv2",
                "members": [{"value": u1, "display": "test.user@okta.local"}]
            })),
        )
        .await
        .expect(200);
    assert_eq!(r.body["id"], gid.as_str());
    assert_eq!(r.body["displayName"], "Test SCIMv2");
    assert_eq!(member_ids(&r.body), vec![u1.clone()]);

    // "Delete a specific Group" (unlink, deleting the group in the app): 204, then 404; the
    // users stay, and the group can be pushed again under its name.
    let r = app.scim("DELETE", &url, None).await.expect(204);
    assert_eq!(r.body, Value::Null);
    app.scim("GET", &url, None)
        .await
        .expect_error(404, None, "");
    app.scim("GET", &format!("/Users/{u1}"), None)
        .await
        .expect(200);
    let r = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []})),
        )
        .await
        .expect(201);
    assert_ne!(id_of(&r), gid);
}

crate::helpers::backend_tests!(okta_spec_test, okta_user_lifecycle, okta_group_push);
