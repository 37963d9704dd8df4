//! `scimd bench`: an Entra-shaped load over HTTP keep-alive with many concurrent clients,
//! against a scimd it starts (SQLite or PostgreSQL) or one it is pointed at. Prints, per
//! operation, requests/s, p50, p99 and errors; and for the run, server RSS and database size.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod client;

use clap::Args;
use serde_json::{json, Value};

use crate::config::Settings;
use crate::service::tenants as svc;
use crate::service::Service;
use crate::store::scratch::ScratchSchema;

/// Options of `scimd bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchOptions {
    /// Users to provision per tenant.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Tenants provisioned at once (users are spread over them).
    #[arg(long, default_value_t = 1)]
    pub tenants: usize,
    /// Groups per tenant for the membership phase.
    #[arg(long, default_value_t = 10)]
    pub groups: usize,
    /// `sqlite` or `postgres` (the database of the server the bench starts).
    #[arg(long, default_value = "sqlite")]
    pub backend: String,
    /// PostgreSQL URL for `--backend postgres` (a fresh schema is made in it). TLS is off by
    /// default: on loopback it only adds encryption to both sides of every round trip.
    #[arg(
        long,
        env = "SCIMD_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
    )]
    pub postgres_url: String,
    /// Client threads (each runs its share of the connections).
    #[arg(long, default_value_t = 2)]
    pub client_threads: usize,
    /// Server worker threads for the started server.
    #[arg(long)]
    pub server_workers: Option<usize>,
    /// Users written straight to the database of the first tenant before the run, to
    /// measure how match and GET behave in a large tenant (e.g. 1000000).
    #[arg(long, default_value_t = 0)]
    pub preload: usize,
    /// Keep the database after the run (its URL is printed).
    #[arg(long)]
    pub keep: bool,
}

/// One operation's latencies (µs) and errors.
#[derive(Default)]
struct OpStats {
    latencies: Mutex<Vec<u32>>,
    errors: AtomicU64,
}

struct Target {
    /// `127.0.0.1:port`.
    addr: String,
    tenants: Vec<(String, String)>,
    server_pid: u32,
}

/// Whether `GET /readyz` on the port answers 200 (a request served, database reached).
fn readyz_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.1 200")
}

/// CPU time of every PostgreSQL server process on this machine, in µs (0 when none runs):
/// with PostgreSQL the database's own work is a third party beside server and client.
fn postgres_cpu_micros() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().to_string();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim() == "postgres")
                .then(|| cpu_micros(&pid))
                .flatten()
        })
        .sum()
}

/// CPU time of the server's SQLite writer and checkpointer threads, in µs: the part of a
/// write that runs one at a time, so it bounds SQLite's write rate (it is included in the
/// server's figure too).
fn sqlite_writer_cpu_micros(server_pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{server_pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| {
            let tid = t.file_name().to_string_lossy().to_string();
            let comm =
                std::fs::read_to_string(format!("/proc/{server_pid}/task/{tid}/comm")).ok()?;
            comm.starts_with("scimd-sqlite")
                .then(|| cpu_micros(&format!("{server_pid}/task/{tid}")))
                .flatten()
        })
        .sum()
}

/// The database's CPU time in µs: PostgreSQL's processes, or SQLite's serial threads.
fn database_cpu_micros(backend: &str, server_pid: &str) -> u64 {
    if backend == "postgres" {
        postgres_cpu_micros()
    } else {
        sqlite_writer_cpu_micros(server_pid)
    }
}

/// CPU time (user + system) a process has used, in µs, from `/proc/{pid}/stat`.
fn cpu_micros(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports USER_HZ (100) ticks per second.
    Some(ticks * 10_000)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted.get(idx.min(sorted.len() - 1)).copied().unwrap_or(0)) / 1000.0
}

/// A `/proc/{pid}/status` field in KiB (VmRSS, RssAnon, RssFile).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Run the benchmark; prints a table to stdout.
pub fn run(opts: BenchOptions) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (db_url, schema) = match opts.backend.as_str() {
        "sqlite" => (
            format!("sqlite://{}", tmp.path().join("bench.db").display()),
            None,
        ),
        "postgres" => {
            let schema =
                ScratchSchema::create(&opts.postgres_url, "bench").map_err(|e| e.to_string())?;
            (schema.url(), Some(schema))
        }
        other => return Err(format!("unknown backend {other:?}: use sqlite or postgres")),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let base = format!("http://127.0.0.1:{port}");

    // Tenants and tokens, written directly to the database the server will use.
    let settings = Settings {
        database_url: Some(db_url.clone()),
        public_url: Some(base.clone()),
        pool_size: 2,
        ..Settings::default()
    };
    let service = Service::open(&settings)?;
    let tenants = actix_web::rt::System::new()
        .block_on(seed(&service, opts.tenants.max(1), opts.preload))
        .map_err(|e| e.detail)?;
    drop(service);

    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(exe);
    // The bench is one address hammering one tenant: abuse limits off, to measure the server.
    cmd.args([
        "--database-url",
        &db_url,
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--public-url",
        &base,
    ])
    .args([
        "--rate-limit-address",
        "0",
        "--rate-limit-tenant",
        "0",
        "serve",
    ])
    .env("RUST_LOG", "warn")
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    if let Some(w) = opts.server_workers {
        cmd.args(["--workers", &w.to_string()]);
    }
    let server = ServerProcess(
        cmd.spawn()
            .map_err(|e| format!("cannot start scimd: {e}"))?,
    );
    let started = Instant::now();
    // Ready means a served request that reached the database: GET /readyz answers 200.
    let ready = loop {
        if readyz_ok(port) {
            break true;
        }
        if started.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if !ready {
        return Err("scimd did not start".into());
    }
    println!(
        "first request served (GET /readyz, a database query) {} ms after start",
        started.elapsed().as_millis()
    );
    println!(
        "scimd bench: backend {} · {} users × {} tenants · concurrency {} · {} client threads",
        opts.backend,
        opts.users,
        tenants.len(),
        opts.concurrency,
        opts.client_threads
    );
    let target = Arc::new(Target {
        addr: format!("127.0.0.1:{port}"),
        tenants,
        server_pid: server.0.id(),
    });
    let result = phases(&opts, &target);
    let pid = server.0.id();
    // RssAnon is the server's own memory; RssFile is file-backed pages (the program's code,
    // shared and reclaimable).
    let rss = [
        status_kib(pid, "VmRSS:"),
        status_kib(pid, "RssAnon:"),
        status_kib(pid, "RssFile:"),
    ];
    drop(server);
    let db_size = match &schema {
        None => dir_size(tmp.path()),
        Some(schema) => {
            let size = schema.size().unwrap_or_else(|e| {
                eprintln!("cannot measure the database: {e}");
                0
            });
            if !opts.keep {
                let _ = schema.remove();
            }
            size
        }
    };
    result?;
    let mib = |k: Option<u64>| k.map(|k| k / 1024).unwrap_or(0);
    println!(
        "server RSS at end: {} MiB (own memory {} MiB, file-backed {} MiB) · database size: {:.1} MiB",
        mib(rss[0]),
        mib(rss[1]),
        mib(rss[2]),
        db_size as f64 / 1_048_576.0
    );
    if opts.keep {
        let kept = tmp.keep();
        println!("database kept: {db_url} ({})", kept.display());
    }
    Ok(())
}

/// The scimd the bench started: stopped when the bench ends, however it ends (an error or a
/// panic in a phase included), so that no server is left running on a removed database.
struct ServerProcess(std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Create the bench's tenants, a token for each, and `preload` users of the bench's shape
/// in the first; returns each tenant's slug and token.
async fn seed(
    service: &Service,
    tenants: usize,
    preload: usize,
) -> Result<Vec<(String, String)>, crate::scim::error::ScimError> {
    let mut seeded = Vec::new();
    for i in 0..tenants {
        let slug = format!("bench{i}");
        let tenant = svc::create_tenant(service, &slug, None).await?;
        let (token, _) = svc::issue_token(service, &tenant, 1, "bench").await?;
        if i == 0 && preload > 0 {
            let started = Instant::now();
            crate::service::users::import_users(service, &tenant, preload, |i| {
                let m = format!("preloaded{i}@bench.example.com");
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "externalId": format!("pre-{i}"), "userName": m, "active": true, "displayName": format!("Pre {i}"),
                    "name": {"givenName": "Pre", "familyName": format!("L{i}")},
                    "emails": [{"primary": true, "type": "work", "value": m}]
                })
            })
            .await?;
            println!(
                "preloaded {preload} users in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        seeded.push((slug, token));
    }
    Ok(seeded)
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

fn phases(opts: &BenchOptions, target: &Arc<Target>) -> Result<(), String> {
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
