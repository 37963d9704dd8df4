//! `scimd-bench`: an Entra-shaped load over HTTP keep-alive with many concurrent clients,
//! against a scimd it starts (SQLite or PostgreSQL): the `scimd` built beside it. Prints, per
//! operation, requests/s, p50, p99, errors and CPU time per request; and for the run, server
//! RSS and database size.
//!
//! A program of its own, outside the server's code path, that uses the scimd library to seed
//! tenants and tokens (and `--preload` users) before it starts the server:
//!
//! - `phases.rs`: the operations of an Entra cycle, replayed phase by phase;
//! - `client.rs`: the minimal HTTP/1.1 keep-alive client;
//! - `measure.rs`: CPU, memory and size figures read from `/proc`;
//! - `worst.rs`: instead of the cycle (`--worst-patch`), one tenant's costliest PATCHes
//!   against `/healthz` and another tenant.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod client;
mod measure;
mod oauth;
mod phases;
mod receiver;
mod worst;

use clap::Parser;
use serde_json::json;

use scimd::config::Settings;
use scimd::scim::error::ScimError;
use scimd::service::tenants as svc;
use scimd::service::Service;
use scimd::store::scratch::ScratchSchema;

use measure::{dir_size, status_kib};
use phases::{phases, Target};

/// The bench's client runs with the server's allocator, as when the bench was a subcommand of
/// the server's binary: its CPU column stays comparable with earlier rounds.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let opts = BenchOptions::parse();
    scimd::cli::init_logging();
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// scimd-bench: benchmark an Entra-shaped workload against a scimd it starts.
#[derive(Debug, Clone, Parser)]
#[command(name = "scimd-bench", version)]
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
    /// Receive the server's webhooks (an operator-wide endpoint on 127.0.0.1): every write
    /// then also queues a delivery. Prints deliveries/s and each change's delay to arrival.
    #[arg(long)]
    pub webhook: bool,
    /// Requests per second at most, over all clients (0: as fast as the server answers):
    /// to measure at a given write rate, such as webhook delays at 1,000 writes/s.
    #[arg(long, default_value_t = 0)]
    pub rate: u32,
    /// Instead of the cycle: one tenant sends the costliest PATCHes it can for this many
    /// seconds while `/healthz` and another tenant's reads are timed.
    #[arg(long)]
    pub worst_patch: Option<u64>,
    /// PATCHes the attacker of `--worst-patch` sends at once.
    #[arg(long, default_value_t = 4)]
    pub attackers: usize,
    /// Instead of the cycle: for this many seconds, compare a SCIM read with an OAuth access
    /// token against the same read with a Secret Token, then time the token endpoint.
    #[arg(long)]
    pub oauth: Option<u64>,
    /// Give every tenant a role mapping before the run (a rule on a group of its own, one on
    /// the IdP role `Admin`, a default): every write is then re-evaluated for effectiveRoles.
    #[arg(long)]
    pub role_mapping: bool,
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

/// The scimd to start: the one built beside this program (`target/release/scimd` for
/// `target/release/scimd-bench`).
fn server_exe() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let exe = me.with_file_name(format!("scimd{}", std::env::consts::EXE_SUFFIX));
    if !exe.is_file() {
        return Err(format!(
            "no scimd beside {}: build both (cargo build --release)",
            me.display()
        ));
    }
    Ok(exe)
}

/// Run the benchmark; prints a table to stdout.
fn run(opts: BenchOptions) -> Result<(), String> {
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
    // The worst-PATCH run needs an attacker and another tenant.
    let n_tenants = match opts.worst_patch {
        Some(_) => opts.tenants.max(2),
        None => opts.tenants.max(1),
    };
    let tenants = actix_web::rt::System::new()
        .block_on(seed(&service, n_tenants, opts.preload))
        .map_err(|e| e.detail)?;
    if opts.role_mapping {
        actix_web::rt::System::new()
            .block_on(role_mappings(&service, &base, &tenants))
            .map_err(|e| e.detail)?;
    }
    let receiver = match opts.webhook {
        false => None,
        true => {
            let receiver = receiver::Receiver::start()?;
            actix_web::rt::System::new()
                .block_on(scimd::webhooks::create_endpoint(
                    &service,
                    None,
                    &receiver.url,
                    "bench",
                    true,
                    true,
                ))
                .map_err(|e| e.detail)?;
            Some(receiver)
        }
    };
    let oauth_client = match opts.oauth {
        None => None,
        Some(_) => {
            let (slug, _) = tenants.first().ok_or("no tenant")?;
            let made = actix_web::rt::System::new()
                .block_on(async {
                    let tenant = svc::tenant_by_slug(&service, slug).await?;
                    let new = scimd::service::oauth::NewClient {
                        label: "bench".into(),
                        ..Default::default()
                    };
                    scimd::service::oauth::create_client(&service, &tenant, new).await
                })
                .map_err(|e| e.detail)?;
            Some((made.1.row.client_id, made.0))
        }
    };
    drop(service);

    let exe = server_exe()?;
    let mut cmd = std::process::Command::new(&exe);
    // The bench is one address hammering one tenant: abuse limits off, to measure the server.
    cmd.args([
        "serve",
        "--database-url",
        &db_url,
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--public-url",
        &base,
    ])
    .args(["--rate-limit-address", "0", "--rate-limit-tenant", "0"])
    // --webhook's receiver listens on 127.0.0.1: private receivers allowed.
    .arg("--webhook-allow-private")
    .env("RUST_LOG", "warn")
    .stdout(std::process::Stdio::null())
    // SCIMD_BENCH_SERVER_LOG=1 shows the server's warnings (a sender that cannot record…).
    .stderr(if std::env::var_os("SCIMD_BENCH_SERVER_LOG").is_some() {
        std::process::Stdio::inherit()
    } else {
        std::process::Stdio::null()
    });
    if let Some(w) = opts.server_workers {
        cmd.args(["--workers", &w.to_string()]);
    }
    let server = ServerProcess(
        cmd.spawn()
            .map_err(|e| format!("cannot start scimd ({}): {e}", exe.display()))?,
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
    let result = match (opts.worst_patch, opts.oauth, &oauth_client) {
        (Some(seconds), _, _) => worst::worst_patches(&opts, &target, seconds),
        (None, Some(seconds), Some((client_id, secret))) => {
            oauth::compare(&opts, &target, client_id, secret, seconds)
        }
        _ => phases(&opts, &target),
    };
    if let Some(receiver) = &receiver {
        report_webhooks(receiver);
    }
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

/// Wait for the last webhooks, then print how fast they came and how late after their change.
fn report_webhooks(receiver: &receiver::Receiver) {
    let n = receiver.settle(Duration::from_secs(3), Duration::from_secs(300));
    let seen = receiver.seen.lock().unwrap_or_else(|p| p.into_inner());
    let mut delays = seen.delays_ms.clone();
    delays.sort_unstable();
    let at = |q: f64| {
        let i = ((delays.len() as f64 - 1.0) * q).round() as usize;
        delays.get(i).copied().unwrap_or(0)
    };
    let span = match (seen.first, seen.last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
        _ => 0.0,
    };
    println!(
        "webhooks: {n} deliveries in {span:.1} s ({:.0}/s) · delay after the change p50 {} ms, p99 {} ms, max {} ms",
        if span > 0.0 { n as f64 / span } else { 0.0 },
        at(0.5),
        at(0.99),
        delays.last().copied().unwrap_or(0)
    );
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
/// `--role-mapping`: a group and a mapping for each tenant.
async fn role_mappings(
    service: &Service,
    base: &str,
    tenants: &[(String, String)],
) -> Result<(), ScimError> {
    for (slug, _) in tenants {
        let tenant = svc::tenant_by_slug(service, slug).await?;
        let caller = scimd::service::Caller {
            base_url: format!("{base}/scim/v2/tenants/{slug}"),
            tenant: tenant.clone(),
            token_jti: None,
        };
        let group = scimd::service::groups::create_group(
            service,
            &caller,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Bench editors",
            }),
        )
        .await?;
        let mapping = json!({
            "rules": [{"group": group.id, "role": "editor"}, {"idpRole": "Admin", "role": "admin"}],
            "default": "member",
        });
        scimd::service::roles::put_mapping(service, &tenant, &mapping).await?;
    }
    Ok(())
}

async fn seed(
    service: &Service,
    tenants: usize,
    preload: usize,
) -> Result<Vec<(String, String)>, ScimError> {
    let mut seeded = Vec::new();
    for i in 0..tenants {
        let slug = format!("bench{i}");
        let tenant = svc::create_tenant(service, &slug, None).await?;
        let (token, _) = svc::issue_token(service, &tenant, 1, "bench").await?;
        if i == 0 && preload > 0 {
            let started = Instant::now();
            scimd::service::users::import_users(service, &tenant, preload, |i| {
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
