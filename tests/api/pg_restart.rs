//! PostgreSQL restarted under load: while it is down requests fail with 503 SCIM errors
//! (with Retry-After), and scimd recovers by itself, without a restart.
//!
//! It stops and starts the local cluster, so it runs only when `SCIMD_TEST_PG_CTL` names the
//! cluster control command prefix (`.ci/run` sets it), e.g.
//! `pg_ctlcluster --skip-systemctl-redirect 15 main`; without it (or without
//! `SCIMD_TEST_POSTGRES_URL`) it is built as ignored ("skipped"), see build.rs. It runs alone:
//! no other test's database may vanish under it.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::{run, Backend, Machine, TestApp};

fn pg_ctl(prefix: &str, action: &str) {
    let mut parts = prefix.split_whitespace();
    let program = parts.next().expect("SCIMD_TEST_PG_CTL names a command");
    let status = Command::new(program)
        .args(parts)
        .arg(action)
        .status()
        .expect("run the cluster control command");
    assert!(status.success(), "{prefix} {action} failed");
}

/// Starts the cluster when dropped (a no-op when it already runs).
struct Restart(String);

impl Drop for Restart {
    fn drop(&mut self) {
        let mut parts = self.0.split_whitespace();
        if let Some(program) = parts.next() {
            let _ = Command::new(program).args(parts).arg("start").status();
        }
    }
}

#[test]
#[cfg_attr(
    not(all(scimd_test_postgres, scimd_test_pg_ctl)),
    ignore = "skipped: SCIMD_TEST_POSTGRES_URL or SCIMD_TEST_PG_CTL is not set"
)]
fn postgres_restart_gives_503_then_recovers() {
    let ctl = std::env::var("SCIMD_TEST_PG_CTL")
        .ok()
        .filter(|c| !c.is_empty())
        .expect("SCIMD_TEST_PG_CTL was set when the tests were built but is not now: run `cargo test`, which builds them again with this test skipped");
    run(Machine::Alone, restart_under_load(Backend::postgres(), ctl));
}

async fn restart_under_load(backend: Backend, ctl: String) {
    let mut app = TestApp::spawn(backend).await;
    let id = app
        .create_user("alice@contoso.com", "alice@contoso.com")
        .await;
    let path = format!("/Users/{id}");
    app.scim("GET", &path, None).await.expect(200);

    let stopped_at = Instant::now();
    pg_ctl(&ctl, "stop");
    // Whatever happens below, the cluster is started again for the tests that follow.
    let _restart = Restart(ctl.clone());
    // Stopping takes a shutdown checkpoint, which after a busy test run can outlast the
    // server's 5 s keep-alive: a kept connection may be closed by now, so use new ones.
    eprintln!("cluster stopped in {} ms", stopped_at.elapsed().as_millis());
    app.client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let down = app.scim("GET", &path, None).await;
    let post = app
        .scim(
            "POST",
            "/Users",
            Some(crate::helpers::user_body(
                "bob@contoso.com",
                "bob@contoso.com",
            )),
        )
        .await;
    let started_at = Instant::now();
    pg_ctl(&ctl, "start");
    eprintln!("cluster started in {} ms", started_at.elapsed().as_millis());
    app.client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let down = down.expect_error(503, None, "database");
    let post = post.expect_error(503, None, "database");
    assert!(down.body["detail"].as_str().unwrap().contains("retry"));
    assert!(post.body["schemas"][0]
        .as_str()
        .unwrap()
        .ends_with(":Error"));

    // Back without restarting scimd: the pool replaces its dead connections.
    let started = Instant::now();
    loop {
        let r = app.scim("GET", &path, None).await;
        if r.status.as_u16() == 200 {
            assert_eq!(r.body["id"], id.as_str());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "scimd did not recover: {} {}",
            r.status,
            r.body
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    app.scim(
        "POST",
        "/Users",
        Some(crate::helpers::user_body(
            "bob@contoso.com",
            "bob@contoso.com",
        )),
    )
    .await
    .expect(201);
}
