//! Each tenant's connection health (`connection` in /api/v1 tenants, the pages' state and
//! banners, the `tenant.*` webhook events): waiting → connected, Test Connection, failing on
//! expired, revoked and bad tokens with the reason, disabled, the soonest expiry, silence,
//! expiry warnings told once across two instances, and one tenant's flood of refusals leaving
//! another's connection alone.

use std::time::{Duration, Instant};

use serde_json::Value;

use scimd::config::Settings;

use crate::helpers::{Backend, Received, Receiver, TestApp};
use crate::webhooks::{add_endpoint, api, operator_key, private_receivers};

/// Counters flushed every 100 ms, checks every 200 ms (tests wait for them, never sleep
/// through the real windows).
fn fast(s: &mut Settings) {
    s.connection_flush_ms = 100;
    s.connection_check_ms = 200;
}

/// A tenant and a Secret Token of it that expires in `days`, or at `not_after` (ms) when
/// given (in the past: an expired token); the token and its id.
fn tenant_with_token(
    app: &TestApp,
    slug: &str,
    days: i64,
    not_after: Option<i64>,
) -> (String, String) {
    app.state
        .service
        .store
        .write_blocking(|conn| {
            let tenant = match scimd::store::tenants::find_tenant_by_slug(conn, slug)? {
                Some(t) => t,
                None => scimd::store::tenants::create_tenant(conn, slug, slug)?,
            };
            app.state
                .service
                .keys
                .issue_capped(conn, &tenant, days, not_after, "health test")
        })
        .map(|(jwt, record)| (jwt, record.jti))
        .expect("token")
}

fn revoke(app: &TestApp, jti: &str) {
    app.state
        .service
        .store
        .write_blocking(|conn| scimd::store::tokens::revoke_token(conn, jti, None))
        .expect("revoke");
}

/// GET /api/v1/tenants/{slug}: its `connection`.
async fn connection(app: &TestApp, key: &str, slug: &str) -> Value {
    api(
        &app.client,
        &app.base,
        "GET",
        &format!("/tenants/{slug}"),
        key,
        None,
    )
    .await
    .expect(200)
    .body["connection"]
        .clone()
}

/// Wait (up to 10 s) until tenant `slug`'s connection satisfies `done`; the last one read.
async fn wait_connection(
    app: &TestApp,
    key: &str,
    slug: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = connection(app, key, slug).await;
        if done(&c) || Instant::now() >= deadline {
            return c;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn scim_get(app: &TestApp, slug: &str, path: &str, token: &str) -> u16 {
    let url = format!("{}{path}", app.tenant_url(slug));
    app.send("GET", &url, Some(token), None)
        .await
        .status
        .as_u16()
}

/// A tenant is `waiting` before any request and `connected` after one; Entra's Test
/// Connection probe is recorded as such, a normal filter is not.
async fn waiting_then_connected(backend: Backend) {
    let app = TestApp::spawn_with(backend, fast).await;
    let key = operator_key(&app.database_url);
    let c = connection(&app, &key, "acme").await;
    assert_eq!(c["state"], "waiting", "{c}");
    assert_eq!(c["lastRequestAt"], Value::Null);
    assert_eq!(c["lastTestConnectionAt"], Value::Null);
    assert_eq!(c["refusals24h"]["count"], 0);

    // A match by mail is a request, not a Test Connection.
    app.filter_users("emails[type eq \"work\"].value eq \"ada@contoso.com\"")
        .await
        .expect(200);
    let c = wait_connection(&app, &key, "acme", |c| c["state"] == "connected").await;
    assert_eq!(c["state"], "connected", "{c}");
    assert!(c["lastRequestAt"].is_string(), "{c}");
    assert_eq!(c["lastTestConnectionAt"], Value::Null, "{c}");
    assert_eq!(c["reason"], Value::Null);

    // Entra's probe: a filter on a random GUID.
    app.filter_users(&format!("userName eq \"{}\"", uuid::Uuid::new_v4()))
        .await
        .expect(200);
    let c = wait_connection(&app, &key, "acme", |c| {
        c["lastTestConnectionAt"].is_string()
    })
    .await;
    assert!(c["lastTestConnectionAt"].is_string(), "{c}");
    // The list shows the connection too.
    let list = api(&app.client, &app.base, "GET", "/tenants", &key, None)
        .await
        .expect(200);
    let acme = list.body["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == "acme")
        .cloned()
        .unwrap();
    assert_eq!(acme["connection"]["state"], "connected", "{acme}");
}

/// Requests with an expired token make the tenant `failing` at once, with the reason; a
/// revoked token too; a valid request makes it `connected` again.
async fn failing_on_expired_and_revoked_tokens(backend: Backend) {
    let app = TestApp::spawn_with(backend, fast).await;
    let key = operator_key(&app.database_url);
    assert_eq!(scim_get(&app, "acme", "/Users", &app.token).await, 200);
    wait_connection(&app, &key, "acme", |c| c["state"] == "connected").await;

    let past = scimd::store::now_millis() - 60_000;
    let (expired, _) = tenant_with_token(&app, "acme", 1, Some(past));
    assert_eq!(scim_get(&app, "acme", "/Users", &expired).await, 401);
    let c = wait_connection(&app, &key, "acme", |c| c["state"] == "failing").await;
    assert_eq!(c["state"], "failing", "{c}");
    assert_eq!(c["refusals24h"]["count"], 1, "{c}");
    assert_eq!(c["refusals24h"]["mostCommonReason"], "expired_token", "{c}");
    assert!(
        c["reason"].as_str().unwrap().contains("expired"),
        "the reason says what to do: {c}"
    );

    assert_eq!(scim_get(&app, "acme", "/Users", &app.token).await, 200);
    wait_connection(&app, &key, "acme", |c| c["state"] == "connected").await;

    let (revoked, jti) = tenant_with_token(&app, "acme", 30, None);
    revoke(&app, &jti);
    for _ in 0..2 {
        assert_eq!(scim_get(&app, "acme", "/Users", &revoked).await, 401);
    }
    let c = wait_connection(&app, &key, "acme", |c| c["state"] == "failing").await;
    assert_eq!(c["state"], "failing", "{c}");
    assert_eq!(c["refusals24h"]["count"], 3, "{c}");
    assert_eq!(c["refusals24h"]["mostCommonReason"], "revoked_token", "{c}");
    assert!(c["reason"].as_str().unwrap().contains("revoked"), "{c}");

    // One garbled token is not enough to call the connection failing (a stranger may send
    // one); three in a row with no accepted request between are.
    assert_eq!(scim_get(&app, "acme", "/Users", &app.token).await, 200);
    wait_connection(&app, &key, "acme", |c| c["state"] == "connected").await;
    assert_eq!(scim_get(&app, "acme", "/Users", "not.a.token").await, 401);
    let c = wait_connection(&app, &key, "acme", |c| c["refusals24h"]["count"] == 4).await;
    assert_eq!(c["refusals24h"]["count"], 4, "{c}");
    assert_eq!(c["state"], "connected", "{c}");
    for _ in 0..2 {
        assert_eq!(scim_get(&app, "acme", "/Users", "not.a.token").await, 401);
    }
    let c = wait_connection(&app, &key, "acme", |c| c["state"] == "failing").await;
    assert_eq!(c["state"], "failing", "{c}");
    assert!(
        c["reason"].as_str().unwrap().contains("invalid_token"),
        "{c}"
    );
}

/// A disabled tenant's connection is `disabled`; enabled again, it is what its requests say.
async fn disabled_tenant(backend: Backend) {
    let app = TestApp::spawn_with(backend, fast).await;
    let key = operator_key(&app.database_url);
    assert_eq!(scim_get(&app, "acme", "/Users", &app.token).await, 200);
    wait_connection(&app, &key, "acme", |c| c["state"] == "connected").await;
    let r = api(
        &app.client,
        &app.base,
        "POST",
        "/tenants/acme/disable",
        &key,
        None,
    )
    .await
    .expect(200);
    assert_eq!(r.body["connection"]["state"], "disabled", "{}", r.body);
    assert_eq!(connection(&app, &key, "acme").await["state"], "disabled");
    api(
        &app.client,
        &app.base,
        "POST",
        "/tenants/acme/enable",
        &key,
        None,
    )
    .await
    .expect(200);
    assert_eq!(connection(&app, &key, "acme").await["state"], "connected");
}

/// The soonest expiry is the Secret Token (not revoked, not expired) that expires first.
async fn soonest_credential_expiry(backend: Backend) {
    let app = TestApp::spawn_with(backend, fast).await;
    let key = operator_key(&app.database_url);
    let (_, ten_days) = tenant_with_token(&app, "acme", 10, None);
    let (_, five_days) = tenant_with_token(&app, "acme", 5, None);
    let past = scimd::store::now_millis() - 1000;
    tenant_with_token(&app, "acme", 1, Some(past));
    let tokens = api(
        &app.client,
        &app.base,
        "GET",
        "/tenants/acme/tokens",
        &key,
        None,
    )
    .await
    .expect(200)
    .body;
    let expiry_of = |jti: &str| {
        tokens["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == jti)
            .map(|t| t["expiresAt"].clone())
            .unwrap_or_else(|| panic!("{jti} in {tokens}"))
    };
    let c = connection(&app, &key, "acme").await;
    assert_eq!(c["soonestCredentialExpiry"], expiry_of(&five_days), "{c}");
    assert_eq!(c["soonestCredential"]["id"], five_days.as_str(), "{c}");
    assert_eq!(c["soonestCredential"]["label"], "health test", "{c}");
    revoke(&app, &five_days);
    let c = connection(&app, &key, "acme").await;
    assert_eq!(c["soonestCredentialExpiry"], expiry_of(&ten_days), "{c}");
}

fn events_of(got: &[Received], kind: &str, slug: &str) -> Vec<Value> {
    got.iter()
        .map(Received::json)
        .filter(|b| b["type"] == kind && b["data"]["tenant"] == slug)
        .collect()
}

/// State changes are events, each once though two instances check: connected after the first
/// request, silent past the (shortened) silence window, failing on an expired token,
/// connected again; credentials expiring in 14, 7 and 1 days are told once each.
async fn state_changes_and_expiry_warnings_are_events(backend: Backend) {
    let settings = |s: &mut Settings| {
        private_receivers(s);
        fast(s);
        s.connection_silence_ms = 1500;
    };
    let app = TestApp::spawn_with(backend, settings).await;
    app.spawn_sibling(settings).await;
    let key = operator_key(&app.database_url);
    let receiver = Receiver::start();
    add_endpoint(&app.client, &app.base, &key, &receiver, None).await;
    let (_, t14) = tenant_with_token(&app, "fortnight", 10, None);
    let (_, t7) = tenant_with_token(&app, "week", 5, None);
    let (_, t1) = tenant_with_token(&app, "day", 1, None);

    assert_eq!(scim_get(&app, "acme", "/Users", &app.token).await, 200);
    let got = receiver
        .wait_for(Duration::from_secs(15), |d| {
            !events_of(d, "tenant.connected", "acme").is_empty()
                && events_of(d, "tenant.credential_expiring", "day").len() == 1
        })
        .await;
    let connected = events_of(&got, "tenant.connected", "acme");
    assert_eq!(connected.len(), 1, "{connected:?}");
    assert_eq!(connected[0]["data"]["connection"]["state"], "connected");
    for (slug, jti, days) in [("fortnight", &t14, 14), ("week", &t7, 7), ("day", &t1, 1)] {
        let warned = events_of(&got, "tenant.credential_expiring", slug);
        assert_eq!(warned.len(), 1, "{slug}: {warned:?}");
        assert_eq!(warned[0]["data"]["daysLeft"], days, "{:?}", warned[0]);
        assert_eq!(warned[0]["data"]["credential"]["id"], jti.as_str());
    }
    // acme's own token expires in 90 days: no warning.
    assert!(events_of(&got, "tenant.credential_expiring", "acme").is_empty());

    // No request past the window: silent, told once.
    let got = receiver
        .wait_for(Duration::from_secs(15), |d| {
            !events_of(d, "tenant.silent", "acme").is_empty()
        })
        .await;
    assert_eq!(events_of(&got, "tenant.silent", "acme").len(), 1);
    let key2 = key.clone();
    assert_eq!(connection(&app, &key2, "acme").await["state"], "silent");

    // Entra comes back with an expired token: failing; with a valid one: connected again.
    let (expired, _) = tenant_with_token(&app, "acme", 1, Some(scimd::store::now_millis() - 1000));
    assert_eq!(scim_get(&app, "acme", "/Users", &expired).await, 401);
    let got = receiver
        .wait_for(Duration::from_secs(15), |d| {
            !events_of(d, "tenant.failing", "acme").is_empty()
        })
        .await;
    let failing = events_of(&got, "tenant.failing", "acme");
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert_eq!(
        failing[0]["data"]["connection"]["refusals24h"]["mostCommonReason"],
        "expired_token"
    );
    assert_eq!(scim_get(&app, "acme", "/Users", &app.token).await, 200);
    let got = receiver
        .wait_for(Duration::from_secs(15), |d| {
            events_of(d, "tenant.connected", "acme").len() >= 2
        })
        .await;
    assert_eq!(events_of(&got, "tenant.connected", "acme").len(), 2);
    // A few more checks of both instances tell nothing again.
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    let got = receiver.delivered();
    for (slug, kind, n) in [
        ("acme", "tenant.connected", 2),
        ("acme", "tenant.failing", 1),
        ("fortnight", "tenant.credential_expiring", 1),
        ("week", "tenant.credential_expiring", 1),
        ("day", "tenant.credential_expiring", 1),
    ] {
        assert_eq!(events_of(&got, kind, slug).len(), n, "{slug} {kind}");
    }
    // Tenants with no request are waiting: no state event.
    assert!(events_of(&got, "tenant.silent", "week").is_empty());
    assert!(events_of(&got, "tenant.connected", "week").is_empty());
}

/// One tenant's flood of refused requests (bad tokens) makes it failing and counts every one
/// of them; another tenant provisioning meanwhile stays connected with no refusal, and
/// refusals against slugs of no tenant count nowhere.
async fn one_tenants_flood_leaves_another_alone(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        fast(s);
        // Every refusal answered 401 (none cut short at 429), so that all of them count.
        s.rate_limit_address = 0;
    })
    .await;
    let key = operator_key(&app.database_url);
    let globex = app.add_tenant("globex");
    let flood = 200;
    let acme_url = app.tenant_url("acme");
    let bad = |i: usize| format!("bad.token.{i}");
    let requests = (0..flood).map(|i| {
        let url = format!("{acme_url}/Users");
        let token = bad(i);
        let client = app.client.clone();
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    });
    let strangers = (0..50).map(|i| {
        let url = format!("{}/Users", app.tenant_url(&format!("nobody{i}")));
        let client = app.client.clone();
        let token = globex.clone();
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    });
    let provisioning = async {
        for _ in 0..20 {
            assert_eq!(scim_get(&app, "globex", "/Users", &globex).await, 200);
        }
    };
    let ((statuses, stranger_statuses), ()) = futures_util::future::join(
        futures_util::future::join(
            futures_util::future::join_all(requests),
            futures_util::future::join_all(strangers),
        ),
        provisioning,
    )
    .await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert!(stranger_statuses.iter().all(|s| *s == 401));
    let c = wait_connection(&app, &key, "acme", |c| c["refusals24h"]["count"] == flood).await;
    assert_eq!(c["refusals24h"]["count"], flood, "{c}");
    assert_eq!(c["state"], "failing", "{c}");
    assert_eq!(c["refusals24h"]["mostCommonReason"], "invalid_token", "{c}");
    let g = wait_connection(&app, &key, "globex", |c| c["state"] == "connected").await;
    assert_eq!(g["state"], "connected", "{g}");
    assert_eq!(g["refusals24h"]["count"], 0, "{g}");
    assert_eq!(g["reason"], Value::Null);
}

/// The text of the paragraph with this id, tags removed (empty when there is none).
fn element_text(body: &str, id: &str) -> String {
    let Some(at) = body.find(&format!("id=\"{id}\"")) else {
        return String::new();
    };
    let rest = &body[at..];
    let end = rest.find("</p>").unwrap_or(rest.len());
    let mut text = String::new();
    let mut in_tag = true; // the rest of the opening tag first
    for ch in rest[..end].chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// The tenant page shows the state and, when failing or a token expires soon, a banner
/// saying what to do; the operator's list shows each tenant's state.
async fn pages_show_the_state_and_banners(backend: Backend) {
    let app = TestApp::spawn_with(backend, fast).await;
    let key = operator_key(&app.database_url);
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    app.create_admin(None, "root", "correct horse battery");
    let mut b = app.cookies();
    b.login("alice", "correct horse battery").await;
    let page = b.get("/admin/t/acme").await;
    assert!(
        page.body.contains("connection-state\">waiting"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("connection-failing"));
    assert!(!page.body.contains("credential-expiring"));

    let (expired, _) = tenant_with_token(&app, "acme", 1, Some(scimd::store::now_millis() - 1000));
    assert_eq!(scim_get(&app, "acme", "/Users", &expired).await, 401);
    wait_connection(&app, &key, "acme", |c| c["state"] == "failing").await;
    tenant_with_token(&app, "acme", 3, None);
    let page = b.get("/admin/t/acme").await;
    let failing = element_text(&page.body, "connection-failing");
    assert!(
        failing.contains("expired") && failing.contains("Test Connection"),
        "the banner says what happened and what to do: {failing:?}"
    );
    let expiring = element_text(&page.body, "credential-expiring");
    assert!(
        expiring.contains("health test") && expiring.contains("3 days"),
        "{expiring:?}"
    );
    assert_eq!(page.text_of("refusals-24h").as_deref(), Some("1"));

    let mut op = app.cookies();
    op.login("root", "correct horse battery").await;
    let list = op.get("/admin").await;
    assert!(
        list.body.contains("connection-state\">failing"),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("token expires in 3 days"),
        "{}",
        list.body
    );
}

crate::helpers::backend_tests!(
    pages_show_the_state_and_banners,
    waiting_then_connected,
    failing_on_expired_and_revoked_tokens,
    disabled_tenant,
    soonest_credential_expiry,
    state_changes_and_expiry_warnings_are_events,
    one_tenants_flood_leaves_another_alone,
);
