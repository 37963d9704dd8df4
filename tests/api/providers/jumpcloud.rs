//! JumpCloud's Custom SCIM Identity Management integration (SCIM 2.0), replayed as
//! JumpCloud documents it.
//!
//! Sources:
//! - JumpCloud, "Identity Management using a Custom SCIM Integration"
//!   (<https://jumpcloud.com/support/provision-and-manage-users-and-groups-in-apps-using-custom-scim-identity-management-integration>):
//!   Test Connection creates a test user (from the test email the admin gives) and a test
//!   group, and deletes both when the application supports DELETE; users are provisioned,
//!   updated, deprovisioned ("change an existing user to inactive") and deleted; the lookup
//!   of a user decides between create and update (its "SCIM DI events": `user_lookup_provision`,
//!   `user_create_provision`, `user_update_provision`, `user_deprovision`,
//!   `user_delete_provision`, `group_create_provision`, `group_update_provision`,
//!   `group_delete_provision`).
//! - JumpCloud's group management considerations, which its SCIM connector articles repeat
//!   (e.g. its Heap connector's, <https://jumpcloud.com/wp-json/wp/v2/support/85119>, "Group
//!   Management Considerations" and "Group Attributes"): empty groups are not created; JumpCloud takes over a group of the
//!   application whose name matches its user group's; renaming is supported; a user group
//!   disassociated from the application is left as it is there, and its members are
//!   deactivated unless another managed group keeps them; a managed group deleted in
//!   JumpCloud is deleted in the application. Its attribute tables: `username` → `userName`,
//!   `firstname` → `name.givenName`, `lastname` → `name.familyName`, the email → `emails`,
//!   the group's `name` → `displayName`.
//!
//! Where the docs are vague: they show no request body and no filter. The lookups below are
//! RFC 7644 §3.4.2.2 filters on the attributes the tables map (`userName eq`, and
//! `displayName eq` for the takeover by name); each user change is sent in both forms
//! RFC 7644 gives a client (PUT §3.5.1, PATCH §3.5.2), since JumpCloud does not say which it
//! uses; group changes are PATCHes of `displayName` and `members`.

use serde_json::{json, Value};

use super::{get_with, id_of, list, log_actions, member_ids, sorted, GROUP, PATCH_OP, USER};
use crate::helpers::{Backend, TestApp};

/// A JumpCloud user as the attribute table maps it.
fn jc_user(username: &str, first: &str, last: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": username,
        "name": {"givenName": first, "familyName": last},
        "emails": [{"value": username, "type": "work", "primary": true}]
    })
}

fn ops(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// The lookup: resources of `path` whose `attr` equals `value`.
async fn lookup(app: &TestApp, path: &str, attr: &str, value: &str) -> Vec<Value> {
    let r = get_with(app, path, &[("filter", &format!("{attr} eq \"{value}\""))])
        .await
        .expect(200);
    let total = r.body["totalResults"].as_u64().unwrap();
    list(&r, total, 1)
}

async fn jumpcloud_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    // A group the application already has (made before JumpCloud was connected).
    let r = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Engineering"})),
        )
        .await
        .expect(201);
    let engineering = id_of(&r);

    // 1. Test Connection: the test user and the test group are created, then deleted.
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(jc_user("it.admin@acme.example", "Test", "User")),
        )
        .await
        .expect(201);
    let test_user = id_of(&r);
    let r = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "JumpCloud Test Group"})),
        )
        .await
        .expect(201);
    let test_group = id_of(&r);
    for url in [
        format!("/Users/{test_user}"),
        format!("/Groups/{test_group}"),
    ] {
        app.scim("DELETE", &url, None).await.expect(204);
        app.scim("GET", &url, None)
            .await
            .expect_error(404, None, "");
    }
    // The test user's address is free again: the admin may be provisioned for real.
    assert!(lookup(&app, "/Users", "userName", "it.admin@acme.example")
        .await
        .is_empty());

    // 2. Bound users: lookup, then create.
    let mut ids = Vec::new();
    for (username, first, last) in [
        ("ada.lovelace@acme.example", "Ada", "Lovelace"),
        ("alan.turing@acme.example", "Alan", "Turing"),
    ] {
        assert!(lookup(&app, "/Users", "userName", username)
            .await
            .is_empty());
        let r = app
            .scim("POST", "/Users", Some(jc_user(username, first, last)))
            .await
            .expect(201);
        assert_eq!(r.body["userName"], username);
        assert_eq!(r.body["name"]["givenName"], first);
        assert_eq!(r.body["active"], true, "{}", r.body);
        ids.push(id_of(&r));
        // The next lookup finds the user: an update, not a second create.
        let found = lookup(&app, "/Users", "userName", username).await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["id"], ids.last().unwrap().as_str());
    }
    let (ada, alan) = (ids[0].clone(), ids[1].clone());

    // 3. Groups: a new group is created with its members (never empty)...
    assert!(lookup(&app, "/Groups", "displayName", "Analytical Engines")
        .await
        .is_empty());
    let r = app
        .scim(
            "POST",
            "/Groups",
            Some(
                json!({"schemas": [GROUP], "displayName": "Analytical Engines",
                        "members": [{"value": ada}, {"value": alan}]}),
            ),
        )
        .await
        .expect(201);
    let engines = id_of(&r);
    assert_eq!(member_ids(&r.body), sorted(&[&ada, &alan]));
    // ...and the application's group of the same name is taken over, not duplicated.
    let found = lookup(&app, "/Groups", "displayName", "Engineering").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], engineering.as_str());
    let eng_url = format!("/Groups/{engineering}");
    app.scim(
        "PATCH",
        &eng_url,
        Some(ops(
            json!([{"op": "add", "path": "members", "value": [{"value": ada}]}]),
        )),
    )
    .await
    .expect(204);
    let r = app.scim("GET", &eng_url, None).await.expect(200);
    assert_eq!(member_ids(&r.body), vec![ada.clone()]);

    // 4. User updates, in either form.
    let ada_url = format!("/Users/{ada}");
    let mut updated = jc_user("ada.lovelace@acme.example", "Augusta Ada", "Lovelace");
    updated["id"] = json!(ada);
    let r = app.scim("PUT", &ada_url, Some(updated)).await.expect(200);
    assert_eq!(r.body["name"]["givenName"], "Augusta Ada");
    assert_eq!(r.body["active"], true);
    let r = app
        .scim(
            "PATCH",
            &ada_url,
            Some(ops(
                json!([{"op": "replace", "path": "name.familyName", "value": "King"}]),
            )),
        )
        .await
        .expect(200);
    assert_eq!(
        r.body["name"],
        json!({"givenName": "Augusta Ada", "familyName": "King"})
    );

    // 5. Renaming a group, and a member leaving it.
    let engines_url = format!("/Groups/{engines}");
    app.scim(
        "PATCH",
        &engines_url,
        Some(ops(
            json!([{"op": "replace", "path": "displayName", "value": "Difference Engines"}]),
        )),
    )
    .await
    .expect(204);
    let found = lookup(&app, "/Groups", "displayName", "Difference Engines").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], engines.as_str());
    assert!(lookup(&app, "/Groups", "displayName", "Analytical Engines")
        .await
        .is_empty());
    app.scim(
        "PATCH",
        &engines_url,
        Some(ops(
            json!([{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}]),
        )),
    )
    .await
    .expect(204);
    let r = app.scim("GET", &engines_url, None).await.expect(200);
    assert_eq!(member_ids(&r.body), vec![alan.clone()]);

    // 6. The group is disassociated from the application: it stays as it is, and its only
    // member (in no other managed group) is deprovisioned: made inactive, in either form.
    let alan_url = format!("/Users/{alan}");
    let r = app
        .scim(
            "PATCH",
            &alan_url,
            Some(ops(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        )
        .await
        .expect(200);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["userName"], "alan.turing@acme.example");
    let r = app.scim("GET", &engines_url, None).await.expect(200);
    assert_eq!(r.body["displayName"], "Difference Engines");
    assert_eq!(member_ids(&r.body), vec![alan.clone()]);
    let found = lookup(&app, "/Users", "userName", "alan.turing@acme.example").await;
    assert_eq!(found[0]["active"], false);
    // Bound again: reactivated.
    let mut back = jc_user("alan.turing@acme.example", "Alan", "Turing");
    back["active"] = json!(true);
    let r = app
        .scim("PUT", &alan_url, Some(back.clone()))
        .await
        .expect(200);
    assert_eq!(r.body["active"], true);
    // Deprovisioned by PUT this time.
    back["active"] = json!(false);
    let r = app.scim("PUT", &alan_url, Some(back)).await.expect(200);
    assert_eq!(r.body["active"], false);
    let r = app.scim("GET", &alan_url, None).await.expect(200);
    assert_eq!(r.body["active"], false);

    // 7. A user deleted in JumpCloud: deleted in the application, and out of its groups.
    app.scim("DELETE", &ada_url, None).await.expect(204);
    app.scim("GET", &ada_url, None)
        .await
        .expect_error(404, None, "");
    let r = app.scim("GET", &eng_url, None).await.expect(200);
    assert!(member_ids(&r.body).is_empty(), "{}", r.body);

    // 8. A managed group deleted in JumpCloud: deleted in the application; its members stay.
    app.scim("DELETE", &engines_url, None).await.expect(204);
    app.scim("GET", &engines_url, None)
        .await
        .expect_error(404, None, "");
    app.scim("GET", &alan_url, None).await.expect(200);

    let actions = log_actions(&app);
    for action in [
        "created",
        "updated",
        "deactivated",
        "reactivated",
        "deleted",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} missing: {actions:?}"
        );
    }
}

crate::helpers::backend_tests!(jumpcloud_lifecycle);
