//! Query strings (RFC 7644 §3.4.2.4): unknown parameters are ignored, paging is clamped,
//! unknown attributes are no error, garbage is a 400 that names the parameter; broken
//! percent-encoding and bytes that are not UTF-8 are a 4xx, never a 5xx; and the parameters
//! of a write are all read before anything is written.

use serde_json::json;

use super::{assert_healthy, assert_not_5xx, group_body};
use crate::helpers::{patch, raw, raw_head, user_body, Backend, Reply, TestApp};

/// A server with three users, `u0@` to `u2@contoso.com`; returns the app and their ids.
async fn app_with_three_users(backend: Backend) -> (TestApp, Vec<String>) {
    let app = TestApp::spawn(backend).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let name = format!("u{i}@contoso.com");
        ids.push(app.create_user(&name, &name).await);
    }
    (app, ids)
}

/// GET `target` (relative to the tenant URL): 200 and its body.
async fn get_ok(app: &TestApp, target: &str) -> serde_json::Value {
    app.scim("GET", target, None).await.expect(200).body
}

/// Parameters nobody asked for, and empty ones: ignored.
async fn unknown_and_empty_parameters_are_ignored(backend: Backend) {
    let (app, _) = app_with_three_users(backend).await;
    for q in [
        "aadOptscim062020",
        "foo=bar&baz",
        "filter=",
        "count=",
        "sortBy=",
        "attributes=",
        "=x&&&=",
        "a=%20",
    ] {
        let body = get_ok(&app, &format!("/Users?{q}")).await;
        assert_eq!(body["totalResults"], 3, "{q}");
    }
    assert_healthy(&app).await;
}

/// Out-of-range paging is clamped: a negative, zero or huge `count` to 0 and to the results
/// (at most `max_results`); a `startIndex` below 1 counts from 1, one past the end (up to
/// `i64::MAX`) is an empty page; the same in a `.search` body.
async fn out_of_range_paging_is_clamped(backend: Backend) {
    let (app, _) = app_with_three_users(backend).await;
    let max = app.state.settings.max_results;
    let body = get_ok(&app, "/Users?count=-5").await;
    assert_eq!(
        (body["totalResults"].as_i64(), body["itemsPerPage"].as_i64()),
        (Some(3), Some(0))
    );
    let body = get_ok(&app, "/Users?count=0").await;
    assert_eq!(body["itemsPerPage"], 0);
    let body = get_ok(&app, "/Users?count=999999999999").await;
    assert_eq!(body["itemsPerPage"], 3);
    assert!(body["itemsPerPage"].as_i64().unwrap() <= max);
    let body = get_ok(&app, "/Users?startIndex=0").await;
    assert_eq!(
        (body["startIndex"].as_i64(), body["itemsPerPage"].as_i64()),
        (Some(1), Some(3))
    );
    let body = get_ok(&app, "/Users?startIndex=-99999999999&count=1").await;
    assert_eq!(
        (body["startIndex"].as_i64(), body["itemsPerPage"].as_i64()),
        (Some(1), Some(1))
    );
    let body = get_ok(&app, &format!("/Users?startIndex={}", i64::MAX)).await;
    assert_eq!(body["itemsPerPage"], 0);
    let body = get_ok(
        &app,
        "/Users?startIndex=9223372036854775807&count=9223372036854775807&sortBy=nickName",
    )
    .await;
    assert_eq!(body["itemsPerPage"], 0);
    let body = get_ok(&app, "/Groups?count=-5&startIndex=0").await;
    assert_eq!(body["startIndex"], 1);
    for body in [
        json!({"count": -5}),
        json!({"count": 999999999999i64, "startIndex": 0}),
        json!({"startIndex": i64::MIN}),
    ] {
        app.scim("POST", "/Users/.search", Some(body.clone()))
            .await
            .expect(200);
        app.scim("POST", "/.search", Some(body)).await.expect(200);
    }
    assert_healthy(&app).await;
}

/// Paging that is not an integer, and a sort order that is neither way: 400 invalidValue
/// naming the parameter, in a query string or a `.search` body.
async fn non_integer_paging_is_400_naming_the_parameter(backend: Backend) {
    let (app, _) = app_with_three_users(backend).await;
    for (q, name) in [
        ("count=abc", "count"),
        ("count=1.5", "count"),
        ("count=99999999999999999999999", "count"),
        ("startIndex=%FF", "startIndex"),
        ("startIndex=1e3", "startIndex"),
        ("sortOrder=sideways", "sortOrder"),
    ] {
        app.scim("GET", &format!("/Users?{q}"), None)
            .await
            .expect_error(400, Some("invalidValue"), name);
        app.scim("GET", &format!("/Groups?{q}"), None)
            .await
            .expect_error(400, Some("invalidValue"), name);
    }
    for body in [
        json!({"count": "ten"}),
        json!({"startIndex": 1.5}),
        json!({"count": 1e300}),
        json!({"filter": 7}),
        json!({"sortOrder": "up"}),
    ] {
        let r = app.scim("POST", "/Users/.search", Some(body.clone())).await;
        assert_eq!(r.status.as_u16(), 400, "{body}: {}", r.body);
        assert_eq!(r.body["scimType"], "invalidValue", "{body}: {}", r.body);
    }
    assert_healthy(&app).await;
}

/// Unknown attributes and sort keys are not an error: they are simply not there. Empty
/// names in a list are skipped.
async fn unknown_attributes_are_no_error(backend: Backend) {
    let (app, ids) = app_with_three_users(backend).await;
    let body = get_ok(&app, "/Users?attributes=noSuchAttribute,urn:x:y:z:nothing").await;
    assert_eq!(body["totalResults"], 3);
    assert!(
        body["Resources"][0]["id"].is_string(),
        "id is always returned: {body}"
    );
    assert!(body["Resources"][0].get("noSuchAttribute").is_none());
    get_ok(&app, "/Users?excludedAttributes=noSuchAttribute").await;
    get_ok(
        &app,
        &format!("/Users/{}?attributes=noSuchAttribute", ids[0]),
    )
    .await;
    get_ok(&app, "/Users?attributes=%2C%2C%2C").await;
    let body = get_ok(&app, "/Users?sortBy=noSuchAttribute").await;
    assert_eq!(body["totalResults"], 3);
    assert_healthy(&app).await;
}

/// Garbage attribute names and sort keys: 400 invalidPath saying what is wrong with them,
/// for users and groups.
async fn garbage_attribute_names_are_400_invalid_path(backend: Backend) {
    let (app, _) = app_with_three_users(backend).await;
    for (q, needle) in [
        ("sortBy=)(*%26^", "must start with a letter"),
        (
            "sortBy=emails[type%20eq%20%22work%22].value",
            "only letters, digits",
        ),
        ("sortBy=a.b.c.d", "only one level of sub-attribute"),
        ("sortBy=urn:", "schema URN"),
        ("attributes=)(*%26^", "in attributes"),
        ("excludedAttributes=[[[", "in excludedAttributes"),
    ] {
        app.scim("GET", &format!("/Users?{q}"), None)
            .await
            .expect_error(400, Some("invalidPath"), needle);
        app.scim("GET", &format!("/Groups?{q}"), None)
            .await
            .expect_error(400, Some("invalidPath"), needle);
    }
    assert_healthy(&app).await;
}

/// A long attribute list is refused with the limit.
async fn long_attribute_list_is_400_with_the_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let many = vec!["displayName"; 5000].join(",");
    let r = app
        .scim("POST", "/Users/.search", Some(json!({"attributes": many})))
        .await;
    r.expect_error(400, Some("invalidPath"), "at most 16384");
    assert_healthy(&app).await;
}

/// Groups sort by displayName (case-insensitively), both ways, with paging and a filter.
async fn groups_sort_by_display_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for name in ["beta", "Alpha", "gamma"] {
        app.scim("POST", "/Groups", Some(group_body(name)))
            .await
            .expect(201);
    }
    let names = |r: &Reply| {
        r.body["Resources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|g| g["displayName"].as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let r = app
        .scim("GET", "/Groups?sortBy=displayName", None)
        .await
        .expect(200);
    assert_eq!(names(&r), ["Alpha", "beta", "gamma"]);
    let r = app
        .scim(
            "GET",
            "/Groups?sortBy=displayName&sortOrder=descending&count=2&filter=displayName%20pr",
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        (names(&r), r.body["totalResults"].as_i64()),
        (vec!["gamma".to_string(), "beta".to_string()], Some(3))
    );
    assert_healthy(&app).await;
}

/// Percent-encoding that is broken (kept as text) or decodes to bytes that are not UTF-8
/// (refused, not replaced: a filter must compare what the client meant): a 4xx naming the
/// parameter.
async fn bad_percent_encoding_is_4xx_naming_the_parameter(backend: Backend) {
    let (app, ids) = app_with_three_users(backend).await;
    for (target, status, scim_type, needle) in [
        (
            &b"/Users?filter=%zz"[..],
            400,
            Some("invalidFilter"),
            "unexpected character '%'",
        ),
        (
            b"/Users?filter=%",
            400,
            Some("invalidFilter"),
            "unexpected character '%'",
        ),
        (
            b"/Users?filter=userName%20eq%20%22%FF%22",
            400,
            Some("invalidFilter"),
            "\"filter\" is not UTF-8",
        ),
        (
            b"/Users?filter=userName+eq+%22%C3%28%22",
            400,
            Some("invalidFilter"),
            "not UTF-8",
        ),
        (
            b"/Users?count=%FF",
            400,
            Some("invalidValue"),
            "\"count\" is not UTF-8",
        ),
        (b"/Users?%FF=%FE", 400, Some("invalidValue"), "not UTF-8"),
        (
            b"/Users?count=%",
            400,
            Some("invalidValue"),
            "count must be an integer",
        ),
        (
            b"/Groups?filter=displayName%20eq%20%22%80%22",
            400,
            Some("invalidFilter"),
            "not UTF-8",
        ),
        (b"/Users/%FF", 404, None, "no user"),
        (b"/Users/%zz", 404, None, "no user"),
    ] {
        let r = raw(&app, raw_head(&app, "GET", target, ""), Vec::new()).await;
        assert_eq!(
            r.status.as_u16(),
            status,
            "{}: {}",
            String::from_utf8_lossy(target),
            r.body
        );
        r.expect_error(status, scim_type, needle);
    }
    let target = format!("/Users/{}?attributes=%FF", ids[0]);
    let id_probe = raw(
        &app,
        raw_head(&app, "GET", target.as_bytes(), ""),
        Vec::new(),
    )
    .await;
    id_probe.expect_error(400, Some("invalidValue"), "\"attributes\" is not UTF-8");
    assert_healthy(&app).await;
}

/// Raw bytes that are not UTF-8 (or not allowed) in the request line: the HTTP layer
/// refuses them before any route, with a 4xx.
async fn raw_non_utf8_request_line_is_4xx(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for target in [
        &b"/Users?filter=userName eq \"\xff\""[..],
        b"/Users?\xff\xfe",
        b"/Users/\xc3\x28",
    ] {
        let r = raw(&app, raw_head(&app, "GET", target, ""), Vec::new()).await;
        assert_not_5xx(r.status.as_u16(), &String::from_utf8_lossy(target));
        assert!(
            r.status.as_u16() >= 400,
            "{}: {}",
            String::from_utf8_lossy(target),
            r.status
        );
    }
    assert_healthy(&app).await;
}

/// A server with user `alice`; returns the app and her id.
async fn app_with_alice(backend: Backend) -> (TestApp, String) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("alice", "alice@contoso.com").await;
    (app, id)
}

fn rename() -> serde_json::Value {
    patch(json!([{"op": "replace", "path": "displayName", "value": "Changed"}]))
}

/// Every query parameter of a write is read before anything is written: a bad `attributes`
/// or `excludedAttributes` on a user's PATCH or PUT, a user's POST or a group's PATCH is a
/// 400, and the resource is as it was (no new version, no new user, no member added).
async fn bad_parameter_on_a_write_changes_nothing(backend: Backend) {
    let (app, id) = app_with_alice(backend).await;
    for target in [
        format!("/Users/{id}?attributes=na%20me"),
        format!("/Users/{id}?excludedAttributes=a..b"),
    ] {
        let r = app.scim("PATCH", &target, Some(rename())).await;
        assert_eq!(r.status.as_u16(), 400, "{target}: {}", r.body);
        let mut put = user_body("alice", "alice@contoso.com");
        put["displayName"] = json!("Put");
        let r = app.scim("PUT", &target, Some(put)).await;
        assert_eq!(r.status.as_u16(), 400, "{target}: {}", r.body);
    }
    let user = get_ok(&app, &format!("/Users/{id}")).await;
    assert_eq!(user["displayName"], "alice Display");
    assert_eq!(user["meta"]["version"], "W/\"1\"");
    let r = app
        .scim(
            "POST",
            "/Users?attributes=na%20me",
            Some(user_body("bob", "bob@contoso.com")),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let found = app.filter_users("userName eq \"bob\"").await.expect(200);
    assert_eq!(
        found.body["totalResults"], 0,
        "POST with a bad parameter stored the user"
    );
    let group = app
        .scim("POST", "/Groups", Some(group_body("G")))
        .await
        .expect(201);
    let gid = group.body["id"].as_str().expect("id").to_string();
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
    let r = app
        .scim(
            "PATCH",
            &format!("/Groups/{gid}?attributes=na%20me"),
            Some(add),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let g = get_ok(&app, &format!("/Groups/{gid}")).await;
    assert_eq!(g["meta"]["version"], "W/\"1\"");
    assert!(g["members"].as_array().is_none_or(Vec::is_empty), "{g}");
}

/// A projection that parses applies to a write's answer.
async fn projection_applies_to_a_write_answer(backend: Backend) {
    let (app, id) = app_with_alice(backend).await;
    let r = app
        .scim(
            "PATCH",
            &format!("/Users/{id}?attributes=displayName"),
            Some(rename()),
        )
        .await
        .expect(200);
    assert_eq!(r.body["displayName"], "Changed");
    assert!(r.body.get("emails").is_none(), "{}", r.body);
}

crate::helpers::backend_tests!(
    unknown_and_empty_parameters_are_ignored,
    out_of_range_paging_is_clamped,
    non_integer_paging_is_400_naming_the_parameter,
    unknown_attributes_are_no_error,
    garbage_attribute_names_are_400_invalid_path,
    long_attribute_list_is_400_with_the_limit,
    groups_sort_by_display_name,
    bad_percent_encoding_is_4xx_naming_the_parameter,
    raw_non_utf8_request_line_is_4xx,
    bad_parameter_on_a_write_changes_nothing,
    projection_applies_to_a_write_answer,
);
