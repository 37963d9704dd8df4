//! A whole Entra provisioning cycle replayed over HTTP, in both dialects, checking what is
//! stored: Test Connection, match, create, updates, custom fields, group sync,
//! deactivation, reactivation, delete, and the provisioning log.

use crate::helpers::{patch, Backend, TestApp};
use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";

fn entra_user(upn: &str, mail: &str, object_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, CUSTOM],
        "externalId": object_id,
        "userName": upn,
        "active": true,
        "displayName": "Alice Jones",
        "title": "Engineer",
        "name": {"formatted": "Alice Jones", "familyName": "Jones", "givenName": "Alice"},
        "emails": [{"primary": true, "type": "work", "value": mail}],
        "addresses": [{"type": "work", "country": "US", "primary": true}],
        "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}],
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "userType": "Member",
        "roles": [],
        "meta": {"resourceType": "User"},
        ENTERPRISE: {"department": "Engineering", "employeeNumber": "1001", "costCenter": "CC-1",
                     "organization": "Contoso", "division": "R&D"},
        CUSTOM: {"postalCode": "98052"}
    })
}

async fn full_entra_cycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The tenant defines its custom field first.
    let out = app
        .cli()
        .ok(&["field", "add", "acme", "postalCode", "--type", "string"]);
    assert_eq!(out.trim(), format!("{CUSTOM}:postalCode"));
    let schemas = app.scim("GET", "/Schemas", None).await.expect(200);
    let custom = schemas.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == CUSTOM)
        .expect("custom schema listed");
    assert!(custom["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "postalCode"));

    // 1. Test Connection.
    let probe = app
        .filter_users(&format!("userName eq \"{}\"", uuid::Uuid::new_v4()))
        .await
        .expect(200);
    assert_eq!(probe.body["totalResults"], 0);

    // 2. Match on mail: none; create.
    let mail = "Alice.Jones@Contoso.com";
    let m = app
        .filter_users(&format!("emails[type eq \"work\"].value eq \"{mail}\""))
        .await
        .expect(200);
    assert_eq!(m.body["totalResults"], 0);
    let created = app
        .scim(
            "POST",
            "/Users",
            Some(entra_user("alice@contoso.onmicrosoft.com", mail, "obj-1")),
        )
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body[CUSTOM]["postalCode"], "98052");
    assert_eq!(created.body[ENTERPRISE]["division"], "R&D");
    assert_eq!(created.body["addresses"][0]["country"], "US");
    // A resent POST (Entra timed out) meets a 409 naming mail / userName.
    app.scim(
        "POST",
        "/Users",
        Some(entra_user("alice@contoso.onmicrosoft.com", mail, "obj-1")),
    )
    .await
    .expect_error(409, Some("uniqueness"), "");

    // 3. Match again: found, by each matching attribute.
    for f in [
        format!(
            "emails[type eq \"work\"].value eq \"{}\"",
            mail.to_lowercase()
        ),
        "userName eq \"ALICE@contoso.onmicrosoft.com\"".to_string(),
        "externalId eq \"obj-1\"".to_string(),
    ] {
        let r = app.filter_users(&f).await.expect(200);
        assert_eq!(r.body["totalResults"], 1, "{f}");
    }

    let url = format!("/Users/{id}");
    let manager = app
        .create_user("boss@contoso.com", "boss@contoso.com")
        .await;
    // 4a. Older dialect: capitalised ops, string booleans, several ops atomically.
    let r = app
        .scim(
            "PATCH",
            &url,
            Some(patch(json!([
                {"op": "Replace", "path": "name.familyName", "value": "Smith"},
                {"op": "Add", "path": format!("{ENTERPRISE}:department"), "value": "Sales"},
                {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager},
                {"op": "Replace", "path": "addresses[type eq \"work\"].country", "value": "FR"},
                {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Paris"},
                {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+33 1 00 00 00 00"},
                {"op": "Remove", "path": "title"}
            ]))),
        )
        .await
        .expect(200);
    assert_eq!(r.body["name"]["familyName"], "Smith");
    assert_eq!(r.body[ENTERPRISE]["department"], "Sales");
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], manager.as_str());
    let addresses = r.body["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 1, "one merged work address: {addresses:?}");
    assert_eq!(addresses[0]["country"], "FR");
    assert_eq!(addresses[0]["locality"], "Paris");
    assert_eq!(r.body["phoneNumbers"][0]["value"], "+33 1 00 00 00 00");
    assert!(r.body.get("title").is_none());

    // 4b. Newer dialect: lower-case ops, value object without path, dotted and URN keys.
    let r = app
        .scim(
            "PATCH",
            &url,
            Some(patch(json!([
                {"op": "replace", "value": {
                    "displayName": "Alice Smith",
                    "name.givenName": "Alicia",
                    format!("{CUSTOM}:postalCode"): "75001",
                    format!("{ENTERPRISE}:costCenter"): "CC-2"
                }},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "alice.smith@contoso.com"}
            ]))),
        )
        .await
        .expect(200);
    assert_eq!(r.body["displayName"], "Alice Smith");
    assert_eq!(r.body["name"]["givenName"], "Alicia");
    assert_eq!(r.body[CUSTOM]["postalCode"], "75001");
    assert_eq!(r.body[ENTERPRISE]["costCenter"], "CC-2");
    assert_eq!(r.body["emails"][0]["type"], "work");
    assert_eq!(
        app.filter_users("emails[type eq \"work\"].value eq \"alice.smith@contoso.com\"")
            .await
            .body["totalResults"],
        1
    );
    assert_eq!(
        app.filter_users(&format!("emails[type eq \"work\"].value eq \"{mail}\""))
            .await
            .body["totalResults"],
        0
    );

    // An undefined custom field is a 400 that names it and says how to define it.
    let r = app
        .scim(
            "PATCH",
            &url,
            Some(patch(
                json!([{"op": "add", "path": format!("{CUSTOM}:badge"), "value": "x"}]),
            )),
        )
        .await
        .expect_error(400, Some("invalidSyntax"), "badge");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("scimd field add"),
        "{}",
        r.body
    );
    let mut body = entra_user("new@contoso.com", "new@contoso.com", "obj-9");
    body[CUSTOM]["badge"] = json!("x");
    let r = app.scim("POST", "/Users", Some(body)).await.expect_error(
        400,
        Some("invalidSyntax"),
        "badge",
    );
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("scimd field add"),
        "{}",
        r.body
    );

    // Manager cleared with an empty string.
    let r = app
        .scim(
            "PATCH",
            &url,
            Some(patch(
                json!([{"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": ""}]),
            )),
        )
        .await
        .expect(200);
    assert!(r.body[ENTERPRISE].get("manager").is_none(), "{}", r.body);

    // 5. Group sync.
    let g = app.scim("POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "externalId": "grp-1", "displayName": "Engineering"}))).await.expect(201);
    let gid = g.body["id"].as_str().unwrap().to_string();
    app.scim(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "Add", "path": "members", "value": [{"value": id}, {"value": manager}]}]),
        )),
    )
    .await
    .expect(204);
    let m = app
        .scim(
            "GET",
            &format!("/Groups?filter=members.value+eq+%22{id}%22&excludedAttributes=members"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(m.body["totalResults"], 1);

    // 6. Deactivation (string and boolean forms), reactivation.
    for (value, expected) in [
        (json!("False"), false),
        (json!(true), true),
        (json!(false), false),
        (json!("True"), true),
        (json!("false"), false),
    ] {
        let r = app
            .scim(
                "PATCH",
                &url,
                Some(patch(
                    json!([{"op": "Replace", "path": "active", "value": value}]),
                )),
            )
            .await
            .expect(200);
        assert_eq!(r.body["active"], expected);
    }
    let g = app.scim("GET", &url, None).await.expect(200);
    assert_eq!(g.body["active"], false);
    assert_eq!(
        app.filter_users("externalId eq \"obj-1\"").await.body["totalResults"],
        1,
        "inactive users still match"
    );
    assert_eq!(
        app.filter_users("active eq false").await.body["totalResults"],
        1
    );

    // 7. Hard delete.
    app.scim("DELETE", &url, None).await.expect(204);
    app.scim("GET", &url, None).await.expect(404);
    let grp = app
        .scim("GET", &format!("/Groups/{gid}"), None)
        .await
        .expect(200);
    assert_eq!(
        grp.body["members"].as_array().unwrap().len(),
        1,
        "deleted user left the group"
    );

    // The provisioning log tells the story.
    let log = app.cli().ok(&["events", "acme"]);
    let actions: Vec<&str> = log.lines().filter_map(|l| l.split('\t').nth(2)).collect();
    for a in [
        "created",
        "updated",
        "deactivated",
        "reactivated",
        "deleted",
        "rejected",
    ] {
        assert!(actions.contains(&a), "{a} missing from log:\n{log}");
    }
}

crate::helpers::backend_tests!(full_entra_cycle);
