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
        SmallDisk::mount_with(&format!("size={bytes}"))
    }

    /// A small file system with these tmpfs options (its size, and for PostgreSQL its owner).
    fn mount_with(options: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(dir))
    }
}

/// A PostgreSQL tablespace on a small disk holding a test schema's `users` table; on drop the
/// table goes back to the default tablespace and the tablespace and the disk go away.
struct FullTablespace {
    url: String,
    name: String,
    _disk: SmallDisk,
}

impl FullTablespace {
    /// Move `users` of the schema `url` names onto a tablespace on a small disk that the
    /// server's OS user owns (PostgreSQL writes its files itself); `None` when this machine
    /// cannot (not root, no `postgres` user, a PostgreSQL elsewhere).
    fn of_users(url: &str, bytes: usize) -> Option<FullTablespace> {
        use diesel::{Connection, RunQueryDsl};
        let id = |flag: &str| -> Option<String> {
            let out = std::process::Command::new("id")
                .args([flag, "postgres"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let (uid, gid) = (id("-u")?, id("-g")?);
        let disk = SmallDisk::mount_with(&format!("size={bytes},uid={uid},gid={gid},mode=0700"))?;
        let name = format!("scimd_full_{}", uuid::Uuid::new_v4().simple());
        let mut conn = diesel::PgConnection::establish(url).ok()?;
        let location = disk.0.path().display().to_string();
        diesel::sql_query(format!("CREATE TABLESPACE {name} LOCATION '{location}'"))
            .execute(&mut conn)
            .ok()?;
        let tablespace = FullTablespace {
            url: url.to_string(),
            name,
            _disk: disk,
        };
        diesel::sql_query(format!(
            "ALTER TABLE users SET TABLESPACE {}",
            tablespace.name
        ))
        .execute(&mut conn)
        .ok()?;
        Some(tablespace)
    }
}

impl Drop for FullTablespace {
    fn drop(&mut self) {
        use diesel::{Connection, RunQueryDsl};
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.url) {
            let _ =
                diesel::sql_query("ALTER TABLE users SET TABLESPACE pg_default").execute(&mut conn);
            let _ = diesel::sql_query(format!("DROP TABLESPACE IF EXISTS {}", self.name))
                .execute(&mut conn);
        }
    }
}

/// `n` characters that neither SQLite nor PostgreSQL's TOAST compression can shrink.
fn incompressible(n: usize) -> String {
    let mut text = String::with_capacity(n + 32);
    while text.len() < n {
        text.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    text.truncate(n);
    text
}

/// A full disk under a write is the database's trouble, not the request's, and passes: every
/// write that fails for want of space answers `503` with `Retry-After` and a SCIM error (Entra
/// retries), whether the database refused a statement inside the write (SQLite's writer runs
/// each write in a savepoint of its batch) or its commit. Issue 23: a statement's failure was
/// a 500. SQLite: its file on a small tmpfs, a write larger than the writer's page cache (so
/// SQLite spills pages mid-statement); PostgreSQL: `users` on a tablespace on a small tmpfs.
async fn a_full_disk_answers_503_with_retry_after(backend: Backend) {
    let postgres = matches!(backend, Backend::Postgres(_));
    let (app, _disk, _tablespace) = if postgres {
        let app = TestApp::spawn_with(backend, |s| s.rate_limit_tenant = 0).await;
        let Some(tablespace) = FullTablespace::of_users(&app.database_url, 2 << 20) else {
            eprintln!("skipped: cannot put a tablespace on a small tmpfs here (needs root and a local PostgreSQL)");
            return;
        };
        (app, None, Some(tablespace))
    } else {
        let Some(disk) = SmallDisk::mount(3 << 20) else {
            eprintln!("skipped: cannot mount a tmpfs here (needs root), so no disk can be filled");
            return;
        };
        let url = format!("sqlite://{}", disk.0.path().join("scimd.db").display());
        let app = TestApp::spawn_with(backend, |s| {
            s.database_url = Some(url);
            s.rate_limit_tenant = 0;
            s.max_body_bytes = 32 << 20;
        })
        .await;
        (app, Some(disk), None)
    };
    // Larger than the SQLite writer's page cache (16 MB) on SQLite: pages spill to the WAL
    // inside the statement.
    let size = if postgres { 200_000 } else { 20 << 20 };
    let mut failures = Vec::new();
    for i in 0..60 {
        let mut body =
            crate::helpers::user_body(&format!("filler{i}"), &format!("filler{i}@contoso.com"));
        body["nickName"] = serde_json::json!(incompressible(size));
        let r = app.scim("POST", "/Users", Some(body)).await;
        if r.status.as_u16() == 201 {
            assert!(failures.is_empty(), "a write passed after a failed one");
            continue;
        }
        failures.push(r);
        if failures.len() == 3 {
            break;
        }
    }
    assert!(!failures.is_empty(), "the disk never filled up");
    for r in &failures {
        assert_eq!(r.status.as_u16(), 503, "a full disk: {}", r.body);
        assert_eq!(
            r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            r.body
        );
        assert!(
            r.retry_after
                .as_deref()
                .is_some_and(|v| v.parse::<u64>().is_ok_and(|n| n >= 1)),
            "Retry-After: {:?}",
            r.retry_after
        );
    }
    // Reads keep answering.
    app.scim("GET", "/Users?count=1", None).await.expect(200);
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
    a_full_disk_answers_503_with_retry_after,
);

crate::helpers::sqlite_tests!(readyz_reports_failing_writes);
