//! Operations: abuse limits answer 429 with Retry-After; /metrics in Prometheus format.

use crate::helpers::{Backend, TestApp};

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

/// A small file system that the test mounts, unmounted (lazily) when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(bytes: usize) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

/// The disk fills up: writes fail with 5xx, `/readyz` answers 503 naming why, while
/// `/healthz` and reads keep answering. On SQLite only: a full disk is simulated with a small
/// tmpfs under SQLite's file; PostgreSQL's data directory is not the test's to fill.
async fn readyz_reports_failing_writes(backend: Backend) {
    let Some(disk) = SmallDisk::mount(3 << 20) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root), so no disk can be filled");
        return;
    };
    let url = format!("sqlite://{}", disk.0.path().join("scimd.db").display());
    let app = TestApp::spawn_with(backend, |s| {
        s.database_url = Some(url);
        s.rate_limit_tenant = 0;
    })
    .await;
    app.send("GET", &format!("{}/readyz", app.base), None, None)
        .await
        .expect(200);
    let mut failed = None;
    for i in 0..400 {
        let mut body =
            crate::helpers::user_body(&format!("filler{i}"), &format!("filler{i}@contoso.com"));
        body["nickName"] = serde_json::json!("x".repeat(100_000));
        let r = app.scim("POST", "/Users", Some(body)).await;
        if r.status.as_u16() >= 500 {
            failed = Some(i);
            break;
        }
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
    let failed = failed.expect("the disk filled up");
    eprintln!("the disk was full after {failed} users");
    let r = app
        .send("GET", &format!("{}/readyz", app.base), None, None)
        .await;
    assert_eq!(
        r.status.as_u16(),
        503,
        "after {failed} users the disk is full: {}",
        r.body
    );
    assert!(
        r.body
            .as_str()
            .unwrap_or_default()
            .contains("writes are failing"),
        "{}",
        r.body
    );
    app.send("GET", &format!("{}/healthz", app.base), None, None)
        .await
        .expect(200);
    app.scim("GET", "/Users?count=1", None).await.expect(200);
}

crate::helpers::backend_tests!(
    rate_limits_answer_429_with_retry_after,
    metrics_in_prometheus_format,
);

crate::helpers::sqlite_tests!(readyz_reports_failing_writes);
