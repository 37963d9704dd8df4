//! PATCH: too many operations, one bad operation among many, the costliest PATCH the caps
//! let through, and membership changes that change nothing — each refused (or a no-op) with
//! nothing applied; a thousand good operations apply, quickly.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{app_with_target, assert_healthy, GROUP_SCHEMA};
use crate::helpers::{costliest_patch, patch, user_with_emails, Backend, TestApp};

/// The `i`th of a run of displayName replacements.
fn rename(i: usize) -> Value {
    json!({"op": "replace", "path": "displayName", "value": format!("name {i}")})
}

/// 5,000 operations: refused with the limit.
async fn patch_of_5000_operations_is_400_with_the_limit(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    let ops: Vec<Value> = (0..5000).map(rename).collect();
    app.scim("PATCH", &format!("/Users/{id}"), Some(patch(json!(ops))))
        .await
        .expect_error(400, Some("invalidValue"), "at most 1000");
    assert_healthy(&app).await;
}

/// 1,000 operations where one is bad: 400 naming it, and nothing applied.
async fn one_bad_operation_in_1000_is_400_naming_it(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    let path = format!("/Users/{id}");
    for (bad, scim_type, needle) in [
        (
            json!({"op": "replace", "path": "noSuchAttribute", "value": "x"}),
            "invalidSyntax",
            "noSuchAttribute",
        ),
        (
            json!({"op": "explode", "path": "displayName", "value": "x"}),
            "invalidSyntax",
            "explode",
        ),
        (json!({"op": "remove"}), "noTarget", "path"),
        (
            json!({"op": "replace", "path": "active", "value": [1, 2]}),
            "invalidValue",
            "active",
        ),
        (
            json!({"op": "replace", "path": "emails[type eq ", "value": "x"}),
            "invalidPath",
            "expected a value",
        ),
    ] {
        let mut ops: Vec<Value> = (0..1000).map(rename).collect();
        ops[637] = bad;
        let r = app.scim("PATCH", &path, Some(patch(json!(ops)))).await;
        let r = r.expect_error(400, Some(scim_type), needle);
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("Operations[637]") && detail.len() < 2000,
            "the detail names the operation: {detail}"
        );
        let r = app.scim("GET", &path, None).await.expect(200);
        assert_eq!(
            r.body["displayName"], "target@contoso.com Display",
            "nothing applied"
        );
        assert_eq!(r.body["meta"]["version"], "W/\"1\"", "nothing applied");
    }
    assert_healthy(&app).await;
}

/// 1,000 good operations: applied, in under 5 s.
async fn patch_of_1000_operations_applies_quickly(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    let started = Instant::now();
    let ops: Vec<Value> = (0..1000).map(rename).collect();
    let r = app
        .scim("PATCH", &format!("/Users/{id}"), Some(patch(json!(ops))))
        .await
        .expect(200);
    assert_eq!(r.body["displayName"], "name 999");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "1000 operations took {:?}",
        started.elapsed()
    );
    assert_healthy(&app).await;
}

/// 1,000 adds of emails values: the multi-valued cap holds, naming the operation that broke it.
async fn emails_cap_holds_naming_the_operation_past_it(backend: Backend) {
    let (app, id) = app_with_target(backend).await;
    let ops: Vec<Value> = (0..1000)
        .map(|i| json!({"op": "add", "path": "emails", "value": [{"value": format!("e{i}@contoso.com"), "type": "other"}]}))
        .collect();
    let r = app
        .scim("PATCH", &format!("/Users/{id}"), Some(patch(json!(ops))))
        .await;
    r.expect_error(
        400,
        Some("invalidValue"),
        "Operations[999]: attribute \"emails\" would have 1001 values; at most 1000",
    );
    assert_healthy(&app).await;
}

/// The costliest PATCH the caps let through (1,000 operations, each a 41-term value filter
/// tested against 1,000 emails; 4.6 s of CPU when it ran): a 400 `tooMany` that says what to
/// send instead, with nothing changed. Entra's PATCH of the same user still applies, and so
/// does a costly-but-bounded one (one operation of that kind).
///
/// One test, not three: each step runs on the user the one before left (1,000 emails, then
/// 999), and the point is that the user still takes ordinary PATCHes after the refusal.
async fn costliest_patch_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(user_with_emails("many@contoso.com", 1000)),
        )
        .await
        .expect(201);
    let path = format!("/Users/{}", r.body["id"].as_str().expect("id"));

    let body = costliest_patch(true);
    let len = body.to_string().len();
    assert!(
        len > 900_000 && len < 1024 * 1024,
        "inside the body limit: {len} bytes"
    );
    let r = app.scim("PATCH", &path, Some(body)).await;
    let r = r.expect_error(
        400,
        Some("tooMany"),
        "fewer operations or simpler value filters",
    );
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("nothing was changed") && detail.contains("Operations["),
        "{detail}"
    );
    let r = app.scim("GET", &path, None).await.expect(200);
    assert_eq!(r.body["displayName"], "Many Emails", "nothing applied");
    assert_eq!(r.body["emails"].as_array().map(Vec::len), Some(1000));
    assert_eq!(r.body["meta"]["version"], "W/\"1\"", "nothing applied");

    // Ordinary PATCHes of that user keep working, over its 1,000 emails.
    let r = app
        .scim(
            "PATCH",
            &path,
            Some(patch(json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
                {"op": "Replace", "path": "displayName", "value": "Still Many"},
                {"op": "remove", "path": "emails[value eq \"e0999@many.example\"]"},
            ]))),
        )
        .await
        .expect(200);
    assert_eq!(r.body["emails"][0]["value"], "new@contoso.com");
    assert_eq!(r.body["emails"].as_array().map(Vec::len), Some(999));
    // One operation of the costly kind is bounded work, and applies.
    let one = costliest_patch(true)["Operations"][998].clone();
    let r = app
        .scim("PATCH", &path, Some(patch(json!([one]))))
        .await
        .expect(200);
    assert_eq!(r.body["emails"].as_array().map(Vec::len), Some(998));
    assert_healthy(&app).await;
}

/// Removing a member who is not one, or adding one who is: a success that moves no version
/// and logs no event.
async fn no_op_member_change_moves_no_version_and_logs_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.create_user("alice", "alice@contoso.com").await;
    let other = app.create_user("bob", "bob@contoso.com").await;
    let group = json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": id}]});
    let group = app.scim("POST", "/Groups", Some(group)).await.expect(201);
    let gid = group.body["id"].as_str().expect("id").to_string();
    let acme_id = app.tenant_id("acme");
    let events = |app: &TestApp| {
        app.state
            .service
            .store
            .read_blocking(|c| scimd::store::events::events_after(c, &acme_id, 0, 1000))
            .expect("events")
            .len()
    };
    let events_before = events(&app);
    for ops in [
        json!([{"op": "remove", "path": "members", "value": [{"value": other}]}]),
        json!([{"op": "remove", "path": format!("members[value eq \"{other}\"]")}]),
        json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
    ] {
        let r = app
            .scim("PATCH", &format!("/Groups/{gid}"), Some(patch(ops.clone())))
            .await;
        assert!(r.status.is_success(), "{ops}: {}", r.body);
    }
    let g = app
        .scim("GET", &format!("/Groups/{gid}"), None)
        .await
        .expect(200);
    assert_eq!(
        g.body["meta"]["version"], "W/\"1\"",
        "a no-op membership change moved the version"
    );
    assert_eq!(
        events_before,
        events(&app),
        "a no-op membership change was logged"
    );
}

crate::helpers::backend_tests!(
    patch_of_5000_operations_is_400_with_the_limit,
    one_bad_operation_in_1000_is_400_naming_it,
    patch_of_1000_operations_applies_quickly,
    emails_cap_holds_naming_the_operation_past_it,
    costliest_patch_is_refused,
    no_op_member_change_moves_no_version_and_logs_nothing,
);
