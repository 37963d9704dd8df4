//! Kill -9 during a write load, then restart: every acknowledged write is there, nothing is
//! half-written, and the database opens clean.

use std::time::Duration;

use crate::helpers::{fresh_database, seed_tenant, Backend, CreateBurst, Reply, ServeCommand};

/// A scimd without abuse limits: the load runs as fast as the server writes, and the check
/// after the restart reads every acknowledged user back at once (more than a tenant's
/// per-second allowance once the server is fast enough).
fn unlimited(url: &str) -> ServeCommand {
    ServeCommand::new(url).flags(&["--rate-limit-address", "0", "--rate-limit-tenant", "0"])
}

async fn acknowledged_writes_survive_kill_9(backend: Backend) {
    let (url, _db) = fresh_database(&backend);
    let token = seed_tenant(&url);
    let mut server = unlimited(&url).start().await;
    let users = format!("{}/scim/v2/tenants/acme/Users", server.base);
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();

    // 16 writers POST users as fast as they can; the server is killed while they do.
    let burst = CreateBurst::start(&client, &users, &token, 16);
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    server.process.kill(); // SIGKILL
    let acked = burst.finish().await;
    assert!(
        acked.len() > 20,
        "the load wrote something before the kill: {}",
        acked.len()
    );

    // Restart on the same database: it opens, and every acknowledged user is there, whole.
    server.restart().await;
    for (id, mail) in &acked {
        let r = Reply::send(&client, "GET", &format!("{users}/{id}"), Some(&token), None).await;
        assert_eq!(r.status.as_u16(), 200, "acknowledged user {id} lost");
        assert_eq!(r.body["emails"][0]["value"], mail.as_str());
    }
    // Nothing half-written: every stored user is matchable by its mail (user and email rows agree).
    let list = Reply::send(
        &client,
        "GET",
        &format!("{users}?count=1000"),
        Some(&token),
        None,
    )
    .await
    .body;
    let total = list["totalResults"].as_u64().unwrap() as usize;
    assert!(total >= acked.len());
    for u in list["Resources"].as_array().unwrap().iter().take(50) {
        let mail = u["emails"][0]["value"].as_str().unwrap();
        let q = serde_urlencoded::to_string([(
            "filter",
            format!("emails[type eq \"work\"].value eq \"{mail}\""),
        )])
        .unwrap();
        let found = Reply::send(&client, "GET", &format!("{users}?{q}"), Some(&token), None)
            .await
            .body;
        assert_eq!(found["totalResults"], 1, "{mail}");
    }
    server.process.kill();
}

crate::helpers::backend_tests!(acknowledged_writes_survive_kill_9);
