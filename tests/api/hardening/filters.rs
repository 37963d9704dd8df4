//! Filters: long, wide, deep and malformed ones are a quick 400 invalidFilter saying what is
//! wrong (with the limit, when it is one), over GET and over each `.search`; big but legal
//! ones run, quickly.

use std::time::{Duration, Instant};

use super::{app_with_target, assert_healthy, search_body};
use crate::helpers::{raw, raw_head, Backend, TestApp};

/// `filter` is refused with 400 invalidFilter mentioning `needle` on `/Users/.search`,
/// `/Groups/.search`, `/.search` and GET `/Users` (where a request line too long for the
/// HTTP layer is still a 4xx, never a 5xx), the detail stays short, and all in under 5 s.
async fn assert_filter_refused(app: &TestApp, filter: &str, needle: &str) {
    let started = Instant::now();
    let body = search_body(filter);
    let r = app.scim("POST", "/Users/.search", Some(body.clone())).await;
    assert_eq!(r.status.as_u16(), 400, "{filter:?}: {}", r.body);
    let r = r.expect_error(400, Some("invalidFilter"), needle);
    assert!(
        r.body["detail"].as_str().unwrap_or_default().len() < 2000,
        "detail stays short: {}",
        r.body
    );
    app.scim("POST", "/Groups/.search", Some(body.clone()))
        .await
        .expect_error(400, Some("invalidFilter"), needle);
    app.scim("POST", "/.search", Some(body))
        .await
        .expect_error(400, Some("invalidFilter"), needle);
    let q = serde_urlencoded::to_string([("filter", filter)]).expect("encode");
    let r = raw(
        app,
        raw_head(app, "GET", format!("/Users?{q}").as_bytes(), ""),
        Vec::new(),
    )
    .await;
    if q.len() < 16 * 1024 {
        r.expect_error(400, Some("invalidFilter"), needle);
    } else {
        assert!(
            (400..500).contains(&r.status.as_u16()),
            "{}: {}",
            r.status,
            r.body
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{} took {:?}",
        &filter[..filter.len().min(40)],
        started.elapsed()
    );
}

/// Too long, too many terms, or nested too deeply: 400 invalidFilter with the limit.
async fn filter_past_a_limit_is_400_naming_it(backend: Backend) {
    let (app, _) = app_with_target(backend).await;
    let long = format!("userName eq \"{}\"", "x".repeat(100 * 1024));
    let and_5000 = vec!["userName eq \"a\""; 5000].join(" and ");
    let short_and_1001 = vec!["id pr"; 1001].join(" and ");
    let parens_10000 = format!("{}userName pr{}", "(".repeat(10_000), ")".repeat(10_000));
    let parens_100 = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
    let nots_100 = format!("{}userName pr{}", "not (".repeat(100), ")".repeat(100));
    let brackets = format!("emails[{}value pr{}]", "(".repeat(100), ")".repeat(100));
    let unbalanced = "(".repeat(5000);
    for (filter, needle) in [
        (&long, "at most"),
        (&and_5000, "at most"),
        (&short_and_1001, "too many expressions"),
        (&parens_10000, "at most"),
        (&parens_100, "nested too deeply"),
        (&nots_100, "nested too deeply"),
        (&brackets, "nested too deeply"),
        (&unbalanced, "nested too deeply"),
    ] {
        assert_filter_refused(&app, filter, needle).await;
    }
    assert_healthy(&app).await;
}

/// Malformed: 400 invalidFilter naming what is wrong.
async fn malformed_filter_is_400_naming_the_fault(backend: Backend) {
    let (app, _) = app_with_target(backend).await;
    for (filter, needle) in [
        ("userName eq", "expected a value"),
        ("userName zz \"a\"", "zz"),
        ("userName eq \"unterminated", "unterminated"),
        ("\u{1F600} eq 1", "filter"),
        ("emails[type eq \"work\"", "]"),
        (")", "')'"),
        ("and", "filter"),
        ("userName eq \"a\" and", "filter"),
    ] {
        assert_filter_refused(&app, filter, needle).await;
    }
    assert_healthy(&app).await;
}

/// Legal but large: 300 indexed terms in SQL, and 60 levels of parentheses (inside the
/// limit), run.
async fn big_but_legal_filters_run(backend: Backend) {
    let (app, _) = app_with_target(backend).await;
    let wide_or = (0..300)
        .map(|i| format!("userName eq \"u{i}\""))
        .collect::<Vec<_>>()
        .join(" or ")
        + " or userName eq \"target@contoso.com\"";
    let r = app
        .scim("POST", "/Users/.search", Some(search_body(&wide_or)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 1);
    let deep_ok = format!(
        "{}nickName pr or userName pr{}",
        "(".repeat(60),
        ")".repeat(60)
    );
    let r = app
        .scim("POST", "/Users/.search", Some(search_body(&deep_ok)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 1);
    assert_healthy(&app).await;
}

/// Conjunctions of subqueries (email and member lookups) as wide as the parser allows, and a
/// non-indexed filter evaluated in Rust: right, and in under 5 s (on PostgreSQL these once
/// took seconds to half a minute just to plan).
async fn wide_subquery_filters_run_quickly(backend: Backend) {
    let (app, _) = app_with_target(backend).await;
    let wide_and = (0..150)
        .map(|_| "emails[type eq \"work\"].value pr".to_string())
        .collect::<Vec<_>>()
        .join(" and ");
    let started = Instant::now();
    let r = app
        .scim("POST", "/Users/.search", Some(search_body(&wide_and)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 1);
    let emails_co = vec!["emails.value co \"contoso\""; 490].join(" and ");
    let r = app
        .scim("POST", "/Users/.search", Some(search_body(&emails_co)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 1);
    let emails_or = (0..490)
        .map(|i| format!("emails.value sw \"nobody{i}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    let r = app
        .scim("POST", "/Users/.search", Some(search_body(&emails_or)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 0);
    let members = vec!["members.value eq \"x\""; 490].join(" and ");
    let r = app
        .scim("POST", "/Groups/.search", Some(search_body(&members)))
        .await
        .expect(200);
    assert_eq!(r.body["totalResults"], 0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "wide subquery filters took {:?}",
        started.elapsed()
    );
    assert_healthy(&app).await;
}

crate::helpers::backend_tests!(
    filter_past_a_limit_is_400_naming_it,
    malformed_filter_is_400_naming_the_fault,
    big_but_legal_filters_run,
    wide_subquery_filters_run_quickly,
);
