//! Webhooks among many tenants: what one tenant's receivers do (fail, hang, trickle, are
//! disabled) never holds back another's deliveries; receivers must be public unless the
//! operator allows private ones; a tenant cannot make scimd store or send without bound.

use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use serde_json::{json, Value};

use crate::helpers::{user_body, Backend, Receiver, Reply, TestApp, Trickler};
use crate::webhooks::{
    add_endpoint, add_endpoint_at, api, endpoint_refused, operator_key, private_receivers,
};

/// A key of tenant `slug`, made by the CLI.
fn tenant_key(app: &TestApp, slug: &str) -> String {
    app.cli()
        .ok(&["apikey", "create", "--tenant", slug, "--label", "app"])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

/// Create a user in tenant `slug` (its token); its id.
async fn create_in(app: &TestApp, slug: &str, token: &str, mail: &str) -> String {
    Reply::send(
        &app.client,
        "POST",
        &format!("{}/Users", app.tenant_url(slug)),
        Some(token),
        Some(&user_body(mail, mail)),
    )
    .await
    .expect(201)
    .body["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Stop sending to an endpoint, as the sender does once it has failed for a whole day.
fn disable(app: &TestApp, endpoint: &str) {
    app.state
        .service
        .store
        .write_blocking(|conn| {
            scimd::store::webhooks::disable_endpoint(conn, endpoint, 1, "test: failed for a day")
        })
        .unwrap();
}

/// An endpoint's latest delivery once `done` holds for it (or after 10 s, as it is then).
async fn latest_delivery_when(
    app: &TestApp,
    key: &str,
    endpoint: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/webhooks/{endpoint}/deliveries");
    let mut shown = Value::Null;
    for _ in 0..100 {
        shown = api(&app.client, &app.base, "GET", &path, key, None)
            .await
            .expect(200)
            .body["deliveries"][0]
            .clone();
        if done(&shown) {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    shown
}

/// Tenants acme and globex (its token), an operator key, private receivers allowed and no
/// SCIM rate limit (the tests write fast).
async fn two_tenants(backend: Backend) -> (TestApp, String, String) {
    let app = TestApp::spawn_with(backend, |s| {
        private_receivers(s);
        s.rate_limit_tenant = 0;
    })
    .await;
    let globex_token = app.add_tenant("globex");
    let key = operator_key(&app.database_url);
    (app, globex_token, key)
}

/// A change in globex reaches `receiver` promptly, whatever acme's receivers do.
async fn assert_globex_prompt(app: &TestApp, globex_token: &str, receiver: &Receiver, what: &str) {
    let id = create_in(
        app,
        "globex",
        globex_token,
        &format!("{}@globex.com", uuid::Uuid::new_v4().simple()),
    )
    .await;
    let took = time_to_delivery(receiver, &id, Duration::from_secs(40)).await;
    eprintln!("globex delivery {what}: {took:?}");
    assert!(
        took < Duration::from_secs(2),
        "another tenant's delivery took {took:?}"
    );
}

/// How long until `receiver` has been delivered a message about `id` (up to `limit`).
async fn time_to_delivery(receiver: &Receiver, id: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    receiver
        .wait_for(limit, |d| d.iter().any(|r| r.json()["data"]["id"] == id))
        .await;
    started.elapsed()
}

/// One tenant's receiver answers 500 to 130 changed users (each changed twice, so that
/// deliveries queue behind the failed ones), and its other endpoint is disabled with all of
/// them waiting: another tenant's change is still delivered within a second or so. Before,
/// the sender's claim filled with runs it could not send, and held it back for minutes.
async fn a_dead_receiver_does_not_hold_back_another_tenant(backend: Backend) {
    let (app, globex_token, key) = two_tenants(backend).await;
    let (dead, parked, healthy) = (Receiver::start(), Receiver::start(), Receiver::start());
    dead.answer(500);
    add_endpoint(&app.client, &app.base, &key, &dead, Some("acme")).await;
    let (parked_ep, _) = add_endpoint(&app.client, &app.base, &key, &parked, Some("acme")).await;
    disable(&app, &parked_ep);
    add_endpoint(&app.client, &app.base, &key, &healthy, Some("globex")).await;

    for i in 0..130 {
        let id = app
            .create_user(&format!("u{i}@contoso.com"), &format!("u{i}@contoso.com"))
            .await;
        app.scim(
            "PATCH",
            &format!("/Users/{id}"),
            Some(crate::helpers::patch(
                json!([{"op": "Replace", "path": "title", "value": "x"}]),
            )),
        )
        .await
        .expect(200);
    }
    // Every user's first delivery to the dead receiver has failed and waits for its retry.
    for _ in 0..600 {
        if dead.all().len() >= 130 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(dead.all().len() >= 130, "got {}", dead.all().len());
    assert!(
        parked.all().is_empty(),
        "a disabled endpoint is not sent to"
    );

    for _ in 0..3 {
        assert_globex_prompt(&app, &globex_token, &healthy, "with acme's dead receiver").await;
    }
}

/// Ten endpoints of one tenant that take 30 s to answer, each with many deliveries due, do
/// not take another tenant's turn: a tenant's runs in flight are bounded (and each exchange
/// ends after 10 s). Before, they held every delivery slot.
async fn slow_receivers_keep_to_their_tenants_share(backend: Backend) {
    let (app, globex_token, key) = two_tenants(backend).await;
    let slow = Receiver::start();
    slow.delay(Duration::from_secs(30));
    for _ in 0..10 {
        add_endpoint(&app.client, &app.base, &key, &slow, Some("acme")).await;
    }
    let healthy = Receiver::start();
    add_endpoint(&app.client, &app.base, &key, &healthy, Some("globex")).await;
    for i in 0..20 {
        app.create_user(&format!("s{i}@contoso.com"), &format!("s{i}@contoso.com"))
            .await;
    }
    // The slow receiver's requests are under way.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_globex_prompt(&app, &globex_token, &healthy, "beside 10 slow endpoints").await;
}

/// A receiver that answers 200 and then trickles its body holds its delivery for about a
/// second, not minutes: the delivery is recorded delivered, once, and not sent again.
async fn a_trickling_receiver_is_cut_off_and_sent_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, private_receivers).await;
    let key = operator_key(&app.database_url);
    let trickler = Trickler::start();
    let (endpoint, _) =
        add_endpoint_at(&app.client, &app.base, &key, &trickler.url, Some("acme")).await;
    app.create_user("t@contoso.com", "t@contoso.com").await;
    let shown = latest_delivery_when(&app, &key, &endpoint, |d| d["state"] == "delivered").await;
    assert_eq!(shown["state"], "delivered", "{shown}");
    assert_eq!(shown["lastStatus"], 200, "{shown}");
    assert!(
        shown["lastLatencyMs"].as_i64().unwrap() < 3000,
        "the body was waited for: {shown}"
    );
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(trickler.requests(), 1, "sent once");
}

/// Every spelling of an address inside scimd's network, metadata names and URLs with
/// credentials are refused at registration, for tenant and operator keys alike; with
/// `--webhook-allow-private` an operator key (only) may register a private receiver.
async fn private_and_metadata_receivers_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let operator = operator_key(&app.database_url);
    let tenant = tenant_key(&app, "acme");
    let inside = [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://0.0.0.0:80/hook",
        "http://0x7f000001/hook",
        "http://2130706433/hook",
        "http://0177.0.0.1/hook",
        "http://127.1/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://localhost:8080/hook",
    ];
    for key in [&operator, &tenant] {
        for url in inside {
            let detail = endpoint_refused(
                &app.client,
                &app.base,
                key,
                json!({"url": url, "tenant": "acme"}),
                400,
            )
            .await;
            assert!(detail.contains("public address"), "{url}: {detail}");
        }
        let detail = endpoint_refused(
            &app.client,
            &app.base,
            key,
            json!({"url": "https://user:pass@hooks.example.com/scim", "tenant": "acme"}),
            400,
        )
        .await;
        assert!(detail.contains("user:pass@"), "{detail}");
    }
    // The operator is told how to allow private receivers; the tenant is not.
    let told = endpoint_refused(
        &app.client,
        &app.base,
        &operator,
        json!({"url": "http://10.0.0.5/hook"}),
        400,
    )
    .await;
    assert!(told.contains("--webhook-allow-private"), "{told}");
    // A public receiver is fine.
    add_endpoint_at(
        &app.client,
        &app.base,
        &tenant,
        "https://hooks.example.com/scim",
        None,
    )
    .await;

    // Allowed by the operator: operator keys may, tenant keys still may not.
    let allowing = TestApp::spawn_with(backend_of(&app), private_receivers).await;
    let operator = operator_key(&allowing.database_url);
    let tenant = tenant_key(&allowing, "acme");
    let refused = endpoint_refused(
        &allowing.client,
        &allowing.base,
        &tenant,
        json!({"url": "http://10.0.0.5/hook"}),
        400,
    )
    .await;
    assert!(refused.contains("only an operator key"), "{refused}");
    add_endpoint_at(
        &allowing.client,
        &allowing.base,
        &operator,
        "http://10.0.0.5/hook",
        Some("acme"),
    )
    .await;
}

/// The backend a running app was started on.
fn backend_of(app: &TestApp) -> Backend {
    if app.database_url.starts_with("postgres") {
        Backend::postgres()
    } else {
        Backend::Sqlite
    }
}

/// An endpoint that reaches an inside address by any way but registration (a row from
/// before these checks, or a server that allowed private receivers then stopped) is not
/// posted to: the send checks the address again, and the deliveries API says why, in words
/// and not the operating system's error text.
async fn an_inside_address_is_not_posted_to(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let operator = operator_key(&app.database_url);
    let receiver = Receiver::start();
    let hex_url = receiver.url.replace("127.0.0.1", "0x7f000001");
    let mut endpoints = Vec::new();
    for (i, url) in [receiver.url.clone(), hex_url].into_iter().enumerate() {
        let row = scimd::store::webhooks::EndpointRow {
            id: format!("ep_inside{i}"),
            tenant_id: Some(app.tenant_id("acme")),
            url,
            label: "inside".into(),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            created_at: 1,
            disabled_at: None,
            disabled_reason: None,
            failing_since: None,
            private_ok: false,
        };
        app.state
            .service
            .store
            .write_blocking(|conn| scimd::store::webhooks::insert_endpoint_within(conn, &row, 100))
            .unwrap();
        endpoints.push(row.id);
    }
    app.create_user("in@contoso.com", "in@contoso.com").await;
    for endpoint in endpoints {
        let shown = latest_delivery_when(&app, &operator, &endpoint, |d| {
            d["attempts"].as_i64().unwrap_or(0) >= 1
        })
        .await;
        let error = shown["lastError"].as_str().unwrap_or_default();
        assert!(
            error.contains("not sent") && error.contains("loopback"),
            "{shown}"
        );
        assert!(!error.contains("os error"), "{shown}");
    }
    assert!(receiver.all().is_empty(), "nothing reached the receiver");
}

/// The bytes the database holds (SQLite: pages in use; PostgreSQL: this test's schema's
/// tables with their TOAST and indexes).
fn database_bytes(app: &TestApp) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Bytes {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let sql = if app.database_url.starts_with("postgres") {
        "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) AS bytes \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind = 'r'"
    } else {
        "SELECT (p.page_count - f.freelist_count) * s.page_size AS bytes \
         FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s"
    };
    app.state
        .service
        .store
        .read_blocking(|conn| {
            let got = match conn {
                scimd::store::DbConn::Postgres(c) => diesel::sql_query(sql).get_result::<Bytes>(c),
                scimd::store::DbConn::Sqlite(c) => diesel::sql_query(sql).get_result::<Bytes>(c),
            };
            got.map_err(scimd::store::StoreError::from)
        })
        .unwrap()
        .bytes
}

/// Random text that does not compress (so that PostgreSQL's TOAST does not hide copies).
fn noise(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(rng.sample(rand::distributions::Alphanumeric)))
        .collect()
}

/// A tenant has at most 10 endpoints; a change to a 200 KB user is stored once however many
/// endpoints receive it (before: once per endpoint); replays reuse the stored message and
/// do not pile up.
async fn a_tenant_cannot_fill_the_disk_with_webhooks(backend: Backend) {
    let app = TestApp::spawn_with(backend, private_receivers).await;
    app.add_tenant("globex");
    let key = tenant_key(&app, "acme");
    let mut made = Vec::new();
    for i in 0..10 {
        let (id, _) = add_endpoint_at(
            &app.client,
            &app.base,
            &key,
            &format!("https://hooks{i}.example.com/scim"),
            None,
        )
        .await;
        made.push(id);
    }
    let eleventh = endpoint_refused(
        &app.client,
        &app.base,
        &key,
        json!({"url": "https://hooks10.example.com/scim"}),
        409,
    )
    .await;
    assert!(eleventh.contains("10 webhook endpoints"), "{eleventh}");
    // Another tenant is not counted against it.
    let globex = tenant_key(&app, "globex");
    add_endpoint_at(
        &app.client,
        &app.base,
        &globex,
        "https://hooks.globex.example.com/scim",
        None,
    )
    .await;
    // Nothing is sent meanwhile: every endpoint waits, disabled.
    for id in &made {
        disable(&app, id);
    }

    let big = noise(200 * 1024);
    let mut body = user_body("big@contoso.com", "big@contoso.com");
    body["nickName"] = json!(big);
    let before = database_bytes(&app);
    let id = app
        .scim("POST", "/Users", Some(body))
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let grown = database_bytes(&app) - before;
    eprintln!(
        "a 200 KB user with 10 endpoints grew the database by {} KB",
        grown / 1024
    );
    // The user's row, its log entry and the message once (≈ 3 × 200 KB), not 10 copies more.
    assert!(
        grown < 5 * 200 * 1024,
        "the database grew by {grown} bytes for one 200 KB user"
    );

    // Replays of a waiting delivery answer that delivery.
    let path = format!("/webhooks/{}/deliveries", made[0]);
    let delivery = latest_delivery_when(&app, &key, &made[0], |_| true).await;
    assert_eq!(delivery["resource"], format!("User/{id}"));
    let before = database_bytes(&app);
    for _ in 0..50 {
        let replay = api(
            &app.client,
            &app.base,
            "POST",
            &format!("{path}/{}/replay", delivery["id"]),
            &key,
            None,
        )
        .await
        .expect(202);
        assert_eq!(replay.body["id"], delivery["id"]);
    }
    let listed = api(&app.client, &app.base, "GET", &path, &key, None)
        .await
        .expect(200);
    assert_eq!(listed.body["deliveries"].as_array().unwrap().len(), 1);
    let grown = database_bytes(&app) - before;
    assert!(grown < 64 * 1024, "50 replays grew the database by {grown}");
}

/// `/api/v1` is rate-limited per key and per tenant (whichever key acts on it): past the
/// budget, 429 with Retry-After; another tenant's key is unaffected.
async fn the_api_is_rate_limited_per_key_and_tenant(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.api_rate_limit = 5).await;
    app.add_tenant("globex");
    let acme = tenant_key(&app, "acme");
    let acme_second = tenant_key(&app, "acme");
    let globex = tenant_key(&app, "globex");
    let mut limited = None;
    for _ in 0..40 {
        let r = api(&app.client, &app.base, "GET", "/webhooks", &acme, None).await;
        if r.status.as_u16() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    }
    let limited = limited.expect("acme's key was limited");
    let retry = limited
        .retry_after
        .as_deref()
        .and_then(|v| v.parse::<u64>().ok())
        .expect("Retry-After");
    assert!((1..=2).contains(&retry), "{retry}");
    // The tenant's budget is spent for its other keys too…
    let same_tenant = api(
        &app.client,
        &app.base,
        "GET",
        "/webhooks",
        &acme_second,
        None,
    )
    .await;
    assert_eq!(same_tenant.status.as_u16(), 429, "{}", same_tenant.body);
    // …an operator key acting on it included…
    let operator = operator_key(&app.database_url);
    let on_acme = api(
        &app.client,
        &app.base,
        "GET",
        "/tenants/acme",
        &operator,
        None,
    )
    .await;
    assert_eq!(on_acme.status.as_u16(), 429, "{}", on_acme.body);
    // …and not for another tenant.
    for _ in 0..8 {
        api(&app.client, &app.base, "GET", "/webhooks", &globex, None)
            .await
            .expect(200);
    }
}

/// Removing an endpoint while its deliveries are being sent loses nothing else: the batch of
/// outcomes the sender records next holds the removed endpoint's failure beside another
/// endpoint's success, and the success is kept (before, the batch failed on the removed
/// delivery's attempt row and every outcome in it was lost, to be sent again a minute later).
async fn removing_an_endpoint_mid_send_keeps_the_others_outcomes(backend: Backend) {
    use scimd::store::webhooks::{record_sent, AttemptRow, Sent};
    let app = TestApp::spawn_with(backend, private_receivers).await;
    let key = operator_key(&app.database_url);
    let (gone_receiver, kept_receiver) = (Receiver::start(), Receiver::start());
    let (gone, _) = add_endpoint(&app.client, &app.base, &key, &gone_receiver, Some("acme")).await;
    let (kept, _) = add_endpoint(&app.client, &app.base, &key, &kept_receiver, Some("acme")).await;
    // The sender leaves them alone: this test plays its part, in flight.
    disable(&app, &gone);
    disable(&app, &kept);
    app.create_user("mid@contoso.com", "mid@contoso.com").await;
    let gone_delivery = latest_delivery_when(&app, &key, &gone, |_| true).await;
    let kept_delivery = latest_delivery_when(&app, &key, &kept, |_| true).await;
    api(
        &app.client,
        &app.base,
        "DELETE",
        &format!("/webhooks/{gone}"),
        &key,
        None,
    )
    .await
    .expect(204);
    let now = chrono::Utc::now().timestamp_millis();
    let outcome = |delivery: &Value, endpoint: &str, status: i32| {
        let id = delivery["id"].as_i64().unwrap();
        Sent {
            delivery_id: id,
            endpoint_id: endpoint.to_string(),
            resource_key: delivery["resource"].as_str().unwrap().to_string(),
            attempt: AttemptRow {
                delivery_id: id,
                attempt: 1,
                at: now,
                status: Some(status),
                latency_ms: 12,
                error: None,
            },
            delivered: status == 200,
            retry_at: (status != 200).then_some(now + 5_000),
        }
    };
    let batch = [
        outcome(&gone_delivery, &gone, 500),
        outcome(&kept_delivery, &kept, 200),
    ];
    app.state
        .service
        .store
        .write_blocking(|conn| record_sent(conn, &batch, now))
        .expect("the batch is recorded");
    let shown = latest_delivery_when(&app, &key, &kept, |_| true).await;
    assert_eq!(shown["state"], "delivered", "{shown}");
    assert_eq!(shown["lastStatus"], 200, "{shown}");
}

crate::helpers::backend_tests!(
    alone: a_dead_receiver_does_not_hold_back_another_tenant,
    slow_receivers_keep_to_their_tenants_share,
);

crate::helpers::backend_tests!(
    a_trickling_receiver_is_cut_off_and_sent_once,
    private_and_metadata_receivers_are_refused,
    an_inside_address_is_not_posted_to,
    a_tenant_cannot_fill_the_disk_with_webhooks,
    the_api_is_rate_limited_per_key_and_tenant,
    removing_an_endpoint_mid_send_keeps_the_others_outcomes,
);
