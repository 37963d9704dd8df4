//! Kill -9 during a write load, then restart: every acknowledged write is there, nothing is
//! half-written, and the database opens clean.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests may panic: that is how they fail

mod common;

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{fresh_database, user_body, Backend};

/// A scimd without abuse limits: the load runs as fast as the server writes, and the check
/// after the restart reads every acknowledged user back at once (more than a tenant's
/// per-second allowance once the server is fast enough).
fn start(url: &str, port: u16) -> common::Process {
    common::Process(
        Command::new(env!("CARGO_BIN_EXE_scimd"))
            .args([
                "serve",
                "--database-url",
                url,
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--rate-limit-address", "0", "--rate-limit-tenant", "0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn wait_ready(client: &awc::Client, base: &str) {
    for _ in 0..100 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("scimd at {base} did not become ready");
}

async fn acknowledged_writes_survive_kill_9(backend: Backend) {
    let (url, _db) = fresh_database(&backend);
    let token = common::seed_tenant(&url);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let users = format!("{base}/scim/v2/tenants/acme/Users");
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    let mut server = start(&url, port);
    wait_ready(&client, &base).await;

    // 16 writers POST users as fast as they can; the server is killed while they do.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for w in 0..16 {
        let (client, users, token, acked) = (
            client.clone(),
            users.clone(),
            token.clone(),
            Arc::clone(&acked),
        );
        writers.push(actix_web::rt::spawn(async move {
            for i in 0.. {
                let mail = format!("w{w}.u{i}@contoso.com");
                let sent = client
                    .post(&users)
                    .insert_header(("Authorization", format!("Bearer {token}")))
                    .insert_header(("Content-Type", "application/scim+json"))
                    .send_body(user_body(&mail, &mail).to_string())
                    .await;
                match sent {
                    Ok(mut resp) if resp.status().as_u16() == 201 => {
                        let v: serde_json::Value =
                            serde_json::from_slice(&resp.body().await.unwrap_or_default())
                                .unwrap_or_default();
                        if let Some(id) = v["id"].as_str() {
                            acked.lock().unwrap().push((id.to_string(), mail));
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "the load wrote something before the kill: {}",
        acked.len()
    );

    // Restart on the same database: it opens, and every acknowledged user is there, whole.
    let mut server = start(&url, port);
    wait_ready(&client, &base).await;
    for (id, mail) in &acked {
        let mut resp = client
            .get(format!("{users}/{id}"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "acknowledged user {id} lost");
        let v: serde_json::Value = serde_json::from_slice(&resp.body().await.unwrap()).unwrap();
        assert_eq!(v["emails"][0]["value"], mail.as_str());
    }
    // Nothing half-written: every stored user is matchable by its mail (user and email rows agree).
    let mut resp = client
        .get(format!("{users}?count=1000"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    let list: serde_json::Value =
        serde_json::from_slice(&resp.body().limit(64 << 20).await.unwrap()).unwrap();
    let total = list["totalResults"].as_u64().unwrap() as usize;
    assert!(total >= acked.len());
    for u in list["Resources"].as_array().unwrap().iter().take(50) {
        let mail = u["emails"][0]["value"].as_str().unwrap();
        let q = serde_urlencoded::to_string([(
            "filter",
            format!("emails[type eq \"work\"].value eq \"{mail}\""),
        )])
        .unwrap();
        let mut r = client
            .get(format!("{users}?{q}"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .unwrap();
        let found: serde_json::Value = serde_json::from_slice(&r.body().await.unwrap()).unwrap();
        assert_eq!(found["totalResults"], 1, "{mail}");
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
}

backend_tests!(acknowledged_writes_survive_kill_9);
