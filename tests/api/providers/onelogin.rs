//! OneLogin's SCIM v2 provisioner ("SCIM Provisioner with SAML (SCIM v2 Enterprise)"),
//! replayed as OneLogin documents its requests.
//!
//! Sources:
//! - OneLogin Developers, "Step 2. Implement RESTful SCIM APIs for Your App"
//!   (<https://developers.onelogin.com/scim/implement-scim-api>): the calls OneLogin makes —
//!   Get User with `userName` filter, Create User, Get User by ID, Update User, Get Groups,
//!   Create Group, Patch Group, Delete User, Get Users — and its example flow: the initial
//!   connection is a Get User by `userName` with a value OneLogin knows does not exist,
//!   answered by an empty list; each provisioning starts with a Get User by `userName`, then
//!   creates or updates.
//! - OneLogin Developers, "Step 1. Define Your SCIM User Schema"
//!   (<https://developers.onelogin.com/scim/define-user-schema>): the "SCIM JSON Template"
//!   OneLogin fills and sends as the user (Core and Enterprise templates: `userName` from
//!   `{$parameters.scimusername}`, `name.givenName`/`familyName`/`formatted`, the work email,
//!   `title`, the enterprise `department` and `manager` with a display name). The page shows
//!   them with SCIM 1.0 URNs; the v2 provisioner sends the same template with the SCIM 2.0
//!   URNs, `emails` as an array and `manager.value`, as vendors publish it for OneLogin's
//!   "SCIM Provisioner with SAML (SCIM v2 Enterprise)" (e.g. Living Security, "Configuring
//!   SCIM for OneLogin", <https://www.livingsecurity.com/migration/support/configuring-scim-for-onelogin>).
//!   Templates that carry the user's state add `"active": "{$user.active}"`, which OneLogin
//!   renders as a string, with `"id": null` and `meta.resourceType` (Keepnet Labs, "Onelogin
//!   SCIM Integration", <https://doc.keepnetlabs.com/next-generation-product/platform/company/company-settings/scim-settings/onelogin-scim-integration>).
//! - OneLogin Developers, "Step 4. Test Your SCIM Implementation"
//!   (<https://developers.onelogin.com/scim/test-your-scim>): what OneLogin does "when users
//!   are deleted in OneLogin": Delete, Suspend or Do Nothing.
//! - OneLogin's own sample servers (github.com/onelogin/onelogin-scim-node, README: "handles
//!   and responds to all of the SCIM requests made by OneLogin"): the routes it answers —
//!   GET/POST `/Users`, GET/PUT/DELETE `/Users/:id`, GET/POST `/Groups`, PATCH `/Groups/:id`.
//!   So users are updated by PUT (never PATCH) and groups by PATCH.
//!
//! Where the docs are vague: they list "Patch Group" without a SCIM 2.0 body, so the
//! membership changes below are RFC 7644 §3.5.2's add to `members` and remove by
//! `members[value eq "…"]`; they name "Suspend" without its request, so the suspension is
//! the Update User PUT of a template carrying `active`, rendered `"false"`.

use serde_json::{json, Value};

use super::{
    get_with, id_of, list, log_actions, member_ids, sorted, ENTERPRISE, GROUP, PATCH_OP, USER,
};
use crate::helpers::{Backend, TestApp};

/// A person in OneLogin, as the template's placeholders see them.
struct Person<'a> {
    scim_username: &'a str,
    first: &'a str,
    last: &'a str,
    email: &'a str,
    title: &'a str,
    department: &'a str,
}

/// OneLogin's Enterprise template, filled for `p` (v2 URNs); `manager` is the app's id of
/// the manager and their name.
fn enterprise_template(p: &Person, manager: Option<(&str, &str)>) -> Value {
    let mut ext = json!({"department": p.department});
    if let Some((id, name)) = manager {
        ext["manager"] = json!({"value": id, "displayName": name});
    }
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": p.scim_username,
        "name": {
            "familyName": p.last,
            "givenName": p.first,
            "formatted": format!("{} {}", p.first, p.last)
        },
        "emails": [{"value": p.email, "type": "work", "primary": true}],
        "title": p.title,
        ENTERPRISE: ext
    })
}

/// A template that also carries the user's state: `"{$user.active}"` rendered as a string,
/// the empty id and the resource type.
fn template_with_state(p: &Person, active: &str) -> Value {
    let mut body = enterprise_template(p, None);
    body["active"] = json!(active);
    body["id"] = Value::Null;
    body["meta"] = json!({"resourceType": "User"});
    body
}

/// "Get User by userName": the users matching, as OneLogin sends the filter.
async fn get_by_user_name(app: &TestApp, user_name: &str) -> Vec<Value> {
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

async fn onelogin_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    // 1. Initial connection: a userName that cannot exist; an empty list confirms the URL.
    assert!(get_by_user_name(&app, "onelogin-connection-test-0f4c2a9e")
        .await
        .is_empty());

    // 2. Provisioning the manager, then the user: Get User by userName, then Create User.
    let boss = Person {
        scim_username: "dana.boss@acme.example",
        first: "Dana",
        last: "Boss",
        email: "dana.boss@acme.example",
        title: "VP Sales",
        department: "Sales",
    };
    assert!(get_by_user_name(&app, boss.scim_username).await.is_empty());
    let r = app
        .scim("POST", "/Users", Some(enterprise_template(&boss, None)))
        .await
        .expect(201);
    let boss_id = id_of(&r);

    let kelly = Person {
        scim_username: "kelly.slater@acme.example",
        first: "Kelly",
        last: "Slater",
        email: "kelly.slater@acme.example",
        title: "Account Executive",
        department: "Sales",
    };
    assert!(get_by_user_name(&app, kelly.scim_username).await.is_empty());
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(enterprise_template(&kelly, Some((&boss_id, "Dana Boss")))),
        )
        .await
        .expect(201);
    let id = id_of(&r);
    assert_eq!(r.body["userName"], "kelly.slater@acme.example");
    assert_eq!(r.body["name"]["formatted"], "Kelly Slater");
    assert_eq!(r.body["emails"][0]["value"], "kelly.slater@acme.example");
    assert_eq!(r.body["title"], "Account Executive");
    assert_eq!(r.body[ENTERPRISE]["department"], "Sales");
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], boss_id.as_str());
    // The template sends no `active`: the user is active, and says so to every reader.
    assert_eq!(r.body["active"], true, "{}", r.body);
    let r = get_with(&app, "/Users", &[("filter", "active eq true")])
        .await
        .expect(200);
    assert!(
        list(&r, 2, 1).iter().all(|u| u["active"] == true),
        "{}",
        r.body
    );

    // 3. Get User by ID, and the next sync's Get User by userName finds the user.
    let url = format!("/Users/{id}");
    let r = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["name"]["givenName"], "Kelly");
    let found = get_by_user_name(&app, kelly.scim_username).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], id.as_str());

    // 4. Update User: the whole template again, with the changed title and department.
    let promoted = Person {
        title: "Sales Manager",
        department: "Sales EMEA",
        ..kelly
    };
    let r = app
        .scim(
            "PUT",
            &url,
            Some(enterprise_template(
                &promoted,
                Some((&boss_id, "Dana Boss")),
            )),
        )
        .await
        .expect(200);
    assert_eq!(r.body["title"], "Sales Manager");
    assert_eq!(r.body[ENTERPRISE]["department"], "Sales EMEA");
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], boss_id.as_str());
    assert_eq!(r.body["active"], true);

    // 5. Groups: Get Groups (refreshing the entitlements), Create Group, Patch Group.
    let r = app.scim("GET", "/Groups", None).await.expect(200);
    assert!(list(&r, 0, 1).is_empty());
    let r = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Admin Role"})),
        )
        .await
        .expect(201);
    let gid = id_of(&r);
    assert_eq!(r.body["displayName"], "Admin Role");
    let r = app.scim("GET", "/Groups", None).await.expect(200);
    assert_eq!(list(&r, 1, 1)[0]["displayName"], "Admin Role");
    let gurl = format!("/Groups/{gid}");
    app.scim(
        "PATCH",
        &gurl,
        Some(json!({
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members",
                            "value": [{"value": id}, {"value": boss_id}]}]
        })),
    )
    .await
    .expect(204);
    let r = app.scim("GET", &gurl, None).await.expect(200);
    assert_eq!(member_ids(&r.body), sorted(&[&id, &boss_id]));
    app.scim(
        "PATCH",
        &gurl,
        Some(json!({
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{boss_id}\"]")}]
        })),
    )
    .await
    .expect(204);
    let r = app.scim("GET", &gurl, None).await.expect(200);
    assert_eq!(member_ids(&r.body), vec![id.clone()]);

    // 6. Suspend (the deletion action "Suspend"): the stateful template's PUT, "false".
    let r = app
        .scim("PUT", &url, Some(template_with_state(&promoted, "false")))
        .await
        .expect(200);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["userName"], "kelly.slater@acme.example");
    let r = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(r.body["active"], false);
    // A suspended user is still found, so that OneLogin updates rather than recreates it.
    let found = get_by_user_name(&app, kelly.scim_username).await;
    assert_eq!((found.len(), &found[0]["active"]), (1, &json!(false)));

    // 7. Back in OneLogin: the same PUT with "true".
    let r = app
        .scim("PUT", &url, Some(template_with_state(&promoted, "true")))
        .await
        .expect(200);
    assert_eq!(r.body["active"], true);

    // 8. Get Users: both users, listed whole.
    let r = app.scim("GET", "/Users", None).await.expect(200);
    let users = list(&r, 2, 1);
    assert!(users
        .iter()
        .all(|u| u["userName"].is_string() && u["emails"].is_array()));

    // 9. Delete User (the deletion action "Delete"): 204, then gone everywhere.
    let r = app.scim("DELETE", &url, None).await.expect(204);
    assert_eq!(r.body, Value::Null);
    app.scim("GET", &url, None)
        .await
        .expect_error(404, None, "");
    assert!(get_by_user_name(&app, kelly.scim_username).await.is_empty());
    let r = app.scim("GET", &gurl, None).await.expect(200);
    assert!(member_ids(&r.body).is_empty(), "{}", r.body);
    // Deleted again (a retried task): 404, a SCIM error.
    app.scim("DELETE", &url, None)
        .await
        .expect_error(404, None, "");
    // Assigned again later: a new user under the same userName.
    let r = app
        .scim("POST", "/Users", Some(enterprise_template(&promoted, None)))
        .await
        .expect(201);
    assert_ne!(id_of(&r), id);

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

crate::helpers::backend_tests!(onelogin_lifecycle);
