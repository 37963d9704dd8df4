//! Scale-out: two scimd processes on one PostgreSQL serve one tenant at once with no
//! duplicate users and no lost updates. Runs when SCIMD_TEST_POSTGRES_URL is set.

use std::time::Duration;

use crate::helpers::{
    fresh_database, patch, seed_tenant, user_body, Backend, Reply, ServeCommand, Served,
};
use futures_util::future::join_all;
use serde_json::{json, Value};

/// `scimd serve` on `database_url`, with its own address as its public URL.
async fn start(database_url: &str) -> Served {
    let command = ServeCommand::new(database_url);
    let base = command.base();
    command.flags(&["--public-url", &base]).start().await
}

/// A request with the tenant's token: status and body.
async fn send(
    client: &awc::Client,
    method: &str,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let r = Reply::send(client, method, &url, Some(token), body.as_ref()).await;
    (r.status.as_u16(), r.body)
}

async fn two_instances_one_postgres_no_duplicates_no_lost_updates(backend: Backend) {
    let (url, _dir) = fresh_database(&backend);
    // The tenant and its token are made by a third party (the CLI's code path).
    let token = seed_tenant(&url);
    let a = start(&url).await;
    let b = start(&url).await;
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let users = |i: &Served| format!("{}/scim/v2/tenants/acme/Users", i.base);

    // Both instances accept the same token (signing keys live in the database).
    for inst in [&a, &b] {
        assert_eq!(
            send(
                &client,
                "GET",
                format!("{}?filter=userName+eq+%22x%22", users(inst)),
                &token,
                None
            )
            .await
            .0,
            200
        );
    }

    // 24 concurrent POSTs of one mail (different userNames), spread over both instances.
    let posts = (0..24).map(|i| {
        let inst = if i % 2 == 0 { &a } else { &b };
        send(
            &client,
            "POST",
            users(inst),
            &token,
            Some(user_body(&format!("u{i}@contoso.com"), "same@contoso.com")),
        )
    });
    let statuses: Vec<u16> = join_all(posts).await.into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        23,
        "{statuses:?}"
    );
    let (_, list) = send(
        &client,
        "GET",
        format!(
            "{}?filter=emails.value+eq+%22same@contoso.com%22",
            users(&b)
        ),
        &token,
        None,
    )
    .await;
    assert_eq!(list["totalResults"], 1);
    let id = list["Resources"][0]["id"].as_str().unwrap().to_string();

    // 30 concurrent PATCHes of that user, each adding its own role, over both instances:
    // none may be lost.
    let patches = (0..30).map(|i| {
        let inst = if i % 2 == 0 { &a } else { &b };
        let body = patch(
            json!([{"op": "add", "path": "roles", "value": [{"value": format!("role-{i}")}]}]),
        );
        send(
            &client,
            "PATCH",
            format!("{}/{id}", users(inst)),
            &token,
            Some(body),
        )
    });
    let statuses: Vec<u16> = join_all(patches)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let (_, user) = send(&client, "GET", format!("{}/{id}", users(&a)), &token, None).await;
    let mut roles: Vec<String> = user["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_string())
        .collect();
    roles.sort();
    let mut expected: Vec<String> = (0..30).map(|i| format!("role-{i}")).collect();
    expected.sort();
    assert_eq!(roles, expected, "every concurrent PATCH is in the result");
    assert_eq!(user["meta"]["version"], "W/\"31\"");

    // With If-Match on the same version, exactly one of two racing writers wins.
    let pinned = (0..2).map(|i| {
        let inst = if i == 0 { &a } else { &b };
        let req = client
            .patch(format!("{}/{id}", users(inst)))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", "application/scim+json"))
            .insert_header(("If-Match", "W/\"31\""));
        let body = patch(json!([{"op": "replace", "path": "title", "value": format!("T{i}")}]));
        async move {
            req.send_body(body.to_string())
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let mut statuses = join_all(pinned).await;
    statuses.sort();
    assert_eq!(statuses, vec![200, 412]);
}

crate::helpers::postgres_tests!(two_instances_one_postgres_no_duplicates_no_lost_updates);
