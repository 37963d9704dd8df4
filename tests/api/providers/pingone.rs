//! Ping Identity's outbound SCIM provisioning — PingFederate's SCIM Provisioner and PingOne's
//! SCIM outbound provisioning — replayed as Ping documents it.
//!
//! Sources:
//! - Ping Identity, "SCIM Provisioner" (PingFederate,
//!   <https://docs.pingidentity.com/integrations/scim/pf_scim_connector.html>): SCIM 1.1 and
//!   2.0; creates, updates, disables and deletes users (disable or delete chosen for
//!   deprovisioning), provisions disabled users; creates, updates and deletes groups and their
//!   memberships. Its specification table: filtering users yes; filtering groups "by
//!   retrieving all groups and finding a match"; PATCH for users no, for groups yes.
//! - Ping Identity, "User and group management" (SCIM Provisioner,
//!   <https://docs.pingidentity.com/integrations/scim/pf_scim_connector_user_and_group_management.html>):
//!   users are matched on `userName` (its example: Janet, `userName` `jsmith` from her
//!   `sAMAccountName`); a user added to the targeted group or filter is provisioned, also
//!   when disabled if "Provision disabled users" is on; attribute changes update the user;
//!   "User Update" can re-enable a disabled user; deprovisioning follows "Remove User
//!   Action" (Disable or Delete); groups are provisioned, renamed, their memberships updated,
//!   and deleted.
//! - Ping Identity, "SCIM provisioner settings reference"
//!   (<https://docs.pingidentity.com/integrations/scim/setup/pf_scim_connector_scim_connector_settings_reference.html>):
//!   the Unique User Identifier (`userName`) and the Filter Expression that overrides the
//!   default `userName` filter.
//! - Ping Identity, "SCIM provisioning features" (PingOne,
//!   <https://docs.pingidentity.com/pingone/integrations/p1_scim_provisioning_features.html>):
//!   create, update, disable and delete; SCIM core and enterprise attributes; filter
//!   expression override; provisioning of disabled users; configurable deprovisioning and
//!   group provisioning (the PingOne Platform API's SCIM store configuration names them
//!   `USER_FILTER`, `UNIQUE_USER_IDENTIFIER`, `REMOVE_ACTION`, `GROUP_MEMBERSHIP_HANDLING`).
//!
//! Where the docs are vague: they show no request body. Users are sent as RFC 7643 core and
//! enterprise resources, and since the provisioner does not PATCH users, every user change,
//! disabling included, is a PUT of the whole user (RFC 7644 §3.5.1); group changes are
//! RFC 7644 §3.5.2 PATCHes, or a PUT of the group when group PATCH is not used; groups are
//! found by paging through all of them, as the specification table says.

use serde_json::{json, Value};

use super::{
    get_with, id_of, list, log_actions, member_ids, sorted, ENTERPRISE, GROUP, PATCH_OP, USER,
};
use crate::helpers::{Backend, TestApp};

/// A datastore user as the provisioner sends it: core and enterprise attributes.
fn ping_user(user_name: &str, given: &str, family: &str, title: &str, active: bool) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "displayName": format!("{given} {family}"),
        "emails": [{"value": format!("{user_name}@acme.example"), "type": "work", "primary": true}],
        "title": title,
        "active": active,
        ENTERPRISE: {"employeeNumber": format!("E-{user_name}"), "department": "Finance"}
    })
}

/// The match on the unique user identifier (the default filter).
async fn match_user(app: &TestApp, user_name: &str) -> Vec<Value> {
    let r = get_with(
        app,
        "/Users",
        &[("filter", &format!("userName eq \"{user_name}\""))],
    )
    .await
    .expect(200);
    let total = r.body["totalResults"].as_u64().unwrap();
    list(&r, total, 1)
}

/// Groups are not filtered: read every page (of `count` groups) and find the name.
async fn find_group(app: &TestApp, display_name: &str, count: u64) -> Option<Value> {
    let mut start = 1;
    loop {
        let r = get_with(
            app,
            "/Groups",
            &[
                ("startIndex", &start.to_string()),
                ("count", &count.to_string()),
            ],
        )
        .await
        .expect(200);
        let total = r.body["totalResults"].as_u64().unwrap();
        let page = list(&r, total, start);
        if let Some(g) = page.iter().find(|g| g["displayName"] == display_name) {
            return Some(g.clone());
        }
        if page.is_empty() || start + page.len() as u64 > total {
            return None;
        }
        start += page.len() as u64;
    }
}

async fn ping_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    // 1. Janet is added to the targeted datastore group: matched on userName, then created.
    assert!(match_user(&app, "jsmith").await.is_empty());
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(ping_user("jsmith", "Janet", "Smith", "Accountant", true)),
        )
        .await
        .expect(201);
    let janet = id_of(&r);
    assert_eq!(r.body["userName"], "jsmith");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "E-jsmith");
    let found = match_user(&app, "jsmith").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], janet.as_str());

    // 2. "Provision disabled users": a disabled datastore user is created disabled.
    assert!(match_user(&app, "bjones").await.is_empty());
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(ping_user("bjones", "Bob", "Jones", "Clerk", false)),
        )
        .await
        .expect(201);
    let bob = id_of(&r);
    assert_eq!(r.body["active"], false);
    let r = get_with(&app, "/Users", &[("filter", "active eq false")])
        .await
        .expect(200);
    assert_eq!(list(&r, 1, 1)[0]["id"], bob.as_str());

    // 3. An attribute changes in the datastore: the whole user, PUT.
    let janet_url = format!("/Users/{janet}");
    let r = app
        .scim(
            "PUT",
            &janet_url,
            Some(ping_user("jsmith", "Janet", "Smith", "Controller", true)),
        )
        .await
        .expect(200);
    assert_eq!(r.body["title"], "Controller");
    assert_eq!(r.body["active"], true);

    // 4. Groups: created with their members, found again by reading every group.
    for name in ["Auditors", "Payroll"] {
        app.scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": name, "members": []})),
        )
        .await
        .expect(201);
    }
    assert!(find_group(&app, "Finance", 1).await.is_none());
    let r = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Finance",
                        "members": [{"value": janet}]})),
        )
        .await
        .expect(201);
    let finance = id_of(&r);
    let g = find_group(&app, "Finance", 1)
        .await
        .expect("found by paging");
    assert_eq!(g["id"], finance.as_str());
    assert_eq!(member_ids(&g), vec![janet.clone()]);

    // 5. Group name and membership updates by PATCH.
    let g_url = format!("/Groups/{finance}");
    app.scim(
        "PATCH",
        &g_url,
        Some(json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "displayName", "value": "Finance Team"},
            {"op": "add", "path": "members", "value": [{"value": bob}]}
        ]})),
    )
    .await
    .expect(204);
    let g = find_group(&app, "Finance Team", 2).await.expect("renamed");
    assert_eq!(member_ids(&g), sorted(&[&janet, &bob]));
    app.scim(
        "PATCH",
        &g_url,
        Some(json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "remove", "path": format!("members[value eq \"{bob}\"]")}
        ]})),
    )
    .await
    .expect(204);
    let r = app.scim("GET", &g_url, None).await.expect(200);
    assert_eq!(member_ids(&r.body), vec![janet.clone()]);
    // ...and by PUT of the whole group when group PATCH is not used.
    let r = app
        .scim(
            "PUT",
            &g_url,
            Some(json!({"schemas": [GROUP], "displayName": "Finance",
                        "members": [{"value": janet}, {"value": bob}]})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["displayName"], "Finance");
    assert_eq!(member_ids(&r.body), sorted(&[&janet, &bob]));

    // 6. Remove User Action "Disable": Janet leaves the targeted group; PUT, active false.
    let r = app
        .scim(
            "PUT",
            &janet_url,
            Some(ping_user("jsmith", "Janet", "Smith", "Controller", false)),
        )
        .await
        .expect(200);
    assert_eq!(r.body["active"], false);
    let found = match_user(&app, "jsmith").await;
    assert_eq!((found.len(), &found[0]["active"]), (1, &json!(false)));

    // 7. Back in the targeted group: "User Update" re-enables her.
    let r = app
        .scim(
            "PUT",
            &janet_url,
            Some(ping_user("jsmith", "Janet", "Smith", "Controller", true)),
        )
        .await
        .expect(200);
    assert_eq!(r.body["active"], true);
    // And Bob is enabled in the datastore.
    let r = app
        .scim(
            "PUT",
            &format!("/Users/{bob}"),
            Some(ping_user("bjones", "Bob", "Jones", "Clerk", true)),
        )
        .await
        .expect(200);
    assert_eq!(r.body["active"], true);

    // 8. Remove User Action "Delete": the user is deleted, and leaves its groups.
    app.scim("DELETE", &janet_url, None).await.expect(204);
    app.scim("GET", &janet_url, None)
        .await
        .expect_error(404, None, "");
    assert!(match_user(&app, "jsmith").await.is_empty());
    let r = app.scim("GET", &g_url, None).await.expect(200);
    assert_eq!(member_ids(&r.body), vec![bob.clone()]);

    // 9. Group deletion.
    app.scim("DELETE", &g_url, None).await.expect(204);
    assert!(find_group(&app, "Finance", 1).await.is_none());
    app.scim("GET", &g_url, None)
        .await
        .expect_error(404, None, "");

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

crate::helpers::backend_tests!(ping_lifecycle);
