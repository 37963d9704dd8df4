//! `--oauth SECONDS`: what an OAuth access token costs against a Secret Token, and how fast
//! the token endpoint answers. The same SCIM read (Entra's matching query) runs with each
//! credential in turn, three rounds each, alternated so that the shared machine's noise falls
//! on both; then clients ask the token endpoint for tokens (client credentials, HTTP Basic).
//! Prints requests/s, p50, p99 and the server's CPU time per request, and the medians.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::json;

use crate::client;
use crate::measure::{cpu_micros, percentile};
use crate::phases::Target;
use crate::BenchOptions;

/// One timed run: requests/s, p50 and p99 (ms), server CPU µs per request, failures.
struct Figures {
    per_second: f64,
    p50: f64,
    p99: f64,
    cpu_per_request: f64,
    failed: usize,
}

impl Figures {
    fn print(&self, what: &str) {
        println!(
            "{what:<34} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  cpu {:>6.1} µs/req  failed {}",
            self.per_second, self.p50, self.p99, self.cpu_per_request, self.failed
        );
    }
}

/// Run `concurrency` connections for `duration`, each sending what `request` makes; a 200 is
/// a success.
fn timed<F, Fut>(
    opts: &BenchOptions,
    target: &Arc<Target>,
    duration: Duration,
    request: F,
) -> Figures
where
    F: Fn(client::Connection) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = (client::Connection, u16)> + 'static,
{
    let pid = target.server_pid.to_string();
    let cpu_before = cpu_micros(&pid).unwrap_or(0);
    let addr = target.addr.clone();
    let concurrency = opts.concurrency.max(1);
    let started = Instant::now();
    let (mut latencies, failed) = actix_web::rt::System::new().block_on(async move {
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (addr, request) = (addr.clone(), request.clone());
            tasks.push(actix_web::rt::spawn(async move {
                let mut conn = client::Connection::new(&addr);
                let (mut lat, mut failed) = (Vec::new(), 0usize);
                while started.elapsed() < duration {
                    let t0 = Instant::now();
                    let (back, status) = request(conn).await;
                    conn = back;
                    lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                    if status != 200 {
                        failed += 1;
                    }
                }
                (lat, failed)
            }));
        }
        let (mut all, mut failed) = (Vec::new(), 0);
        for task in tasks {
            if let Ok((lat, f)) = task.await {
                all.extend(lat);
                failed += f;
            }
        }
        (all, failed)
    });
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_micros(&pid).unwrap_or(0).saturating_sub(cpu_before);
    latencies.sort_unstable();
    let n = latencies.len().max(1);
    Figures {
        per_second: latencies.len() as f64 / elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        cpu_per_request: cpu as f64 / n as f64,
        failed,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The comparison and the token endpoint's rate, for `seconds` in all.
pub(crate) fn compare(
    opts: &BenchOptions,
    target: &Arc<Target>,
    client_id: &str,
    client_secret: &str,
    seconds: u64,
) -> Result<(), String> {
    let (slug, secret_token) = target
        .tenants
        .first()
        .cloned()
        .ok_or("--oauth needs a tenant")?;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{client_secret}"));
    let addr = target.addr.clone();
    // A user to match, and an access token.
    let (access_token, user_name) = actix_web::rt::System::new().block_on({
        let (slug, secret_token, basic) = (slug.clone(), secret_token.clone(), basic.clone());
        async move {
            let mut conn = client::Connection::new(&addr);
            let user_name = "matched@bench.example.com";
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name, "active": true,
                "emails": [{"primary": true, "type": "work", "value": user_name}]
            });
            let created = conn
                .send(
                    "POST",
                    &format!("/scim/v2/tenants/{slug}/Users"),
                    &secret_token,
                    Some(body.to_string().as_bytes()),
                )
                .await
                .map_err(|e| e.to_string())?;
            if created.status != 201 {
                return Err(format!(
                    "creating the matched user answered {}",
                    created.status
                ));
            }
            let answer = conn
                .post_form("/oauth/token", &basic, b"grant_type=client_credentials")
                .await
                .map_err(|e| e.to_string())?;
            let v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
            let token = v
                .get("access_token")
                .and_then(|t| t.as_str())
                .ok_or_else(|| format!("the token endpoint answered {}: {v}", answer.status))?;
            Ok::<_, String>((token.to_string(), user_name.to_string()))
        }
    })?;
    let path = Arc::new(format!(
        "/scim/v2/tenants/{slug}/Users?filter=userName%20eq%20%22{user_name}%22"
    ));
    let slice = Duration::from_secs_f64((seconds as f64 * 0.8 / 6.0).max(1.0));
    println!(
        "scimd bench --oauth: GET {path} with each credential, 3 rounds of {:.1} s each, concurrency {}",
        slice.as_secs_f64(),
        opts.concurrency
    );
    // Per credential: its name, token, and each round's req/s, p50 and CPU per request.
    type Rounds = (&'static str, String, Vec<f64>, Vec<f64>, Vec<f64>);
    let mut runs: [Rounds; 2] = [
        (
            "Secret Token",
            secret_token,
            Vec::new(),
            Vec::new(),
            Vec::new(),
        ),
        (
            "OAuth access token",
            access_token,
            Vec::new(),
            Vec::new(),
            Vec::new(),
        ),
    ];
    for round in 1..=3 {
        for (name, token, rates, p50s, cpus) in runs.iter_mut() {
            let (path, token) = (Arc::clone(&path), Arc::new(token.clone()));
            let figures = timed(opts, target, slice, move |mut conn| {
                let (path, token) = (Arc::clone(&path), Arc::clone(&token));
                async move {
                    let status = conn
                        .send("GET", &path, &token, None)
                        .await
                        .map_or(0, |r| r.status);
                    (conn, status)
                }
            });
            figures.print(&format!("round {round}: {name}"));
            rates.push(figures.per_second);
            p50s.push(figures.p50);
            cpus.push(figures.cpu_per_request);
        }
    }
    let [secret, oauth] = runs;
    let (rates, p50s, cpus) = (
        [secret.2, oauth.2],
        [secret.3, oauth.3],
        [secret.4, oauth.4],
    );
    let [secret_rate, oauth_rate] = rates.map(median);
    let [secret_p50, oauth_p50] = p50s.map(median);
    let [secret_cpu, oauth_cpu] = cpus.map(median);
    println!(
        "medians: Secret Token {secret_rate:.0} req/s, p50 {secret_p50:.2} ms, {secret_cpu:.1} µs CPU/req · OAuth access token {oauth_rate:.0} req/s, p50 {oauth_p50:.2} ms, {oauth_cpu:.1} µs CPU/req · ratio (OAuth/Secret) {:.3} req/s, {:.3} CPU",
        oauth_rate / secret_rate.max(1.0),
        oauth_cpu / secret_cpu.max(1.0)
    );
    let basic = Arc::new(basic);
    let endpoint = timed(
        opts,
        target,
        Duration::from_secs_f64((seconds as f64 * 0.2).max(1.0)),
        move |mut conn| {
            let basic = Arc::clone(&basic);
            async move {
                let status = conn
                    .post_form("/oauth/token", &basic, b"grant_type=client_credentials")
                    .await
                    .map_or(0, |r| r.status);
                (conn, status)
            }
        },
    );
    endpoint.print("token endpoint (client_credentials)");
    Ok(())
}
