//! Sizes: bodies past `max_body_bytes` (1 MiB) are a 413 however they arrive, bodies at it
//! are data; strings too long for an indexed column, a tenant name too long, a URI too
//! long — each refused with the limit, and nothing half-written.

use serde_json::json;

use super::{
    app_with_target, assert_healthy, assert_untouched, group_body, user_of_size, GROUP_SCHEMA, MIB,
};
use crate::helpers::{chunked, patch, raw, raw_head, send_bytes, user_body, Backend, TestApp};

const SCIM_JSON: &str = "Content-Type: application/scim+json\r\n";
const CHUNKED: &str = "Content-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n";

/// The body limit, which these tests assume is 1 MiB.
fn body_limit(app: &TestApp) -> usize {
    let limit = app.state.settings.max_body_bytes;
    assert_eq!(limit, MIB);
    limit
}

/// A string as long as an indexed attribute must never be, yet well inside the body limit.
fn huge_string(app: &TestApp) -> String {
    "h".repeat(body_limit(app) - 2000)
}

/// Announced with Content-Length, on every endpoint that takes a body: 413.
async fn body_over_the_limit_is_413_on_every_endpoint(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    let limit = body_limit(&app);
    let big = user_of_size("big@contoso.com", limit + 1);
    for (method, path) in [
        ("POST", "/Users".to_string()),
        ("PUT", format!("/Users/{id}")),
        ("PATCH", format!("/Users/{id}")),
        ("POST", "/Users/.search".to_string()),
        ("POST", "/Groups".to_string()),
        ("POST", "/.search".to_string()),
    ] {
        let extra = format!("{SCIM_JSON}Content-Length: {}\r\n", big.len());
        let h = raw_head(&app, method, path.as_bytes(), &extra);
        raw(&app, h, big.clone())
            .await
            .expect_error(413, None, &format!("limit of {limit} bytes"));
    }
    assert_healthy(&app).await;
}

/// A Content-Length far past the limit is refused before anything is read.
async fn huge_content_length_is_413_before_any_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    body_limit(&app);
    let extra = format!("{SCIM_JSON}Content-Length: 99999999999\r\n");
    let h = raw_head(&app, "POST", b"/Users", &extra);
    raw(&app, h, Vec::new())
        .await
        .expect_error(413, None, "limit");
    assert_healthy(&app).await;
}

/// Chunked, with no Content-Length: the limit is found while reading, in small chunks or big.
async fn chunked_body_over_the_limit_is_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let big = user_of_size("big@contoso.com", body_limit(&app) + 1);
    for size in [1024, 64 * 1024] {
        let h = raw_head(&app, "POST", b"/Users", CHUNKED);
        raw(&app, h, chunked(&big, size))
            .await
            .expect_error(413, None, "limit");
    }
    assert_healthy(&app).await;
}

/// A chunked body of many more megabytes is cut off, not buffered.
async fn chunked_body_of_megabytes_is_cut_off_with_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    body_limit(&app);
    let huge = vec![b' '; 8 * MIB];
    let h = raw_head(&app, "POST", b"/Users", CHUNKED);
    raw(&app, h, chunked(&huge, 256 * 1024))
        .await
        .expect_error(413, None, "limit");
    assert_healthy(&app).await;
}

/// Exactly at the limit, chunked or not: accepted (a huge string near the limit is data);
/// the big user reads back whole, and lists still work.
async fn body_at_the_limit_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let limit = body_limit(&app);
    let at_limit = user_of_size("edge@contoso.com", limit);
    let ct = [("Content-Type", "application/scim+json")];
    send_bytes(&app, "POST", "/Users", &ct, at_limit)
        .await
        .expect(201);
    let r = app
        .filter_users("userName eq \"edge@contoso.com\"")
        .await
        .expect(200);
    let len = r.body["Resources"][0]["title"].as_str().map_or(0, str::len);
    assert!(len > limit - 1000 && len < limit, "title of {len} bytes");
    app.scim("GET", "/Users?count=10", None).await.expect(200);
    let at_limit = user_of_size("edge2@contoso.com", limit);
    let h = raw_head(&app, "POST", b"/Users", CHUNKED);
    raw(&app, h, chunked(&at_limit, 100_000)).await.expect(201);
    assert_healthy(&app).await;
}

/// Huge strings in indexed attributes (kept in indexed columns, PostgreSQL cannot index
/// them), a mail address among them: 400 invalidValue with the limit, on create, replace and
/// patch; the user is as it was.
async fn huge_indexed_user_value_is_400_with_the_limit(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    let huge = huge_string(&app);
    for attr in ["userName", "externalId", "displayName"] {
        let mut body = user_body("huge@contoso.com", "huge@contoso.com");
        body[attr] = json!(huge);
        app.scim("POST", "/Users", Some(body.clone()))
            .await
            .expect_error(
                400,
                Some("invalidValue"),
                &format!("{attr} is {} bytes long", huge.len()),
            );
        app.scim("PUT", &format!("/Users/{id}"), Some(body))
            .await
            .expect_error(400, Some("invalidValue"), "at most 1024 bytes");
        let ops = patch(json!([{"op": "replace", "path": attr, "value": huge}]));
        app.scim("PATCH", &format!("/Users/{id}"), Some(ops))
            .await
            .expect_error(400, Some("invalidValue"), "at most 1024 bytes");
    }
    let mut body = user_body("huge@contoso.com", "huge@contoso.com");
    body["emails"] = json!([{"value": "huge@contoso.com", "type": "work"}, {"value": format!("{huge}@contoso.com"), "type": "other"}]);
    app.scim("POST", "/Users", Some(body)).await.expect_error(
        400,
        Some("invalidValue"),
        "at most 1024 bytes",
    );
    assert_untouched(&app, &id).await;
    assert_healthy(&app).await;
}

/// A huge group displayName or externalId: 400 invalidValue with the limit; a huge member
/// value: 400.
async fn huge_group_attribute_is_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let huge = huge_string(&app);
    app.scim("POST", "/Groups", Some(group_body(&huge)))
        .await
        .expect_error(400, Some("invalidValue"), "at most 1024 bytes");
    let group = json!({"schemas": [GROUP_SCHEMA], "displayName": "g", "externalId": huge});
    app.scim("POST", "/Groups", Some(group)).await.expect_error(
        400,
        Some("invalidValue"),
        "at most 1024 bytes",
    );
    let group =
        json!({"schemas": [GROUP_SCHEMA], "displayName": "g", "members": [{"value": huge}]});
    let r = app.scim("POST", "/Groups", Some(group)).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    assert_healthy(&app).await;
}

/// A 1 KiB name (512 two-byte characters) is inside the limit.
async fn kibibyte_name_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut body = user_body("long@contoso.com", "long@contoso.com");
    body["displayName"] = json!("é".repeat(512));
    app.scim("POST", "/Users", Some(body)).await.expect(201);
    assert_healthy(&app).await;
}

/// A 200 KB tenant name is refused with the limit.
async fn huge_tenant_name_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let long_name = "n".repeat(200_000);
    let refused = app.state.service.clone();
    let refused = scimd::service::tenants::create_tenant(&refused, "huge", Some(&long_name)).await;
    let e = refused.expect_err("a 200 KB tenant name");
    assert!(e.detail.contains("at most 200"), "{}", e.detail);
}

/// An over-long URI is a 414 with a SCIM body that points to `.search`.
async fn over_long_uri_is_414_pointing_to_search(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let filter = format!("userName eq \"{}\"", "x".repeat(20_000));
    let q = serde_urlencoded::to_string([("filter", filter.as_str())]).expect("encode");
    let r = app.scim("GET", &format!("/Users?{q}"), None).await;
    r.expect_error(414, None, ".search");
}

crate::helpers::backend_tests!(
    body_over_the_limit_is_413_on_every_endpoint,
    huge_content_length_is_413_before_any_body,
    chunked_body_over_the_limit_is_413,
    chunked_body_of_megabytes_is_cut_off_with_413,
    body_at_the_limit_is_accepted,
    huge_indexed_user_value_is_400_with_the_limit,
    huge_group_attribute_is_400,
    kibibyte_name_is_accepted,
    huge_tenant_name_is_refused,
    over_long_uri_is_414_pointing_to_search,
);
