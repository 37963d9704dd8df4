//! Operations: abuse limits answer 429 with Retry-After; /metrics in Prometheus format.

mod common;

use common::{Backend, TestApp};

async fn rate_limits_answer_429_with_retry_after(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.rate_limit_tenant = 5).await;
    let other = app.add_tenant("globex");
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..30 {
        let url = format!("{}/Users?count=0", app.tenant_url("acme"));
        let mut resp = app
            .client
            .get(url)
            .insert_header(("Authorization", format!("Bearer {}", app.token)))
            .send()
            .await
            .unwrap();
        if resp.status().as_u16() == 429 {
            retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let body: serde_json::Value =
                serde_json::from_slice(&resp.body().await.unwrap()).unwrap();
            assert_eq!(
                body["schemas"][0],
                "urn:ietf:params:scim:api:messages:2.0:Error"
            );
            assert!(body["detail"]
                .as_str()
                .unwrap()
                .contains("too many requests"));
        }
        statuses.push(resp.status().as_u16());
    }
    assert!(
        statuses.iter().filter(|&&s| s == 200).count() >= 10,
        "the burst is allowed: {statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(retry_after.is_some_and(|r| r.parse::<u64>().is_ok_and(|n| n >= 1)));
    // Another tenant has its own budget.
    let url = format!("{}/Users?count=0", app.tenant_url("globex"));
    app.send("GET", &url, Some(&other), None).await.expect(200);
    // Unauthenticated requests do not spend the tenant's budget (they are 401, not 429).
    let bad = app
        .send(
            "GET",
            &format!("{}/Users", app.tenant_url("globex")),
            Some("nope"),
            None,
        )
        .await;
    assert_eq!(bad.status.as_u16(), 401);
}

async fn metrics_in_prometheus_format(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, |s| s.metrics_token = Some("metrics-secret".into())).await;
    app.create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    app.filter_users("userName eq \"x\"").await.expect(200);
    let r = app
        .client
        .get(format!("{}/metrics", app.base))
        .insert_header(("Authorization", "Bearer metrics-secret"))
        .send()
        .await;
    let mut r = r.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = String::from_utf8(r.body().await.unwrap().to_vec()).unwrap();
    assert!(text.contains("scimd_http_requests_total{method=\"POST\",route=\"/scim/v2/tenants/{slug}/Users\",status=\"201\"} 1"), "{text}");
    assert!(
        text.contains("scimd_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("scimd_scim_operations_total{method=\"GET\",outcome=\"ok\",resource=\"Users\",tenant=\"acme\"} 1"), "{text}");
    assert!(
        text.contains("scimd_db_pool_connections{state=\"open\"}"),
        "{text}"
    );
    assert!(
        !text.contains("alice@contoso.com"),
        "no personal data in metrics"
    );
}

backend_tests!(
    rate_limits_answer_429_with_retry_after,
    metrics_in_prometheus_format
);
