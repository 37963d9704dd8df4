//! SQLite's write-ahead log stays bounded under a steady stream of writes: the serving
//! store's checkpointer copies it into the database and makes it start over, so the disk
//! holds the database, not every page ever written.

use std::time::Duration;

use crate::helpers::{Backend, TestApp};
use scimd::service::users::{email_rows, index_user, new_row};
use scimd::store::users::insert_user;
use serde_json::json;

/// 50,000 users written in 25 transactions of 2,000, back to back: without the WAL starting
/// over it would pass 100 MiB (measured: 3 GB for 400,000 users when it did not).
/// Synchronous writes (the CLI's) run on the caller's thread.
async fn wal_stays_bounded_under_synchronous_bulk_writes(backend: Backend) {
    wal_stays_bounded(backend, false).await;
}

/// The same through the writer thread, which serves the HTTP API's writes and restarts the
/// WAL between its batches.
async fn wal_stays_bounded_under_queued_bulk_writes(backend: Backend) {
    wal_stays_bounded(backend, true).await;
}

async fn wal_stays_bounded(backend: Backend, queued: bool) {
    let app = TestApp::spawn(backend).await;
    let path = app.database_url.trim_start_matches("sqlite://").to_string();
    let tenant_id = app.tenant_id("acme");
    let wal = format!("{path}-wal");
    let mut largest = 0u64;
    for batch in 0..25 {
        let tenant_id = tenant_id.clone();
        let write = move |conn: &mut scimd::store::DbConn| {
            for i in batch * 2000..(batch + 1) * 2000 {
                let mail = format!("bulk{i}@contoso.com");
                let resource = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": mail, "displayName": format!("Bulk {i}"),
                    "emails": [{"type": "work", "value": mail}]
                });
                let index = index_user(&resource)?;
                let row = new_row(
                    uuid::Uuid::new_v4().to_string(),
                    &tenant_id,
                    &resource,
                    &index,
                    scimd::store::now_millis(),
                )?;
                insert_user(conn, &row, &email_rows(&row.id, &tenant_id, &index))?;
            }
            Ok::<_, scimd::scim::error::ScimError>(())
        };
        if queued {
            app.state
                .service
                .store
                .write(write)
                .await
                .expect("batch written");
        } else {
            app.state
                .service
                .store
                .write_blocking(write)
                .expect("batch written");
        }
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    // Give the checkpointer a few rounds (25 ms each) after the last batch.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let users = app
        .filter_users("userName eq \"bulk49999@contoso.com\"")
        .await
        .expect(200);
    assert_eq!(users.body["totalResults"], 1);
    assert!(largest < 64 << 20, "the WAL grew to {} MiB", largest >> 20);
}

crate::helpers::sqlite_tests!(
    wal_stays_bounded_under_synchronous_bulk_writes,
    wal_stays_bounded_under_queued_bulk_writes,
);
