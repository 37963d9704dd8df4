//! Webhooks to a receiver on 127.0.0.1: every change is delivered, signed, in order per
//! resource; a receiver that is down gets everything once it is back; an endpoint that keeps
//! failing is disabled with its reason; a delivery can be replayed; kill -9 during a burst
//! loses no event.

use std::time::Duration;

use serde_json::{json, Value};

use scimd::config::Settings;

use crate::helpers::{
    fresh_database, patch, seed_tenant, user_body, Backend, Cli, CreateBurst, Received, Receiver,
    Reply, ServeCommand, TestApp,
};

/// The receivers of these tests run on 127.0.0.1: the operator allows private receivers.
pub fn private_receivers(s: &mut Settings) {
    s.webhook_allow_private = true;
}

/// An operator API key made by the CLI (the key is alone on the last line).
pub(crate) fn operator_key(database_url: &str) -> String {
    let out = Cli::on(database_url).ok(&["apikey", "create", "--label", "webhook test"]);
    out.lines().last().expect("a key line").trim().to_string()
}

pub(crate) async fn api(
    client: &awc::Client,
    base: &str,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Reply {
    Reply::send(
        client,
        method,
        &format!("{base}/api/v1{path}"),
        Some(key),
        body.as_ref(),
    )
    .await
}

/// An endpoint for `receiver` (of `tenant`, or operator-wide): its id and secret.
pub(crate) async fn add_endpoint(
    client: &awc::Client,
    base: &str,
    key: &str,
    receiver: &Receiver,
    tenant: Option<&str>,
) -> (String, String) {
    add_endpoint_at(client, base, key, &receiver.url, tenant).await
}

/// An endpoint for the receiver at `url` (of `tenant`, or operator-wide): its id and secret.
pub(crate) async fn add_endpoint_at(
    client: &awc::Client,
    base: &str,
    key: &str,
    url: &str,
    tenant: Option<&str>,
) -> (String, String) {
    let mut body = json!({"url": url, "label": "test receiver"});
    if let Some(t) = tenant {
        body["tenant"] = json!(t);
    }
    let made = api(client, base, "POST", "/webhooks", key, Some(body))
        .await
        .expect(201);
    let secret = made.body["secret"].as_str().expect("secret").to_string();
    assert!(secret.starts_with("whsec_"), "{}", made.body);
    (made.body["id"].as_str().expect("id").to_string(), secret)
}

/// POST /webhooks with `body`, expecting the refusal `status`; the error's message.
pub(crate) async fn endpoint_refused(
    client: &awc::Client,
    base: &str,
    key: &str,
    body: Value,
    status: u16,
) -> String {
    let r = api(client, base, "POST", "/webhooks", key, Some(body)).await;
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    r.body["error"]["message"].as_str().unwrap().to_string()
}

/// PATCH a user's attribute in Entra's dialect (`"op": "Replace"`), expecting 200.
async fn replace_attribute(app: &TestApp, id: &str, path: &str, value: Value) {
    app.scim(
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(
            json!([{"op": "Replace", "path": path, "value": value}]),
        )),
    )
    .await
    .expect(200);
}

fn types_of(delivered: &[Received], resource_id: &str) -> Vec<String> {
    delivered
        .iter()
        .map(Received::json)
        .filter(|b| b["data"]["id"] == resource_id)
        .map(|b| b["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every kind of change reaches the tenant's endpoint and the operator-wide one, signed,
/// with the resource as it is after the change and in the order the changes were made; the
/// other tenant's endpoint gets none of them.
async fn changes_are_delivered_signed_and_in_order(backend: Backend) {
    let app = TestApp::spawn_with(backend, private_receivers).await;
    let globex_token = app.add_tenant("globex");
    let key = operator_key(&app.database_url);
    let (mine, theirs, everyone) = (Receiver::start(), Receiver::start(), Receiver::start());
    let (_, secret) = add_endpoint(&app.client, &app.base, &key, &mine, Some("acme")).await;
    add_endpoint(&app.client, &app.base, &key, &theirs, Some("globex")).await;
    let (_, wide_secret) = add_endpoint(&app.client, &app.base, &key, &everyone, None).await;

    let id = app.create_user("ada@contoso.com", "ada@contoso.com").await;
    for title in ["Engineer", "Lead", "Director"] {
        replace_attribute(&app, &id, "title", json!(title)).await;
    }
    replace_attribute(&app, &id, "active", json!("False")).await;
    replace_attribute(&app, &id, "active", json!("True")).await;
    let group = app
        .scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Pilots"})),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let members =
        |op: &str| patch(json!([{"op": op, "path": "members", "value": [{"value": id}]}]));
    app.scim("PATCH", &format!("/Groups/{group}"), Some(members("Add")))
        .await
        .expect(204);
    app.scim(
        "PATCH",
        &format!("/Groups/{group}"),
        Some(members("Remove")),
    )
    .await
    .expect(204);
    app.scim("DELETE", &format!("/Groups/{group}"), None)
        .await
        .expect(204);
    app.scim("DELETE", &format!("/Users/{id}"), None)
        .await
        .expect(204);

    let expected_user = [
        "user.created",
        "user.updated",
        "user.updated",
        "user.updated",
        "user.deactivated",
        "user.reactivated",
        "user.deleted",
    ];
    let expected_group = [
        "group.created",
        "group.member_added",
        "group.member_removed",
        "group.deleted",
    ];
    let all = expected_user.len() + expected_group.len();
    for (receiver, secret) in [(&mine, &secret), (&everyone, &wide_secret)] {
        let got = receiver
            .wait_for(Duration::from_secs(20), |d| d.len() >= all)
            .await;
        assert_eq!(types_of(&got, &id), expected_user);
        assert_eq!(types_of(&got, &group), expected_group);
        for r in &got {
            assert!(r.signed_with(secret), "bad signature on {}", r.body);
            assert!(r.id.starts_with("msg_"), "{}", r.id);
            let sent_at: i64 = r.timestamp.parse().expect("webhook-timestamp in seconds");
            assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 60);
            assert_eq!(r.json()["data"]["tenant"], "acme");
        }
        assert!(!got[0].signed_with("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
        // The resource as it is after the change.
        let titles: Vec<Value> = got
            .iter()
            .map(Received::json)
            .filter(|b| b["type"] == "user.updated")
            .map(|b| b["data"]["resource"]["title"].clone())
            .collect();
        assert_eq!(
            titles,
            [json!("Engineer"), json!("Lead"), json!("Director")]
        );
        let deactivated = got
            .iter()
            .map(Received::json)
            .find(|b| b["type"] == "user.deactivated")
            .unwrap();
        assert_eq!(deactivated["data"]["resource"]["active"], json!(false));
        assert_eq!(deactivated["data"]["resource"]["id"], json!(id));
        let added = got
            .iter()
            .map(Received::json)
            .find(|b| b["type"] == "group.member_added")
            .unwrap();
        assert_eq!(
            added["data"]["members"],
            json!([{"value": id, "type": "User"}])
        );
    }
    // A change of acme never reaches globex's endpoint; globex's change does.
    let other = crate::helpers::user_body("bob@globex.com", "bob@globex.com");
    Reply::send(
        &app.client,
        "POST",
        &format!("{}/Users", app.tenant_url("globex")),
        Some(&globex_token),
        Some(&other),
    )
    .await
    .expect(201);
    let theirs_got = theirs
        .wait_for(Duration::from_secs(20), |d| !d.is_empty())
        .await;
    assert_eq!(theirs_got.len(), 1);
    assert_eq!(theirs_got[0].json()["data"]["tenant"], "globex");
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        theirs.delivered().len(),
        1,
        "globex's endpoint got acme's changes"
    );

    // The operator's page shows each endpoint with its deliveries and their attempts.
    app.create_admin(None, "root", "operator password 1");
    let mut page = app.cookies();
    assert_eq!(page.login("root", "operator password 1").await.status, 303);
    let home = page.get("/admin").await;
    assert!(home.body.contains(&mine.url), "{}", home.body);
    assert!(home.body.contains("every tenant"));
    assert!(home.body.contains("user.deleted") && home.body.contains("delivered"));
    assert!(home.body.contains(&format!("User/{id}")));
    assert!(
        !home.body.contains(&secret),
        "the page never shows a signing secret"
    );
}

/// A receiver that answers 503 for a minute gets every message afterwards, each once, in
/// order per user; the API shows the failed attempts before the one that succeeded.
async fn a_receiver_down_for_a_minute_gets_everything(backend: Backend) {
    // Retries 5 ms, 30 ms … 36 s after each failure (the default schedule, 1/1000 as long).
    let app = TestApp::spawn_with(backend, |s| {
        private_receivers(s);
        s.webhook_first_retry_ms = 5;
        // The tenant's connection events (tenant.connected, a minute in) are not counted here.
        s.connection_check_ms = 3_600_000;
    })
    .await;
    let key = operator_key(&app.database_url);
    let receiver = Receiver::start();
    let (endpoint, _) = add_endpoint(&app.client, &app.base, &key, &receiver, Some("acme")).await;
    receiver.answer(503);
    let started = std::time::Instant::now();
    let mut ids = Vec::new();
    for i in 0..10 {
        let mail = format!("down{i}@contoso.com");
        let id = app.create_user(&mail, &mail).await;
        replace_attribute(&app, &id, "title", json!("after")).await;
        ids.push(id);
    }
    let down_until = started + Duration::from_secs(60);
    while std::time::Instant::now() < down_until {
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(receiver.delivered().is_empty());
    let tries = receiver.all().len();
    assert!(
        tries >= 10,
        "the sender kept trying while it was down: {tries}"
    );
    receiver.answer(200);
    let got = receiver
        .wait_for(Duration::from_secs(90), |d| d.len() >= 20)
        .await;
    assert_eq!(got.len(), 20, "every message after the outage");
    for id in &ids {
        assert_eq!(types_of(&got, id), ["user.created", "user.updated"]);
    }
    // The sender records a delivery just after the receiver answers it.
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = api(
            &app.client,
            &app.base,
            "GET",
            &format!("/webhooks/{endpoint}/deliveries?limit=100"),
            &key,
            None,
        )
        .await
        .expect(200)
        .body;
        let all = listed["deliveries"].as_array().unwrap();
        if all.iter().all(|d| d["state"] == "delivered") {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let deliveries = listed["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 20);
    for d in deliveries {
        assert_eq!(d["state"], "delivered", "{d}");
        assert_eq!(d["lastStatus"], 200, "{d}");
    }
    let first = deliveries.last().unwrap();
    assert!(first["attempts"].as_i64().unwrap() > 1, "{first}");
    let one = api(
        &app.client,
        &app.base,
        "GET",
        &format!("/webhooks/{endpoint}/deliveries/{}", first["id"]),
        &key,
        None,
    )
    .await
    .expect(200);
    let log = one.body["attemptLog"].as_array().unwrap();
    assert_eq!(log.len() as i64, first["attempts"].as_i64().unwrap());
    assert_eq!(log[0]["status"], 503);
    assert_eq!(log.last().unwrap()["status"], 200);
    assert!(log.iter().all(|a| a["latencyMs"].is_i64()));
    assert_eq!(one.body["payload"]["type"], "user.created");
}

/// An endpoint that fails for the whole retry schedule is disabled with the reason; enabled
/// again, it gets what waited, and a delivery can be replayed (same webhook-id).
async fn a_failing_endpoint_is_disabled_then_replayed(backend: Backend) {
    // The whole schedule in about 18 s.
    let app = TestApp::spawn_with(backend, |s| {
        private_receivers(s);
        s.webhook_first_retry_ms = 1;
    })
    .await;
    let key = operator_key(&app.database_url);
    let receiver = Receiver::start();
    let (endpoint, _) = add_endpoint(&app.client, &app.base, &key, &receiver, None).await;
    receiver.answer(500);
    let id = app
        .create_user("fail@contoso.com", "fail@contoso.com")
        .await;
    let path = format!("/webhooks/{endpoint}");
    let mut shown = Value::Null;
    for _ in 0..300 {
        shown = api(&app.client, &app.base, "GET", &path, &key, None)
            .await
            .expect(200)
            .body;
        if shown["disabled"] == true {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(shown["disabled"], true, "{shown}");
    let reason = shown["disabledReason"].as_str().unwrap();
    assert!(reason.contains("HTTP 500"), "{reason}");
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown only once"
    );

    // Disabled, it is not sent to: a new change waits.
    let tries = receiver.all().len();
    replace_attribute(&app, &id, "title", json!("x")).await;
    actix_web::rt::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.all().len(), tries);

    let deliveries = api(
        &app.client,
        &app.base,
        "GET",
        &format!("{path}/deliveries"),
        &key,
        None,
    )
    .await
    .expect(200)
    .body;
    let created = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "user.created")
        .cloned()
        .expect("the user.created delivery");
    assert_eq!(created["lastStatus"], 500, "{created}");

    // The operator's page says why it was disabled and enables it again (with its CSRF token).
    receiver.answer(200);
    app.create_admin(None, "root", "operator password 1");
    let mut page = app.cookies();
    assert_eq!(page.login("root", "operator password 1").await.status, 303);
    let home = page.get("/admin").await;
    assert!(home.body.contains("HTTP 500"), "{}", home.body);
    let enable = format!("/admin/webhooks/{endpoint}/enable");
    assert_eq!(page.post(&enable, &[("csrf", "forged")]).await.status, 403);
    let enabled = page.post(&enable, &[("csrf", &home.csrf())]).await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert!(enabled.body.contains("Endpoint enabled"));
    // What failed for good and what waited while it was disabled go out, in order.
    let got = receiver
        .wait_for(Duration::from_secs(30), |d| d.len() >= 2)
        .await;
    assert_eq!(types_of(&got, &id), ["user.created", "user.updated"]);

    let replayed = api(
        &app.client,
        &app.base,
        "POST",
        &format!("{path}/deliveries/{}/replay", created["id"]),
        &key,
        None,
    )
    .await
    .expect(202);
    assert!(replayed.body["id"].is_i64());
    let message = created["messageId"].as_str().unwrap().to_string();
    let seen = receiver.wait_for_copies(&message, 2).await;
    assert!(
        seen >= 2,
        "the replay reached the receiver with the same webhook-id"
    );
    // The page replays too.
    let home = page.get("/admin").await;
    let replay = format!(
        "/admin/webhooks/{endpoint}/deliveries/{}/replay",
        created["id"]
    );
    let replayed = page.post(&replay, &[("csrf", &home.csrf())]).await;
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    let seen = receiver.wait_for_copies(&message, 3).await;
    assert!(seen >= 3, "the page's replay reached the receiver");
}

/// A tenant's key sees and makes only its tenant's endpoints; a bad URL is a 400 that says
/// what to send.
async fn endpoints_are_scoped_to_the_key(backend: Backend) {
    let app = TestApp::spawn_with(backend, private_receivers).await;
    app.add_tenant("globex");
    let operator = operator_key(&app.database_url);
    let acme_key = app
        .cli()
        .ok(&[
            "apikey", "create", "--tenant", "acme", "--label", "acme app",
        ])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let receiver = Receiver::start();
    let (globex_ep, _) =
        add_endpoint(&app.client, &app.base, &operator, &receiver, Some("globex")).await;
    let (wide_ep, _) = add_endpoint(&app.client, &app.base, &operator, &receiver, None).await;
    // A tenant key's endpoint is its tenant's, named or not (and on a public address).
    let (own, _) = add_endpoint_at(
        &app.client,
        &app.base,
        &acme_key,
        "https://hooks.acme.example/scim",
        None,
    )
    .await;
    let listed = api(&app.client, &app.base, "GET", "/webhooks", &acme_key, None)
        .await
        .expect(200);
    let ids: Vec<&str> = listed.body["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [own.as_str()]);
    assert_eq!(listed.body["webhooks"][0]["tenant"], "acme");
    for hidden in [&globex_ep, &wide_ep] {
        api(
            &app.client,
            &app.base,
            "GET",
            &format!("/webhooks/{hidden}"),
            &acme_key,
            None,
        )
        .await
        .expect(404);
        api(
            &app.client,
            &app.base,
            "DELETE",
            &format!("/webhooks/{hidden}"),
            &acme_key,
            None,
        )
        .await
        .expect(404);
    }
    let other = api(
        &app.client,
        &app.base,
        "POST",
        "/webhooks",
        &acme_key,
        Some(json!({"url": receiver.url, "tenant": "globex"})),
    )
    .await;
    assert_eq!(other.status.as_u16(), 404, "{}", other.body);
    let bad = endpoint_refused(
        &app.client,
        &app.base,
        &operator,
        json!({"url": "ftp://example.com/x"}),
        400,
    )
    .await;
    assert!(bad.contains("https://"), "{bad}");
    let all = api(&app.client, &app.base, "GET", "/webhooks", &operator, None)
        .await
        .expect(200);
    assert_eq!(all.body["webhooks"].as_array().unwrap().len(), 3);
    api(
        &app.client,
        &app.base,
        "DELETE",
        &format!("/webhooks/{own}"),
        &acme_key,
        None,
    )
    .await
    .expect(204);
    api(
        &app.client,
        &app.base,
        "GET",
        &format!("/webhooks/{own}"),
        &operator,
        None,
    )
    .await
    .expect(404);
}

/// kill -9 during a burst of creates, then a restart on the same database: every user
/// whose creation was acknowledged is delivered as `user.created`.
async fn kill_9_during_a_burst_loses_no_event(backend: Backend) {
    let (url, _db) = fresh_database(&backend);
    let token = seed_tenant(&url);
    let key = operator_key(&url);
    let mut server = ServeCommand::new(&url)
        .flags(&[
            "--rate-limit-address",
            "0",
            "--rate-limit-tenant",
            "0",
            "--webhook-allow-private",
        ])
        .start()
        .await;
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    let receiver = Receiver::start();
    add_endpoint(&client, &server.base, &key, &receiver, Some("acme")).await;
    let users = format!("{}/scim/v2/tenants/acme/Users", server.base);
    let burst = CreateBurst::start(&client, &users, &token, 8);
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    server.process.kill(); // SIGKILL
    let acked = burst.finish().await;
    assert!(
        acked.len() > 20,
        "the burst wrote something: {}",
        acked.len()
    );
    server.restart().await;
    let got = receiver
        .wait_for(Duration::from_secs(120), |d| {
            let ids: std::collections::HashSet<String> = d
                .iter()
                .map(|r| {
                    r.json()["data"]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            acked.iter().all(|(a, _)| ids.contains(a))
        })
        .await;
    let ids: std::collections::HashSet<String> = got
        .iter()
        .map(|r| {
            r.json()["data"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .map(|(a, _)| a)
        .filter(|a| !ids.contains(*a))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creations never delivered",
        lost.len(),
        acked.len()
    );
    server.process.kill();
}

crate::helpers::backend_tests!(
    changes_are_delivered_signed_and_in_order,
    a_receiver_down_for_a_minute_gets_everything,
    a_failing_endpoint_is_disabled_then_replayed,
    endpoints_are_scoped_to_the_key,
    kill_9_during_a_burst_loses_no_event,
);

/// Three instances on one PostgreSQL, each with its sender, writes spread over them: every
/// message is delivered, and none twice (the instances never lease the same delivery).
async fn instances_share_the_outbox_without_sending_twice(backend: Backend) {
    let app = TestApp::spawn_with(backend, private_receivers).await;
    let siblings = [
        app.spawn_sibling(private_receivers).await,
        app.spawn_sibling(private_receivers).await,
    ];
    let key = operator_key(&app.database_url);
    let receiver = Receiver::start();
    add_endpoint(&app.client, &app.base, &key, &receiver, Some("acme")).await;
    let bases = [app.base.clone(), siblings[0].clone(), siblings[1].clone()];
    let mut writers = Vec::new();
    for (w, base) in bases.iter().enumerate() {
        let (client, token, users) = (
            app.client.clone(),
            app.token.clone(),
            format!("{base}/scim/v2/tenants/acme/Users"),
        );
        writers.push(actix_web::rt::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..40 {
                let mail = format!("i{w}.{i}@contoso.com");
                let made = Reply::send(
                    &client,
                    "POST",
                    &users,
                    Some(&token),
                    Some(&user_body(&mail, &mail)),
                )
                .await
                .expect(201);
                ids.push(made.body["id"].as_str().unwrap().to_string());
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for w in writers {
        ids.extend(w.await.unwrap());
    }
    let got = receiver
        .wait_for(Duration::from_secs(30), |d| d.len() >= ids.len())
        .await;
    assert_eq!(got.len(), ids.len(), "every creation delivered");
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let sent = receiver.all();
    assert_eq!(sent.len(), ids.len(), "no message was sent twice");
}

crate::helpers::postgres_tests!(instances_share_the_outbox_without_sending_twice);
