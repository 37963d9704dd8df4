//! No tenant and no stranger can stall the others: the worst in-memory filters of one tenant,
//! floods of wrong passwords and of bad tokens, while `/healthz`, another tenant and Entra's
//! writes keep answering quickly. Each test prints the figures it measured.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, Reply, TestApp};
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
    let state = app.state.clone();
    actix_web::rt::task::spawn_blocking(move || scimd::bench::preload(&state, "acme", 20_000))
        .await
        .expect("preload")
        .expect("preload users");
    let globex = app.add_tenant("globex");
    let globex_url = app.tenant_url("globex");
    let r = app
        .send(
            "POST",
            &format!("{globex_url}/Users"),
            Some(&globex),
            Some(&common::user_body(
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
    let mut attackers = Vec::new();
    for n in 0..8 {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let url = format!("{}/Users/.search", app.tenant_url("acme"));
        let token = app.token.clone();
        let body = if n % 4 == 3 {
            sorted.clone()
        } else {
            search.clone()
        };
        let attacking = attacking.clone();
        attackers.push(actix_web::rt::spawn(async move {
            let mut seen: Vec<(u16, Value, Option<String>)> = Vec::new();
            while attacking.load(std::sync::atomic::Ordering::Relaxed) {
                let mut resp = client
                    .post(&url)
                    .insert_header(("Authorization", format!("Bearer {token}")))
                    .insert_header(("Content-Type", "application/scim+json"))
                    .send_body(body.to_string())
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
        }));
    }
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
    let mut outcomes = std::collections::BTreeMap::new();
    for a in attackers {
        for (status, body, retry) in a.await.expect("attacker") {
            *outcomes.entry(status).or_insert(0) += 1;
            match status {
                200 => assert!(body["totalResults"].is_number(), "{body}"),
                400 => {
                    assert_eq!(body["scimType"], "tooMany", "{body}");
                    assert!(
                        body["detail"]
                            .as_str()
                            .unwrap_or_default()
                            .contains("narrow it with"),
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

backend_tests!(worst_filters_do_not_stall_others);
