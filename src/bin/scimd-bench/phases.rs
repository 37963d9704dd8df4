//! The phases of the run: the operations of an Entra cycle, each replayed over HTTP
//! keep-alive from many clients, and the table row each prints.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client;
use crate::measure::{cpu_micros, database_cpu_micros, percentile};
use crate::BenchOptions;

/// One operation's latencies (µs) and errors.
#[derive(Default)]
struct OpStats {
    latencies: Mutex<Vec<u32>>,
    errors: AtomicU64,
}

/// The server under test: its address, its tenants (slug and token) and its process.
pub(crate) struct Target {
    /// `127.0.0.1:port`.
    pub(crate) addr: String,
    pub(crate) tenants: Vec<(String, String)>,
    pub(crate) server_pid: u32,
}

fn mail(tenant: usize, i: usize) -> String {
    format!("user{i}.t{tenant}@bench.example.com")
}

/// The operations, in the order an Entra cycle sends them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Health,
    Match,
    Create,
    MatchExisting,
    Get,
    Patch,
    Deactivate,
    GroupAdd,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Health => "GET /healthz (client check)",
            Op::Match => "match (GET filter mail)",
            Op::Create => "create (POST /Users)",
            Op::MatchExisting => "match existing (filter)",
            Op::Get => "GET /Users/{id}",
            Op::Patch => "PATCH (Entra dialect)",
            Op::Deactivate => "deactivate (PATCH active)",
            Op::GroupAdd => "group member add (PATCH)",
        }
    }
}

/// Run every phase against `target`, printing a row per operation.
pub(crate) fn phases(opts: &BenchOptions, target: &Arc<Target>) -> Result<(), String> {
    let n_tenants = target.tenants.len();
    let total = opts.users * n_tenants;
    let ids: Arc<Vec<Mutex<String>>> =
        Arc::new((0..total).map(|_| Mutex::new(String::new())).collect());
    let groups: Arc<Mutex<Vec<Vec<String>>>> = Arc::new(Mutex::new(vec![Vec::new(); n_tenants]));
    println!(
        "{:<28} {:>9} {:>11} {:>9} {:>9} {:>7} {:>12} {:>12} {:>9}",
        "operation",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "server µs/r",
        "client µs/r",
        "db µs/r"
    );
    // The client's own ceiling: the cheapest request there is, so the figures below are the
    // server's, not the bench's.
    run_phase(
        opts,
        target,
        1,
        &[Op::Health],
        30_000.max(opts.users),
        |_, _| Some((0, "GET", "/healthz".to_string(), None, None)),
    )?;
    // Groups first (not timed): the membership phase needs them.
    run_phase(opts, target, 1, &[], n_tenants * opts.groups.max(1), {
        let groups = Arc::clone(&groups);
        let per = opts.groups.max(1);
        move |_, k| {
            let tenant = k / per;
            Some((
                tenant,
                "POST",
                "/Groups".to_string(),
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("group {k}")}),
                ),
                Some(Box::new({
                    let groups = Arc::clone(&groups);
                    move |v: &Value| {
                        if let Some(id) = v["id"].as_str() {
                            if let Some(list) = groups
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_mut(tenant)
                            {
                                list.push(id.to_string());
                            }
                        }
                    }
                }) as Box<dyn Fn(&Value) + Send>),
            ))
        }
    })?;
    let users = opts.users;
    // Match then create, per user, as Entra's initial cycle does.
    run_phase(opts, target, 2, &[Op::Match, Op::Create], total, {
        let ids = Arc::clone(&ids);
        move |step, k| {
            let (tenant, i) = (k / users, k % users);
            let m = mail(tenant, i);
            if step == 0 {
                let filter = format!("emails[type eq \"work\"].value eq \"{m}\"");
                let q =
                    serde_urlencoded::to_string([("filter", filter.as_str())]).unwrap_or_default();
                return Some((tenant, "GET", format!("/Users?{q}"), None, None));
            }
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                "externalId": format!("obj-{tenant}-{i}"), "userName": m, "active": true, "displayName": format!("User {i}"),
                "name": {"givenName": "User", "familyName": format!("N{i}"), "formatted": format!("User N{i}")},
                "emails": [{"primary": true, "type": "work", "value": m}], "title": "Engineer",
                "addresses": [{"type": "work", "country": "US"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "employeeNumber": i.to_string()}
            });
            let ids = Arc::clone(&ids);
            Some((
                tenant,
                "POST",
                "/Users".to_string(),
                Some(body),
                Some(Box::new(move |v: &Value| {
                    if let (Some(id), Some(slot)) = (v["id"].as_str(), ids.get(k)) {
                        *slot.lock().unwrap_or_else(|p| p.into_inner()) = id.to_string();
                    }
                }) as Box<dyn Fn(&Value) + Send>),
            ))
        }
    })?;
    let id_of = {
        let ids = Arc::clone(&ids);
        move |k: usize| {
            ids.get(k)
                .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
                .unwrap_or_default()
        }
    };
    // An incremental cycle matches users that exist.
    run_phase(opts, target, 1, &[Op::MatchExisting], total, move |_, k| {
        let (tenant, i) = (k / users, k % users);
        let filter = format!("emails[type eq \"work\"].value eq \"{}\"", mail(tenant, i));
        let q = serde_urlencoded::to_string([("filter", filter.as_str())]).unwrap_or_default();
        Some((tenant, "GET", format!("/Users?{q}"), None, None))
    })?;
    run_phase(opts, target, 1, &[Op::Get], total, {
        let id_of = id_of.clone();
        move |_, k| Some((k / users, "GET", format!("/Users/{}", id_of(k)), None, None))
    })?;
    run_phase(opts, target, 1, &[Op::Patch], total, {
        let id_of = id_of.clone();
        move |_, k| {
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "Replace", "path": "name.familyName", "value": format!("M{k}")},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
                {"op": "replace", "value": {"displayName": format!("User M{k}"), "title": "Manager"}}
            ]});
            Some((
                k / users,
                "PATCH",
                format!("/Users/{}", id_of(k)),
                Some(body),
                None,
            ))
        }
    })?;
    run_phase(opts, target, 1, &[Op::GroupAdd], total, {
        let id_of = id_of.clone();
        let groups = Arc::clone(&groups);
        move |_, k| {
            let tenant = k / users;
            let group = {
                let g = groups.lock().unwrap_or_else(|p| p.into_inner());
                let list = g.get(tenant)?;
                list.get(k % list.len().max(1))?.clone()
            };
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": id_of(k)}]}
            ]});
            Some((
                tenant,
                "PATCH",
                format!("/Groups/{group}"),
                Some(body),
                None,
            ))
        }
    })?;
    run_phase(opts, target, 1, &[Op::Deactivate], total, {
        let id_of = id_of.clone();
        move |_, k| {
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "Replace", "path": "active", "value": "False"}
            ]});
            Some((
                k / users,
                "PATCH",
                format!("/Users/{}", id_of(k)),
                Some(body),
                None,
            ))
        }
    })?;
    Ok(())
}

type OnOk = Box<dyn Fn(&Value) + Send>;
type Request = (usize, &'static str, String, Option<Value>, Option<OnOk>);

/// Run `items × steps` requests with `concurrency` workers over `client_threads` threads.
/// `make(step, item)` builds each request; the steps of one item run in order.
fn run_phase<F>(
    opts: &BenchOptions,
    target: &Arc<Target>,
    steps: usize,
    ops: &[Op],
    items: usize,
    make: F,
) -> Result<(), String>
where
    F: Fn(usize, usize) -> Option<Request> + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let stats: Arc<Vec<OpStats>> = Arc::new((0..steps).map(|_| OpStats::default()).collect());
    let threads = opts.client_threads.max(1);
    let per_thread = opts.concurrency.max(1).div_ceil(threads);
    let server_pid = target.server_pid.to_string();
    let cpu_before = (
        cpu_micros(&server_pid),
        cpu_micros("self"),
        database_cpu_micros(&opts.backend, &server_pid),
    );
    let started = Instant::now();
    // The client check runs unpaced: it measures the bench's own ceiling.
    let rate = if ops.contains(&Op::Health) {
        0
    } else {
        opts.rate
    };
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (make, next, stats, target) = (
                Arc::clone(&make),
                Arc::clone(&next),
                Arc::clone(&stats),
                Arc::clone(target),
            );
            std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let mut workers = Vec::new();
                    for _ in 0..per_thread {
                        let (make, next, stats, target) = (
                            Arc::clone(&make),
                            Arc::clone(&next),
                            Arc::clone(&stats),
                            Arc::clone(&target),
                        );
                        workers.push(actix_web::rt::spawn(async move {
                            let mut local: Vec<Vec<u32>> = vec![Vec::new(); stats.len()];
                            let mut conn = client::Connection::new(&target.addr);
                            loop {
                                let k = next.fetch_add(1, Ordering::Relaxed);
                                if k >= items {
                                    break;
                                }
                                if rate > 0 {
                                    // Item k starts no sooner than k/rate after the phase.
                                    let due =
                                        started + Duration::from_secs_f64(k as f64 / rate as f64);
                                    actix_web::rt::time::sleep_until(due.into()).await;
                                }
                                for step in 0..stats.len() {
                                    let Some((tenant, method, path, body, on_ok)) = make(step, k)
                                    else {
                                        continue;
                                    };
                                    let Some((slug, token)) = target.tenants.get(tenant) else {
                                        continue;
                                    };
                                    let path = if path.starts_with("/healthz") {
                                        path
                                    } else {
                                        format!("/scim/v2/tenants/{slug}{path}")
                                    };
                                    let body = body.map(|b| b.to_string());
                                    let t0 = Instant::now();
                                    let sent = conn
                                        .send(
                                            method,
                                            &path,
                                            token,
                                            body.as_deref().map(str::as_bytes),
                                        )
                                        .await;
                                    let us =
                                        u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
                                    let ok = match sent {
                                        Ok(resp) if (200..300).contains(&resp.status) => {
                                            if let Some(f) = &on_ok {
                                                if let Ok(v) =
                                                    serde_json::from_slice::<Value>(&resp.body)
                                                {
                                                    f(&v);
                                                }
                                            }
                                            true
                                        }
                                        _ => false,
                                    };
                                    if let Some(l) = local.get_mut(step) {
                                        l.push(us);
                                    }
                                    if let (false, Some(s)) = (ok, stats.get(step)) {
                                        s.errors.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                            }
                            for (lat, s) in local.into_iter().zip(stats.iter()) {
                                s.latencies
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .extend(lat);
                            }
                        }));
                    }
                    for w in workers {
                        let _ = w.await;
                    }
                })
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "client thread panicked".to_string())?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = (
        cpu_micros(&server_pid),
        cpu_micros("self"),
        database_cpu_micros(&opts.backend, &server_pid),
    );
    let requests: usize = stats
        .iter()
        .map(|s| s.latencies.lock().unwrap_or_else(|p| p.into_inner()).len())
        .sum();
    // CPU per request over the whole phase (its steps together): steadier than rates on a
    // shared machine, and it says who spent the time.
    let per_request = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(b), Some(a)) if requests > 0 => {
            format!("{:.0}", a.saturating_sub(b) as f64 / requests as f64)
        }
        _ => "-".to_string(),
    };
    let server_cpu = per_request(cpu_before.0, cpu_after.0);
    let client_cpu = per_request(cpu_before.1, cpu_after.1);
    let db_cpu = per_request(Some(cpu_before.2), Some(cpu_after.2));
    for (step, op) in ops.iter().enumerate() {
        let Some(s) = stats.get(step) else { continue };
        let mut lat = s
            .latencies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        lat.sort_unstable();
        // Steps of one phase share the wall time; each step's rate is its share of it.
        let share: f64 = lat.iter().map(|&x| f64::from(x)).sum::<f64>()
            / stats
                .iter()
                .map(|s| {
                    s.latencies
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .iter()
                        .map(|&x| f64::from(x))
                        .sum::<f64>()
                })
                .sum::<f64>()
                .max(1.0);
        let rate = lat.len() as f64 / (elapsed * share).max(1e-9);
        println!(
            "{:<28} {:>9} {:>11.0} {:>9.2} {:>9.2} {:>7} {:>12} {:>12} {:>9}",
            op.name(),
            lat.len(),
            rate,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            s.errors.load(Ordering::Relaxed),
            server_cpu,
            client_cpu,
            db_cpu
        );
    }
    Ok(())
}
