//! Bodies that are not what they say: too deeply nested, not UTF-8, empty, not one JSON
//! object, of the wrong media type, or holding NUL characters — each a 4xx saying what is
//! wrong, with the target user untouched.

use serde_json::json;

use super::{app_with_target, assert_healthy, assert_untouched, group_body, search_body};
use crate::helpers::{patch, raw, raw_head, send_bytes, user_body, Backend, TestApp};

const JSON_CT: [(&str, &str); 1] = [("Content-Type", "application/scim+json")];

/// 100,000 nested arrays, and the same as an object value: 400 invalidSyntax.
async fn deeply_nested_json_is_400_invalid_syntax(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    let user_path = format!("/Users/{id}");
    let deep = "[".repeat(100_000).into_bytes();
    for (method, path) in [
        ("POST", "/Users"),
        ("PATCH", user_path.as_str()),
        ("POST", "/Users/.search"),
    ] {
        send_bytes(&app, method, path, &JSON_CT, deep.clone())
            .await
            .expect_error(400, Some("invalidSyntax"), "not valid JSON");
    }
    let deep_value = format!("{{\"userName\":{}", "{\"a\":".repeat(50_000)).into_bytes();
    send_bytes(&app, "POST", "/Users", &JSON_CT, deep_value)
        .await
        .expect_error(400, Some("invalidSyntax"), "not valid JSON");
    assert_untouched(&app, &id).await;
    assert_healthy(&app).await;
}

/// Deep but parseable (below serde_json's limit) in an attribute value: 400.
async fn nested_attribute_value_is_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut nested = json!("x");
    for _ in 0..100 {
        nested = json!({ "a": nested });
    }
    let mut body = user_body("nested@contoso.com", "nested@contoso.com");
    body["title"] = nested;
    let r = app.scim("POST", "/Users", Some(body)).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    assert_healthy(&app).await;
}

/// Invalid UTF-8 in the body, in a string value and as a bare byte: 400 invalidSyntax.
async fn invalid_utf8_body_is_400_invalid_syntax(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    let mut bad =
        br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":""#.to_vec();
    bad.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    bad.extend_from_slice(br#""}"#);
    send_bytes(&app, "POST", "/Users", &JSON_CT, bad.clone())
        .await
        .expect_error(400, Some("invalidSyntax"), "not valid JSON");
    send_bytes(&app, "PATCH", &format!("/Users/{id}"), &JSON_CT, bad)
        .await
        .expect_error(400, Some("invalidSyntax"), "not valid JSON");
    send_bytes(&app, "POST", "/Users", &JSON_CT, vec![0x80, 0x81])
        .await
        .expect_error(400, Some("invalidSyntax"), "not valid JSON");
    assert_untouched(&app, &id).await;
    assert_healthy(&app).await;
}

/// Missing body on POST, PUT and PATCH (with and without a Content-Type, and with no
/// Content-Length at all): 400 invalidSyntax "body is empty".
async fn empty_body_is_400_body_is_empty(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    let user_path = format!("/Users/{id}");
    for (method, path) in [
        ("POST", "/Users"),
        ("PUT", user_path.as_str()),
        ("PATCH", user_path.as_str()),
        ("POST", "/Groups"),
        ("POST", "/Users/.search"),
    ] {
        send_bytes(&app, method, path, &JSON_CT, Vec::new())
            .await
            .expect_error(400, Some("invalidSyntax"), "body is empty");
        send_bytes(&app, method, path, &[], Vec::new())
            .await
            .expect_error(400, Some("invalidSyntax"), "body is empty");
        let h = raw_head(&app, method, path.as_bytes(), "");
        raw(&app, h, Vec::new())
            .await
            .expect_error(400, Some("invalidSyntax"), "body is empty");
    }
    assert_untouched(&app, &id).await;
    assert_healthy(&app).await;
}

/// Truncated, trailing garbage, and JSON that is not an object: 400 on create, patch and search.
async fn json_that_is_not_one_object_is_400(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    let user_path = format!("/Users/{id}");
    for body in [
        &b"{\"userName\": "[..],
        b"{} {}",
        b"null",
        b"[]",
        b"\"user\"",
        b"42",
        b"true",
    ] {
        for (method, path) in [
            ("POST", "/Users"),
            ("PATCH", user_path.as_str()),
            ("POST", "/Users/.search"),
        ] {
            let r = send_bytes(&app, method, path, &JSON_CT, body.to_vec()).await;
            assert_eq!(
                r.status.as_u16(),
                400,
                "{:?}: {}",
                String::from_utf8_lossy(body),
                r.body
            );
        }
    }
    assert_untouched(&app, &id).await;
    assert_healthy(&app).await;
}

/// `application/scim+json` and `application/json`, with a charset parameter, in any case:
/// accepted.
async fn scim_and_json_media_types_are_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (n, ct) in [
        "application/scim+json",
        "application/json",
        "application/scim+json; charset=utf-8",
        "application/json; charset=UTF-8",
        "Application/SCIM+JSON;charset=\"utf-8\"",
    ]
    .into_iter()
    .enumerate()
    {
        send_bytes(&app, "POST", "/Users", &[("Content-Type", ct)], ct_user(n))
            .await
            .expect(201);
    }
    assert_healthy(&app).await;
}

/// A body for the user `ct{n}@contoso.com`.
fn ct_user(n: usize) -> Vec<u8> {
    user_body(&format!("ct{n}@contoso.com"), &format!("ct{n}@contoso.com"))
        .to_string()
        .into_bytes()
}

/// `text/plain` and friends: 415 naming the type to send, on create and patch; nothing
/// created.
async fn other_media_types_are_415(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    for ct in [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "application/xml",
        "multipart/form-data; boundary=x",
    ] {
        send_bytes(&app, "POST", "/Users", &[("Content-Type", ct)], ct_user(99))
            .await
            .expect_error(415, None, "application/scim+json");
        let ops = patch(json!([{"op": "replace", "path": "active", "value": false}]))
            .to_string()
            .into_bytes();
        send_bytes(
            &app,
            "PATCH",
            &format!("/Users/{id}"),
            &[("Content-Type", ct)],
            ops,
        )
        .await
        .expect_error(415, None, "application/scim+json");
    }
    let r = app
        .filter_users("userName eq \"ct99@contoso.com\"")
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 0);
    assert_healthy(&app).await;
}

/// A Content-Type that is not even text: 400 or 415.
async fn media_type_that_is_not_text_is_400_or_415(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut h = raw_head(&app, "POST", b"/Users", "Content-Length: 2\r\n");
    h.truncate(h.len() - 2);
    h.extend_from_slice(b"Content-Type: \xff\xfe\r\n\r\n");
    let r = raw(&app, h, b"{}".to_vec()).await;
    assert!(
        matches!(r.status.as_u16(), 400 | 415),
        "{}: {}",
        r.status,
        r.body
    );
    assert_healthy(&app).await;
}

/// NUL characters in strings (allowed by JSON, refused by PostgreSQL text) of a user, a
/// PATCH or a group: a 400 naming the problem on both backends.
async fn nul_in_a_body_is_400_invalid_value(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    let mut body = user_body("nul\u{0}@contoso.com", "nul@contoso.com");
    app.scim("POST", "/Users", Some(body.clone()))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");
    body["userName"] = json!("nul@contoso.com");
    body["displayName"] = json!("Nul\u{0}Display");
    app.scim("POST", "/Users", Some(body.clone()))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");
    body["displayName"] = json!("ok");
    body["externalId"] = json!("\u{0}");
    app.scim("POST", "/Users", Some(body.clone()))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");
    body["externalId"] = json!("ext");
    body["emails"][0]["value"] = json!("nul\u{0}@contoso.com");
    app.scim("POST", "/Users", Some(body))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");
    let ops = patch(json!([{"op": "replace", "path": "displayName", "value": "a\u{0}b"}]));
    app.scim("PATCH", &format!("/Users/{id}"), Some(ops))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");
    let ops = patch(json!([{"op": "add", "value": {"nickName\u{0}": "x"}}]));
    let r = app.scim("PATCH", &format!("/Users/{id}"), Some(ops)).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    app.scim("POST", "/Groups", Some(group_body("G\u{0}")))
        .await
        .expect_error(400, Some("invalidValue"), "NUL");
    app.scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_healthy(&app).await;
}

/// NUL in filters, escaped inside the string or raw (%00) in the query: 400 invalidFilter.
async fn nul_in_a_filter_is_400_invalid_filter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for filter in [
        "userName eq \"a\\u0000b\"",
        "userName eq \"a\u{0}b\"",
        "emails[type eq \"work\"].value eq \"x\u{0}@contoso.com\"",
        "externalId eq \"\u{0}\"",
        "displayName co \"\u{0}\"",
    ] {
        app.filter_users(filter)
            .await
            .expect_error(400, Some("invalidFilter"), "NUL");
        let r = app
            .scim("POST", "/Users/.search", Some(search_body(filter)))
            .await;
        r.expect_error(400, Some("invalidFilter"), "NUL");
        let q =
            serde_urlencoded::to_string([("filter", filter.replace("userName", "displayName"))])
                .expect("encode");
        let r = app.scim("GET", &format!("/Groups?{q}"), None).await;
        assert_eq!(r.status.as_u16(), 400, "{filter}: {}", r.body);
    }
    assert_healthy(&app).await;
}

/// In paths: an id or a tenant with a NUL is simply not found (404 for the id whatever the
/// method; 401 for the tenant, which no token is for).
async fn nul_in_a_path_is_not_found(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    for path in ["/Users/%00", "/Users/a%00b", "/Groups/%00"] {
        app.scim("GET", path, None).await.expect(404);
        app.scim("DELETE", path, None).await.expect(404);
        let ops = patch(json!([{"op": "replace", "path": "displayName", "value": "x"}]));
        app.scim("PATCH", path, Some(ops)).await.expect(404);
        let r = app
            .scim(
                "PUT",
                path,
                Some(user_body("put@contoso.com", "put@contoso.com")),
            )
            .await;
        assert_eq!(r.status.as_u16(), 404, "{path}: {}", r.body);
    }
    let url = format!("{}/scim/v2/tenants/ac%00me/Users", app.base);
    app.send("GET", &url, Some(&app.token), None)
        .await
        .expect_error(401, None, "bearer token");
    app.scim("GET", &format!("/Users/{id}"), None)
        .await
        .expect(200);
    assert_healthy(&app).await;
}

/// NUL in sorting, projection and other list parameters: a 400 or ignored, never a 5xx.
async fn nul_in_list_parameters_is_400_or_ignored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for q in [
        "sortBy=display%00Name",
        "attributes=user%00Name",
        "excludedAttributes=%00",
        "startIndex=1%00",
    ] {
        let r = app.scim("GET", &format!("/Users?{q}"), None).await;
        assert!(
            r.status.as_u16() == 400 || r.status.as_u16() == 200,
            "{q}: {} {}",
            r.status,
            r.body
        );
    }
    assert_healthy(&app).await;
}

crate::helpers::backend_tests!(
    deeply_nested_json_is_400_invalid_syntax,
    nested_attribute_value_is_400,
    invalid_utf8_body_is_400_invalid_syntax,
    empty_body_is_400_body_is_empty,
    json_that_is_not_one_object_is_400,
    scim_and_json_media_types_are_accepted,
    other_media_types_are_415,
    media_type_that_is_not_text_is_400_or_415,
    nul_in_a_body_is_400_invalid_value,
    nul_in_a_filter_is_400_invalid_filter,
    nul_in_a_path_is_not_found,
    nul_in_list_parameters_is_400_or_ignored,
);
