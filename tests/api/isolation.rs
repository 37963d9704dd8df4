//! No tenant and no stranger can stall the others: the worst in-memory filters and the
//! costliest PATCHes of one tenant, floods of wrong passwords and of bad tokens, while
//! `/healthz`, another tenant and Entra's writes keep answering quickly. Each test prints the
//! figures it measured.

use std::time::{Duration, Instant};

use crate::helpers::{costliest_patch, user_with_emails, Backend, CookieClient, Reply, TestApp};
use base64::Engine;
use serde_json::{json, Value};

/// The p-th percentile (0..=100) of some durations, in ms.
fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    if samples.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)].as_secs_f64() * 1000.0
}

/// The worst filter a tenant can send that scimd evaluates in memory: `terms` comparisons on
/// an attribute without an index (490 of them are 11.7 KB).
fn unindexed_filter(terms: usize) -> String {
    (0..terms)
        .map(|i| format!("nickName eq \"nobody-{i:05}\""))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// What one attacker got: status, body and Retry-After of each answer.
type Seen = Vec<(u16, Value, Option<String>)>;

/// An attacker of tenant acme: sends `body` to `url` with `method` (as acme) until
/// `attacking` is false, pausing 50 ms after each 503 as a client honouring it would.
fn attack(
    app: &TestApp,
    method: &str,
    url: &str,
    body: String,
    attacking: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> actix_web::rt::task::JoinHandle<Seen> {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(120))
        .finish();
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let (url, token, attacking) = (url.to_string(), app.token.clone(), attacking.clone());
    actix_web::rt::spawn(async move {
        let mut seen: Seen = Vec::new();
        while attacking.load(std::sync::atomic::Ordering::Relaxed) {
            let mut resp = client
                .request(method.clone(), &url)
                .insert_header(("Authorization", format!("Bearer {token}")))
                .insert_header(("Content-Type", "application/scim+json"))
                .send_body(body.clone())
                .await
                .expect("attack request");
            let status = resp.status().as_u16();
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = resp.body().limit(1 << 24).await.expect("body");
            seen.push((
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                retry,
            ));
            if status == 503 {
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            }
        }
        seen
    })
}

/// What the attackers got, counted by status, each answer checked: a 200 by `ok`, a 400
/// must be `tooMany` whose detail says `too_many_hint`, a 503 must say the wait its
/// Retry-After gives; nothing else may come.
async fn outcomes_of(
    attackers: Vec<actix_web::rt::task::JoinHandle<Seen>>,
    too_many_hint: &str,
    ok: impl Fn(&Value),
) -> std::collections::BTreeMap<u16, usize> {
    let mut outcomes = std::collections::BTreeMap::new();
    for a in attackers {
        for (status, body, retry) in a.await.expect("attacker") {
            *outcomes.entry(status).or_insert(0) += 1;
            match status {
                200 => ok(&body),
                400 => {
                    assert_eq!(body["scimType"], "tooMany", "{body}");
                    assert!(
                        body["detail"]
                            .as_str()
                            .unwrap_or_default()
                            .contains(too_many_hint),
                        "{body}"
                    );
                }
                503 => {
                    let detail = body["detail"].as_str().unwrap_or_default().to_string();
                    let secs = retry.expect("Retry-After on 503");
                    assert!(
                        detail.contains(&format!("retry after {secs} s")),
                        "Retry-After {secs} vs {detail}"
                    );
                }
                other => panic!("the attacker got {other}: {body}"),
            }
        }
    }
    outcomes
}

/// Time requests of `probe` every few ms while `attack` runs; the probe latencies.
async fn probe_while<F, Fut>(duration: Duration, probe: F) -> Vec<Duration>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let mut samples = Vec::new();
    let until = Instant::now() + duration;
    while Instant::now() < until {
        let started = Instant::now();
        let status = probe().await;
        samples.push(started.elapsed());
        assert!(status < 500 || status == 503, "probe answered {status}");
        assert_eq!(status, 200, "the probe must be served");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    samples
}

/// One tenant runs eight of its worst filters and sorts at once, over and over, against
/// 20,000 users; `/healthz` and another tenant's requests keep p99 < 50 ms, and the
/// attacker gets 200, 400 `tooMany` or 503 with `Retry-After`, each with a detail.
async fn worst_filters_do_not_stall_others(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limit_tenant = 0;
        s.rate_limit_address = 0;
    })
    .await;
    let service = &app.state.service;
    let acme = scimd::service::tenants::tenant_by_slug(service, "acme")
        .await
        .expect("acme");
    scimd::service::users::import_users(service, &acme, 20_000, |i| {
        let m = format!("preloaded{i}@bench.example.com");
        serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "externalId": format!("pre-{i}"), "userName": m, "active": true, "displayName": format!("Pre {i}"),
            "name": {"givenName": "Pre", "familyName": format!("L{i}")},
            "emails": [{"primary": true, "type": "work", "value": m}]
        })
    })
    .await
    .expect("preload users");
    let globex = app.add_tenant("globex");
    let globex_url = app.tenant_url("globex");
    let r = app
        .send(
            "POST",
            &format!("{globex_url}/Users"),
            Some(&globex),
            Some(&crate::helpers::user_body(
                "bob@globex.example",
                "bob@globex.example",
            )),
        )
        .await;
    r.expect(201);

    let filter = unindexed_filter(490);
    assert!(filter.len() > 11_000, "{}", filter.len());
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": filter, "count": 10});
    let sorted = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "sortBy": "nickName", "count": 10});
    let attacking = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let url = format!("{}/Users/.search", app.tenant_url("acme"));
    let attackers: Vec<_> = (0..8)
        .map(|n| {
            let body = if n % 4 == 3 { &sorted } else { &search };
            attack(&app, "POST", &url, body.to_string(), &attacking)
        })
        .collect();
    // Let the attack fill the server before measuring.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let health_url = format!("{}/healthz", app.base);
    let mut health = probe_while(Duration::from_secs(4), || async {
        app.send("GET", &health_url, None, None)
            .await
            .status
            .as_u16()
    })
    .await;
    let match_url = format!("{globex_url}/Users?filter=userName%20eq%20%22bob%40globex.example%22");
    let mut other = probe_while(Duration::from_secs(4), || async {
        let r: Reply = app.send("GET", &match_url, Some(&globex), None).await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.body);
        r.status.as_u16()
    })
    .await;
    let list_url = format!("{globex_url}/Users?count=5");
    let mut other_list = probe_while(Duration::from_secs(2), || async {
        app.send("GET", &list_url, Some(&globex), None)
            .await
            .status
            .as_u16()
    })
    .await;
    attacking.store(false, std::sync::atomic::Ordering::Relaxed);
    let outcomes = outcomes_of(attackers, "narrow it with", |body| {
        assert!(body["totalResults"].is_number(), "{body}")
    })
    .await;
    let (h50, h99) = (percentile(&mut health, 50.0), percentile(&mut health, 99.0));
    let (o50, o99) = (percentile(&mut other, 50.0), percentile(&mut other, 99.0));
    let (l50, l99) = (
        percentile(&mut other_list, 50.0),
        percentile(&mut other_list, 99.0),
    );
    eprintln!(
        "under the worst filters: /healthz p50 {h50:.1} ms p99 {h99:.1} ms ({} requests); other tenant's match p50 {o50:.1} p99 {o99:.1} ms ({}); list p50 {l50:.1} p99 {l99:.1} ms; attacker outcomes {outcomes:?}",
        health.len(),
        other.len()
    );
    assert!(
        h99 < 50.0,
        "/healthz p99 {h99:.1} ms under one tenant's worst filters"
    );
    assert!(
        o99 < 50.0,
        "another tenant's match p99 {o99:.1} ms under one tenant's worst filters"
    );
    assert!(
        l99 < 50.0,
        "another tenant's list p99 {l99:.1} ms under one tenant's worst filters"
    );
}

/// One tenant sends four of the costliest PATCHes it can at once (1,000 operations of 41-term
/// value filters over a user's 1,000 emails, 950 KB each), over and over; `/healthz` and another tenant's
/// requests keep p99 < 50 ms, and the attacker gets 400 `tooMany` or 503 with `Retry-After`,
/// each with a detail.
async fn costliest_patches_do_not_stall_others(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limit_tenant = 0;
        s.rate_limit_address = 0;
    })
    .await;
    let r = app
        .scim(
            "POST",
            "/Users",
            Some(user_with_emails("many@acme.example", 1000)),
        )
        .await
        .expect(201);
    let target = format!(
        "{}/Users/{}",
        app.tenant_url("acme"),
        r.body["id"].as_str().expect("id")
    );
    let globex = app.add_tenant("globex");
    let globex_url = app.tenant_url("globex");
    app.send(
        "POST",
        &format!("{globex_url}/Users"),
        Some(&globex),
        Some(&crate::helpers::user_body(
            "bob@globex.example",
            "bob@globex.example",
        )),
    )
    .await
    .expect(201);

    let body = costliest_patch(false).to_string();
    let attacking = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let attackers: Vec<_> = (0..4)
        .map(|_| attack(&app, "PATCH", &target, body.clone(), &attacking))
        .collect();
    // Let the attack fill the server before measuring.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let health_url = format!("{}/healthz", app.base);
    let mut health = probe_while(Duration::from_secs(4), || async {
        app.send("GET", &health_url, None, None)
            .await
            .status
            .as_u16()
    })
    .await;
    let match_url = format!("{globex_url}/Users?filter=userName%20eq%20%22bob%40globex.example%22");
    let mut other = probe_while(Duration::from_secs(4), || async {
        let r: Reply = app.send("GET", &match_url, Some(&globex), None).await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.body);
        r.status.as_u16()
    })
    .await;
    attacking.store(false, std::sync::atomic::Ordering::Relaxed);
    let outcomes = outcomes_of(
        attackers,
        "fewer operations or simpler value filters",
        |body| panic!("the attacker got 200: {body}"),
    )
    .await;
    let (h50, h99) = (percentile(&mut health, 50.0), percentile(&mut health, 99.0));
    let (o50, o99) = (percentile(&mut other, 50.0), percentile(&mut other, 99.0));
    eprintln!(
        "under the costliest PATCHes: /healthz p50 {h50:.1} ms p99 {h99:.1} ms ({} requests); other tenant's match p50 {o50:.1} p99 {o99:.1} ms ({}); attacker outcomes {outcomes:?}",
        health.len(),
        other.len()
    );
    assert!(
        outcomes.get(&400).is_some_and(|&n| n > 0),
        "the costliest PATCH is refused: {outcomes:?}"
    );
    assert!(
        h99 < 50.0,
        "/healthz p99 {h99:.1} ms under one tenant's costliest PATCHes"
    );
    assert!(
        o99 < 50.0,
        "another tenant's match p99 {o99:.1} ms under one tenant's costliest PATCHes"
    );
}

/// A GET of the events API with HTTP Basic credentials, as if from `address` behind the
/// proxy at 127.0.0.1: (status, Retry-After).
async fn events_as(
    client: &awc::Client,
    base: &str,
    user: &str,
    password: &str,
    address: &str,
) -> (u16, Option<String>) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut resp = client
        .get(format!("{base}/api/tenants/acme/events"))
        .insert_header(("Authorization", format!("Basic {basic}")))
        .insert_header(("X-Forwarded-For", address))
        .send()
        .await
        .expect("events request");
    let _ = resp.body().await;
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (resp.status().as_u16(), retry)
}

fn behind_proxy(s: &mut scimd::config::Settings) {
    s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
}

/// 100 concurrent wrong passwords from one address: at most five are checked (the rest 429
/// with Retry-After), on this instance and on another one on the same database; the admin's
/// right password from that address waits, from a clean address it works at once; without
/// `--trusted-proxy` a forged `X-Forwarded-For` changes nothing.
async fn password_guessing_is_throttled_without_lockout(backend: Backend) {
    let app = TestApp::spawn_with(backend, behind_proxy).await;
    app.create_admin(Some("acme"), "alice", "correct horse battery");
    let mut guesses = Vec::new();
    for i in 0..100 {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let base = app.base.clone();
        guesses.push(actix_web::rt::spawn(async move {
            events_as(
                &client,
                &base,
                "alice",
                &format!("guess {i}"),
                "203.0.113.7",
            )
            .await
        }));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for g in guesses {
        let (status, retry) = g.await.expect("guess");
        *statuses.entry(status).or_insert(0) += 1;
        if status == 429 {
            assert!(retry.is_some_and(|r| r.parse::<u64>().is_ok_and(|n| n >= 1)));
        }
    }
    eprintln!("100 concurrent wrong passwords: {statuses:?}");
    let checked = statuses.get(&401).copied().unwrap_or(0);
    assert!(
        (1..=5).contains(&checked),
        "{checked} wrong passwords were checked: {statuses:?}"
    );
    assert_eq!(
        checked + statuses.get(&429).copied().unwrap_or(0),
        100,
        "{statuses:?}"
    );
    let client = &app.client;
    let (status, _) = events_as(
        client,
        &app.base,
        "alice",
        "correct horse battery",
        "203.0.113.7",
    )
    .await;
    assert_eq!(
        status, 429,
        "the guessing address waits, even with the right password"
    );
    let (status, _) = events_as(
        client,
        &app.base,
        "alice",
        "correct horse battery",
        "198.51.100.20",
    )
    .await;
    assert_eq!(
        status, 200,
        "the admin from a clean address is not locked out"
    );
    // A second instance on the same database sees the same counters.
    let sibling = app.spawn_sibling(behind_proxy).await;
    let (status, _) = events_as(client, &sibling, "alice", "another guess", "203.0.113.7").await;
    assert_eq!(status, 429, "the throttle holds on every instance");
    // The login form goes through the same throttle.
    let form_status =
        login_form_status(&app.base, "alice", "correct horse battery", "203.0.113.7").await;
    assert_eq!(form_status, 429);
    let form_status =
        login_form_status(&app.base, "alice", "correct horse battery", "198.51.100.21").await;
    assert_eq!(form_status, 303);

    // Without --trusted-proxy, X-Forwarded-For is the client's own claim: ignored.
    let direct = app.spawn_sibling(|_| {}).await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(
            events_as(client, &direct, "bob", "guess", &format!("192.0.2.{i}"))
                .await
                .0,
        );
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        3,
        "{statuses:?}"
    );
}

/// POST the login form (after GETting it for its CSRF pair) as if from `address`.
async fn login_form_status(base: &str, user: &str, password: &str, address: &str) -> u16 {
    let mut browser = CookieClient::new(base).with_header("X-Forwarded-For", address);
    browser.login(user, password).await.status
}

/// SCIM writes (Entra's PATCH) timed one after another: latencies.
async fn timed_patches(app: &TestApp, id: &str, n: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let body = crate::helpers::patch(
            json!([{"op": "Replace", "path": "displayName", "value": format!("Name {i}")}]),
        );
        let started = Instant::now();
        app.scim("PATCH", &format!("/Users/{id}"), Some(body))
            .await
            .expect(200);
        samples.push(started.elapsed());
    }
    samples
}

/// A flood of wrong logins, each a new username from a new address (so each is a real
/// argon2 check): every check runs on the password pool's threads (the only code that can
/// run argon2's verify), SCIM writes keep succeeding, and the flood gets 401 or 503. The
/// latency figures are printed, not asserted: how much the flood costs a PATCH is a
/// measurement for the bench, not a bound for a test on a shared machine.
async fn login_flood_is_checked_off_the_request_threads(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        behind_proxy(s);
        s.rate_limit_address = 0;
        s.rate_limit_tenant = 0;
    })
    .await;
    let id = app
        .create_user("writer@acme.example", "writer@acme.example")
        .await;
    timed_patches(&app, &id, 50).await;
    let checks_before = app.state.service.passwords.checks_done();
    // Quiet and flooded rounds alternate, so that the machine's own hiccups fall on both.
    let (mut quiet, mut flooded) = (Vec::new(), Vec::new());
    let mut outcomes = std::collections::BTreeMap::new();
    for round in 0..3 {
        quiet.extend(timed_patches(&app, &id, 400).await);
        let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let mut flooders = Vec::new();
        for f in 0..16 {
            let client = awc::Client::builder()
                .timeout(Duration::from_secs(60))
                .finish();
            let base = app.base.clone();
            let flooding = flooding.clone();
            flooders.push(actix_web::rt::spawn(async move {
                let mut statuses = std::collections::BTreeMap::new();
                let mut i = 0;
                while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                    let address = format!("10.{}.{}.{}", round * 16 + f, i / 250, i % 250 + 1);
                    let user = format!("nobody{round}-{f}-{i}");
                    let (status, _) = events_as(&client, &base, &user, "guess", &address).await;
                    *statuses.entry(status).or_insert(0usize) += 1;
                    i += 1;
                }
                statuses
            }));
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        flooded.extend(timed_patches(&app, &id, 400).await);
        flooding.store(false, std::sync::atomic::Ordering::Relaxed);
        for f in flooders {
            for (status, n) in f.await.expect("flooder") {
                *outcomes.entry(status).or_insert(0) += n;
            }
        }
    }
    let (q50, q99) = (percentile(&mut quiet, 50.0), percentile(&mut quiet, 99.0));
    let (f50, f99) = (
        percentile(&mut flooded, 50.0),
        percentile(&mut flooded, 99.0),
    );
    eprintln!("SCIM PATCH p50/p99: quiet {q50:.2}/{q99:.2} ms, under a login flood {f50:.2}/{f99:.2} ms; flood outcomes {outcomes:?}");
    assert!(
        outcomes.get(&401).copied().unwrap_or(0) > 0,
        "the flood's passwords were checked: {outcomes:?}"
    );
    assert!(
        outcomes.keys().all(|s| [401, 503].contains(s)),
        "{outcomes:?}"
    );
    // Every refused guess was a real check, and each ran on the pool (a 503 was refused
    // before any check, its queue being full).
    let checked = app.state.service.passwords.checks_done() - checks_before;
    let refused = outcomes.get(&401).copied().unwrap_or(0) as u64;
    assert!(
        checked >= refused,
        "{refused} wrong passwords answered 401, {checked} checks ran on the password pool"
    );
}

/// Behind the proxy every client is 127.0.0.1: a flood of bad tokens gets 429 while Entra's
/// valid requests from the same address keep getting 200 (only failures count per address).
async fn bad_tokens_do_not_spend_entras_budget(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.rate_limit_address = 20).await;
    let url = format!("{}/Users?count=1", app.tenant_url("acme"));
    let mut bad = std::collections::BTreeMap::new();
    let mut good = std::collections::BTreeMap::new();
    for i in 0..200 {
        let r = app
            .send("GET", &url, Some(&format!("forged-{i}")), None)
            .await;
        *bad.entry(r.status.as_u16()).or_insert(0) += 1;
        if r.status.as_u16() == 429 {
            assert!(
                r.body["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("failed authentications"),
                "{}",
                r.body
            );
        }
        if i % 4 == 0 {
            let r = app.send("GET", &url, Some(&app.token), None).await;
            *good.entry(r.status.as_u16()).or_insert(0) += 1;
        }
    }
    eprintln!("bad tokens: {bad:?}; valid requests meanwhile: {good:?}");
    assert!(
        bad.get(&429).copied().unwrap_or(0) > 100,
        "the flood is throttled: {bad:?}"
    );
    assert_eq!(
        good.get(&200).copied(),
        Some(50),
        "valid requests are never throttled by it: {good:?}"
    );
    // Retry-After says what the detail says.
    let mut resp = app
        .client
        .get(&url)
        .insert_header(("Authorization", "Bearer forged"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 429);
    let secs = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("Retry-After");
    let body: Value = serde_json::from_slice(&resp.body().await.expect("body")).expect("json");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("retry after {secs} s")),
        "Retry-After {secs} vs {detail:?}"
    );
}

/// Junk slugs and bad tokens add no `tenant` series to /metrics; /metrics needs its token
/// (a loopback peer is not enough), or is served on --metrics-bind.
async fn metrics_stay_bounded_and_private(backend: Backend) {
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limit_address = 0;
        s.metrics_token = Some("metrics-secret".into());
        s.metrics_bind = Some(std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port)));
    })
    .await;
    for i in 0..300 {
        let url = format!("{}/Users", app.tenant_url(&format!("junk{i}")));
        app.send("GET", &url, Some("nope"), None).await.expect(401);
    }
    app.send(
        "GET",
        &format!("{}/Users", app.tenant_url("acme")),
        Some("nope"),
        None,
    )
    .await
    .expect(401);
    app.scim("GET", "/Users?count=1", None).await.expect(200);
    let metrics = |url: String, token: Option<&'static str>| {
        let client = app.client.clone();
        async move {
            let mut req = client.get(url);
            if let Some(t) = token {
                req = req.insert_header(("Authorization", format!("Bearer {t}")));
            }
            let mut resp = req.send().await.expect("metrics");
            let text = String::from_utf8_lossy(&resp.body().limit(1 << 24).await.expect("body"))
                .to_string();
            (resp.status().as_u16(), text)
        }
    };
    let (status, _) = metrics(format!("{}/metrics", app.base), None).await;
    assert_eq!(
        status, 404,
        "a loopback peer without the token gets nothing"
    );
    let (status, _) = metrics(format!("{}/metrics", app.base), Some("wrong")).await;
    assert_eq!(status, 404);
    let (status, text) = metrics(format!("{}/metrics", app.base), Some("metrics-secret")).await;
    assert_eq!(status, 200);
    let (status, on_own_address) =
        metrics(format!("http://127.0.0.1:{metrics_port}/metrics"), None).await;
    assert_eq!(status, 200, "the metrics address needs no token");
    for text in [&text, &on_own_address] {
        assert!(!text.contains("junk"), "junk slugs became series");
        let tenants: std::collections::BTreeSet<&str> = text
            .lines()
            .filter_map(|l| l.split("tenant=\"").nth(1))
            .filter_map(|r| r.split('"').next())
            .collect();
        assert_eq!(
            tenants.into_iter().collect::<Vec<_>>(),
            vec!["acme"],
            "only the authenticated tenant is labelled"
        );
        assert!(
            text.contains("outcome=\"ok\",resource=\"Users\",tenant=\"acme\""),
            "{text}"
        );
        assert!(
            !text.contains("outcome=\"rejected\",resource=\"Users\",tenant=\"acme\""),
            "a 401 is not the tenant's: {text}"
        );
    }
}

crate::helpers::backend_tests!(
    bad_tokens_do_not_spend_entras_budget,
    metrics_stay_bounded_and_private,
);

// These time requests: each runs alone, so that nothing else is in their figures.
crate::helpers::backend_tests!(
    alone: worst_filters_do_not_stall_others,
    costliest_patches_do_not_stall_others,
    password_guessing_is_throttled_without_lockout,
    login_flood_is_checked_off_the_request_threads,
);
