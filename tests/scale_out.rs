//! Scale-out: two scimd processes on one PostgreSQL serve one tenant at once with no
//! duplicate users and no lost updates. Runs when SCIMD_TEST_POSTGRES_URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests may panic: that is how they fail

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{fresh_database, patch, user_body, Backend};
use futures_util::future::join_all;
use serde_json::{json, Value};

struct Instance {
    base: String,
    _process: common::Process,
}

async fn start(database_url: &str) -> Instance {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_scimd"))
        .args([
            "serve",
            "--database-url",
            database_url,
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--public-url",
            &base,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let instance = Instance {
        base: base.clone(),
        _process: common::Process(child),
    };
    let client = awc::Client::default();
    for _ in 0..100 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return instance;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("scimd at {base} did not become ready");
}

async fn send(
    client: &awc::Client,
    method: &str,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let req = client
        .request(
            awc::http::Method::from_bytes(method.as_bytes()).unwrap(),
            url,
        )
        .insert_header(("Authorization", format!("Bearer {token}")));
    let mut resp = match body {
        Some(b) => req
            .insert_header(("Content-Type", "application/scim+json"))
            .send_body(b.to_string())
            .await
            .unwrap(),
        None => req.send().await.unwrap(),
    };
    let bytes = resp.body().limit(16 << 20).await.unwrap();
    (
        resp.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn two_instances_one_postgres_no_duplicates_no_lost_updates() {
    let Some(backend) = Backend::postgres_or_skip("scale-out test") else {
        return;
    };
    let (url, _dir) = fresh_database(&backend);
    // The tenant and its token are made by a third party (the CLI's code path).
    let token = common::seed_tenant(&url);
    let a = start(&url).await;
    let b = start(&url).await;
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let users = |i: &Instance| format!("{}/scim/v2/tenants/acme/Users", i.base);

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
