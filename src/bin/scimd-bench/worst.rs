//! `--worst-patch SECONDS`: one tenant sends the costliest PATCHes it can, several at once,
//! while `/healthz` and another tenant's reads are timed every 10 ms. Prints their p50, p99
//! and max, what the attacker got back, and the server's CPU time.
//!
//! The attack: a user with 1,000 emails (the most an attribute may hold), and PATCHes of
//! 1,000 operations (the most a request may hold) whose paths carry 41-term value filters
//! that match nothing (`remove emails[value eq "n000-00" or …]`), 952 KB each, inside the
//! body limit: every operation tests every email against every term.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client;
use crate::measure::{cpu_micros, percentile};
use crate::phases::Target;
use crate::BenchOptions;

/// Emails of the attacked user and operations per PATCH: the caps of a request.
const EMAILS: usize = 1000;
const OPERATIONS: usize = 1000;
/// Terms of each operation's filter: as many as fit 1,000 operations under 1 MiB.
const TERMS: usize = 41;

/// The attacker's answers: per status, how many and their latencies (µs).
type Outcomes = BTreeMap<u16, (usize, Vec<u32>)>;

/// The attacker's PATCH body.
fn worst_patch() -> String {
    let ops: Vec<Value> = (0..OPERATIONS)
        .map(|i| {
            let filter = (0..TERMS)
                .map(|t| format!("value eq \"n{i:03}-{t:02}\""))
                .collect::<Vec<_>>()
                .join(" or ");
            json!({"op": "remove", "path": format!("emails[{filter}]")})
        })
        .collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
        .to_string()
}

/// Create a user in a tenant; its id.
async fn create_user(
    conn: &mut client::Connection,
    slug: &str,
    token: &str,
    body: &Value,
) -> Result<String, String> {
    let resp = conn
        .send(
            "POST",
            &format!("/scim/v2/tenants/{slug}/Users"),
            token,
            Some(body.to_string().as_bytes()),
        )
        .await
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    match (resp.status, v.get("id").and_then(Value::as_str)) {
        (201, Some(id)) => Ok(id.to_string()),
        (status, _) => Err(format!("creating a user answered {status}: {v}")),
    }
}

/// Send one request every 10 ms until `stop`; the latencies (µs) and the non-200 answers.
async fn probe(
    addr: &str,
    path: &str,
    token: &str,
    stop: &AtomicBool,
) -> (Vec<u32>, BTreeMap<u16, usize>) {
    let mut conn = client::Connection::new(addr);
    let (mut lat, mut failed) = (Vec::new(), BTreeMap::new());
    while !stop.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        let status = conn
            .send("GET", path, token, None)
            .await
            .map_or(0, |r| r.status);
        lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
        if status != 200 {
            *failed.entry(status).or_insert(0) += 1;
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    (lat, failed)
}

/// Run the attack for `seconds` with `attackers` at once; prints the figures.
pub(crate) fn worst_patches(
    opts: &BenchOptions,
    target: &Arc<Target>,
    seconds: u64,
) -> Result<(), String> {
    let [(attacker_slug, attacker_token), (other_slug, other_token), ..] =
        target.tenants.as_slice()
    else {
        return Err("--worst-patch needs two tenants".into());
    };
    let addr = target.addr.clone();
    let attackers = opts.attackers.max(1);
    actix_web::rt::System::new().block_on(async move {
        let mut conn = client::Connection::new(&addr);
        let emails: Vec<Value> = (0..EMAILS)
            .map(|i| json!({"value": format!("e{i:04}@attacker.example"), "type": if i == 0 { "work" } else { "other" }}))
            .collect();
        let victim = create_user(
            &mut conn,
            attacker_slug,
            attacker_token,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "many@attacker.example", "emails": emails}),
        )
        .await?;
        let other = create_user(
            &mut conn,
            other_slug,
            other_token,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob@other.example", "emails": [{"value": "bob@other.example", "type": "work"}]}),
        )
        .await?;
        let body = Arc::new(worst_patch());
        println!(
            "worst PATCH: {OPERATIONS} operations × {TERMS}-term value filters over {EMAILS} emails, {} KB; {attackers} at once for {seconds} s",
            body.len() / 1000
        );
        let stop = Arc::new(AtomicBool::new(false));
        let outcomes: Arc<Mutex<Outcomes>> = Arc::default();
        let server_pid = target.server_pid.to_string();
        let cpu_before = cpu_micros(&server_pid);
        let mut tasks = Vec::new();
        for _ in 0..attackers {
            let (addr, body, stop, outcomes) = (
                addr.clone(),
                Arc::clone(&body),
                Arc::clone(&stop),
                Arc::clone(&outcomes),
            );
            let (path, token) = (
                format!("/scim/v2/tenants/{attacker_slug}/Users/{victim}"),
                attacker_token.clone(),
            );
            tasks.push(actix_web::rt::spawn(async move {
                let mut conn = client::Connection::new(&addr);
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    let status = conn
                        .send("PATCH", &path, &token, Some(body.as_bytes()))
                        .await
                        .map_or(0, |r| r.status);
                    let us = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
                    {
                        let mut seen = outcomes.lock().unwrap_or_else(|p| p.into_inner());
                        let entry = seen.entry(status).or_default();
                        entry.0 += 1;
                        entry.1.push(us);
                    }
                    if status == 503 {
                        // As a client honouring Retry-After would, but eager.
                        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }));
        }
        // Let the attack fill the server before measuring.
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        let health = actix_web::rt::spawn({
            let (addr, stop, token) = (addr.clone(), Arc::clone(&stop), other_token.clone());
            async move { probe(&addr, "/healthz", &token, &stop).await }
        });
        let read = actix_web::rt::spawn({
            let (addr, stop, token) = (addr.clone(), Arc::clone(&stop), other_token.clone());
            let path = format!("/scim/v2/tenants/{other_slug}/Users/{other}");
            async move { probe(&addr, &path, &token, &stop).await }
        });
        actix_web::rt::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let (mut health, health_failed) = health.await.map_err(|e| e.to_string())?;
        let (mut read, read_failed) = read.await.map_err(|e| e.to_string())?;
        for t in tasks {
            let _ = t.await;
        }
        let cpu = cpu_micros(&server_pid)
            .zip(cpu_before)
            .map_or(0, |(a, b)| a.saturating_sub(b));
        for (name, lat, failed) in [
            ("/healthz", &mut health, health_failed),
            ("other tenant GET /Users/{id}", &mut read, read_failed),
        ] {
            lat.sort_unstable();
            println!(
                "{name:<30} {:>6} requests · p50 {:>8.2} ms · p99 {:>8.2} ms · max {:>8.2} ms · not 200: {failed:?}",
                lat.len(),
                percentile(lat, 0.5),
                percentile(lat, 0.99),
                percentile(lat, 1.0),
            );
        }
        let seen = outcomes.lock().unwrap_or_else(|p| p.into_inner());
        for (status, (n, lat)) in seen.iter() {
            let mut lat = lat.clone();
            lat.sort_unstable();
            println!(
                "attacker PATCH answered {status}: {n} times · p50 {:.1} ms · max {:.1} ms",
                percentile(&lat, 0.5),
                percentile(&lat, 1.0)
            );
        }
        println!(
            "server CPU during the attack: {:.2} s",
            cpu as f64 / 1_000_000.0
        );
        Ok::<(), String>(())
    })
}
